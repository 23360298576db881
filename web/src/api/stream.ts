// A reply's Server-Sent Events stream, resumed by itself until its one terminal event.
//
// The reconnect loop is written by hand: every connection needs a new single-use ticket
// in its URL and the last seen id in a `Last-Event-ID` header, and neither the browser's
// EventSource (fixed URL, no headers) nor @microsoft/fetch-event-source (fixed URL) can
// change the URL between reconnects.
import { createParser, type EventSourceMessage } from "eventsource-parser";
import { backoffMs, sleep } from "./backoff";
import { ApiError, newTicket } from "./client";

export type StreamStatus = "connecting" | "open" | "reconnecting" | "offline";

/** `code` is the server's, or "not_found", "unauthorized", "unreachable", "aborted". */
export type StreamEnd =
  | { kind: "done"; finish_reason: string; usage: unknown }
  | { kind: "error"; code: string; message: string };

export interface StreamOptions {
  replyId: string;
  /** The ticket the send answered with; later ones come from `fetchTicket`. */
  ticket?: string;
  /** Resume after this event id. */
  lastEventId?: string;
  onDelta(text: string, eventId: string): void;
  onStatus?(status: StreamStatus): void;
  fetchTicket?: (replyId: string) => Promise<string>;
  signal?: AbortSignal;
  /** "" (same origin) except in tests. */
  baseUrl?: string;
}

export interface ReplyStream {
  /** Settles once, never rejects: closing ends it with code "aborted". */
  done: Promise<StreamEnd>;
  close(): void;
}

const MAX_FAILURES = 8;
// The server sends a heartbeat every 15 s; silence for longer means a dead connection
// the network did not report (a sleeping laptop, a changed Wi-Fi).
const IDLE_MS = 45_000;

const aborted: StreamEnd = { kind: "error", code: "aborted", message: "The stream was closed." };
const notFound: StreamEnd = { kind: "error", code: "not_found", message: "No such reply." };

export function streamReply(options: StreamOptions): ReplyStream {
  const controller = new AbortController();
  const close = () => controller.abort();
  if (options.signal?.aborted) close();
  options.signal?.addEventListener("abort", close, { once: true });
  const done = run(options, controller.signal).finally(() =>
    options.signal?.removeEventListener("abort", close),
  );
  return { done, close };
}

/** Entry ids are Redis stream ids, `<ms>-<seq>`: compare them as numbers. */
function isAfter(id: string, last: string): boolean {
  const [ms = 0, seq = 0] = id.split("-").map(Number);
  const [lastMs = 0, lastSeq = 0] = last.split("-").map(Number);
  return ms !== lastMs ? ms > lastMs : seq > lastSeq;
}

function isOffline(): boolean {
  return typeof navigator !== "undefined" && navigator.onLine === false;
}

/** Resolves on the `online` event, or at once when `signal` aborts. */
function online(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    globalThis.addEventListener("online", finish, { once: true });
    signal.addEventListener("abort", finish, { once: true });
    function finish() {
      globalThis.removeEventListener("online", finish);
      signal.removeEventListener("abort", finish);
      resolve();
    }
  });
}

