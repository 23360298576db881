/// <reference types="node" />
// Settings → Integrations against a real HTTP server (node:http) playing the webhooks and integrations API.
import { act, cleanup, fireEvent, render, renderHook, screen, waitFor, within } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { setBaseUrl } from "../api/client";
import { serveDuringTests } from "../api/testServer";
import type { Delivery, Endpoint, Integration } from "../types";
import { Integrations } from "./Integrations";
import { useDisabledEndpoints } from "./useDisabledEndpoints";

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

const EVENT_TYPES = [
  { type: "io.chatfn.reply.completed", description: "A reply was fully written", version: 1 },
  { type: "io.chatfn.conversation.created", description: "A chat was started", version: 1 },
];

const endpoint = (id: string, extra: Partial<Endpoint> = {}): Endpoint => ({
  id,
  url: `https://hooks.example.com/${id}`,
  event_types: ["io.chatfn.reply.completed"],
  description: "",
  state: "active",
  disabled_reason: null,
  created_at: "2026-01-01T10:00:00Z",
  secret_rotated_at: null,
  ...extra,
});

const delivery = (id: string, extra: Partial<Delivery> = {}): Delivery => ({
  id,
  event_id: `event-${id}`,
  event_type: "io.chatfn.reply.completed",
  state: "failed",
  attempts: 8,
  next_attempt_at: null,
  created_at: "2026-01-01T11:00:00Z",
  last_attempt: null,
  ...extra,
});

const integration = (id: string, name: string): Integration => ({
  id,
  name,
  created_at: "2026-01-01T10:00:00Z",
  url: `/api/inbound/${id}`,
});

/** The API with these endpoints and integrations; each GET answers what `state` holds then. */
function serve(endpoints: Endpoint[], integrations: Integration[] = []): { endpoints: Endpoint[]; integrations: Integration[] } {
  const state = { endpoints, integrations };
  routes = {
    "GET /api/webhooks/event-types": () => [200, EVENT_TYPES],
    "GET /api/webhooks": () => [200, state.endpoints],
    "GET /api/integrations": () => [200, state.integrations],
  };
  return state;
}

beforeEach(() => {
  seen = [];
  setBaseUrl(baseUrl());
});
afterEach(cleanup);

const SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

describe("Add endpoint", () => {
  it("shows the new signing secret once, copyable, and never again", async () => {
    const api = serve([]);
    routes["POST /api/webhooks"] = (body) => {
      const created = { ...endpoint("e1"), ...(body as Partial<Endpoint>) };
      api.endpoints = [created];
      return [201, { ...created, secret: SECRET }];
    };
    const writeText = vi.fn((_: string) => Promise.resolve());
    Object.defineProperty(navigator, "clipboard", { value: { writeText }, configurable: true });
    try {
      const view = render(<Integrations onEndpoints={() => undefined} />);
      await screen.findByText(/No endpoints yet/);
      fireEvent.click(screen.getByRole("button", { name: "Add endpoint" }));
      fireEvent.change(screen.getByLabelText("Endpoint URL"), { target: { value: " https://hooks.example.com/e1 " } });
      fireEvent.change(screen.getByLabelText(/Description/), { target: { value: "Billing" } });
      fireEvent.click(await screen.findByLabelText(/io\.chatfn\.reply\.completed/));
      fireEvent.click(screen.getByRole("button", { name: "Add endpoint" }));

      const field = await screen.findByLabelText("Signing secret");
      expect(field).toHaveProperty("value", SECRET);
      expect(field).toHaveProperty("readOnly", true);
      expect(screen.getByText(/it will not be shown again/)).toBeTruthy();
      expect(seen.find((s) => s.route === "POST /api/webhooks")?.body).toEqual({
        url: "https://hooks.example.com/e1",
        description: "Billing",
        event_types: ["io.chatfn.reply.completed"],
      });
      await act(async () => {
        fireEvent.click(screen.getByRole("button", { name: "Copy the signing secret" }));
      });
      expect(writeText).toHaveBeenCalledWith(SECRET);

      // The endpoint is listed; once dismissed, the secret is nowhere, nor after a reopen.
      expect(screen.getByRole("heading", { name: "https://hooks.example.com/e1" })).toBeTruthy();
      fireEvent.click(screen.getByRole("button", { name: "Done" }));
      expect(document.body.innerHTML).not.toContain(SECRET);
      view.unmount();
      render(<Integrations onEndpoints={() => undefined} />);
      await screen.findByRole("heading", { name: "https://hooks.example.com/e1" });
      expect(document.body.innerHTML).not.toContain("whsec_");
    } finally {
      delete (navigator as { clipboard?: unknown }).clipboard;
    }
  });

  it("puts a refused URL's reason under the URL field", async () => {
    serve([]);
    const reason = "The URL resolves to a private address (10.0.0.0/8).";
    routes["POST /api/webhooks"] = () => [422, { title: "URL refused", status: 422, detail: reason }];
    render(<Integrations onEndpoints={() => undefined} />);
    fireEvent.click(await screen.findByRole("button", { name: "Add endpoint" }));
    const url = screen.getByLabelText("Endpoint URL");
    fireEvent.change(url, { target: { value: "https://10.0.0.1/hook" } });
    fireEvent.click(await screen.findByLabelText(/io\.chatfn\.conversation\.created/));
    fireEvent.click(screen.getByRole("button", { name: "Add endpoint" }));

    await waitFor(() => expect(url.getAttribute("aria-invalid")).toBe("true"));
    expect(document.getElementById(url.getAttribute("aria-describedby")!)?.textContent).toBe(reason);
    expect(document.activeElement).toBe(url);
    expect(screen.queryByLabelText("Signing secret")).toBeNull();
  });
});

