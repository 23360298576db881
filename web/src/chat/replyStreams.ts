import { useCallback, useEffect, useRef, useState } from "react";
import { streamReply, type StreamEnd, type StreamStatus } from "../api/stream";

interface Handlers {
  /** The text that arrived since the last frame, by reply id. */
  onText(gathered: Record<string, string>): void;
  /** A reply's stream ended by itself (not closed by `closeAll`), its text all delivered. */
  onEnd(replyId: string, end: StreamEnd): void;
}

export interface ReplyStreams {
  /** The connection state of each reply being streamed. */
  connection: Record<string, StreamStatus>;
  /** Streams the reply in, once however often it is asked. */
  follow(replyId: string, ticket?: string): void;
  closeAll(): void;
}

/** The replies a chat is streaming in, closed when the chat goes away. */
export function useReplyStreams(handlers: Handlers): ReplyStreams {
  const [connection, setConnection] = useState<Record<string, StreamStatus>>({});
  const streams = useRef(new Map<string, () => void>());
  const pending = useRef<Record<string, string>>({});
  const frame = useRef(0);
  const latest = useRef(handlers);
  latest.current = handlers;

  // Deltas arrive faster than frames: gather them and render once per frame.
  const flush = useCallback(() => {
    frame.current = 0;
    const gathered = pending.current;
    pending.current = {};
    latest.current.onText(gathered);
  }, []);

  const follow = useCallback(
    (replyId: string, ticket?: string) => {
      if (streams.current.has(replyId)) return;
      const controller = new AbortController();
      streams.current.set(replyId, () => controller.abort());
      const stream = streamReply({
        replyId,
        ticket,
        signal: controller.signal,
        onDelta: (text) => {
          pending.current[replyId] = (pending.current[replyId] ?? "") + text;
          if (!frame.current) frame.current = requestAnimationFrame(flush);
        },
        onStatus: (status) => setConnection((previous) => ({ ...previous, [replyId]: status })),
      });
      void stream.done.then((end) => {
        streams.current.delete(replyId);
        if (controller.signal.aborted) return;
        cancelAnimationFrame(frame.current);
        flush();
        setConnection(({ [replyId]: _, ...rest }) => rest);
        latest.current.onEnd(replyId, end);
      });
    },
    [flush],
  );

  const closeAll = useCallback(() => {
    for (const close of streams.current.values()) close();
    streams.current.clear();
  }, []);

  useEffect(() => closeAll, [closeAll]);
  return { connection, follow, closeAll };
}
