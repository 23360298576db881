// @vitest-environment node
/// <reference types="node" />
// Against a real HTTP server (node:http), so drops, headers and chunking are the network's.
import type { IncomingMessage, ServerResponse } from "node:http";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { streamReply, type StreamOptions, type StreamStatus } from "./stream";
import { serveDuringTests } from "./testServer";

const REPLY = "0193a1b2-0000-7000-8000-000000000001";
// 12 entries: their ids pass 1732-9 → 1732-10, where comparing as text would go wrong.
const ENTRIES = Array.from({ length: 12 }, (_, n) => ({ id: `1732-${n}`, text: `<${n}>` }));
const FULL_TEXT = ENTRIES.map((e) => e.text).join("");

type Handler = (req: IncomingMessage, res: ServerResponse) => void;
interface Seen {
  ticket: string | null;
  lastEventId: string | undefined;
}

let handler: Handler;
let seen: Seen[] = [];
const baseUrl = serveDuringTests((req, res) => {
  const url = new URL(req.url ?? "/", "http://x");
  if (url.pathname !== `/api/replies/${REPLY}/stream`) {
    res.writeHead(500).end("wrong path");
    return;
  }
  const header = req.headers["last-event-id"];
  seen.push({ ticket: url.searchParams.get("ticket"), lastEventId: Array.isArray(header) ? header[0] : header });
  handler(req, res);
});

beforeEach(() => {
  seen = [];
});

const isAfter = (id: string, last: string) => {
  const [ms, seq] = id.split("-").map(Number) as [number, number];
  const [lastMs, lastSeq] = last.split("-").map(Number) as [number, number];
  return ms !== lastMs ? ms > lastMs : seq > lastSeq;
};
const tick = () => new Promise((resolve) => setTimeout(resolve, 20));

function openStream(res: ServerResponse) {
  res.writeHead(200, { "Content-Type": "text/event-stream", "Cache-Control": "no-store" });
  res.flushHeaders();
}
const event = (id: string, type: string, data: unknown) => `id: ${id}\nevent: ${type}\ndata: ${JSON.stringify(data)}\n\n`;
const delta = (n: number) => event(ENTRIES[n]!.id, "delta", { text: ENTRIES[n]!.text });
const DONE = event("1733-0", "done", { finish_reason: "stop", usage: { completion_tokens: 12 } });

function problem(res: ServerResponse, status: number, detail: string) {
  res.writeHead(status, { "Content-Type": "application/problem+json" });
  res.end(JSON.stringify({ type: "about:blank", title: "x", status, detail }));
}

/** Every entry after `after` (as the real function does), then `done`; the response stays open. */
async function sendRest(res: ServerResponse, after: string | undefined) {
  openStream(res);
  for (const [n, entry] of ENTRIES.entries()) {
    if (after && !isAfter(entry.id, after)) continue;
    res.write(delta(n));
    await tick();
  }
  res.write(": heartbeat\n\n");
  res.write(DONE);
}

function collect(overrides: Partial<StreamOptions> = {}) {
  const deltas: { text: string; id: string }[] = [];
  const statuses: StreamStatus[] = [];
  let tickets = 0;
  const fetchTicket = vi.fn(async (replyId: string) => `fresh-${replyId.slice(-1)}-${++tickets}`);
  const stream = streamReply({
    replyId: REPLY,
    ticket: "first",
    baseUrl: baseUrl(),
    fetchTicket,
    onDelta: (text, id) => deltas.push({ text, id }),
    onStatus: (status) => statuses.push(status),
    ...overrides,
  });
  return { stream, deltas, statuses, fetchTicket };
}

function expectIncreasing(ids: string[]) {
  for (let i = 1; i < ids.length; i++) expect(isAfter(ids[i]!, ids[i - 1]!), `${ids[i]} after ${ids[i - 1]}`).toBe(true);
}

