/// <reference types="node" />
// Settings → API keys against a real HTTP server (node:http) playing the keys and usage API.
import { act, cleanup, fireEvent, render, screen, within } from "@testing-library/react";
import axe from "axe-core";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { setBaseUrl } from "../api/client";
import { serveDuringTests } from "../api/testServer";
import type { ApiKey, Usage } from "../types";
import { ApiKeys } from "./ApiKeys";

/** "METHOD /path" → the answer: a status and a JSON body (none for 204). */
type Route = (body: unknown) => [status: number, body?: unknown];
let routes: Record<string, Route>;
let seen: { route: string; body: unknown }[];

const baseUrl = serveDuringTests(async (req, res) => {
  let text = "";
  for await (const chunk of req) text += chunk;
  const route = `${req.method} ${req.url}`;
  const body: unknown = text ? JSON.parse(text) : undefined;
  seen.push({ route, body });
  const [status, answer] = routes[route]?.(body) ?? [404, { title: "Not Found", status: 404 }];
  res.writeHead(status, { "Content-Type": status >= 400 ? "application/problem+json" : "application/json" });
  res.end(answer === undefined ? undefined : JSON.stringify(answer));
});

const KEY = "sk-chatfn-Ab12Cd34Ef56Gh78Ij90Kl12Mn34Op56";
const today = new Date().toISOString().slice(0, 10);

const apiKey = (id: string, name: string, extra: Partial<ApiKey> = {}): ApiKey => ({
  id,
  name,
  hint: "sk-chatfn-Ab12…",
  scopes: ["chat"],
  store: false,
  daily_token_budget: null,
  requests_per_minute: null,
  created_at: "2026-01-01T10:00:00Z",
  expires_at: null,
  last_used_at: null,
  revoked_at: null,
  ...extra,
});

const NO_USAGE: Usage = { daily_token_budget: 0, used_today: 0, days: [] };

/** The API with these keys and this usage; each GET answers what `state` holds then. */
function serve(keys: ApiKey[], usage: Usage = NO_USAGE): { keys: ApiKey[]; usage: Usage } {
  const state = { keys, usage };
  routes = {
    "GET /api/keys": () => [200, state.keys],
    "GET /api/usage?days=30": () => [200, state.usage],
  };
  return state;
}

beforeEach(() => {
  seen = [];
  setBaseUrl(baseUrl());
});
afterEach(cleanup);