describe("a disabled endpoint", () => {
  it("is announced at the top until it is re-enabled", async () => {
    const reason = "Disabled after 8 failed deliveries over 24 hours (last: HTTP 503).";
    serve([endpoint("ok"), endpoint("broken", { state: "disabled", disabled_reason: reason })]);
    routes["PATCH /api/webhooks/broken"] = (body) => [200, endpoint("broken", { state: (body as { paused: boolean }).paused ? "paused" : "active" })];
    const reported: number[] = [];
    render(<Integrations onEndpoints={(endpoints) => reported.push(endpoints.filter((e) => e.state === "disabled").length)} />);

    const notice = await screen.findByRole("alert");
    expect(notice.textContent).toContain("1 endpoint was disabled after repeated failures.");
    const card = screen.getByRole("listitem", { name: "https://hooks.example.com/broken" });
    expect(within(card).getByText("Disabled")).toBeTruthy();
    expect(within(card).getByText(new RegExp(reason.replace(/[().]/g, "\\$&")))).toBeTruthy();

    fireEvent.click(within(card).getByRole("button", { name: "Re-enable https://hooks.example.com/broken" }));
    await waitFor(() => expect(screen.queryByRole("alert")).toBeNull());
    expect(seen.find((s) => s.route === "PATCH /api/webhooks/broken")?.body).toEqual({ paused: false });
    expect(within(card).getByText("Active")).toBeTruthy();
    expect(reported).toEqual([1, 0]);
  });

  it("puts a dot on Settings from the app's first look at the list", async () => {
    serve([endpoint("broken", { state: "disabled" }), endpoint("also", { state: "disabled" })]);
    const { result } = renderHook(() => useDisabledEndpoints());
    await waitFor(() => expect(result.current.alert).toBe("2 webhook endpoints disabled"));
    act(() => result.current.seen([endpoint("fixed")]));
    expect(result.current.alert).toBeNull();
  });
});

describe("Recent deliveries", () => {
  it("show the receiver's answer as text and resend a delivery as a new one", async () => {
    serve([endpoint("e1")]);
    const excerpt = '<h1>Bad gateway</h1><img src="x" onerror="alert(1)">';
    const failed = delivery("d1", {
      last_attempt: { at: "2026-01-01T11:00:01Z", status_code: 502, latency_ms: 143, error: null, excerpt },
    });
    let deliveries = [failed];
    routes["GET /api/webhooks/e1/deliveries?limit=20"] = () => [200, deliveries];
    routes["POST /api/webhooks/deliveries/d1/resend"] = () => {
      deliveries = [delivery("d2", { state: "pending", attempts: 0, created_at: new Date().toISOString() }), failed];
      return [202, { delivery_id: "d2" }];
    };
    render(<Integrations onEndpoints={() => undefined} />);
    fireEvent.click(await screen.findByRole("button", { name: "Recent deliveries to https://hooks.example.com/e1" }));

    const list = await screen.findByRole("list", { name: "Recent deliveries" });
    const row = within(list).getByRole("listitem");
    expect(within(row).getByText("Failed")).toBeTruthy();
    expect(within(row).getByText("8 attempts")).toBeTruthy();
    expect(within(row).getByText("HTTP 502")).toBeTruthy();
    expect(within(row).getByText("143 ms")).toBeTruthy();
    const pre = row.querySelector("pre")!;
    expect(pre.textContent).toBe(excerpt);
    expect(pre.children).toHaveLength(0);

    fireEvent.click(within(row).getByRole("button", { name: /^Resend io\.chatfn\.reply\.completed/ }));
    await within(list).findByText("Pending");
    expect(seen.filter((s) => s.route === "POST /api/webhooks/deliveries/d1/resend")).toHaveLength(1);
    expect(within(list).getAllByRole("listitem")).toHaveLength(2);
    expect(screen.getByText("io.chatfn.reply.completed was sent again as a new delivery.")).toBeTruthy();
  });

  it("follow a test send until it has arrived", async () => {
    serve([endpoint("e1")]);
    let deliveries: Delivery[] = [];
    routes["GET /api/webhooks/e1/deliveries?limit=20"] = () => [200, deliveries];
    routes["POST /api/webhooks/e1/test"] = () => {
      deliveries = [delivery("t1", { event_type: "io.chatfn.webhook.tested", state: "pending", attempts: 0 })];
      setTimeout(() => {
        const at = new Date().toISOString();
        deliveries = [{ ...deliveries[0]!, state: "delivered", attempts: 1, last_attempt: { at, status_code: 204, latency_ms: 12, error: null, excerpt: "" } }];
      }, 500);
      return [202, { delivery_id: "t1" }];
    };
    render(<Integrations onEndpoints={() => undefined} />);
    fireEvent.click(await screen.findByRole("button", { name: "Recent deliveries to https://hooks.example.com/e1" }));
    await screen.findByText(/Nothing sent yet/);
    fireEvent.click(screen.getByRole("button", { name: "Send test to https://hooks.example.com/e1" }));

    const list = await screen.findByRole("list", { name: "Recent deliveries" });
    expect(within(list).getByText("Pending")).toBeTruthy();
    await within(list).findByText("Delivered", {}, { timeout: 5000 });
    expect(within(list).getByText("HTTP 204")).toBeTruthy();
  });
});