describe("streamReply", () => {
  it("reads deltas then done, without waiting for the connection to close", async () => {
    handler = (req, res) => void sendRest(res, req.headers["last-event-id"] as string | undefined);
    const { stream, deltas, statuses, fetchTicket } = collect();
    expect(await stream.done).toEqual({ kind: "done", finish_reason: "stop", usage: { completion_tokens: 12 } });
    expect(deltas.map((d) => d.text).join("")).toBe(FULL_TEXT);
    expect(seen).toEqual([{ ticket: "first", lastEventId: undefined }]);
    expect(fetchTicket).not.toHaveBeenCalled();
    expect(statuses).toEqual(["connecting", "open"]);
  });

  it("resumes after a drop with a new ticket and Last-Event-ID, delivering every part once", async () => {
    handler = (req, res) => {
      if (seen.length > 1) return void sendRest(res, req.headers["last-event-id"] as string | undefined);
      openStream(res);
      for (let n = 0; n < 5; n++) res.write(delta(n));
      res.write(`id: ${ENTRIES[5]!.id}\nevent: delta\ndata: {"te`); // cut mid-event
      setTimeout(() => res.socket?.destroy(), 50);
    };
    const { stream, deltas, statuses, fetchTicket } = collect();
    const end = await stream.done;

    expect(end.kind).toBe("done");
    expect(seen).toEqual([
      { ticket: "first", lastEventId: undefined },
      { ticket: "fresh-1-1", lastEventId: ENTRIES[4]!.id },
    ]);
    expect(fetchTicket).toHaveBeenCalledExactlyOnceWith(REPLY);
    expect(deltas.map((d) => d.text).join("")).toBe(FULL_TEXT);
    expect(deltas.map((d) => d.id)).toEqual(ENTRIES.map((e) => e.id));
    expectIncreasing(deltas.map((d) => d.id));
    expect(statuses).toEqual(["connecting", "open", "reconnecting", "open"]);
  });

  it("never delivers an event id twice, even when a server repeats itself", async () => {
    handler = (_req, res) => {
      if (seen.length > 1) return void sendRest(res, undefined); // ignores Last-Event-ID
      openStream(res);
      for (let n = 0; n < 3; n++) res.write(delta(n));
      res.write(delta(1));
      setTimeout(() => res.socket?.destroy(), 50);
    };
    const { stream, deltas } = collect();
    expect((await stream.done).kind).toBe("done");
    expect(deltas.map((d) => d.text).join("")).toBe(FULL_TEXT);
    expectIncreasing(deltas.map((d) => d.id));
  });

  it("ends with the server's error event", async () => {
    handler = (_req, res) => {
      openStream(res);
      res.write(delta(0));
      res.write(event("1732-1", "error", { code: "model_failed", message: "The model stopped answering." }));
      res.write(delta(2)); // nothing after the end counts
    };
    const { stream, deltas } = collect();
    expect(await stream.done).toEqual({ kind: "error", code: "model_failed", message: "The model stopped answering." });
    expect(deltas.map((d) => d.text)).toEqual([ENTRIES[0]!.text]);
  });

  it("fetches a new ticket when the first one is refused (401)", async () => {
    handler = (req, res) => {
      if (seen.length === 1) return problem(res, 401, "A fresh stream ticket is needed.");
      void sendRest(res, req.headers["last-event-id"] as string | undefined);
    };
    const { stream, deltas, fetchTicket } = collect({ ticket: "expired" });
    expect((await stream.done).kind).toBe("done");
    expect(fetchTicket).toHaveBeenCalledExactlyOnceWith(REPLY);
    expect(seen.map((s) => s.ticket)).toEqual(["expired", "fresh-1-1"]);
    expect(deltas.map((d) => d.text).join("")).toBe(FULL_TEXT);
  });

  it("fetches the first ticket itself when given none", async () => {
    handler = (req, res) => void sendRest(res, req.headers["last-event-id"] as string | undefined);
    const { stream, fetchTicket } = collect({ ticket: undefined, lastEventId: ENTRIES[9]!.id });
    expect((await stream.done).kind).toBe("done");
    expect(fetchTicket).toHaveBeenCalledOnce();
    expect(seen).toEqual([{ ticket: "fresh-1-1", lastEventId: ENTRIES[9]!.id }]);
  });

  it("ends with not_found on a 404, without retrying", async () => {
    handler = (_req, res) => problem(res, 404, "No such reply.");
    const { stream, fetchTicket } = collect();
    expect(await stream.done).toMatchObject({ kind: "error", code: "not_found" });
    expect(seen).toHaveLength(1);
    expect(fetchTicket).not.toHaveBeenCalled();
  });

  it("ends with aborted when closed", async () => {
    handler = (_req, res) => {
      openStream(res);
      res.write(delta(0));
    };
    const { stream, deltas } = collect();
    await vi.waitFor(() => expect(deltas).toHaveLength(1));
    stream.close();
    expect(await stream.done).toMatchObject({ kind: "error", code: "aborted" });
  });
});
