/// <reference types="node" />
// Settings → General → Delete account against a real HTTP server (node:http) playing the API.
import { cleanup, fireEvent, render, screen, waitFor } from "@testing-library/react";
import axe from "axe-core";
import { afterEach, beforeEach, expect, it, vi } from "vitest";
import { getSession, setBaseUrl, setSession } from "../api/client";
import { serveDuringTests, TEST_SESSION } from "../api/testServer";
import { DeleteAccount } from "./DeleteAccount";

const PASSWORD = "correct horse battery";
let seen: { route: string; body: unknown; authorization: string | undefined }[];

// DELETE /api/auth/account: 204 for the right password, the server's 403 for any other.
const baseUrl = serveDuringTests(async (req, res) => {
  let text = "";
  for await (const chunk of req) text += chunk;
  const body = (text ? JSON.parse(text) : undefined) as { password?: string } | undefined;
  const route = `${req.method} ${req.url}`;
  seen.push({ route, body, authorization: req.headers.authorization });
  if (route !== "DELETE /api/auth/account") {
    res.writeHead(404, { "Content-Type": "application/problem+json" }).end('{"title":"Not Found"}');
  } else if (body?.password === PASSWORD) {
    res.writeHead(204).end();
  } else {
    const problem = { title: "Not confirmed", status: 403, detail: "That is not your password." };
    res.writeHead(403, { "Content-Type": "application/problem+json" }).end(JSON.stringify(problem));
  }
});

const SESSION = TEST_SESSION;

beforeEach(() => {
  seen = [];
  setBaseUrl(baseUrl());
  setSession(SESSION);
});
afterEach(cleanup);

function open(): { onDeleted: () => void; password: HTMLInputElement; confirm: HTMLButtonElement } {
  const onDeleted = vi.fn();
  render(<DeleteAccount onDeleted={onDeleted} />);
  fireEvent.click(screen.getByRole("button", { name: "Delete account…" }));
  return {
    onDeleted,
    password: screen.getByLabelText("Your password"),
    confirm: screen.getByRole("button", { name: "Delete my account forever" }),
  };
}

it("asks for the password, and the button waits until one is typed", async () => {
  const { password, confirm } = open();
  expect(document.activeElement).toBe(password);
  expect(confirm.disabled).toBe(true);
  fireEvent.change(password, { target: { value: "x" } });
  expect(confirm.disabled).toBe(false);
  fireEvent.change(password, { target: { value: "" } });
  expect(confirm.disabled).toBe(true);

  // Contrast is the browser test's: jsdom has no layout.
  const results = await axe.run(document.body, {
    runOnly: ["wcag2a", "wcag2aa"],
    rules: { "color-contrast": { enabled: false } },
  });
  expect(results.violations.map((v) => v.id)).toEqual([]);

  fireEvent.click(screen.getByRole("button", { name: "Cancel" }));
  expect(screen.queryByLabelText("Your password")).toBeNull();
  const reopen = screen.getByRole("button", { name: "Delete account…" });
  await waitFor(() => expect(document.activeElement).toBe(reopen));
  expect(seen).toEqual([]);
});

it("shows the server's words for a wrong password and keeps the session and the focus", async () => {
  const { onDeleted, password, confirm } = open();
  fireEvent.change(password, { target: { value: "not it" } });
  fireEvent.click(confirm);

  expect((await screen.findByRole("alert")).textContent).toBe("That is not your password.");
  expect(password.getAttribute("aria-invalid")).toBe("true");
  expect(document.activeElement).toBe(password);
  expect(onDeleted).not.toHaveBeenCalled();
  expect(getSession()).toBe(SESSION);
});

it("deletes with the right password, then the session is gone", async () => {
  const { onDeleted, password, confirm } = open();
  fireEvent.change(password, { target: { value: PASSWORD } });
  fireEvent.click(confirm);

  await waitFor(() => expect(onDeleted).toHaveBeenCalledOnce());
  expect(seen).toEqual([
    { route: "DELETE /api/auth/account", body: { password: PASSWORD }, authorization: "Bearer token-1" },
  ]);
  expect(getSession()).toBeNull();
});
