/// <reference types="node" />
// Settings → Data against a real HTTP server (node:http) playing the API and S3.
import { cleanup, fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import axe from "axe-core";
import { afterEach, beforeEach, expect, it } from "vitest";
import { setBaseUrl, setSession } from "../api/client";
import { serveDuringTests, TEST_SESSION } from "../api/testServer";
import type { DataExport, DataImport } from "./DataApi";
import { DataSettings } from "./DataSettings";

const NOW = new Date().toISOString();
const LATER = new Date(Date.now() + 7 * 86400_000).toISOString();
let exports: DataExport[];
let imports: DataImport[];
let seen: string[];
let uploaded: string;

function exportOf(status: DataExport["status"]): DataExport {
  const ready = status === "ready";
  return { id: "e1", status, created_at: NOW, ready_at: ready ? NOW : null, expires_at: ready ? LATER : null, conversations: ready ? 3 : 0, size_bytes: ready ? 52_000 : 0 };
}

const baseUrl = serveDuringTests(async (req, res) => {
  let body = "";
  for await (const chunk of req) body += chunk;
  const route = `${req.method} ${req.url}`;
  seen.push(route);
  // The page (jsdom's origin) asks first whether it may upload to this server's: in
  // production S3 is under the page's own origin, here the server is on another.
  if (req.method === "OPTIONS") {
    return res.writeHead(204, { "Access-Control-Allow-Origin": "*", "Access-Control-Allow-Methods": "*", "Access-Control-Allow-Headers": "*" }).end();
  }
  const json = (status: number, value: unknown) => res.writeHead(status, { "Content-Type": "application/json", "Access-Control-Allow-Origin": "*" }).end(JSON.stringify(value));
  if (route === "GET /api/exports") return json(200, exports);
  if (route === "GET /api/imports") return json(200, imports);
  if (route === "POST /api/exports") {
    exports = [exportOf("pending")];
    return json(202, exports[0]);
  }
  // Storage's URLs are paths, on the API's origin, as the API hands them out.
  if (route === "GET /api/exports/e1/download") return json(200, { url: "/storage/bucket/exports/e1.zip", expires_at: LATER });
  if (route === "POST /api/imports/upload") {
    return json(201, { url: "/storage/bucket", fields: { key: "imports/u1/i1", policy: "p" }, object_key: "imports/u1/i1", max_bytes: 2 ** 20 });
  }
  if (route === "POST /storage/bucket") {
    uploaded = body;
    return res.writeHead(204, { "Access-Control-Allow-Origin": "*" }).end();
  }
  if (route === "POST /api/imports") {
    imports = [{ id: "i1", status: "pending", source: "", conversations: 0, messages: 0, skipped: 0, error: null, created_at: NOW, finished_at: null }];
    return json(202, imports[0]);
  }
  res.writeHead(404, { "Content-Type": "application/problem+json" }).end('{"title":"Not Found"}');
});

const SESSION = TEST_SESSION;

beforeEach(() => {
  exports = [];
  imports = [];
  seen = [];
  uploaded = "";
  setBaseUrl(baseUrl());
  setSession(SESSION);
});
afterEach(cleanup);

it("exports in the background and offers the download once the zip is ready", async () => {
  render(<DataSettings />);
  const start = screen.getByRole("button", { name: "Export my data" });
  await waitFor(() => expect(seen).toContain("GET /api/exports"));

  fireEvent.click(start);
  const list = screen.getByRole("list", { name: "Your exports" });
  await within(list).findByText("Preparing…");
  expect(start).toHaveProperty("disabled", true);
  exports = [exportOf("ready")];
  // Polled while pending.
  const download = await within(list).findByRole("button", { name: "Download" }, { timeout: 5000 });
  expect(list.textContent).toContain("3 chats, 51 KB");
  expect(list.textContent).toContain("expires in 7 days");
  expect(start).toHaveProperty("disabled", false);

  const results = await axe.run(document.body, { runOnly: ["wcag2a", "wcag2aa"], rules: { "color-contrast": { enabled: false } } });
  expect(results.violations.map((v) => v.id)).toEqual([]);

  fireEvent.click(download);
  await waitFor(() => expect(seen).toContain("GET /api/exports/e1/download"));
}, 15_000); // a poll and axe

it("uploads the chosen file to storage, then imports it and shows what came in", async () => {
  let told = 0;
  const { container } = render(<DataSettings onImported={() => (told += 1)} />);
  const input = container.querySelector<HTMLInputElement>('input[type="file"]')!;
  const file = new File(['[{"title": "Hi", "mapping": {}}]'], "conversations.json", { type: "application/json" });

  fireEvent.change(input, { target: { files: [file] } });
  const list = screen.getByRole("list", { name: "Your imports" });
  await within(list).findByText("Importing…");
  expect(seen).toEqual(expect.arrayContaining(["POST /api/imports/upload", "POST /storage/bucket", "POST /api/imports"]));
  // The form's fields come before the file, as S3 needs.
  expect(uploaded.indexOf('name="key"')).toBeLessThan(uploaded.indexOf('name="file"'));
  expect(uploaded).toContain('[{"title": "Hi", "mapping": {}}]');

  expect(told).toBe(0);

  imports = [{ ...imports[0]!, status: "done", source: "chatgpt", conversations: 3, messages: 11, skipped: 7 }];
  await within(list).findByText(/3 chats and 11 messages from a ChatGPT export/, {}, { timeout: 5000 });
  expect(list.textContent).toContain("7 hidden or tool messages left out");
  expect(told).toBe(1); // the history is read again
}, 15_000); // a poll

it("says why a file is refused before uploading it", async () => {
  const { container } = render(<DataSettings />);
  const input = container.querySelector<HTMLInputElement>('input[type="file"]')!;
  const large = new File(["x".repeat(2 ** 20 + 1)], "big.zip", { type: "application/zip" });

  fireEvent.change(input, { target: { files: [large] } });

  expect(await screen.findByRole("alert")).toHaveProperty("textContent", "The file is over 1 MB.");
  expect(seen).not.toContain("POST /storage/bucket");
});
