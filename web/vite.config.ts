/// <reference types="vitest/config" />
import { readFileSync } from "node:fs";
import { defineConfig, type Plugin } from "vite";

// One policy for every host of the UI: the dev gateway and the CDN send these headers
// (chatfn.web reads this file), and the build writes the CSP into index.html as well, so
// even a bare bucket serving the files enforces it. `frame-ancestors` only works as a
// header, and a <meta> carrying it makes browsers warn, so the meta copy leaves it out.
const headers: Record<string, string> = JSON.parse(
  readFileSync(new URL("./security-headers.json", import.meta.url), "utf8"),
);

function contentSecurityPolicyMeta(): Plugin {
  const policy = headers["Content-Security-Policy"]!
    .split(";")
    .map((directive) => directive.trim())
    .filter((directive) => !directive.startsWith("frame-ancestors"))
    .join("; ");
  return {
    name: "chatfn-csp-meta",
    apply: "build",
    transformIndexHtml: () => [
      { tag: "meta", attrs: { "http-equiv": "Content-Security-Policy", content: policy }, injectTo: "head-prepend" },
    ],
  };
}

// The UI is a static build served from a CDN: every asset name carries a content hash,
// so only index.html needs revalidating.
export default defineConfig({
  plugins: [contentSecurityPolicyMeta()],
  build: {
    target: "es2022",
    assetsInlineLimit: 0, // no data: URLs for fonts or scripts
    manifest: true, // scripts/size.mjs reads it to tell the first load from lazy chunks
    // The markdown chunk (highlight.js grammars, KaTeX) is big but lazy; size.mjs
    // guards what counts, the first load.
    chunkSizeWarningLimit: 1024,
    rolldownOptions: {
      onLog(level, log, handler) {
        // lucide-react marks its modules "use client" for React Server Components,
        // which mean nothing in a static build.
        if (log.code === "MODULE_LEVEL_DIRECTIVE") return;
        handler(level, log);
      },
    },
  },
  server: {
    // `npm run dev` against a running `chatfn up`: the dev gateway answers /api.
    proxy: { "/api": process.env.CHATFN_URL ?? "http://127.0.0.1:8080" },
  },
  test: {
    environment: "jsdom",
    include: ["src/**/*.test.{ts,tsx}"],
  },
});
