/// <reference types="node" />
// A real HTTP server (node:http) for one test file: listening before its tests, closed after.
import { createServer, type RequestListener } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll } from "vitest";

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
