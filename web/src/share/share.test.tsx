/// <reference types="node" />
// Share links against a real HTTP server (node:http) playing chatfn's share API: the
// dialog that makes a link, the public page that reads one, and Settings' list.
import { act, cleanup, fireEvent, render, screen, waitFor } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Router } from "wouter";
import { memoryLocation } from "wouter/memory-location";
import { clearSession, setBaseUrl, setSession } from "../api/client";
import { serveDuringTests } from "../api/testServer";
import type { Session, User } from "../types";
import type { ShareLink, SharedConversation } from "./api";
import { ShareDialog } from "./ShareDialog";
import { SharedLinks } from "./SharedLinks";
import { SharedPage } from "./SharedPage";

type Route = (body: unknown) => [status: number, body?: unknown];
let routes: Record<string, Route>;
let seen: { route: string; body: unknown }[];

const baseUrl = serveDuringTests(async (req, res) => {
  let text = "";
  for await (const chunk of req) text += chunk;
  const route = `${req.method} ${req.url}`;
  const body: unknown = text ? JSON.parse(text) : undefined;
  seen.push({ route, body });
  const [status, answer] = routes[route]?.(body) ?? [404, { title: "Not Found", status: 404, detail: "This link was revoked or never existed." }];
  res.writeHead(status, { "Content-Type": status >= 400 ? "application/problem+json" : "application/json" });
  res.end(answer === undefined ? undefined : JSON.stringify(answer));
});

const TOKEN = "Zk3v_Q9-abcdefghijklmnopqrstuvwxyz0123456789";

const link = (id: string, title: string, extra: Partial<ShareLink> = {}): ShareLink => ({
  id,
  url: `/s/${TOKEN}${id}`,
  title,
  conversation_id: "c1",
  up_to_message_id: "m2",
  excerpt: "the last words shared",
  created_at: "2026-12-01T10:00:00Z",
  available: true,
  ...extra,
});

const SHARED: SharedConversation = {
  title: "Trip planning",
  created_at: "2026-12-01T10:00:00Z",
  messages: [
    { role: "user", content: "Where should I go?", created_at: "2026-12-01T09:59:00Z", model: "" },
    { role: "assistant", content: "Try **Lisbon** <script>alert(1)</script>", created_at: "2026-12-01T09:59:30Z", model: "scripted" },
  ],
};

const USER: User = {
  id: "u2",
  email: "viewer@example.com",
  display_name: "Viewer",
  role: "user",
  preferences: { theme: "system", custom_instructions: "", default_model: "" },
  created_at: null,
};

// jsdom has <dialog> but not its modal methods.
HTMLDialogElement.prototype.showModal ??= function (this: HTMLDialogElement) {
  this.open = true;
};
HTMLDialogElement.prototype.close ??= function (this: HTMLDialogElement) {
  this.open = false;
};

beforeEach(() => {
  seen = [];
  routes = {};
  setBaseUrl(baseUrl());
});
afterEach(() => {
  cleanup();
  clearSession();
});

describe("ShareDialog", () => {
  it("makes a link to the branch on screen and shows it whole, with Copy", async () => {
    routes["POST /api/conversations/c1/shares"] = () => [201, link("s1", "Trip planning")];
    render(<ShareDialog open conversationId="c1" upToMessageId="m2" onClose={() => undefined} />);

    expect(screen.getByText(/Messages you send later, and other versions of this chat, are not shared/)).toBeTruthy();
    fireEvent.click(screen.getByRole("button", { name: "Create link" }));

    const url = `${window.location.origin}/s/${TOKEN}s1`;
    expect(await screen.findByText(url)).toBeTruthy();
    expect(screen.getByRole("button", { name: "Copy the share link" })).toBeTruthy();
    expect(seen).toEqual([{ route: "POST /api/conversations/c1/shares", body: { up_to_message_id: "m2" } }]);
  });

  it("says why a link could not be made", async () => {
    routes["POST /api/conversations/c1/shares"] = () => [409, { title: "Conflict", status: 409, detail: "A reply on this branch is still being written." }];
    render(<ShareDialog open conversationId="c1" upToMessageId="m2" onClose={() => undefined} />);
    fireEvent.click(screen.getByRole("button", { name: "Create link" }));
    expect((await screen.findByRole("alert")).textContent).toContain("still being written");
  });
});

