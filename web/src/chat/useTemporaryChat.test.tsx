/// <reference types="node" />
// A temporary chat against a real HTTP server (node:http): the whole transcript goes with
// every message, the reply streams in, the tab keeps a copy, and leaving clears it.
import type { ServerResponse } from "node:http";
import { act, cleanup, renderHook, waitFor } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { serveDuringTests } from "../api/testServer";
import type { TemporaryTurn } from "../types";
import { loadTemporary } from "./temporary";
import { useTemporaryChat } from "./useTemporaryChat";

const USER = "ada";
let sent: { messages: TemporaryTurn[]; model: string | null }[] = [];
let stopped: string[] = [];
let replies = 0;

const sse = (res: ServerResponse, events: [string, unknown][], end: boolean) => {
  res.writeHead(200, { "Content-Type": "text/event-stream" });
  events.forEach(([type, data], n) => res.write(`id: 1-${n}\nevent: ${type}\ndata: ${JSON.stringify(data)}\n\n`));
  if (end) res.end();
};

const baseUrl = serveDuringTests((req, res) => {
  const path = new URL(req.url ?? "/", "http://x").pathname;
  let body = "";
  req.on("data", (chunk: Buffer) => (body += chunk.toString()));
  req.on("end", () => {
    if (path === "/api/temporary-chat/messages") {
      sent.push(JSON.parse(body));
      replies += 1;
      // A question with "slowly" in it gets an answer that never ends.
      const slow = sent.at(-1)!.messages.at(-1)!.content.includes("slowly");
      res.writeHead(202, { "Content-Type": "application/json" });
      res.end(JSON.stringify({ message_id: `q${replies}`, reply_id: `${slow ? "slow" : "r"}${replies}`, stream_ticket: "t" }));
    } else if (path.startsWith("/api/replies/slow")) {
      if (path.endsWith("/stop")) {
        stopped.push(path.split("/")[3]!);
        res.writeHead(200, { "Content-Type": "application/json" }).end("{}");
      } else sse(res, [["delta", { text: "Thinking" }]], false);
    } else if (/^\/api\/replies\/r\d+\/stream$/.test(path)) {
      sse(res, [["delta", { text: `Answer ` }], ["delta", { text: `${replies}` }], ["done", { finish_reason: "stop" }]], true);
    } else {
      res.writeHead(404).end();
    }
  });
});

// The API client and the reply stream both call same-origin paths: this page's origin is the server.
const fetchHere = globalThis.fetch;
beforeEach(() => {
  vi.stubGlobal("fetch", (input: RequestInfo | URL, init?: RequestInit) =>
    fetchHere(typeof input === "string" && input.startsWith("/") ? baseUrl() + input : input, init),
  );
  sent = [];
  stopped = [];
});
afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
  sessionStorage.clear();
});

const temporaryChat = (active = true) =>
  renderHook(({ on }) => useTemporaryChat(on, USER), { initialProps: { on: active } });

const shown = (chat: ReturnType<typeof useTemporaryChat>) => chat.path.map((m) => [m.role, m.content, m.status]);

describe("useTemporaryChat", () => {
  it("sends the whole chat with each message and streams the answer in", async () => {
    const { result } = temporaryChat();
    await act(() => result.current.send("Remember 42", "scripted"));
    await waitFor(() => expect(result.current.streaming).toBeNull());
    await act(() => result.current.send("What was it?", "scripted"));
    await waitFor(() => expect(result.current.streaming).toBeNull());

    expect(sent).toEqual([
      { messages: [{ role: "user", content: "Remember 42" }], model: "scripted" },
      {
        messages: [
          { role: "user", content: "Remember 42" },
          { role: "assistant", content: `Answer ${replies - 1}` },
          { role: "user", content: "What was it?" },
        ],
        model: "scripted",
      },
    ]);
    expect(shown(result.current)).toEqual([
      ["user", "Remember 42", "complete"],
      ["assistant", `Answer ${replies - 1}`, "complete"],
      ["user", "What was it?", "complete"],
      ["assistant", `Answer ${replies}`, "complete"],
    ]);
    expect(result.current.conversation).toBeNull();
  });

  it("is there again after a reload of the tab", async () => {
    const first = temporaryChat();
    await act(() => first.result.current.send("Hi", null));
    await waitFor(() => expect(first.result.current.streaming).toBeNull());
    first.unmount();

    const reloaded = temporaryChat();
    expect(shown(reloaded.result.current)).toEqual(shown(first.result.current));
    expect(loadTemporary(USER)).toHaveLength(2);
  });

  it("replaces the last answer when it is asked again, sending the chat before it", async () => {
    const { result } = temporaryChat();
    await act(() => result.current.send("Hi", null));
    await waitFor(() => expect(result.current.streaming).toBeNull());
    await act(() => result.current.regenerate(result.current.path[1]!, null));
    await waitFor(() => expect(result.current.streaming).toBeNull());

    expect(sent.at(-1)!.messages).toEqual([{ role: "user", content: "Hi" }]);
    expect(shown(result.current)).toEqual([
      ["user", "Hi", "complete"],
      ["assistant", `Answer ${replies}`, "complete"],
    ]);
  });

  it("is cleared when left, and the answer still being written is stopped", async () => {
    const { result, rerender } = temporaryChat();
    await act(() => result.current.send("Tell me slowly", null));
    await waitFor(() => expect(result.current.path[1]?.content).toBe("Thinking"));

    rerender({ on: false });

    expect(result.current.path).toEqual([]);
    expect(sessionStorage.length).toBe(0);
    await waitFor(() => expect(stopped).toEqual([`slow${replies}`]));
    rerender({ on: true }); // coming back finds a new chat
    expect(result.current.path).toEqual([]);
  });

  it("holds nothing while off, and finds nothing of an earlier one when turned on", () => {
    sessionStorage.setItem("chatfn:temporary", JSON.stringify({ userId: USER, messages: [{ id: "x" }] }));
    const { result, rerender } = temporaryChat(false);
    expect(result.current.path).toEqual([]);
    rerender({ on: true });
    expect(result.current.path).toEqual([]);
  });
});