async function run(options: StreamOptions, signal: AbortSignal): Promise<StreamEnd> {
  const { replyId, onStatus, fetchTicket = newTicket, baseUrl = "" } = options;
  let ticket = options.ticket;
  let lastId = options.lastEventId;
  let failures = 0;

  for (let first = true; ; first = false) {
    if (signal.aborted) return aborted;
    if (isOffline()) {
      onStatus?.("offline");
      await online(signal);
      failures = 0; // the outage explains the failures so far
      continue;
    }
    if (failures > 0) {
      onStatus?.("reconnecting");
      await sleep(backoffMs(failures), signal);
      if (signal.aborted) return aborted;
    } else {
      onStatus?.(first ? "connecting" : "reconnecting");
    }

    const attempt = new AbortController();
    const abortAttempt = () => attempt.abort();
    signal.addEventListener("abort", abortAttempt, { once: true });
    // A connection the browser knows is gone may still look open for a long while:
    // drop it at once and wait for the network instead.
    globalThis.addEventListener?.("offline", abortAttempt); // absent outside a browser
    let progressed = false;
    try {
      const usedTicket = ticket ?? (await fetchTicket(replyId));
      ticket = undefined; // single use, whatever happens next
      const headers: Record<string, string> = { Accept: "text/event-stream" };
      if (lastId) headers["Last-Event-ID"] = lastId;
      const path = `/api/replies/${encodeURIComponent(replyId)}/stream`;
      const url = `${baseUrl}${path}?ticket=${encodeURIComponent(usedTicket)}`;
      const response = await fetch(url, { headers, signal: attempt.signal });
      if (response.status === 404) return notFound;
      const retryable = response.status === 401 || response.status === 429 || response.status >= 500;
      if (!response.ok && !retryable) {
        const message = `The reply's stream answered HTTP ${response.status}.`;
        return { kind: "error", code: `http_${response.status}`, message };
      }
      const isStream = response.headers.get("Content-Type")?.startsWith("text/event-stream");
      if (response.ok && isStream && response.body) {
        onStatus?.("open");
        const end = await read(response.body, attempt, {
          onComment: () => (progressed = true), // a heartbeat: the server is alive
          onEvent: (event) => {
            progressed = true;
            if (event.id) {
              if (lastId && !isAfter(event.id, lastId)) return undefined; // seen already
              lastId = event.id;
            }
            return handle(event, options.onDelta);
          },
        });
        if (end) return end;
      }
    } catch (error) {
      if (signal.aborted) return aborted;
      if (error instanceof ApiError && error.status === 404) return notFound;
      if (error instanceof ApiError && error.status === 401) {
        return { kind: "error", code: "unauthorized", message: error.detail };
      }
      // Anything else (a dropped connection, a failed ticket request) is retried.
    } finally {
      signal.removeEventListener("abort", abortAttempt);
      globalThis.removeEventListener?.("offline", abortAttempt);
      attempt.abort(); // lets go of the connection, if it is still open
    }
    failures = progressed ? 1 : failures + 1;
    if (failures >= MAX_FAILURES) {
      return { kind: "error", code: "unreachable", message: "The reply's stream cannot be reached." };
    }
  }
}

/** One event: deliver a delta, or return the stream's end. */
function handle(event: EventSourceMessage, onDelta: StreamOptions["onDelta"]): StreamEnd | undefined {
  let data: Record<string, unknown>;
  try {
    data = (JSON.parse(event.data) ?? {}) as Record<string, unknown>;
  } catch {
    return { kind: "error", code: "bad_event", message: "The stream sent an unreadable event." };
  }
  switch (event.event) {
    case "delta":
      onDelta(String(data.text ?? ""), event.id ?? "");
      return undefined;
    case "done":
      return { kind: "done", finish_reason: String(data.finish_reason), usage: data.usage };
    case "error":
      return { kind: "error", code: String(data.code), message: String(data.message) };
    default:
      return undefined;
  }
}

/**
 * Reads events until one ends the stream (returned); a connection that drops or goes
 * silent ends the read with undefined, or with a rejection.
 */
async function read(
  body: ReadableStream<Uint8Array>,
  attempt: AbortController,
  on: { onEvent(event: EventSourceMessage): StreamEnd | undefined; onComment(): void },
): Promise<StreamEnd | undefined> {
  let end: StreamEnd | undefined;
  const parser = createParser({
    onEvent: (event) => {
      end ??= on.onEvent(event); // nothing after the end is handled
    },
    onComment: on.onComment,
  });
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let idle = setTimeout(() => attempt.abort(), IDLE_MS);
  try {
    while (!end) {
      const { value, done } = await reader.read();
      if (done) return undefined;
      clearTimeout(idle);
      idle = setTimeout(() => attempt.abort(), IDLE_MS);
      parser.feed(decoder.decode(value, { stream: true }));
    }
    return end;
  } finally {
    clearTimeout(idle);
  }
}
