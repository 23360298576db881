// Safe markdown renderer for model output. Loaded with React.lazy, so the markdown,
// KaTeX and highlight.js code stays out of the initial bundle.
import { createContext, memo, useContext } from "react";
import type { ComponentProps } from "react";
import ReactMarkdown from "react-markdown";
import type { Components, ExtraProps, Options } from "react-markdown";
import remarkGfm from "remark-gfm";
import remarkMath from "remark-math";
import rehypeKatex from "rehype-katex";
import rehypeHighlight from "rehype-highlight";
import "katex/dist/katex.min.css";
import { CopyButton } from "../ui/CopyButton";
import "./markdown.css";

type HastElement = NonNullable<ExtraProps["node"]>;
type HastChild = HastElement["children"][number];

const LINK_PROTOCOLS = new Set(["http:", "https:", "mailto:"]);
const IMAGE_PROTOCOLS = new Set(["http:", "https:"]);

/** An absolute URL, or null: relative and protocol-relative URLs never parse without a base. */
function parseUrl(value: string): URL | null {
  try {
    return new URL(value);
  } catch {
    return null;
  }
}

/** Applied by react-markdown to every URL attribute (href, src, ...); null drops the attribute. */
function urlTransform(url: string, key: string): string | null {
  const parsed = parseUrl(url);
  const allowed = key === "src" ? IMAGE_PROTOCOLS : LINK_PROTOCOLS;
  // The normalised href, not the input: URL parsing has already stripped tabs/newlines etc.
  return parsed && allowed.has(parsed.protocol) ? parsed.href : null;
}

// True inside a live link, where an image must not render a second (nested) <a>.
const InLink = createContext(false);

function Link({ href, title, children }: ComponentProps<"a"> & ExtraProps) {
  // urlTransform removed any href that is not http(s)/mailto: show the text only.
  if (!href) return <span>{children}</span>;
  const web = href.startsWith("http:") || href.startsWith("https:");
  return (
    <a href={href} title={title} rel="noopener noreferrer" target={web ? "_blank" : undefined}>
      <InLink.Provider value={true}>{children}</InLink.Provider>
    </a>
  );
}

/** Images in model output are never fetched (tracking pixels, exfiltration via query strings). */
function Image({ src, alt }: ComponentProps<"img"> & ExtraProps) {
  const inLink = useContext(InLink);
  const url = typeof src === "string" ? parseUrl(src) : null;
  const label = `Image: ${alt || "untitled"}${url ? ` (${url.host})` : ""}`;
  if (!url || inLink) return <span className="md-image">{label}</span>;
  return (
    <a className="md-image" href={url.href} target="_blank" rel="noopener noreferrer">
      {label}
    </a>
  );
}

function Table({ children }: ComponentProps<"table"> & ExtraProps) {
  // tabIndex: a scrollable region must be reachable by keyboard.
  return (
    <div className="md-table-wrap" tabIndex={0}>
      <table>{children}</table>
    </div>
  );
}

function hastText(node: HastChild): string {
  if (node.type === "text") return node.value;
  return node.type === "element" ? node.children.map(hastText).join("") : "";
}

/** A fenced code block: <pre><code class="hljs language-x">…</code></pre> after rehype-highlight. */
function CodeBlock({ node, children }: ComponentProps<"pre"> & ExtraProps) {
  const code = node?.children.find(
    (child): child is HastElement => child.type === "element" && child.tagName === "code",
  );
  const classes = code?.properties.className;
  const language = Array.isArray(classes)
    ? classes.map(String).find((c) => c.startsWith("language-"))?.slice("language-".length)
    : undefined;
  // mdast-util-to-hast appends a newline to every code block's value.
  const raw = code ? hastText(code).replace(/\n$/, "") : "";

  return (
    <div className="md-code">
      <div className="md-code-header">
        <span className="md-code-lang">{language || "text"}</span>
        <CopyButton text={raw} label="Copy code" className="md-copy" plain />
      </div>
      <pre tabIndex={0}>{children}</pre>
    </div>
  );
}

const components: Components = { a: Link, img: Image, table: Table, pre: CodeBlock };

const remarkPlugins: Options["remarkPlugins"] = [remarkGfm, remarkMath];
const rehypePlugins: Options["rehypePlugins"] = [
  // trust: false keeps \href, \url, \includegraphics and \html* inert. strict: "ignore"
  // stops console warnings for the unicode text models routinely put in math.
  [rehypeKatex, { trust: false, strict: "ignore" }],
  // lowlight's `common` grammar set (~37 languages) is the default, and rehype-highlight
  // imports it regardless, so a shorter explicit list would not shrink the chunk.
  // No auto-detection: unlabelled blocks stay plain, which is also cheaper while streaming.
  rehypeHighlight,
];

/**
 * Renders untrusted markdown. Raw HTML is shown as text (no rehype-raw; react-markdown turns
 * `raw` nodes into text since skipHtml is false); only http(s)/mailto links are live.
 */
function Markdown({ text }: { text: string }) {
  return (
    <div className="markdown">
      <ReactMarkdown
        remarkPlugins={remarkPlugins}
        rehypePlugins={rehypePlugins}
        components={components}
        urlTransform={urlTransform}
      >
        {text}
      </ReactMarkdown>
    </div>
  );
}

// Streaming re-renders the message list often; unchanged text skips the whole pipeline.
export default memo(Markdown);
