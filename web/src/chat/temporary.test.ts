// A temporary chat's state: the transcript sent with each message, and the tab's copy of it.
import { afterEach, describe, expect, it } from "vitest";
import type { Message } from "../types";
import { loadDraft, saveDraft } from "./drafts";
import { clearTemporary, loadTemporary, saveTemporary, TEMPORARY_DRAFT, transcript } from "./temporary";

const message = (id: string, role: Message["role"], content: string, status: Message["status"] = "complete"): Message => ({
  id,
  parent_id: null,
  role,
  content,
  model: "scripted",
  status,
  created_at: "2026-12-03T10:00:00Z",
  siblings: [],
});

afterEach(() => sessionStorage.clear());

describe("transcript", () => {
  it("is every turn oldest first, ending with the new question", () => {
    const chat = [message("1", "user", "Remember 42"), message("2", "assistant", "Noted.")];
    expect(transcript(chat, "What was it?")).toEqual([
      { role: "user", content: "Remember 42" },
      { role: "assistant", content: "Noted." },
      { role: "user", content: "What was it?" },
    ]);
  });

  it("keeps a stopped answer's words and leaves out an answer that has none", () => {
    const chat = [
      message("1", "user", "One"),
      message("2", "assistant", "Half an ans", "stopped"),
      message("3", "user", "Two"),
      message("4", "assistant", "", "failed"),
    ];
    expect(transcript(chat, "Three").map((t) => t.content)).toEqual(["One", "Half an ans", "Two", "Three"]);
  });

  it("is the question alone in a chat just started", () => {
    expect(transcript([], "Hi")).toEqual([{ role: "user", content: "Hi" }]);
  });
});

describe("the tab's copy", () => {
  it("comes back after a reload, in sessionStorage only", () => {
    const chat = [message("1", "user", "Hi"), message("2", "assistant", "Hello")];
    saveTemporary("ada", chat);
    expect(loadTemporary("ada")).toEqual(chat);
    expect(localStorage.length).toBe(0);
  });

  it("starts a reply that was being written over from nothing: its stream is read again", () => {
    saveTemporary("ada", [message("1", "user", "Hi"), message("2", "assistant", "Hel", "streaming")]);
    expect(loadTemporary("ada")[1]).toMatchObject({ content: "", status: "streaming" });
  });

  it("is not shown to another account signed in in the same tab", () => {
    saveTemporary("ada", [message("1", "user", "Hi")]);
    expect(loadTemporary("grace")).toEqual([]);
  });

  it("is gone once cleared, with the draft written in it, and the saved chats' drafts stay", () => {
    saveTemporary("ada", [message("1", "user", "Hi")]);
    saveDraft(TEMPORARY_DRAFT, "half a question", sessionStorage);
    saveDraft(null, "a saved chat's draft");
    clearTemporary();
    expect(loadTemporary("ada")).toEqual([]);
    expect(sessionStorage.length).toBe(0);
    expect(loadDraft(null)).toBe("a saved chat's draft");
    saveDraft(null, "");
  });

  it("an unreadable copy is an empty chat", () => {
    sessionStorage.setItem("chatfn:temporary", "{not json");
    expect(loadTemporary("ada")).toEqual([]);
  });
});
