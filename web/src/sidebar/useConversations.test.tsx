/// <reference types="node" />
// The sidebar's list against a real HTTP server (node:http) answering its first page.
import { act, cleanup, renderHook, waitFor } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { setBaseUrl } from "../api/client";
import { serveDuringTests } from "../api/testServer";
import type { Conversation } from "../types";
import { useConversations } from "./useConversations";

const chat = (id: string, updated_at: string, extra: Partial<Conversation> = {}): Conversation => ({
  id,
  title: "",
  pinned: false,
  archived: false,
  created_at: "2026-01-01T00:00:00Z",
  updated_at,
  deleted_at: null,
  ...extra,
});
const older = chat("a", "2026-01-01T10:00:00Z");
const newer = chat("b", "2026-01-01T11:00:00Z");

const baseUrl = serveDuringTests((req, res) => {
  const searched = req.url?.startsWith("/api/conversations?q=") ?? false; // no chat matches
  res.writeHead(req.url === "/api/conversations" || searched ? 200 : 404, { "Content-Type": "application/json" });
  res.end(JSON.stringify({ conversations: searched ? [] : [newer, older], next_cursor: null }));
});

beforeEach(() => setBaseUrl(baseUrl()));
afterEach(cleanup);

async function loaded() {
  const hook = renderHook(() => useConversations());
  await waitFor(() => expect(hook.result.current.items.map((c) => c.id)).toEqual(["b", "a"]));
  return hook;
}

describe("useConversations.merge: the chat view's news, possibly older than the list", () => {
  it("does not bring back a chat deleted or archived here since", async () => {
    const { result } = await loaded();
    act(() => result.current.remove("a"));
    act(() => result.current.merge({ ...older, title: "Generated" }));
    expect(result.current.items.map((c) => c.id)).toEqual(["b"]);
  });

  it("does not undo a rename or pin made here, but moves the chat up on activity", async () => {
    const { result } = await loaded();
    act(() => result.current.upsert({ ...older, title: "Mine", pinned: true }));
    act(() => result.current.merge({ ...older, title: "Generated", updated_at: "2026-01-01T12:00:00Z" }));
    expect(result.current.items[0]).toEqual({ ...older, title: "Mine", pinned: true, updated_at: "2026-01-01T12:00:00Z" });
  });

  it("adds a title to an untitled chat, and a chat the list had not loaded", async () => {
    const { result } = await loaded();
    act(() => result.current.merge({ ...older, title: "Generated" }));
    act(() => result.current.merge(chat("c", "2026-01-01T09:00:00Z")));
    expect(result.current.items.map((c) => [c.id, c.title])).toEqual([
      ["b", ""],
      ["a", "Generated"],
      ["c", ""],
    ]);
  });

  it("keeps a search's results the server's: a title coming for another chat adds nothing", async () => {
    const { result } = await loaded();
    act(() => result.current.search("no chat says this"));
    await waitFor(() => expect(result.current.items).toEqual([]));
    act(() => result.current.merge({ ...older, title: "Generated" }));
    expect(result.current.items).toEqual([]);
  });

  it("brings back a deleted chat once the server has restored it", async () => {
    const { result } = await loaded();
    act(() => result.current.remove("a"));
    act(() => result.current.upsert(older)); // Undo: the restore's answer
    act(() => result.current.merge({ ...older, title: "Generated" }));
    expect(result.current.items.map((c) => [c.id, c.title])).toEqual([
      ["b", ""],
      ["a", "Generated"],
    ]);
  });
});
