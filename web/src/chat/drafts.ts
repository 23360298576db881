// What someone typed survives a reload: one draft per conversation ("new" before it exists).
// Drafts are the user's own text on the user's own device, so localStorage is the right
// place; a temporary chat's draft goes to sessionStorage, to end with the tab like the chat.
// The files uploaded for a draft are kept beside it (what they are, not their bytes: those
// wait in storage until the message is sent, or a day's sweep deletes them).
import type { Attachment } from "../types";

const PREFIX = "chatfn:draft:";
const FILES_PREFIX = "chatfn:draft-files:";

export function loadDraft(conversationId: string | null, storage: Storage = localStorage): string {
  return storage.getItem(PREFIX + (conversationId ?? "new")) ?? "";
}

export function saveDraft(conversationId: string | null, text: string, storage: Storage = localStorage): void {
  const key = PREFIX + (conversationId ?? "new");
  if (text) storage.setItem(key, text);
  else storage.removeItem(key);
}

export function loadDraftFiles(conversationId: string | null, storage: Storage = localStorage): Attachment[] {
  try {
    return JSON.parse(storage.getItem(FILES_PREFIX + (conversationId ?? "new")) ?? "[]") as Attachment[];
  } catch {
    return [];
  }
}

export function saveDraftFiles(conversationId: string | null, files: Attachment[], storage: Storage = localStorage): void {
  const key = FILES_PREFIX + (conversationId ?? "new");
  if (files.length) storage.setItem(key, JSON.stringify(files));
  else storage.removeItem(key);
}