describe("Create key", () => {
  it("shows the new key once, copyable, and never again", async () => {
    const api = serve([]);
    routes["POST /api/keys"] = (body) => {
      const created = { ...apiKey("k1", "Laptop"), ...(body as Partial<ApiKey>) };
      api.keys = [created];
      return [201, { ...created, key: KEY }];
    };
    const writeText = vi.fn((_: string) => Promise.resolve());
    Object.defineProperty(navigator, "clipboard", { value: { writeText }, configurable: true });
    try {
      const view = render(<ApiKeys />);
      await screen.findByText(/No keys yet/);
      fireEvent.click(screen.getByRole("button", { name: "Create key" }));
      fireEvent.change(screen.getByLabelText("Key name"), { target: { value: " Laptop " } });
      fireEvent.click(screen.getByRole("checkbox", { name: /Read history/ }));
      fireEvent.change(screen.getByLabelText("Expires"), { target: { value: "" } });
      fireEvent.change(screen.getByLabelText("Daily token budget"), { target: { value: "20000" } });
      fireEvent.click(screen.getByRole("button", { name: "Create key" }));

      const reveal = await screen.findByRole("region", { name: "Key created: Laptop" });
      const field = within(reveal).getByLabelText("API key");
      expect(field).toHaveProperty("value", KEY);
      expect(field).toHaveProperty("readOnly", true);
      expect(within(reveal).getByText(/it will not be shown again/)).toBeTruthy();
      // Store off by default, no expiry when Never, an empty limit left to the server.
      expect(seen.find((s) => s.route === "POST /api/keys")?.body).toEqual({
        name: "Laptop",
        scopes: ["chat", "history:read"],
        expires_in_days: null,
        store: false,
        daily_token_budget: 20000,
        requests_per_minute: null,
      });
      await act(async () => {
        fireEvent.click(within(reveal).getByRole("button", { name: "Copy the API key" }));
      });
      expect(writeText).toHaveBeenCalledWith(KEY);

      // The key is listed by its hint; once dismissed, the key is nowhere, nor after a reopen.
      const card = screen.getByRole("listitem", { name: "Laptop" });
      expect(within(card).getByText("sk-chatfn-Ab12…")).toBeTruthy();
      expect(within(card).getByText("Read history")).toBeTruthy();
      fireEvent.click(within(reveal).getByRole("button", { name: "Done" }));
      expect(document.body.innerHTML).not.toContain(KEY);
      view.unmount();
      render(<ApiKeys />);
      await screen.findByRole("listitem", { name: "Laptop" });
      expect(document.body.innerHTML).not.toContain(KEY);
    } finally {
      delete (navigator as { clipboard?: unknown }).clipboard;
    }
  });

  it("says why a limit was refused, and keeps what was typed", async () => {
    serve([]);
    const reason = "The daily token budget cannot exceed your own (100000).";
    routes["POST /api/keys"] = () => [422, { title: "Limit too high", status: 422, detail: reason }];
    render(<ApiKeys />);
    fireEvent.click(await screen.findByRole("button", { name: "Create key" }));
    fireEvent.change(screen.getByLabelText("Key name"), { target: { value: "Greedy" } });
    fireEvent.change(screen.getByLabelText("Daily token budget"), { target: { value: "999999999" } });
    fireEvent.click(screen.getByRole("button", { name: "Create key" }));

    expect((await screen.findByRole("alert")).textContent).toBe(reason);
    expect(screen.getByLabelText("Key name")).toHaveProperty("value", "Greedy");
    expect(screen.queryByLabelText("API key")).toBeNull();
  });

  it("asks for at least one scope", async () => {
    serve([]);
    render(<ApiKeys />);
    fireEvent.click(await screen.findByRole("button", { name: "Create key" }));
    fireEvent.change(screen.getByLabelText("Key name"), { target: { value: "Nothing" } });
    fireEvent.click(screen.getByRole("checkbox", { name: /Chat/ }));
    fireEvent.click(screen.getByRole("button", { name: "Create key" }));

    expect((await screen.findByRole("alert")).textContent).toMatch(/at least one/);
    expect(seen.filter((s) => s.route === "POST /api/keys")).toHaveLength(0);
  });
});

describe("the list", () => {
  it("shows when each key was made and last used, until when it works, and which are revoked", async () => {
    const lastUsed = new Date(Date.now() - 5 * 60_000).toISOString();
    serve([
      apiKey("k3", "Nightly report", { last_used_at: lastUsed, expires_at: "2099-01-01T00:00:00Z", store: true, requests_per_minute: 10 }),
      apiKey("k2", "Old laptop", { revoked_at: "2026-02-01T00:00:00Z" }),
      apiKey("k1", "Fresh"),
    ]);
    render(<ApiKeys />);

    const nightly = await screen.findByRole("listitem", { name: "Nightly report" });
    expect(nightly.textContent).toContain("Last used 5 minutes ago");
    expect(within(nightly).getByText("Kept in history")).toBeTruthy();
    expect(nightly.textContent).toContain("10 requests a minute");
    expect(within(nightly).getByRole("button", { name: "Revoke Nightly report" })).toBeTruthy();

    const old = screen.getByRole("listitem", { name: "Old laptop" });
    expect(within(old).getByText("Revoked", { selector: ".badge" })).toBeTruthy();
    expect(within(old).queryByRole("button", { name: /Revoke/ })).toBeNull();

    const fresh = screen.getByRole("listitem", { name: "Fresh" });
    expect(fresh.textContent).toContain("Last used never");
    expect(fresh.textContent).toContain("Expires never");
  });

  it("revokes a key only when asked a second time, and keeps it listed as revoked", async () => {
    serve([apiKey("k1", "Laptop"), apiKey("k2", "CI")]);
    routes["DELETE /api/keys/k1"] = () => [204];
    render(<ApiKeys />);
    const card = await screen.findByRole("listitem", { name: "Laptop" });

    fireEvent.click(within(card).getByRole("button", { name: "Revoke Laptop" }));
    expect(seen.filter((s) => s.route.startsWith("DELETE"))).toHaveLength(0);
    fireEvent.click(within(card).getByRole("button", { name: "Confirm revoke: Laptop" }));

    await within(card).findByText("Revoked", { selector: ".badge" });
    expect(seen.filter((s) => s.route.startsWith("DELETE")).map((s) => s.route)).toEqual(["DELETE /api/keys/k1"]);
    expect(within(card).queryByRole("button", { name: /Revoke/ })).toBeNull();
    expect(within(screen.getByRole("listitem", { name: "CI" })).getByRole("button", { name: "Revoke CI" })).toBeTruthy();
  });
});

