// Prints what a first visit downloads: index.html's scripts and styles (and what they
// statically import), gzipped. The budget is 200 KB of JavaScript; lazy chunks
// (the markdown renderer) are listed apart and do not count.
import { readFileSync, readdirSync } from "node:fs";
import { gzipSync } from "node:zlib";

const dist = new URL("../dist/", import.meta.url);
const BUDGET_KB = 200;
const manifest = JSON.parse(readFileSync(new URL(".vite/manifest.json", dist), "utf8"));
const gzipKb = (file) => gzipSync(readFileSync(new URL(file, dist))).length / 1024;

const initial = new Set();
const visit = (key) => {
  const chunk = manifest[key];
  if (!chunk || initial.has(chunk.file)) return;
  initial.add(chunk.file);
  for (const css of chunk.css ?? []) initial.add(css);
  for (const imported of chunk.imports ?? []) visit(imported);
};
for (const [key, chunk] of Object.entries(manifest)) if (chunk.isEntry) visit(key);

const assets = readdirSync(new URL("assets/", dist)).map((name) => `assets/${name}`);
const rows = assets
  .filter((file) => /\.(js|css)$/.test(file))
  .map((file) => ({ file, kb: gzipKb(file), initial: initial.has(file) }))
  .sort((a, b) => b.kb - a.kb);
const initialJs = rows.filter((r) => r.initial && r.file.endsWith(".js")).reduce((sum, r) => sum + r.kb, 0);

for (const row of rows) console.log(`${row.initial ? "initial" : "lazy   "}  ${row.kb.toFixed(1).padStart(7)} KB gz  ${row.file}`);
console.log(`initial JavaScript: ${initialJs.toFixed(1)} KB gzipped (budget ${BUDGET_KB} KB)`);
if (initialJs > BUDGET_KB) {
  console.error("over budget");
  process.exit(1);
}
