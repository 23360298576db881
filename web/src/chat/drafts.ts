// What someone typed survives a reload: one draft per conversation ("new" before it exists).
// Drafts are the user's own text on the user's own device, so localStorage is the right place.

const PREFIX = "chatfn:draft:";

export function loadDraft(conversationId: string | null): string {
  return localStorage.getItem(PREFIX + (conversationId ?? "new")) ?? "";
}

export function saveDraft(conversationId: string | null, text: string): void {
  const key = PREFIX + (conversationId ?? "new");
  if (text) localStorage.setItem(key, text);
  else localStorage.removeItem(key);
}
