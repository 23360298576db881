/// <reference types="node" />
// A real HTTP server (node:http) for one test file: listening before its tests, closed after.
import { createServer, type RequestListener } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll } from "vitest";
import type { Session } from "../types";

/** A signed-in user's session, for tests of what a user sees. */
export const TEST_SESSION: Session = {
  access_token: "token-1",
  token_type: "Bearer",
  expires_in: 900,
  user: {
    id: "u1",
    email: "ada@example.com",
    display_name: "Ada",
    role: "user",
    preferences: { theme: "system", custom_instructions: "", default_model: "" },
    created_at: null,
  },
};

/** Serves `listener` on a free loopback port; the returned function gives its base URL. */
export function serveDuringTests(listener: RequestListener): () => string {
  const server = createServer(listener);
  let baseUrl = "";
  beforeAll(async () => {
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  return () => baseUrl;
}
