import { describe, expect, it } from "vitest";
import type { Conversation } from "../types";
import { groupConversations } from "./groups";

const now = new Date(2026, 10, 25, 9, 30); // a Wednesday morning, local time

function chat(id: string, updated: Date, pinned = false): Conversation {
  const at = updated.toISOString();
  return { id, title: id, pinned, archived: false, created_at: at, updated_at: at, deleted_at: null };
}

const daysAgo = (days: number, hour = 12) => new Date(2026, 10, 25 - days, hour);

describe("groupConversations", () => {
  it("puts pinned chats first, then by local calendar day", () => {
    const groups = groupConversations(
      [
        chat("pinned-old", daysAgo(90), true),
        chat("this-morning", new Date(2026, 10, 25, 0, 5)),
        chat("late-yesterday", new Date(2026, 10, 24, 23, 59)),
        chat("three-days", daysAgo(3)),
        chat("two-weeks", daysAgo(14)),
        chat("two-months", daysAgo(60)),
      ],
      now,
    );

    expect(groups.map(([name, items]) => [name, items.map((c) => c.id)])).toEqual([
      ["Pinned", ["pinned-old"]],
      ["Today", ["this-morning"]],
      ["Yesterday", ["late-yesterday"]],
      ["Previous 7 days", ["three-days"]],
      ["Previous 30 days", ["two-weeks"]],
      ["Older", ["two-months"]],
    ]);
  });

  it("keeps the order it was given inside a group and leaves out empty groups", () => {
    const groups = groupConversations([chat("b", daysAgo(0, 9)), chat("a", daysAgo(0, 8))], now);
    expect(groups).toEqual([["Today", [expect.objectContaining({ id: "b" }), expect.objectContaining({ id: "a" })]]]);
  });
});
