import type { Conversation } from "../types";

export type GroupName = "Pinned" | "Today" | "Yesterday" | "Previous 7 days" | "Previous 30 days" | "Older";

const ORDER: GroupName[] = ["Pinned", "Today", "Yesterday", "Previous 7 days", "Previous 30 days", "Older"];
const DAY_MS = 24 * 3600 * 1000;

function groupOf(conversation: Conversation, startOfToday: number): GroupName {
  if (conversation.pinned) return "Pinned";
  const at = new Date(conversation.updated_at).getTime();
  if (at >= startOfToday) return "Today";
  if (at >= startOfToday - DAY_MS) return "Yesterday";
  if (at >= startOfToday - 7 * DAY_MS) return "Previous 7 days";
  if (at >= startOfToday - 30 * DAY_MS) return "Previous 30 days";
  return "Older";
}

/** Conversations (newest first) in the sidebar's groups, by local calendar day. */
export function groupConversations(conversations: Conversation[], now = new Date()): [GroupName, Conversation[]][] {
  const startOfToday = new Date(now.getFullYear(), now.getMonth(), now.getDate()).getTime();
  const groups = new Map<GroupName, Conversation[]>();
  for (const conversation of conversations) {
    const name = groupOf(conversation, startOfToday);
    groups.set(name, [...(groups.get(name) ?? []), conversation]);
  }
  return ORDER.filter((name) => groups.has(name)).map((name) => [name, groups.get(name)!]);
}
