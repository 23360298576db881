import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import * as api from "../api/client";
import { ApiError } from "../api/client";
import type { StreamStatus } from "../api/stream";
import { activePath, choose, siblingAt } from "../tree";
import type { Accepted, Attachment, Conversation, Message } from "../types";
import { dequeue, enqueue, queued, type Outgoing } from "./outbox";
import { useReplyStreams } from "./replyStreams";

export interface ChatController {
  conversation: Conversation | null;
  /** The branch on screen, oldest first. */
  path: Message[];
  messages: Message[];
  loading: boolean;
  loadError: ApiError | null;
  /** Why a reply ended in an error, by reply id. */
  replyErrors: Record<string, string>;
  /** The connection state of each reply being streamed. */
  connection: Record<string, StreamStatus>;
  /** The reply being written on this branch, if any. */
  streaming: Message | null;
  /** Messages written offline for this conversation, not sent yet. */
  waiting: Outgoing[];
  /** `attachments`: stored uploads (a temporary chat takes none). */
  send(content: string, model: string | null, attachments?: Attachment[]): Promise<void>;
  /** Absent where a chat has no branches (a temporary chat). `attachments`: the edited
   *  message's files it keeps, sent again by id. */
  edit?(message: Message, content: string, model: string | null, attachments: Attachment[]): Promise<void>;
  regenerate(reply: Message, model: string | null): Promise<void>;
  stop(): Promise<void>;
  showSibling(message: Message, delta: number): void;
}

interface Options {
  /** A new conversation was made by the first message sent from the empty page. */
  onCreated(conversation: Conversation): void;
  /** The conversation changed (a message was sent, a title arrived). */
  onChanged(conversation: Conversation): void;
}

// A title comes seconds after the reply, or, on a busy machine or model, much later: the
// polls thin out but go on for about a minute and a half.
const TITLE_POLLS_MS = [1500, 3000, 6000, 12000, 24000, 48000];

