"""Time to first token through the OpenAI-compatible /v1 and through the UI's path, against
the model server called directly, in one run.

With the scripted model (64 tokens, `--delay-ms` between them, 0 by default), at 1 and 10
concurrent clients (closed loops: each completion starts when one ends), `--chats` each:
- direct: the model server's own time to first token, through the openai SDK (the baseline);
- /v1: `POST /v1/chat/completions` streamed through the openai SDK with an API key, from
  the call to the first chunk with text (the key's default, `store: false`; `--store` adds
  a run with `store: true`, whose exchange becomes a conversation);
- UI: `POST /api/conversations/{id}/messages`, then the reply's SSE stream to its first
  delta (bench.chat_latency's chats: each client continues one conversation).
Each gets p50/p99, what it adds over the direct call at the same concurrency, completions
a second, and the CPU time per completion of the stack and of this process (the clients).
Direct and /v1 share the same client code, the openai SDK; the UI's client is aiohttp.
The SDK spends ~25 ms of this process's CPU on the direct call's 64 chunks (a pydantic
model each; /v1 sends fewer, batching the tokens that arrived together), so at 10 clients
the baseline waits on the clients' own core: read the CPU columns beside the latencies.
Each concurrent client is a user of its own with a key of its own, on a stack without
rate limits or daily budget (a run sends far more than 60 a minute per key).
Warm-up calls come first, printed on their own: the first ones open the functions' and the
clients' connections. Run:

    .venv/bin/python -m bench.completions --chats 100 [--concurrency 1 10] [--delay-ms 10]
        [--store] [--home .local/bench-completions]

(it starts, or reuses, a stack under `--home`, and stops it at the end if it started it;
`CHATFN_KAFKA_STORAGE=memory` in the environment keeps its Kafka in memory).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AsyncExitStack
from pathlib import Path

import aiohttp
import httpx
import uvloop
from openai import AsyncOpenAI

from bench.chat_latency import (
    TOKENS,
    chat_ttft,
    completion_ttft,
    directive,
    percentiles,
    run_at,
    stack_pids,
    users,
)
from bench.cpu import CpuMeter
from bench.sign_up import first_sign_up
from chatfn.local.stack import Stack
from chatfn.settings import Settings

CONCURRENCY = (1, 10)
WARM_UP_CALLS = 5  # per path, and one more per client so each has its connection open
UNLIMITED = "1000000/minute"
SETTLE_S = 3.0  # after each run, for the work its completions left (persist_history, titles)

Work = Callable[[int], Awaitable[float]]


async def create_key(client: aiohttp.ClientSession, token: str) -> str:
    """A new chat key of the user's, with the default `store` (false)."""
    async with client.post("/api/keys", headers={"authorization": f"Bearer {token}"},
                           json={"name": "bench", "scopes": ["chat"]}) as created:  # fmt: skip
        assert created.status == 201, f"creating a key answered {created.status}"
        key: str = (await created.json())["key"]
    return key


async def timed(
    stack: Stack, concurrency: int, chats: int, work: Work
) -> tuple[float, float, float, float, float]:
    """p50, p99, completions/s, and the stack's and the clients' CPU ms per completion."""
    cpu = CpuMeter(stack_pids(stack))
    latencies, rate = await run_at(concurrency, chats, work)
    # What the completions leave to do after their answers (persist_history's writes,
    # titles) is theirs: counted here, and not left to slow the next run.
    await asyncio.sleep(SETTLE_S)
    spent = cpu.per_unit_ms(chats)
    p50, p99 = percentiles(latencies)
    return p50, p99, rate, spent["total"] - spent["bench"], spent["bench"]


async def main(chats: int, levels: Sequence[int], delay_ms: int, store: bool, home: Path) -> None:
    # A stack of its own without limits: closed loops send hundreds a minute per key and user.
    stack = Stack(Settings(CHATFN_HOME=home, CHATFN_PORT=0, RATE_LIMIT_USER=UNLIMITED,
                           RATE_LIMIT_IP=UNLIMITED, RATE_LIMIT_PER_KEY=UNLIMITED,
                           DAILY_TOKEN_BUDGET=0))  # fmt: skip
    started_here = not stack.supervisor.running()
    try:
        settings = await stack.up(lambda *_: None)
        await measure(stack, settings, chats, levels, delay_ms, store)
    finally:
        if started_here:
            stack.down()


