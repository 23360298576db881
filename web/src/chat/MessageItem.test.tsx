// How a message renders by its role: a caller's system prompt is context, not a turn of the chat;
// and what an edit of a user's message sends.
import { cleanup, fireEvent, render, screen } from "@testing-library/react";
import { afterEach, describe, expect, it } from "vitest";
import type { Attachment, Message } from "../types";
import { MessageItem } from "./MessageItem";

const message = (role: Message["role"], content: string): Message => ({
  id: `m-${role}`,
  parent_id: null,
  role,
  content,
  model: "scripted",
  status: "complete",
  created_at: "2026-01-01T10:00:00Z",
  siblings: [`m-${role}`],
});

const shown = (m: Message) =>
  render(
    <MessageItem message={m} position={{ index: 1, count: 1 }} busy={false} onEdit={() => {}} onRegenerate={() => {}} onSibling={() => {}} />,
  );

afterEach(cleanup);

describe("a system message", () => {
  it("is a labelled block of plain text with no actions, not a bubble", () => {
    const { container } = shown(message("system", "Answer in one sentence.\n**Never** guess."));
    const block = screen.getByRole("article", { name: "System prompt" });
    expect(block.textContent).toBe("SystemAnswer in one sentence.\n**Never** guess.");
    expect(screen.queryAllByRole("button")).toEqual([]);
    expect(container.querySelector(".bubble, .reply")).toBeNull();
  });

  it("leaves the user's bubble and its actions as they were", () => {
    shown(message("user", "Hello"));
    expect(screen.getByRole("article", { name: "You said" }).querySelector(".bubble")?.textContent).toBe("Hello");
    expect(screen.getByRole("button", { name: "Edit message" })).toBeTruthy();
  });
});

describe("a temporary chat's message", () => {
  const temporary = (m: Message, onRegenerate?: () => void) =>
    render(<MessageItem message={m} position={{ index: 1, count: 1 }} busy={false} temporary onRegenerate={onRegenerate} onSibling={() => {}} />);
  const buttons = () => screen.queryAllByRole("button").map((b) => b.getAttribute("aria-label"));

  it("can be copied, not edited, and its answer not rated: the server keeps nothing of it", () => {
    temporary(message("user", "Hello"));
    expect(buttons()).toEqual(["Copy message"]);
    cleanup();
    temporary(message("assistant", "Hi"));
    expect(buttons()).toEqual(["Copy message"]);
  });

  it("offers Regenerate on the answer it is given for", () => {
    temporary(message("assistant", "Hi"), () => {});
    expect(buttons()).toEqual(["Copy message", "Regenerate"]);
  });
});

describe("editing a message sent with files", () => {
  const file = (id: string, name: string): Attachment => ({ id, name, content_type: "text/plain", size_bytes: 2048, kind: "text", cut: false });
  const sent: Message = { ...message("user", "Compare these"), attachments: [file("f1", "a.txt"), file("f2", "b.txt")] };
  const edited: [string, Attachment[]][] = [];
  const editing = () => {
    edited.length = 0;
    render(
      <MessageItem message={sent} position={{ index: 1, count: 1 }} busy={false} onEdit={(_, content, files) => edited.push([content, files])} onSibling={() => {}} />,
    );
    fireEvent.click(screen.getByRole("button", { name: "Edit message" }));
  };

  it("keeps its files: the edit box shows them and the edit goes with the same ones", () => {
    editing();
    const chips = screen.getByRole("list", { name: "Attached files" });
    expect(chips.textContent).toBe("a.txtTXT · 2 KBb.txtTXT · 2 KB");
    fireEvent.change(screen.getByRole("textbox", { name: "Edit message" }), { target: { value: "Compare them, briefly " } });
    fireEvent.click(screen.getByRole("button", { name: "Send" }));
    expect(edited).toEqual([["Compare them, briefly", sent.attachments]]);
  });

  it("goes without a file taken off, and with files alone once the text is cleared", () => {
    editing();
    fireEvent.click(screen.getByRole("button", { name: "Remove a.txt" }));
    fireEvent.change(screen.getByRole("textbox", { name: "Edit message" }), { target: { value: " " } });
    fireEvent.click(screen.getByRole("button", { name: "Send" }));
    expect(edited).toEqual([["", [file("f2", "b.txt")]]]);
  });

  it("cannot go empty", () => {
    editing();
    fireEvent.click(screen.getByRole("button", { name: "Remove a.txt" }));
    fireEvent.click(screen.getByRole("button", { name: "Remove b.txt" }));
    fireEvent.change(screen.getByRole("textbox", { name: "Edit message" }), { target: { value: "" } });
    expect((screen.getByRole("button", { name: "Send" }) as HTMLButtonElement).disabled).toBe(true);
  });
});
