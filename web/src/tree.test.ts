import { describe, expect, it } from "vitest";
import { activePath, choose, siblingAt, siblingPosition, type Chosen } from "./tree";
import type { Message } from "./types";

/** Messages from `[id, parentId]` pairs, oldest first, with `siblings` as the API gives them. */
function tree(...links: [id: string, parent: string | null][]): Message[] {
  const messages = links.map(([id, parent_id], index): Message => ({
    id,
    parent_id,
    role: index % 2 === 0 ? "user" : "assistant",
    content: `text of ${id}`,
    model: "m",
    status: "complete",
    created_at: new Date(Date.UTC(2025, 0, 1, 0, 0, index)).toISOString(),
    siblings: [],
  }));
  return messages.map((m) => ({
    ...m,
    siblings: messages.filter((s) => s.parent_id === m.parent_id).map((s) => s.id),
  }));
}

const ids = (messages: Message[]) => messages.map((m) => m.id);
const byId = (messages: Message[], id: string) => messages.find((m) => m.id === id)!;

describe("activePath", () => {
  it("follows a linear chain to its leaf", () => {
    const messages = tree(["u1", null], ["a1", "u1"], ["u2", "a1"], ["a2", "u2"]);
    expect(ids(activePath(messages, {}))).toEqual(["u1", "a1", "u2", "a2"]);
  });

  it("is empty without messages", () => {
    expect(activePath([], {})).toEqual([]);
  });

  it("shows the newest edit by default and the chosen one after choose()", () => {
    const messages = tree(
      ["u1", null], ["a1", "u1"],
      ["u2", "a1"], ["a2", "u2"],
      ["u2-edit", "a1"], ["a2-edit", "u2-edit"],
    ); // prettier-ignore
    expect(ids(activePath(messages, {}))).toEqual(["u1", "a1", "u2-edit", "a2-edit"]);
    const chosen = choose({}, byId(messages, "u2"));
    expect(chosen).toEqual({ a1: "u2" });
    expect(ids(activePath(messages, chosen))).toEqual(["u1", "a1", "u2", "a2"]);
  });

  it("shows the newest regeneration by default and the chosen one after choose()", () => {
    const messages = tree(["u1", null], ["a1", "u1"], ["a1-again", "u1"]);
    expect(ids(activePath(messages, {}))).toEqual(["u1", "a1-again"]);
    expect(ids(activePath(messages, choose({}, byId(messages, "a1"))))).toEqual(["u1", "a1"]);
  });

  it("continues an older branch down its own newest leaf, and remembers choices below", () => {
    const messages = tree(
      ["u1", null], ["a1", "u1"],
      ["a1-again", "u1"],
      ["u2", "a1"], ["a2", "u2"], ["a2-again", "u2"],
      ["u3", "a1-again"], ["a3", "u3"],
    ); // prettier-ignore
    expect(ids(activePath(messages, {}))).toEqual(["u1", "a1-again", "u3", "a3"]);

    let chosen: Chosen = choose({}, byId(messages, "a1"));
    expect(ids(activePath(messages, chosen))).toEqual(["u1", "a1", "u2", "a2-again"]);

    chosen = choose(chosen, byId(messages, "a2"));
    chosen = choose(chosen, byId(messages, "a1-again"));
    expect(ids(activePath(messages, chosen))).toEqual(["u1", "a1-again", "u3", "a3"]);
    chosen = choose(chosen, byId(messages, "a1"));
    expect(ids(activePath(messages, chosen))).toEqual(["u1", "a1", "u2", "a2"]);
  });

  it("treats root messages as siblings of each other", () => {
    const messages = tree(["r1", null], ["a1", "r1"], ["r2", null], ["a2", "r2"]);
    expect(ids(activePath(messages, {}))).toEqual(["r2", "a2"]);
    const chosen = choose({}, byId(messages, "r1"));
    expect(chosen).toEqual({ root: "r1" });
    expect(ids(activePath(messages, chosen))).toEqual(["r1", "a1"]);
  });

  it("falls back to the newest child when the chosen one is unknown", () => {
    const messages = tree(["u1", null], ["a1", "u1"], ["a1-again", "u1"]);
    expect(ids(activePath(messages, { u1: "gone" }))).toEqual(["u1", "a1-again"]);
  });

  it("orders siblings by `siblings`, not by their place in the array", () => {
    const messages = tree(["u1", null], ["a1", "u1"], ["a1-again", "u1"]).reverse();
    expect(ids(activePath(messages, {}))).toEqual(["u1", "a1-again"]);
  });

  it("takes a message its siblings do not list yet (just sent) as the newest", () => {
    const messages = tree(["u1", null], ["a1", "u1"]);
    const sent = { ...byId(messages, "a1"), id: "a1-new", siblings: [] };
    expect(ids(activePath([sent, ...messages], {}))).toEqual(["u1", "a1-new"]);
  });
});

describe("siblings", () => {
  const messages = tree(
    ["u1", null], ["a1", "u1"],
    ["u2", "a1"], ["u2-b", "a1"], ["u2-c", "a1"],
  ); // prettier-ignore

  it("gives 1-based positions among the siblings", () => {
    expect(siblingPosition(byId(messages, "u1"), messages)).toEqual({ index: 1, count: 1 });
    expect(siblingPosition(byId(messages, "u2"), messages)).toEqual({ index: 1, count: 3 });
    expect(siblingPosition(byId(messages, "u2-b"), messages)).toEqual({ index: 2, count: 3 });
    expect(siblingPosition(byId(messages, "u2-c"), messages)).toEqual({ index: 3, count: 3 });
  });

  it("steps to the older and newer sibling, and to nothing past either end", () => {
    const middle = byId(messages, "u2-b");
    expect(siblingAt(middle, messages, -1)?.id).toBe("u2");
    expect(siblingAt(middle, messages, 1)?.id).toBe("u2-c");
    expect(siblingAt(byId(messages, "u2"), messages, -1)).toBeUndefined();
    expect(siblingAt(byId(messages, "u2-c"), messages, 1)).toBeUndefined();
  });

  it("switches the path when the chosen sibling changes", () => {
    const older = siblingAt(byId(messages, "u2-c"), messages, -1)!;
    expect(ids(activePath(messages, choose({}, older)))).toEqual(["u1", "a1", "u2-b"]);
  });
});
