/// <reference types="node" />
// The presigned POST against a real HTTP server (node:http) playing S3.
import { beforeEach, expect, it } from "vitest";
import { setBaseUrl } from "./client";
import { serveDuringTests } from "./testServer";
import { postFile, UploadFailed, uploadForm } from "./upload";

let received: { path: string; body: string }[];
let answer: number;

const baseUrl = serveDuringTests(async (req, res) => {
  let body = "";
  for await (const chunk of req) body += chunk;
  // The page (jsdom's origin) asks first whether it may post to this server's: in
  // production storage is under the page's own origin, here the server is on another.
  const cors = { "Access-Control-Allow-Origin": "*", "Access-Control-Allow-Methods": "*", "Access-Control-Allow-Headers": "*" };
  if (req.method === "OPTIONS") return res.writeHead(204, cors).end();
  received.push({ path: req.url ?? "", body });
  res.writeHead(answer, cors).end(answer === 204 ? undefined : "<Error><Code>EntityTooLarge</Code></Error>");
});

beforeEach(() => {
  received = [];
  answer = 204;
  setBaseUrl(baseUrl());
});

it("puts every signed field before the file, as S3 reads them", () => {
  const file = new File(["hello"], "notes.txt", { type: "text/plain" });
  const form = uploadForm({ key: "attachments/u1/a1", policy: "p", "x-amz-signature": "s" }, file);
  expect([...form.keys()]).toEqual(["key", "policy", "x-amz-signature", "file"]);
  expect(form.get("file")).toBeInstanceOf(File);
  expect((form.get("file") as File).name).toBe("notes.txt");
});

it("posts the form to storage on the API's origin", async () => {
  const file = new File(["name,flour\nbaguette,500 g\n"], "bread.csv", { type: "text/csv" });

  await postFile({ url: "/storage/chatfn", fields: { key: "attachments/u1/a1" } }, file, () => {});

  expect(received.map((r) => r.path)).toEqual(["/storage/chatfn"]);
  expect(received[0]!.body.indexOf('name="key"')).toBeLessThan(received[0]!.body.indexOf('name="file"'));
  expect(received[0]!.body).toContain("baguette,500 g");
});

it("says the storage refused the file when it answers an error", async () => {
  answer = 400;
  const upload = postFile({ url: "/storage/chatfn", fields: {} }, new File(["x"], "x.txt"), () => {});
  await expect(upload).rejects.toThrow(UploadFailed);
  await expect(upload).rejects.toThrow("The storage refused the file (HTTP 400).");
});

it("stops when its signal is aborted", async () => {
  const controller = new AbortController();
  const upload = postFile({ url: "/storage/chatfn", fields: {} }, new File(["x"], "x.txt"), () => {}, controller.signal);
  controller.abort();
  await expect(upload).rejects.toMatchObject({ name: "AbortError" });
});
