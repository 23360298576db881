// Messages written while offline wait here (and survive a reload) until the browser is
// back online; then they are sent in the order they were written.
import type { Attachment } from "../types";

export interface Outgoing {
  conversationId: string;
  parentId: string | null;
  content: string;
  model: string | null;
  /** The files it carries, stored already (absent in what older versions queued). */
  attachments?: Attachment[];
}

const KEY = "chatfn:outbox";

export function queued(): Outgoing[] {
  try {
    return JSON.parse(localStorage.getItem(KEY) ?? "[]") as Outgoing[];
  } catch {
    return [];
  }
}

export function enqueue(message: Outgoing): void {
  localStorage.setItem(KEY, JSON.stringify([...queued(), message]));
}

/** Removes and returns the oldest queued message. */
export function dequeue(): Outgoing | undefined {
  const [first, ...rest] = queued();
  localStorage.setItem(KEY, JSON.stringify(rest));
  return first;
}
