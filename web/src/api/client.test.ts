// @vitest-environment node
/// <reference types="node" />
// Against a real HTTP server (node:http): the requests are counted as the API would see them.
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { beforeEach, describe, expect, it, vi } from "vitest";
import type { Session } from "../types";
import {
  ApiError,
  clearSession,
  deleteConversation,
  getSession,
  listConversations,
  login,
  me,
  onSessionExpired,
  refreshSession,
  setBaseUrl,
  setSession,
  updateConversation,
} from "./client";
import { serveDuringTests, TEST_SESSION } from "./testServer";

type Handler = (req: IncomingMessage, res: ServerResponse, body: string) => void | Promise<void>;
interface Seen {
  method: string;
  path: string;
  authorization: string | undefined;
  body: string;
}

let handler: Handler;
let seen: Seen[] = [];
const baseUrl = serveDuringTests(async (req, res) => {
  let body = "";
  for await (const chunk of req) body += chunk;
  seen.push({ method: req.method ?? "", path: req.url ?? "", authorization: req.headers.authorization, body });
  await handler(req, res, body);
});

beforeEach(() => {
  seen = [];
  setBaseUrl(baseUrl());
  clearSession();
});

const user = TEST_SESSION.user;
const session = (token: string): Session => ({ access_token: token, token_type: "Bearer", expires_in: 900, user });
const page = { conversations: [], next_cursor: null };

function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  const type = status >= 400 ? "application/problem+json" : "application/json";
  res.writeHead(status, { "Content-Type": type, ...headers });
  res.end(JSON.stringify(body));
}
const problem = (status: number, detail: string) => ({ type: "about:blank", title: "Title", status, detail });

/** /api/me and /api/conversations answer the token "new" only; refresh takes 100 ms. */
function expiredToken(refresh: (res: ServerResponse) => void): Handler {
  return async (req, res) => {
    if (req.url === "/api/auth/refresh") {
      await new Promise((resolve) => setTimeout(resolve, 100));
      return refresh(res);
    }
    if (req.headers.authorization !== "Bearer new") {
      return json(res, 401, problem(401, "Sign in again."), { "WWW-Authenticate": "Bearer" });
    }
    json(res, 200, req.url === "/api/me" ? user : page);
  };
}
const refreshes = () => seen.filter((s) => s.path === "/api/auth/refresh").length;

describe("errors", () => {
  it("turns a problem body into an ApiError with status, detail and Retry-After", async () => {
    handler = (_req, res) =>
      json(res, 429, problem(429, "Too many requests: try again in 7 s."), { "Retry-After": "7" });
    const error = await listConversations().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({
      status: 429,
      title: "Title",
      detail: "Too many requests: try again in 7 s.",
      message: "Too many requests: try again in 7 s.",
      retryAfter: 7,
    });
  });

  it("gives an ApiError for a body that is not a problem", async () => {
    handler = (_req, res) => void res.writeHead(502, { "Content-Type": "text/html" }).end("<h1>Bad gateway</h1>");
    const error = await listConversations().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ status: 502, title: "Bad Gateway", retryAfter: undefined });
    expect((error as ApiError).detail).toMatch(/try again/i);
  });

  it("gives status 0 and a friendly message when the server cannot be reached", async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    setBaseUrl(`http://127.0.0.1:${port}`);
    const error = await listConversations().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ status: 0, message: expect.stringMatching(/offline/) });
  });
});

describe("requests", () => {
  it("sends JSON with the bearer token and reads 204 as undefined", async () => {
    setSession(session("tok"));
    handler = (req, res) => {
      if (req.method === "DELETE") return void res.writeHead(204).end();
      json(res, 200, { id: "c1" });
    };
    await updateConversation("c 1", { pinned: true });
    expect(await deleteConversation("c1")).toBeUndefined();
    expect(seen).toEqual([
      { method: "PATCH", path: "/api/conversations/c%201", authorization: "Bearer tok", body: '{"pinned":true}' },
      { method: "DELETE", path: "/api/conversations/c1", authorization: "Bearer tok", body: "" },
    ]);
  });

  it("does not take a 401 from sign-in for an expired session", async () => {
    handler = (_req, res) => json(res, 401, problem(401, "Wrong email or password."));
    await expect(login("ada@example.com", "wrong password")).rejects.toMatchObject({
      status: 401,
      detail: "Wrong email or password.",
    });
    expect(refreshes()).toBe(0);
  });
});

describe("refresh", () => {
  it("refreshes once for concurrent 401s, and both requests then succeed", async () => {
    setSession(session("old"));
    handler = expiredToken((res) => json(res, 200, session("new")));
    const [profile, conversations] = await Promise.all([me(), listConversations()]);
    expect(profile).toEqual(user);
    expect(conversations).toEqual(page);
    expect(refreshes()).toBe(1);
    expect(getSession()?.access_token).toBe("new");
    const retried = seen.filter((s) => s.authorization === "Bearer new").map((s) => s.path);
    expect(retried.sort()).toEqual(["/api/conversations", "/api/me"]);
  });

  it("retries a late 401 with the token refreshed meanwhile instead of refreshing again", async () => {
    setSession(session("old"));
    const refreshing = expiredToken((res) => json(res, 200, session("new")));
    handler = async (req, res, body) => {
      // The list's 401 comes back only after the profile's refresh is over.
      if (req.url === "/api/conversations" && req.headers.authorization === "Bearer old") {
        await new Promise((resolve) => setTimeout(resolve, 300));
      }
      await refreshing(req, res, body);
    };
    await expect(Promise.all([listConversations(), me()])).resolves.toEqual([page, user]);
    expect(refreshes()).toBe(1);
  });

  it("clears the session and tells the app when the refresh is refused", async () => {
    setSession(session("old"));
    handler = expiredToken((res) => json(res, 401, problem(401, "Sign in again.")));
    const expired = vi.fn();
    const stopExpired = onSessionExpired(expired);
    try {
      await expect(me()).rejects.toMatchObject({ status: 401 });
      expect(getSession()).toBeNull();
      expect(expired).toHaveBeenCalledOnce();
      expect(refreshes()).toBe(1);
    } finally {
      stopExpired();
    }
  });

  it("shares one refresh between callers at start-up (StrictMode runs effects twice)", async () => {
    handler = expiredToken((res) => json(res, 200, session("new")));
    const [a, b] = await Promise.all([refreshSession(), refreshSession()]);
    expect(a).toEqual(session("new"));
    expect(b).toBe(a);
    expect(refreshes()).toBe(1);
    expect(getSession()).toEqual(session("new"));
  });

  it("retries a refresh whose connection dropped, while the server still takes the cookie", async () => {
    let drops = 1;
    handler = (req, res) => {
      if (drops-- > 0) return void req.socket.destroy(); // the answer never arrives
      json(res, 200, session("new"));
    };
    await expect(refreshSession()).resolves.toEqual(session("new"));
    expect(refreshes()).toBe(2);
  });

  it("gives up after three tries when the network stays down, keeping the session", async () => {
    setSession(session("old"));
    handler = (req) => void req.socket.destroy();
    await expect(refreshSession()).rejects.toMatchObject({ status: 0 });
    expect(refreshes()).toBe(3);
    expect(getSession()).toEqual(session("old"));
  });

  it("answers null, not an error, when there is no refresh cookie", async () => {
    handler = expiredToken((res) => json(res, 401, problem(401, "Sign in again.")));
    const expired = vi.fn();
    const stop = onSessionExpired(expired);
    try {
      await expect(refreshSession()).resolves.toBeNull();
      expect(expired).not.toHaveBeenCalled();
    } finally {
      stop();
    }
  });
});
