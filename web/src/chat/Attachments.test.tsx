/// <reference types="node" />
// A sent message's files, against a real HTTP server (node:http) playing the API: chips
// with name and size, thumbnails by a link minted for the showing, and the note on a file
// only the start of which the model read.
import { cleanup, render, screen, waitFor } from "@testing-library/react";
import { afterEach, beforeEach, expect, it } from "vitest";
import { setBaseUrl, setSession } from "../api/client";
import { serveDuringTests } from "../api/testServer";
import type { Attachment, Session } from "../types";
import { MessageFiles } from "./Attachments";

let seen: string[];
const baseUrl = serveDuringTests((req, res) => {
  seen.push(`${req.method} ${req.url}`);
  const id = /^\/api\/attachments\/([\w-]+)\/download$/.exec(req.url ?? "")?.[1];
  if (!id) return res.writeHead(404).end();
  res
    .writeHead(200, { "Content-Type": "application/json", "Access-Control-Allow-Origin": "*", "Access-Control-Allow-Headers": "*" })
    .end(JSON.stringify({ url: `/storage/chatfn/attachments/u1/${id}?X-Amz-Signature=s`, expires_at: "2026-12-03T12:05:00Z" }));
});

const SESSION = { access_token: "t", token_type: "Bearer", expires_in: 900, user: { id: "u1" } } as Session;
const file = (id: string, name: string, kind: Attachment["kind"], cut = false): Attachment => ({
  id,
  name,
  content_type: kind === "image" ? "image/png" : "text/markdown",
  size_bytes: 12_345,
  kind,
  cut,
});

beforeEach(() => {
  seen = [];
  setBaseUrl(baseUrl());
  setSession(SESSION);
});
afterEach(cleanup);

it("shows text files as chips and images as thumbnails from a fresh link", async () => {
  render(<MessageFiles attachments={[file("t1", "notes.md", "text"), file("i1", "dot.png", "image")]} />);

  const chip = screen.getByRole("button", { name: /^Download notes\.md/ });
  expect(chip.textContent).toBe("Download notes.mdMD · 12 KB");
  // A placeholder of the same name holds its place until the link arrives.
  await waitFor(() => expect(screen.getByRole("img", { name: "dot.png" }).getAttribute("src")).toBe(`${baseUrl()}/storage/chatfn/attachments/u1/i1?X-Amz-Signature=s`));
  expect(seen).toEqual(["GET /api/attachments/i1/download"]); // a text file's link waits for the click
  expect(screen.queryByText(/Only the start/)).toBeNull();
});

it("says when only the start of a file was read", () => {
  render(<MessageFiles attachments={[file("t1", "notes.md", "text", true)]} />);
  const chip = screen.getByRole("button", { name: /^Download notes\.md/ });
  expect(chip.textContent).toContain("partly read");
  const note = document.getElementById(chip.getAttribute("aria-describedby")!);
  expect(note?.textContent).toBe("Only the start of this file was read: it did not fit the model's context.");
});
