import { act, cleanup, fireEvent, render, screen } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import Markdown from "./Markdown";

afterEach(cleanup);

function renderMd(text: string): HTMLElement {
  return render(<Markdown text={text} />).container;
}

/** Every way the rendered DOM could execute or fetch something it should not. */
function expectInert(container: HTMLElement) {
  expect(container.querySelectorAll("script, img, svg, iframe, object, embed, style, form")).toHaveLength(0);
  for (const el of container.querySelectorAll("*")) {
    for (const attr of el.attributes) {
      expect(attr.name.toLowerCase().startsWith("on"), `${el.tagName} ${attr.name}`).toBe(false);
      if (attr.name === "href" || attr.name === "src") {
        expect(attr.value).toMatch(/^(https?|mailto):/);
      }
    }
  }
}

describe("Markdown", () => {
  it("renders a GFM table inside a scroll wrapper", () => {
    const c = renderMd("| a | b |\n| - | - |\n| 1 | 2 |");
    const table = c.querySelector(".md-table-wrap > table");
    expect(table).not.toBeNull();
    expect([...table!.querySelectorAll("th")].map((th) => th.textContent)).toEqual(["a", "b"]);
    expect([...table!.querySelectorAll("td")].map((td) => td.textContent)).toEqual(["1", "2"]);
  });

  it("renders strikethrough and task lists", () => {
    const c = renderMd("~~gone~~\n\n- [x] done\n- [ ] todo");
    expect(c.querySelector("del")?.textContent).toBe("gone");
    expect(c.querySelectorAll('input[type="checkbox"]')).toHaveLength(2);
  });

  it("highlights a fenced code block with a language label", () => {
    const c = renderMd("```python\ndef f(x):\n    return 'hi'\n```");
    expect(c.querySelector(".md-code-lang")?.textContent).toBe("python");
    const code = c.querySelector("pre code")!;
    expect(code.classList.contains("hljs")).toBe(true);
    expect(code.querySelector(".hljs-keyword")?.textContent).toBe("def");
    expect(code.querySelector(".hljs-string")?.textContent).toBe("'hi'");
  });

  it("labels a block without a language as text and leaves it unhighlighted", () => {
    const c = renderMd("```\nplain <b>\n```");
    expect(c.querySelector(".md-code-lang")?.textContent).toBe("text");
    expect(c.querySelector("pre code")?.textContent).toBe("plain <b>\n");
    expect(c.querySelector('pre [class^="hljs-"]')).toBeNull();
  });

  it("copies the exact code and briefly shows Copied", async () => {
    const code = "const a = 1;\n\nconsole.log(`${a}`);";
    const writeText = vi.fn((_: string) => Promise.resolve());
    Object.defineProperty(navigator, "clipboard", { value: { writeText }, configurable: true });
    try {
      renderMd("```js\n" + code + "\n```");
      const button = screen.getByRole("button", { name: "Copy code" });
      expect(button.textContent).toBe("Copy");
      await act(async () => {
        fireEvent.click(button);
      });
      expect(writeText).toHaveBeenCalledWith(code);
      expect(button.textContent).toBe("Copied");
      expect(screen.getByRole("status").textContent).toBe("Copied");
    } finally {
      delete (navigator as { clipboard?: unknown }).clipboard;
    }
  });

  it("styles inline code without making it a block", () => {
    const c = renderMd("use `npm i` now");
    expect(c.querySelector("p > code")?.textContent).toBe("npm i");
    expect(c.querySelector(".md-code")).toBeNull();
  });

  it("renders inline and display math with KaTeX", () => {
    const c = renderMd("Euler: $e^{i\\pi}+1=0$\n\n$$\n\\int_0^1 x\\,dx\n$$");
    expect(c.querySelectorAll(".katex").length).toBeGreaterThanOrEqual(2);
    expect(c.querySelector(".katex-display")).not.toBeNull();
  });

  it("keeps KaTeX's \\href inert", () => {
    const c = renderMd("$\\href{javascript:alert(1)}{x}$");
    expect(c.querySelector("a")).toBeNull();
    expectInert(c);
  });

  it.each([
    "<img src=x onerror=alert(1)>",
    "<svg onload=alert(1)>",
    "</script><script>alert(1)</script>",
    "text <iframe src=javascript:alert(1)></iframe> more",
    "<a href=javascript:alert(1)>x</a>",
  ])("shows raw HTML as inert text: %s", (payload) => {
    const c = renderMd(payload);
    expectInert(c);
    expect(c.querySelector("a")).toBeNull();
    expect(c.textContent).toContain("<");
  });

  it.each([
    "[x](javascript:alert(1))",
    "[x](JaVaScRiPt:alert(1))",
    "[x](java\tscript:alert(1))",
    "[x](data:text/html,<script>alert(1)</script>)",
    "[x](vbscript:msgbox(1))",
    "[x](//evil.example/path)",
    "[x](/relative)",
    "<javascript:alert(1)>",
    "[x][r]\n\n[r]: javascript:alert(1)",
  ])("renders a disallowed link as plain text: %s", (payload) => {
    const c = renderMd(payload);
    expectInert(c);
    expect(c.querySelector("a")).toBeNull();
    expect(c.textContent).not.toBe("");
  });

  it("makes http links live, opening in a new tab without opener or referrer", () => {
    const c = renderMd("[docs](https://example.com/a?b=1) and www.example.org");
    const links = c.querySelectorAll("a");
    expect(links).toHaveLength(2);
    expect(links[0]!.getAttribute("href")).toBe("https://example.com/a?b=1");
    expect(links[1]!.getAttribute("href")).toBe("http://www.example.org/");
    for (const a of links) {
      expect(a.getAttribute("rel")).toBe("noopener noreferrer");
      expect(a.getAttribute("target")).toBe("_blank");
    }
  });

  it("makes mailto links live", () => {
    const a = renderMd("[mail](mailto:a@example.com)").querySelector("a");
    expect(a?.getAttribute("href")).toBe("mailto:a@example.com");
    expect(a?.getAttribute("rel")).toBe("noopener noreferrer");
  });

  it("never loads images: shows alt and host, linking to the URL", () => {
    const c = renderMd("![a](https://evil.example/x.png)");
    expectInert(c);
    const a = c.querySelector("a.md-image");
    expect(a?.textContent).toBe("Image: a (evil.example)");
    expect(a?.getAttribute("href")).toBe("https://evil.example/x.png");
    expect(a?.getAttribute("rel")).toBe("noopener noreferrer");
  });

  it("renders an image with a disallowed URL, or inside a link, without a link of its own", () => {
    const bad = renderMd("![a](javascript:alert(1))");
    expectInert(bad);
    expect(bad.querySelector("a")).toBeNull();
    expect(bad.querySelector(".md-image")?.textContent).toBe("Image: a");
    cleanup();

    const nested = renderMd("[![a](https://img.example/x.png)](https://example.com)");
    expectInert(nested);
    expect(nested.querySelectorAll("a")).toHaveLength(1);
    expect(nested.querySelector("a span.md-image")?.textContent).toBe("Image: a (img.example)");
  });

  // Mid-stream the text stops anywhere: what is finished must already render as markdown,
  // and the unfinished construct must show as something readable, never vanish.
  describe("renders partial markdown while streaming", () => {
    it("an unclosed fence: a highlighted code block so far", () => {
      const c = renderMd("Here:\n```ts\nconst a: number = ");
      expect(c.querySelector("p")?.textContent).toBe("Here:");
      expect(c.querySelector(".md-code-lang")?.textContent).toBe("ts");
      const code = c.querySelector("pre code");
      expect(code?.textContent).toBe("const a: number = \n");
      expect(code?.querySelector(".hljs-keyword")?.textContent).toBe("const");
      expect(c.textContent).not.toContain("```");
    });

    it("an unclosed $$: the TeX so far as a math block, without its delimiters", () => {
      const c = renderMd("Sum:\n$$\n\\sum_{i=0}^{n");
      expect(c.querySelector("p")?.textContent).toBe("Sum:");
      // KaTeX cannot parse it yet, so it shows the source (as .katex-error) instead of a formula.
      expect(c.querySelector(".katex-error")?.textContent).toBe("\\sum_{i=0}^{n");
      expect(c.textContent).not.toContain("$$");
    });

    it("a half table: the rows so far, the last one still being written", () => {
      const c = renderMd("| a | b |\n| - | - |\n| 1 | 2 |\n| 3");
      const table = c.querySelector(".md-table-wrap > table");
      expect([...table!.querySelectorAll("th")].map((th) => th.textContent)).toEqual(["a", "b"]);
      const rows = [...table!.querySelectorAll("tbody tr")];
      expect(rows.map((tr) => [...tr.querySelectorAll("td")].map((td) => td.textContent))).toEqual([
        ["1", "2"],
        ["3", ""],
      ]);
      expect(c.textContent).not.toContain("|");
    });

    it("an unclosed inline $: finished math typeset, the open one as plain text", () => {
      const c = renderMd("Euler: $e^{i\\pi}$, then $x^2 +");
      const math = c.querySelectorAll(".katex");
      expect(math).toHaveLength(1);
      expect(math[0]!.querySelector("annotation")?.textContent).toBe("e^{i\\pi}");
      expect(c.querySelector("p")?.textContent).toMatch(/, then \$x\^2 \+$/);
    });
  });
});
