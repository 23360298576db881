/// <reference types="node" />
// The notice about a model being prepared, against a real HTTP server (node:http) playing
// the API: it lists a preparing model until the test says it is ready.
import { act, cleanup, render, screen, waitFor } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { setBaseUrl, setSession } from "./api/client";
import { serveDuringTests } from "./api/testServer";
import { MEANWHILE, ModelNotice } from "./chat/ModelNotice";
import { preparingTarget, useModels } from "./models";
import type { Model, Session } from "./types";
import { ModelOptions } from "./ui/ModelOptions";

const DETAIL = "The local model is being prepared: llama.cpp is 45% compiled, about 3 min left.";
const POLL_MS = 40;

let listed: Model[];
let asked: number;
const baseUrl = serveDuringTests((req, res) => {
  if (req.url !== "/api/models") return res.writeHead(404).end();
  asked += 1;
  res.writeHead(200, { "Content-Type": "application/json", "Access-Control-Allow-Origin": "*", "Access-Control-Allow-Headers": "*" });
  res.end(JSON.stringify(listed));
});

const SESSION = { access_token: "t", token_type: "Bearer", expires_in: 900, user: { id: "u1" } } as Session;
const local = (status: Model["status"]): Model => ({ id: "smollm2", status, detail: status === "preparing" ? DETAIL : "" });
const scripted: Model = { id: "scripted", status: "ready", detail: "" };

/** What the chat shows of the models: the notice above the composer and the picker. */
function Chat({ chosen }: { chosen: string | null }) {
  const models = useModels(POLL_MS);
  const preparing = preparingTarget(models, chosen);
  return (
    <>
      {preparing && <ModelNotice model={preparing} />}
      <select aria-label="Model" value={chosen ?? models[0]?.id ?? ""} onChange={() => undefined}>
        <ModelOptions models={models} />
      </select>
    </>
  );
}

const pause = (ms: number) => act(() => new Promise((resolve) => setTimeout(resolve, ms)));

beforeEach(() => {
  asked = 0;
  setBaseUrl(baseUrl());
  setSession(SESSION);
});
afterEach(cleanup);

describe("a model being prepared", () => {
  it("is announced above the composer until it is ready, then the asking stops", async () => {
    listed = [local("preparing"), scripted];
    render(<Chat chosen={null} />);

    const notice = await screen.findByRole("status");
    expect(notice.textContent).toBe(`${DETAIL} ${MEANWHILE}`);
    expect(screen.getAllByRole("option").map((o) => o.textContent)).toEqual(["smollm2 (preparing)", "scripted"]);
    await waitFor(() => expect(asked).toBeGreaterThanOrEqual(3)); // asked again while it is prepared

    listed = [local("ready"), scripted];
    await waitFor(() => expect(screen.queryByRole("status")).toBeNull());
    expect(screen.getAllByRole("option").map((o) => o.textContent)).toEqual(["smollm2", "scripted"]);
    const settled = asked;
    await pause(POLL_MS * 5);
    expect(asked).toBe(settled);
  });

  it("is not announced when the chosen model is another, ready one", async () => {
    listed = [local("preparing"), scripted];
    render(<Chat chosen="scripted" />);

    await waitFor(() => expect(screen.getAllByRole("option")).toHaveLength(2));
    expect(screen.queryByRole("status")).toBeNull();
  });

  it("is announced when it is the chosen one, though the default is ready", async () => {
    listed = [scripted, local("preparing")];
    render(<Chat chosen="smollm2" />);

    expect((await screen.findByRole("status")).textContent).toContain("llama.cpp is 45% compiled");
  });
});

it("asks once when every model is ready", async () => {
  listed = [local("ready"), scripted];
  render(<Chat chosen={null} />);

  await waitFor(() => expect(screen.getAllByRole("option")).toHaveLength(2));
  await pause(POLL_MS * 5);
  expect(asked).toBe(1);
  expect(screen.queryByRole("status")).toBeNull();
});