/** Everything that happens in one conversation: its history, sending, streaming replies. */
export function useChat(conversationId: string | null, { onCreated, onChanged }: Options): ChatController {
  const [conversation, setConversation] = useState<Conversation | null>(null);
  const [byId, setById] = useState<Record<string, Message>>({});
  const [chosen, setChosen] = useState<Record<string, string>>({});
  const [loading, setLoading] = useState(false);
  const [loadError, setLoadError] = useState<ApiError | null>(null);
  const [replyErrors, setReplyErrors] = useState<Record<string, string>>({});
  const [waiting, setWaiting] = useState<Outgoing[]>([]);
  // The conversation this hook made itself: arriving at its URL must not reload it, or
  // the messages on screen would vanish until persist_history catches up.
  const created = useRef<string | null>(null);
  const callbacks = useRef({ onCreated, onChanged });
  callbacks.current = { onCreated, onChanged };
  const latestConversation = useRef(conversation);
  latestConversation.current = conversation;

  const messages = useMemo(() => Object.values(byId), [byId]);
  const path = useMemo(() => activePath(messages, chosen), [messages, chosen]);
  const streaming = [...path].reverse().find((m) => m.role === "assistant" && m.status === "streaming") ?? null;

  const put = useCallback((...added: Message[]) => {
    // A message made here lists no siblings yet: the tree counts it as the newest of them.
    setById((previous) => ({ ...previous, ...Object.fromEntries(added.map((m) => [m.id, m])) }));
  }, []);

  const patch = useCallback((id: string, change: Partial<Message>) => {
    setById((previous) => (previous[id] ? { ...previous, [id]: { ...previous[id], ...change } } : previous));
  }, []);

  const addText = useCallback((gathered: Record<string, string>) => {
    setById((previous) => {
      const next = { ...previous };
      for (const [id, text] of Object.entries(gathered)) {
        const message = next[id];
        if (message) next[id] = { ...message, content: message.content + text };
      }
      return next;
    });
  }, []);

  const pollTitle = useCallback(async (id: string) => {
    for (const delay of TITLE_POLLS_MS) {
      await new Promise((resolve) => setTimeout(resolve, delay));
      const latest = await api.getConversation(id).catch(() => null);
      if (latest?.title) {
        const { messages: _, next_cursor: __, ...meta } = latest;
        setConversation((current) => (current?.id === id ? meta : current));
        callbacks.current.onChanged(meta);
        return;
      }
    }
  }, []);

  const streams = useReplyStreams({
    onText: addText,
    onEnd: (replyId, end) => {
      if (end.kind === "done") {
        patch(replyId, { status: end.finish_reason === "stopped" ? "stopped" : "complete" });
      } else {
        patch(replyId, { status: "failed" });
        // The model is still being prepared: the server's detail says how far; what to do is ours.
        const text = end.code === "model_preparing" ? `${end.message} Try again once it is ready.` : end.message;
        setReplyErrors((previous) => ({ ...previous, [replyId]: text }));
      }
      const current = latestConversation.current;
      if (current && !current.title) void pollTitle(current.id);
    },
  });
  const { follow, closeAll } = streams;

  // Load the conversation (every page, the first shown at once) and follow any reply
  // still being written, as after a reload mid-answer.
  useEffect(() => {
    if (conversationId && conversationId === created.current) return;
    closeAll();
    setById({});
    setChosen({});
    setReplyErrors({});
    setLoadError(null);
    setConversation(null);
    setWaiting(queued().filter((q) => q.conversationId === conversationId));
    if (!conversationId) return;
    let cancelled = false;
    setLoading(true);
    void (async () => {
      let cursor: string | undefined;
      try {
        do {
          const page = await api.getConversation(conversationId, cursor);
          if (cancelled) return;
          const { messages: loaded, next_cursor, ...meta } = page;
          setConversation(meta);
          put(...loaded);
          for (const message of loaded) if (message.role === "assistant" && message.status === "streaming") follow(message.id);
          cursor = next_cursor ?? undefined;
          setLoading(false);
        } while (cursor);
      } catch (error) {
        if (!cancelled) setLoadError(error instanceof ApiError ? error : new ApiError(0, "Error", String(error)));
      } finally {
        if (!cancelled) setLoading(false);
      }
    })();
    return () => {
      cancelled = true;
    };
  }, [conversationId, closeAll, follow, put]);

  const started = useCallback(
    (accepted: Accepted, reply: Omit<Message, "id" | "siblings" | "content" | "status" | "created_at">) => {
      const now = new Date().toISOString();
      const message: Message = { ...reply, id: accepted.reply_id, content: "", status: "streaming", created_at: now, siblings: [] };
      put(message);
      setChosen((previous) => choose(previous, message));
      follow(message.id, accepted.stream_ticket);
    },
    [follow, put],
  );

  const deliver = useCallback(
    async (target: Conversation, outgoing: Outgoing) => {
      const accepted = await api.sendMessage(target.id, outbound(outgoing));
      const now = new Date().toISOString();
      const question: Message = {
        id: accepted.message_id,
        parent_id: outgoing.parentId,
        role: "user",
        content: outgoing.content,
        model: outgoing.model ?? "",
        status: "complete",
        created_at: now,
        siblings: [],
        attachments: (outgoing.attachments ?? []).map((file) => ({ ...file, cut: accepted.cut_attachments?.includes(file.id) ?? file.cut })),
      };
      put(question);
      setChosen((previous) => choose(previous, question));
      started(accepted, { parent_id: question.id, role: "assistant", model: outgoing.model ?? "" });
      const touched = { ...target, updated_at: now };
      setConversation(touched);
      callbacks.current.onChanged(touched);
    },
    [put, started],
  );

  const submit = useCallback(
    async (content: string, parentId: string | null, model: string | null, attachments: Attachment[] = []) => {
      let target = conversation;
      if (!target) {
        target = await api.createConversation();
        created.current = target.id;
        setConversation(target);
        callbacks.current.onCreated(target);
      }
      const outgoing = { conversationId: target.id, parentId, content, model, attachments };
      try {
        await deliver(target, outgoing);
      } catch (error) {
        // Offline (or the network dropped): keep the message and send it on reconnect.
        if (error instanceof ApiError && error.status === 0) {
          enqueue(outgoing);
          setWaiting((previous) => [...previous, outgoing]);
          return;
        }
        throw error;
      }
    },
    [conversation, deliver],
  );

  // Back online: send what was written meanwhile, oldest first.
  useEffect(() => {
    const flush = async () => {
      for (let next = dequeue(); next; next = dequeue()) {
        const item = next;
        try {
          if (conversation && item.conversationId === conversation.id) await deliver(conversation, item);
          else await api.sendMessage(item.conversationId, outbound(item));
        } catch (error) {
          if (error instanceof ApiError && error.status === 0) {
            enqueue(item); // still offline after all: try again at the next "online"
            return;
          }
        }
        setWaiting(queued().filter((q) => q.conversationId === conversation?.id));
      }
    };
    window.addEventListener("online", flush);
    if (navigator.onLine && queued().length) void flush();
    return () => window.removeEventListener("online", flush);
  }, [conversation, deliver]);

  const leaf = path.at(-1) ?? null;
  return {
    conversation,
    path,
    messages,
    loading,
    loadError,
    replyErrors,
    connection: streams.connection,
    streaming,
    waiting,
    send: (content, model, attachments) => submit(content, leaf?.id ?? null, model, attachments),
    edit: (message, content, model, attachments) => submit(content, message.parent_id, model, attachments),
    regenerate: async (reply, model) => {
      const accepted = await api.regenerate(reply.id, model);
      started(accepted, { parent_id: reply.parent_id, role: "assistant", model: model ?? reply.model });
    },
    stop: async () => {
      if (streaming) await api.stopReply(streaming.id);
    },
    showSibling: (message, delta) => {
      const sibling = siblingAt(message, messages, delta);
      if (sibling) setChosen((previous) => choose(previous, sibling));
    },
  };
}

/** The body of `POST /api/conversations/{id}/messages` for a message written here. */
function outbound(outgoing: Outgoing) {
  return {
    content: outgoing.content,
    parent_id: outgoing.parentId,
    model: outgoing.model,
    attachments: (outgoing.attachments ?? []).map((a) => a.id),
  };
}