describe("Call it like OpenAI", () => {
  it("gives this origin's /v1 as the base URL, in its Copy button and both examples", async () => {
    serve([]);
    render(<ApiKeys />);
    const baseUrl = `${window.location.origin}/v1`;
    const part = await screen.findByRole("region", { name: "Call it like OpenAI" });
    expect(within(part).getByText(baseUrl).tagName).toBe("CODE");
    const howTo = part.querySelector("details")!;
    expect(howTo.open).toBe(false);
    const [python, javascript] = [...howTo.querySelectorAll("pre")].map((pre) => pre.textContent);
    expect(python).toContain(`base_url="${baseUrl}"`);
    expect(python).toContain("stream=True");
    expect(javascript).toContain(`baseURL: "${baseUrl}"`);
    expect(javascript).toContain("new OpenAI({");
  });
});

describe("Usage", () => {
  it("shows today's tokens against the budget and each day's use by the app and each key", async () => {
    serve([], {
      daily_token_budget: 100_000,
      used_today: 25_000,
      days: [
        { day: today, key_id: null, key_name: null, requests: 12, prompt_tokens: 20_000, completion_tokens: 3_000 },
        { day: today, key_id: "k1", key_name: "Laptop", requests: 3, prompt_tokens: 1_500, completion_tokens: 500 },
        { day: "2026-01-05", key_id: "k1", key_name: "Laptop", requests: 1, prompt_tokens: 10, completion_tokens: 5 },
      ],
    });
    render(<ApiKeys />);
    const usage = await screen.findByRole("region", { name: "Usage" });
    await within(usage).findByText(/of 100,000 tokens today \(25%\)/);

    const table = within(usage).getByRole("table");
    const rows = within(table).getAllByRole("row").slice(1);
    expect(rows.map((row) => [...row.children].map((cell) => cell.textContent))).toEqual([
      ["Today", "chatfn app", "12", "20,000", "3,000"],
      ["Laptop", "3", "1,500", "500"],
      [expect.stringMatching(/Jan 5/), "Laptop", "1", "10", "5"],
    ]);
  });

  it("says when there is no budget and nothing used", async () => {
    serve([]);
    render(<ApiKeys />);
    const usage = await screen.findByRole("region", { name: "Usage" });
    expect((await within(usage).findByText(/tokens today/)).textContent).toBe("0 tokens today. Your account has no daily budget.");
    expect(within(usage).getByText("Nothing used in the last 30 days.")).toBeTruthy();
  });
});

describe("accessibility", () => {
  it("axe finds nothing serious, with a form open, a key shown and usage listed", async () => {
    const api = serve([apiKey("k1", "Laptop", { revoked_at: "2026-02-01T00:00:00Z" })], {
      daily_token_budget: 1000,
      used_today: 950,
      days: [{ day: today, key_id: "k1", key_name: "Laptop", requests: 3, prompt_tokens: 900, completion_tokens: 50 }],
    });
    routes["POST /api/keys"] = () => {
      api.keys = [apiKey("k2", "CI"), ...api.keys];
      return [201, { ...api.keys[0], key: KEY }];
    };
    const { container } = render(<ApiKeys />);
    fireEvent.click(await screen.findByRole("button", { name: "Create key" }));
    fireEvent.change(screen.getByLabelText("Key name"), { target: { value: "CI" } });
    fireEvent.click(screen.getByRole("button", { name: "Create key" }));
    await screen.findByLabelText("API key");
    fireEvent.click(screen.getByRole("button", { name: "Create key" }));
    await within(screen.getByRole("region", { name: "Usage" })).findByRole("table");
    container.querySelector("details")!.open = true;

    // jsdom lays nothing out, so colour contrast is the browser test's to check (both themes there).
    const result = await axe.run(container, { rules: { "color-contrast": { enabled: false } } });
    const serious = result.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
    expect(serious.map((v) => `${v.id}: ${v.nodes.map((n) => n.target).join(", ")}`)).toEqual([]);
  });
});
