// What someone typed survives a reload: one draft per conversation ("new" before it exists).
// Drafts are the user's own text on the user's own device, so localStorage is the right
// place; a temporary chat's draft goes to sessionStorage, to end with the tab like the chat.

const PREFIX = "chatfn:draft:";

export function loadDraft(conversationId: string | null, storage: Storage = localStorage): string {
  return storage.getItem(PREFIX + (conversationId ?? "new")) ?? "";
}

export function saveDraft(conversationId: string | null, text: string, storage: Storage = localStorage): void {
  const key = PREFIX + (conversationId ?? "new");
  if (text) storage.setItem(key, text);
  else storage.removeItem(key);
}