function page(user: User | null, onSignedIn = (_: Session) => undefined) {
  const location = memoryLocation({ path: `/s/${TOKEN}`, record: true });
  render(
    <Router hook={location.hook}>
      <SharedPage token={TOKEN} user={user} onSignedIn={onSignedIn} />
    </Router>,
  );
  return location;
}

describe("SharedPage", () => {
  it("shows the snapshot read-only, with the chat's safe markdown, and asks not to be indexed", { timeout: 20_000 }, async () => {
    routes[`GET /api/shared/${TOKEN}`] = () => [200, SHARED];
    page(null);

    expect(await screen.findByRole("heading", { name: "Trip planning" })).toBeTruthy();
    expect(screen.getByText("Where should I go?")).toBeTruthy();
    // The markdown renderer loads on first use.
    expect((await screen.findByText("Lisbon", {}, { timeout: 15_000 })).tagName).toBe("STRONG");
    expect(document.querySelector("main script")).toBeNull();
    expect(document.head.querySelector('meta[name="robots"]')?.getAttribute("content")).toBe("noindex");
    expect(screen.queryByRole("textbox")).toBeNull(); // nothing to write in

    cleanup();
    expect(document.head.querySelector('meta[name="robots"]')).toBeNull();
  });

  it("says a revoked or unknown link is gone", async () => {
    page(null);
    expect(await screen.findByRole("heading", { name: "This link was revoked or never existed" })).toBeTruthy();
  });

  it("signed in, continues the chat in the viewer's account and opens the copy", async () => {
    routes[`GET /api/shared/${TOKEN}`] = () => [200, SHARED];
    routes[`POST /api/shared/${TOKEN}/continue`] = () => [201, { conversation_id: "copy-1" }];
    setSession({ access_token: "t", token_type: "Bearer", expires_in: 900, user: USER });
    const location = page(USER);

    fireEvent.click(await screen.findByRole("button", { name: /Continue this conversation/ }));

    await waitFor(() => expect(location.history?.at(-1)).toBe("/c/copy-1"));
    expect(seen.map((s) => s.route)).toContain(`POST /api/shared/${TOKEN}/continue`);
  });

  it("signed out, asks to sign in first, then continues", async () => {
    routes[`GET /api/shared/${TOKEN}`] = () => [200, SHARED];
    page(null);

    fireEvent.click(await screen.findByRole("button", { name: /Continue this conversation/ }));

    expect(await screen.findByText(/Sign in or create an account to continue this chat/)).toBeTruthy();
    expect(seen.map((s) => s.route)).not.toContain(`POST /api/shared/${TOKEN}/continue`);
  });
});

describe("SharedLinks", () => {
  it("lists my links to copy again, and revokes one after a second click", async () => {
    const links = [link("s2", "Newer"), link("s1", "Trip planning", { available: false })];
    routes["GET /api/shares"] = () => [200, links];
    routes["DELETE /api/shares/s1"] = () => [204];
    render(<SharedLinks />);

    expect(await screen.findByText("Newer")).toBeTruthy();
    expect(screen.getByText(`${window.location.origin}/s/${TOKEN}s2`)).toBeTruthy();
    expect(screen.getByText(/hidden while the chat is in the trash/)).toBeTruthy();

    const revoke = screen.getByRole("button", { name: "Revoke Trip planning" });
    fireEvent.click(revoke);
    expect(seen.some((s) => s.route.startsWith("DELETE"))).toBe(false);
    await act(async () => fireEvent.click(screen.getByRole("button", { name: "Revoke the link: Trip planning" })));

    await waitFor(() => expect(screen.queryByText("Trip planning")).toBeNull());
    expect(seen.map((s) => s.route)).toContain("DELETE /api/shares/s1");
    expect(screen.getByText("Newer")).toBeTruthy();
  });
});
