/// <reference types="node" />
// The message box's files against a real HTTP server (node:http) playing the API and S3:
// chosen, uploaded at once, shown as chips, taken off again, sent, or refused with a reason.
import { createRef } from "react";
import { cleanup, fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import axe from "axe-core";
import { afterEach, beforeEach, expect, it, vi } from "vitest";
import { ApiError, setBaseUrl, setSession } from "../api/client";
import { serveDuringTests, TEST_SESSION } from "../api/testServer";
import type { Attachment } from "../types";
import { Composer } from "./Composer";

let seen: string[];
let stored: Record<string, string>;
let uploads: number;

const baseUrl = serveDuringTests(async (req, res) => {
  let body = "";
  for await (const chunk of req) body += chunk;
  const cors = { "Access-Control-Allow-Origin": "*", "Access-Control-Allow-Methods": "*", "Access-Control-Allow-Headers": "*" };
  // The page (jsdom's origin) asks first whether it may post to this server's: in
  // production storage is under the page's own origin, here the server is on another.
  if (req.method === "OPTIONS") return res.writeHead(204, cors).end();
  const route = `${req.method} ${req.url}`;
  seen.push(route);
  const json = (status: number, value: unknown) =>
    res.writeHead(status, { "Content-Type": status < 400 ? "application/json" : "application/problem+json", ...cors }).end(JSON.stringify(value));
  if (route === "POST /api/attachments") {
    const { name, size_bytes } = JSON.parse(body) as { name: string; size_bytes: number };
    if (name.endsWith(".exe")) return json(415, { title: "Unsupported file type", status: 415, detail: `${name}: a message can carry text, code, PDF and image files.` });
    uploads += 1;
    const id = `a${uploads}`;
    return json(201, { id, url: "/storage/chatfn", fields: { key: `attachments/u1/${id}`, size: String(size_bytes) }, content_type: "text/plain", kind: "text", expires_at: "2026-12-03T12:00:00Z" });
  }
  if (route === "POST /storage/chatfn") {
    stored[/attachments\/u1\/(a\d+)/.exec(body)![1]!] = body;
    return res.writeHead(204, cors).end();
  }
  if (req.method === "DELETE" && req.url?.startsWith("/api/attachments/")) return res.writeHead(204, cors).end();
  json(404, { title: "Not Found", status: 404 });
});

const SESSION = TEST_SESSION;

beforeEach(() => {
  seen = [];
  stored = {};
  uploads = 0;
  setBaseUrl(baseUrl());
  setSession(SESSION);
});
afterEach(() => {
  cleanup();
  localStorage.clear();
});

function composer(onSend: (content: string, attachments: Attachment[]) => Promise<void>, temporary = false) {
  const view = render(
    <main ref={createRef()}>
      <Composer conversationId={null} temporary={temporary} streaming={false} inputRef={createRef()} dropZone={createRef()} onSend={onSend} onStop={() => {}} />
    </main>,
  );
  const choose = (...files: File[]) => fireEvent.change(view.container.querySelector('input[type="file"]')!, { target: { files } });
  return { ...view, choose };
}

const text = (name: string, body = "hello") => new File([body], name, { type: "text/plain" });
const send = () => screen.getByRole("button", { name: "Send message" });
const chips = () => screen.getByRole("list", { name: "Attached files" });

it("uploads each file at once, shows it, and sends the stored ones, even with no text", async () => {
  const onSend = vi.fn(async () => {});
  const { choose } = composer(onSend);
  expect(send()).toHaveProperty("disabled", true);

  choose(text("notes.txt"), text("bread.csv", "name,flour\nbaguette,500 g\n"));
  // Uploading: the message waits for the files.
  expect(within(chips()).getAllByRole("progressbar")).toHaveLength(2);
  expect(send()).toHaveProperty("disabled", true);
  await waitFor(() => expect(within(chips()).queryAllByRole("progressbar")).toHaveLength(0));
  expect(Object.keys(stored).sort()).toEqual(["a1", "a2"]);
  expect(stored.a2).toContain("baguette,500 g");
  expect(chips().textContent).toContain("notes.txt");
  expect(chips().textContent).toContain("TXT · 5 B");
  expect(chips().textContent).toContain("CSV · 26 B");

  fireEvent.click(screen.getByRole("button", { name: "Remove notes.txt" }));
  await waitFor(() => expect(seen).toContain("DELETE /api/attachments/a1"));
  expect(chips().textContent).not.toContain("notes.txt");

  expect(send()).toHaveProperty("disabled", false);
  fireEvent.click(send());
  await waitFor(() => expect(onSend).toHaveBeenCalledOnce());
  expect(onSend).toHaveBeenCalledWith("", [{ id: "a2", name: "bread.csv", content_type: "text/plain", size_bytes: 26, kind: "text", cut: false }]);
  await waitFor(() => expect(screen.queryByRole("list", { name: "Attached files" })).toBeNull());
  expect(localStorage.getItem("chatfn:draft-files:new")).toBeNull();
});

it("shows why a file is refused on its chip, and sends nothing of it", async () => {
  const { choose } = composer(async () => {});
  choose(new File(["MZ"], "tool.exe", { type: "application/x-msdownload" }));

  await within(chips()).findByText("tool.exe: a message can carry text, code, PDF and image files.");
  expect(seen).not.toContain("POST /storage/chatfn");
  expect(send()).toHaveProperty("disabled", true);
  const results = await axe.run(document.body, { runOnly: ["wcag2a", "wcag2aa"], rules: { "color-contrast": { enabled: false } } });
  expect(results.violations.map((v) => v.id)).toEqual([]);
});

it("keeps the text and the files when the send is refused, and across a reload", async () => {
  const refusal = "SmolLM2-135M-Instruct cannot see images (dot.png): choose a model that can.";
  const { choose } = composer(async () => {
    throw new ApiError(422, "Images not supported", refusal);
  });
  choose(text("notes.txt"));
  await waitFor(() => expect(send()).toHaveProperty("disabled", false));
  fireEvent.change(screen.getByRole("textbox", { name: "Message" }), { target: { value: "What is this?" } });

  fireEvent.click(send());

  expect((await screen.findByRole("alert")).textContent).toBe(refusal);
  expect(screen.getByRole("textbox", { name: "Message" })).toHaveProperty("value", "What is this?");
  expect(chips().textContent).toContain("notes.txt");
  cleanup(); // a reload: the draft's files are read back
  composer(async () => {});
  expect(chips().textContent).toContain("notes.txt");
  expect(screen.getByRole("textbox", { name: "Message" })).toHaveProperty("value", "What is this?");
});

it("takes no files in a temporary chat", () => {
  const { container } = composer(async () => {}, true);
  expect(screen.queryByRole("button", { name: "Attach files" })).toBeNull();
  expect(container.querySelector('input[type="file"]')).toBeNull();
});
