// The message tree: every message hangs under its parent (roots under "root"); edits and
// regenerations add siblings. The conversation shows one path, newest branch by default.
import type { Message } from "./types";

/** The child chosen at each level, by parent key. */
export type Chosen = Readonly<Record<string, string>>;

export function parentKey(message: Message): string {
  return message.parent_id ?? "root";
}

// Oldest first: by place in `siblings` (which every sibling carries, oldest first);
// a message not yet listed there is the newest.
function rank(message: Message): number {
  const index = message.siblings.indexOf(message.id);
  return index === -1 ? Number.MAX_SAFE_INTEGER : index;
}

const oldestFirst = (a: Message, b: Message) => rank(a) - rank(b);

function childrenByParent(messages: readonly Message[]): Map<string, Message[]> {
  const levels = new Map<string, Message[]>();
  for (const message of messages) {
    const key = parentKey(message);
    const level = levels.get(key);
    if (level) level.push(message);
    else levels.set(key, [message]);
  }
  for (const level of levels.values()) level.sort(oldestFirst);
  return levels;
}

/** From the roots down: the chosen child at each level, else the newest, to a leaf. */
export function activePath(messages: readonly Message[], chosen: Chosen): Message[] {
  const levels = childrenByParent(messages);
  const path: Message[] = [];
  for (let key = "root"; ; ) {
    const level = levels.get(key);
    if (!level) return path;
    const next = level.find((m) => m.id === chosen[key]) ?? level[level.length - 1]!;
    path.push(next);
    key = next.id;
  }
}

function siblingsOf(message: Message, messages: readonly Message[]): Message[] {
  return messages.filter((m) => m.parent_id === message.parent_id).sort(oldestFirst);
}

/** Where the message is among its siblings, 1-based: "2 / 3". */
export function siblingPosition(
  message: Message,
  messages: readonly Message[],
): { index: number; count: number } {
  const siblings = siblingsOf(message, messages);
  return { index: siblings.findIndex((m) => m.id === message.id) + 1, count: siblings.length };
}

/** The sibling `delta` places away (-1: the older one), if there is one. */
export function siblingAt(
  message: Message,
  messages: readonly Message[],
  delta: number,
): Message | undefined {
  const siblings = siblingsOf(message, messages);
  const index = siblings.findIndex((m) => m.id === message.id);
  return index === -1 ? undefined : siblings[index + delta];
}

/** Shows `message` at its level from now on. */
export function choose(chosen: Chosen, message: Message): Record<string, string> {
  return { ...chosen, [parentKey(message)]: message.id };
}