describe("Incoming messages", () => {
  it("shows a new integration's signing secret once, beside its absolute URL", async () => {
    const api = serve([]);
    routes["POST /api/integrations"] = (body) => {
      api.integrations = [integration("i1", (body as { name: string }).name)];
      return [201, { ...api.integrations[0], secret: SECRET }];
    };
    const view = render(<Integrations onEndpoints={() => undefined} />);
    await screen.findByText(/No integrations yet/);
    fireEvent.click(screen.getByRole("button", { name: "Add integration" }));
    fireEvent.change(screen.getByLabelText("Integration name"), { target: { value: " Helpdesk " } });
    fireEvent.click(screen.getByRole("button", { name: "Add integration" }));

    const reveal = await screen.findByRole("region", { name: "Integration added: Helpdesk" });
    expect(within(reveal).getByLabelText("Signing secret")).toHaveProperty("value", SECRET);
    expect(within(reveal).getByText(/it will not be shown again/)).toBeTruthy();
    expect(reveal.textContent).toContain("Your integration signs every message with it");
    expect(seen.find((s) => s.route === "POST /api/integrations")?.body).toEqual({ name: "Helpdesk" });
    const card = screen.getByRole("listitem", { name: "Helpdesk" });
    expect(within(card).getByText(`${window.location.origin}/api/inbound/i1`).tagName).toBe("CODE");

    fireEvent.click(within(reveal).getByRole("button", { name: "Done" }));
    expect(document.body.innerHTML).not.toContain(SECRET);
    view.unmount();
    render(<Integrations onEndpoints={() => undefined} />);
    await screen.findByRole("listitem", { name: "Helpdesk" });
    expect(document.body.innerHTML).not.toContain(SECRET);
  });

  it("lists each integration with the absolute URL to post to, in its Copy button and its example", async () => {
    serve([], [integration("i1", "Helpdesk"), integration("i2", "Slack bot")]);
    const writeText = vi.fn((_: string) => Promise.resolve());
    Object.defineProperty(navigator, "clipboard", { value: { writeText }, configurable: true });
    try {
      render(<Integrations onEndpoints={() => undefined} />);
      const card = await screen.findByRole("listitem", { name: "Slack bot" });
      const url = new URL("/api/inbound/i2", window.location.origin).href;
      expect(url).toMatch(/^https?:\/\/[^/]+\/api\/inbound\/i2$/);
      expect(within(card).getByText(url).tagName).toBe("CODE");
      await act(async () => {
        fireEvent.click(within(card).getByRole("button", { name: "Copy the URL of Slack bot" }));
      });
      expect(writeText).toHaveBeenCalledWith(url);

      const howTo = card.querySelector("details")!;
      expect(howTo.open).toBe(false);
      expect(howTo.querySelector("pre")?.textContent).toContain(`URL = "${url}"`);
      expect(screen.getAllByRole("listitem").filter((li) => li.matches(".integration"))).toHaveLength(2);
    } finally {
      delete (navigator as { clipboard?: unknown }).clipboard;
    }
  });

  it("deletes an integration only when asked a second time", async () => {
    const api = serve([], [integration("i1", "Helpdesk"), integration("i2", "Slack bot")]);
    routes["DELETE /api/integrations/i1"] = () => {
      api.integrations = api.integrations.filter((i) => i.id !== "i1");
      return [204];
    };
    render(<Integrations onEndpoints={() => undefined} />);
    const card = await screen.findByRole("listitem", { name: "Helpdesk" });

    fireEvent.click(within(card).getByRole("button", { name: "Delete Helpdesk" }));
    expect(seen.filter((s) => s.route.startsWith("DELETE"))).toHaveLength(0);
    fireEvent.click(within(card).getByRole("button", { name: "Confirm delete: Helpdesk" }));

    await waitFor(() => expect(screen.queryByRole("listitem", { name: "Helpdesk" })).toBeNull());
    expect(seen.filter((s) => s.route.startsWith("DELETE")).map((s) => s.route)).toEqual(["DELETE /api/integrations/i1"]);
    expect(screen.getByRole("listitem", { name: "Slack bot" })).toBeTruthy();
  });
});
