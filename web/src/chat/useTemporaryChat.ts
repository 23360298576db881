import { useCallback, useEffect, useRef, useState } from "react";
import * as api from "../api/client";
import type { Accepted, Message } from "../types";
import { useReplyStreams } from "./replyStreams";
import { clearTemporary, loadTemporary, saveTemporary, transcript } from "./temporary";
import type { ChatController } from "./useChat";

/** A temporary chat: one line of turns held by this tab, sent whole with every message.
 *  While `active` is false it is empty, and turning it off clears it and stops its answer. */
export function useTemporaryChat(active: boolean, userId: string): ChatController {
  const [messages, setMessages] = useState<Message[]>(() => (active ? loadTemporary(userId) : []));
  const [replyErrors, setReplyErrors] = useState<Record<string, string>>({});
  const latest = useRef(messages);
  latest.current = messages;

  const patch = useCallback((id: string, change: (m: Message) => Partial<Message>) => {
    setMessages((previous) => previous.map((m) => (m.id === id ? { ...m, ...change(m) } : m)));
  }, []);

  const streams = useReplyStreams({
    onText: (gathered) =>
      setMessages((previous) => previous.map((m) => (gathered[m.id] ? { ...m, content: m.content + gathered[m.id] } : m))),
    onEnd: (replyId, end) => {
      if (end.kind === "done") {
        patch(replyId, () => ({ status: end.finish_reason === "stopped" ? "stopped" : "complete" }));
      } else {
        patch(replyId, () => ({ status: "failed" }));
        setReplyErrors((previous) => ({ ...previous, [replyId]: end.message }));
      }
    },
  });
  const { follow, closeAll } = streams;

  useEffect(() => {
    if (active) saveTemporary(userId, messages);
  }, [active, userId, messages]);

  // A reply being written when the tab reloaded is read again from its start.
  useEffect(() => {
    if (!active) return;
    for (const m of latest.current) if (m.status === "streaming") follow(m.id);
  }, [active, follow]);

  // Leaving asks nothing: the chat is gone, and so is the answer nobody will read.
  useEffect(() => {
    if (active) return;
    closeAll();
    for (const m of latest.current) if (m.status === "streaming") void api.stopReply(m.id).catch(() => undefined);
    setMessages([]);
    setReplyErrors({});
    clearTemporary();
  }, [active, closeAll]);

  const started = (accepted: Accepted, question: Message, model: string | null): Message => {
    const reply: Message = {
      id: accepted.reply_id,
      parent_id: question.id,
      role: "assistant",
      content: "",
      model: model ?? "",
      status: "streaming",
      created_at: new Date().toISOString(),
      siblings: [],
    };
    follow(reply.id, accepted.stream_ticket);
    return reply;
  };

  const streaming = messages.findLast((m) => m.role === "assistant" && m.status === "streaming") ?? null;
  return {
    conversation: null,
    path: messages,
    messages,
    loading: false,
    loadError: null,
    replyErrors,
    connection: streams.connection,
    streaming,
    waiting: [],
    send: async (content, model) => {
      const before = latest.current;
      const accepted = await api.sendTemporary(transcript(before, content), model);
      const question: Message = {
        id: accepted.message_id,
        parent_id: before.at(-1)?.id ?? null,
        role: "user",
        content,
        model: model ?? "",
        status: "complete",
        created_at: new Date().toISOString(),
        siblings: [],
      };
      setMessages((previous) => [...previous, question, started(accepted, question, model)]);
    },
    // Only the last answer can be asked again, and its new one takes its place.
    regenerate: async (reply, model) => {
      const at = latest.current.findIndex((m) => m.id === reply.id);
      const question = latest.current[at - 1];
      if (at !== latest.current.length - 1 || question?.role !== "user") return;
      const accepted = await api.sendTemporary(transcript(latest.current.slice(0, at - 1), question.content), model);
      const answer = started(accepted, question, model ?? reply.model);
      setMessages((previous) => [...previous.filter((m) => m.id !== reply.id), answer]);
    },
    stop: async () => {
      if (streaming) await api.stopReply(streaming.id);
    },
    // One line of turns: no message has siblings.
    showSibling: () => undefined,
  };
}
