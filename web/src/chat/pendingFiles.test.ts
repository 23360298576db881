// The composer's files as state: what the message carries, and when it can go.
import { describe, expect, it } from "vitest";
import type { Attachment } from "../types";
import { canSend, chosen, MAX_FILES, pending, restored, room, stored, uploading, type Pending } from "./pendingFiles";

const attachment = (id: string, name = `${id}.txt`): Attachment => ({ id, name, content_type: "text/plain", size_bytes: 5, kind: "text", cut: false });
const file = (name: string, type = "text/plain") => new File(["hello"], name, { type });
const empty: Pending = { draft: null, files: [] };

function withChosen(...names: string[]): Pending {
  return pending(empty, { type: "chosen", files: names.map((name) => chosen(name, file(name), null)) });
}

describe("a chosen file", () => {
  it("uploads, then is what the message carries", () => {
    let state = withChosen("a.txt");
    expect(uploading(state.files)).toBe(true);
    expect(stored(state.files)).toEqual([]);

    state = pending(state, { type: "progress", key: "a.txt", progress: 0.5 });
    expect(state.files[0]!.progress).toBe(0.5);
    state = pending(state, { type: "stored", key: "a.txt", attachment: attachment("id-a", "a.txt") });

    expect(uploading(state.files)).toBe(false);
    expect(stored(state.files)).toEqual([attachment("id-a", "a.txt")]);
  });

  it("refused, stays on screen with the reason and goes nowhere", () => {
    const state = pending(withChosen("tool.exe"), { type: "failed", key: "tool.exe", error: "not application/x-msdownload" });
    expect(state.files[0]!.error).toBe("not application/x-msdownload");
    expect(uploading(state.files)).toBe(false);
    expect(stored(state.files)).toEqual([]);
  });

  it("is an image to preview only when a model could see it", () => {
    expect(chosen("k", file("dot.png", "image/png"), "blob:x")).toMatchObject({ image: true, preview: "blob:x" });
    expect(chosen("k", file("logo.svg", "image/svg+xml"), null).image).toBe(false); // read as text
    expect(chosen("k", file(" notes.md ", ""), null).name).toBe("notes.md");
  });
});

describe("the message", () => {
  it("takes ten files at most, in the order they were chosen", () => {
    const names = Array.from({ length: MAX_FILES + 2 }, (_, i) => `f${i}.txt`);
    const state = withChosen(...names);
    expect(state.files.map((f) => f.key)).toEqual(names.slice(0, MAX_FILES));
    expect(room(state.files)).toBe(0);
    expect(room(pending(state, { type: "removed", key: "f3.txt" }).files)).toBe(1);
  });

  it("can go with text, or with files alone, but not while one is uploading", () => {
    expect(canSend("", [])).toBe(false);
    expect(canSend("  \n", [])).toBe(false);
    expect(canSend("Hi", [])).toBe(true);
    const uploadingOne = withChosen("a.txt");
    expect(canSend("Hi", uploadingOne.files)).toBe(false);
    const ready = pending(uploadingOne, { type: "stored", key: "a.txt", attachment: attachment("id-a") });
    expect(canSend("", ready.files)).toBe(true);
    const refused = pending(uploadingOne, { type: "failed", key: "a.txt", error: "no" });
    expect(canSend("", refused.files)).toBe(false); // nothing to send
    expect(canSend("Hi", refused.files)).toBe(true);
  });

  it("once sent, leaves the draft without files", () => {
    expect(pending(withChosen("a.txt"), { type: "sent" }).files).toEqual([]);
  });
});

describe("the draft", () => {
  it("opened elsewhere shows that draft's files, stored already", () => {
    const kept = restored([attachment("id-b", "b.png")].map((a) => ({ ...a, kind: "image" as const })));
    const state = pending(withChosen("a.txt"), { type: "opened", draft: "c1", files: kept });
    expect(state.draft).toBe("c1");
    expect(state.files).toMatchObject([{ key: "id-b", name: "b.png", image: true, preview: null, attachment: { id: "id-b" } }]);
    expect(canSend("", state.files)).toBe(true);
  });

  it("moved to the chat its first message just made keeps the files", () => {
    const before = withChosen("a.txt");
    const after = pending(before, { type: "moved", draft: "c1" });
    expect(after).toEqual({ draft: "c1", files: before.files });
  });
});