async def measure(
    stack: Stack, settings: Settings, chats: int, levels: Sequence[int], delay_ms: int, store: bool
) -> None:
    gc.freeze()  # this process's own full collections would stall its clients (chatfn.runtime)
    gateway = f"http://127.0.0.1:{settings.port}"
    question = directive(delay_ms)
    print(f"{chats} completions per level, scripted model: {TOKENS} tokens, {delay_ms} ms "
          f"before each; {os.cpu_count()} cores; Kafka on {settings.kafka_storage}; "
          f"gateway {settings.port}")  # fmt: skip
    load_before = os.getloadavg()[0]
    async with httpx.AsyncClient(base_url=gateway, timeout=60) as waiting:
        await first_sign_up(waiting)  # a stack that has just started answers 503 a while
    async with AsyncExitStack() as exits:
        client = await exits.enter_async_context(
            aiohttp.ClientSession(
                base_url=gateway,
                timeout=aiohttp.ClientTimeout(total=60),
                connector=aiohttp.TCPConnector(limit=200),
            )
        )
        model = await exits.enter_async_context(
            AsyncOpenAI(base_url=settings.llm_routes["scripted"], api_key="bench", max_retries=0)
        )
        accounts = await users(client, max(levels))
        sdks = []
        for token, _ in accounts:
            key = await create_key(client, token)
            sdk = AsyncOpenAI(base_url=f"{gateway}/v1", api_key=key, max_retries=0, timeout=60)
            sdks.append(await exits.enter_async_context(sdk))
        paths: dict[str, Callable[[int], Work]] = {
            "direct": lambda width: lambda _: completion_ttft(model, question),
            "/v1": lambda width: lambda n: completion_ttft(sdks[n % width], question),
        }
        if store:
            paths["/v1 store"] = lambda width: (
                lambda n: completion_ttft(sdks[n % width], question, store=True)
            )
        paths["UI"] = lambda width: lambda n: chat_ttft(client, question, *accounts[n % width])

        # The first calls open the functions' connections (PostgreSQL, Redis, the model
        # server) and each client's own: shown here, kept out of the percentiles.
        warm_up = len(accounts) + WARM_UP_CALLS
        for name, path in paths.items():
            work = path(len(accounts))
            spent = [await work(n) for n in range(warm_up)]
            print(f"warm-up {name}, one at a time: " + ", ".join(f"{ms:.1f}" for ms in spent))
        await asyncio.sleep(SETTLE_S)
        print(f"{'conc':>4} | {'path':<9} | {'TTFT p50 / p99 ms':>19} | {'added p50 / p99':>17}"
              f" | {'per s':>6} | CPU ms each: stack, client")  # fmt: skip
        for width in levels:
            added = ""  # the direct call runs first: its figures are the others' baseline
            for name, path in paths.items():
                p50, p99, rate, stack_ms, client_ms = await timed(stack, width, chats, path(width))
                if name == "direct":
                    baseline = p50, p99
                else:
                    added = f"{p50 - baseline[0]:+7.1f} / {p99 - baseline[1]:+7.1f}"
                print(f"{width:>4} | {name:<9} | {p50:8.1f} / {p99:8.1f} | {added:>17} | "
                      f"{rate:6.1f} | {stack_ms:6.2f}, {client_ms:5.2f}")  # fmt: skip
    # Anything else running on the machine shares its cores: this says whether it did.
    print(f"load average (1 min): {load_before:.1f} before, {os.getloadavg()[0]:.1f} after")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chats", type=int, default=100)
    parser.add_argument("--concurrency", type=int, nargs="+", default=CONCURRENCY)
    parser.add_argument("--delay-ms", type=int, default=0, help="the model's pause per token")
    parser.add_argument("--store", action="store_true", help="also /v1 with store: true")
    parser.add_argument("--home", type=Path, default=Path(".local/bench-completions"))
    arguments = parser.parse_args()
    uvloop.run(
        main(
            arguments.chats,
            arguments.concurrency,
            arguments.delay_ms,
            arguments.store,
            arguments.home,
        )
    )
