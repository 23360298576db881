// A temporary chat lives in this tab only: React state, mirrored to sessionStorage so a
// reload keeps it and closing the tab ends it. The server keeps none of it, so every
// message sent carries the whole conversation (POST /api/temporary-chat/messages).
import type { Message, TemporaryTurn } from "../types";
import { saveDraft } from "./drafts";

/** The UI's route for it: a path that names no conversation. */
export const TEMPORARY_PATH = "/temporary";

const KEY = "chatfn:temporary";
/** The draft's name among drafts (kept in sessionStorage). */
export const TEMPORARY_DRAFT = "temporary";

interface Saved {
  userId: string;
  messages: Message[];
}

/** The chat this tab holds for `userId`. A reply that was being written when the tab
 *  reloaded starts over empty: its stream is read again from the start. */
export function loadTemporary(userId: string): Message[] {
  let saved: Saved | null;
  try {
    saved = JSON.parse(sessionStorage.getItem(KEY) ?? "null") as Saved | null;
  } catch {
    return [];
  }
  // Someone else signed in in this tab: their predecessor's chat is not theirs to see.
  if (saved?.userId !== userId) return [];
  return saved.messages.map((m) => (m.status === "streaming" ? { ...m, content: "" } : m));
}

export function saveTemporary(userId: string, messages: Message[]): void {
  if (messages.length) sessionStorage.setItem(KEY, JSON.stringify({ userId, messages } satisfies Saved));
  else sessionStorage.removeItem(KEY);
}

/** Forgets the chat and what was being typed in it. */
export function clearTemporary(): void {
  sessionStorage.removeItem(KEY);
  saveDraft(TEMPORARY_DRAFT, "", sessionStorage);
}

/** What the server is sent: every turn that has text, oldest first, then `question`. A
 *  reply that failed or was stopped before its first word is no turn at all. */
export function transcript(messages: readonly Message[], question: string): TemporaryTurn[] {
  const turns: TemporaryTurn[] = [];
  for (const m of messages) {
    if ((m.role === "user" || m.role === "assistant") && m.content.trim()) turns.push({ role: m.role, content: m.content });
  }
  turns.push({ role: "user", content: question });
  return turns;
}
