"""Time to first token through the whole pipeline, against the model server called directly.

With the scripted model (64 tokens, `--delay-ms` between them, 0 by default), at 1, 10
and 50 concurrent chats:
time from `POST .../messages` to the first `delta` at the SSE client, minus the same
model server's time to first token called directly in the same run (p50/p99), completed
chats/s, CPU time per chat of every process of the stack (and of this one, the clients;
the stack's `total` leaves the clients out, and `functions` is the six functions' share),
and each function's peak RSS. Ten warm-up chats come first, printed on their own: a
function's first chat also opens its connections (the first after start-up took
220-235 ms, the next ones 40-70), which the percentiles should not count. Then how much
memory `stream_reply` needs to hold 2,000 open streams.

N concurrent chats are a closed loop: each starts when one ends, so once the 2 cores are
busy, time to first token is mostly the wait behind the other N - 1 (Little's law).
`--rates` adds open loops: chats that arrive R a second whatever the pipeline does, as
users do, which shows the latency at a given load. Run:

    .venv/bin/python -m bench.chat_latency --chats 200 [--concurrency 1 10 50]
        [--rates 5 10 20] [--delay-ms 10] [--skip-streams] [--telemetry off on]

(it starts, or reuses, a stack under `.local/bench`).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import secrets
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from functools import partial
from pathlib import Path

import aiohttp
import httpx
import psutil
import uvloop
from openai import AsyncOpenAI, Omit, omit

from bench.cpu import CpuMeter, describe
from chatfn.chat import replies, tickets
from chatfn.local.stack import Stack, function_names
from chatfn.redis_client import redis_client
from chatfn.settings import Settings

TOKENS = 64
CONCURRENCY = (1, 10, 50)
OPEN_STREAMS = 2000
WARM_UP_CHATS = 10
OPEN_LOOP_ACCOUNTS = 50  # the users that open-loop chats take turns among


def percentiles(values: list[float]) -> tuple[float, float]:
    ordered = sorted(values)
    return statistics.median(ordered), ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


class PeakRss:
    """Samples the resident memory of each function (its process tree) while a run lasts."""

    def __init__(self, stack: Stack) -> None:
        processes = stack.supervisor.processes()
        roots = {name: psutil.Process(processes[name].pid) for name in function_names()}
        # Found once: `children()` scans all of /proc, too costly to repeat ten times a
        # second beside the pipeline being measured. A function's processes live as long
        # as the stack.
        self.trees = {name: [root, *root.children(recursive=True)] for name, root in roots.items()}
        self.peak = dict.fromkeys(roots, 0)

    def sample(self) -> None:
        for name, tree in self.trees.items():
            self.peak[name] = max(self.peak[name], sum(p.memory_info().rss for p in tree))

    async def watch(self) -> None:
        while True:
            self.sample()
            await asyncio.sleep(0.1)


def stack_pids(stack: Stack) -> dict[str, int]:
    """Every process the stack supervises (servers, broker, functions), and this one."""
    running = {name: info.pid for name, info in stack.supervisor.processes().items() if info.pid}
    return running | {"bench": os.getpid()}


def directive(delay_ms: int) -> str:
    return f"[[script tokens={TOKENS} delay_ms={delay_ms}]] Benchmark question"


async def completion_ttft(model: AsyncOpenAI, question: str, store: bool | Omit = omit) -> float:
    """ms to the first token of a streamed completion through the openai SDK (read to the
    end), from the model server itself or from chatfn's /v1 (whose `store` it may set)."""
    started = time.perf_counter()
    stream = await model.chat.completions.create(
        model="scripted", messages=[{"role": "user", "content": question}], stream=True, store=store
    )
    async with stream:
        async for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                first = time.perf_counter() - started
                async for _ in stream:
                    pass
                return first * 1000
    raise RuntimeError("the scripted model sent no token")


async def chat_ttft(
    client: aiohttp.ClientSession, question: str, token: str, conversation: str
) -> float:
    """POST a message, open its stream, return ms to the first delta (and read to the end)."""
    # Its own client address too, as a real user has: the per-address limit is not measured.
    headers = {
        "authorization": f"Bearer {token}",
        "x-forwarded-for": f"198.18.2.{hash(token) % 250}",
    }
    started = time.perf_counter()
    async with client.post(f"/api/conversations/{conversation}/messages", headers=headers,
                           json={"content": question, "model": "scripted"}) as sent:  # fmt: skip
        # A 429 here is the per-user limit (RATE_LIMIT_USER): fewer --chats, or raise it.
        assert sent.status == 202, f"sending answered {sent.status}: {await sent.text()}"
        accepted = await sent.json()
    url = f"/api/replies/{accepted['reply_id']}/stream"
    first: float | None = None
    async with client.get(url, params={"ticket": accepted["stream_ticket"]}) as stream:
        async for line in stream.content:
            if line == b"event: delta\n" and first is None:
                first = (time.perf_counter() - started) * 1000
            if line in {b"event: done\n", b"event: error\n"}:
                break
    assert first is not None, "no delta arrived"
    return first


async def run_at(
    concurrency: int, chats: int, work: Callable[[int], Awaitable[float]]
) -> tuple[list[float], float]:
    gate = asyncio.Semaphore(concurrency)
    results: list[float] = []

    async def one(n: int) -> None:
        async with gate:
            results.append(await work(n))

    started = time.perf_counter()
    await asyncio.gather(*(one(n) for n in range(chats)))
    return results, chats / (time.perf_counter() - started)


async def run_arriving(
    rate: float, chats: int, work: Callable[[int], Awaitable[float]]
) -> tuple[list[float], float]:
    """`chats` started `rate` a second, on schedule however many are still running."""
    started = time.perf_counter()
    running: list[asyncio.Future[float]] = []
    for n in range(chats):
        running.append(asyncio.ensure_future(work(n)))
        await asyncio.sleep(max(0.0, started + (n + 1) / rate - time.perf_counter()))
    results = await asyncio.gather(*running)
    return list(results), chats / (time.perf_counter() - started)


async def users(client: aiohttp.ClientSession, count: int) -> list[tuple[str, str]]:
    """(access token, conversation id) for `count` new users, one client address each."""
    made = []
    # A subnet of the benchmarking range (RFC 2544) of its own per run: sign-ups are limited
    # per address and hour, and the stack (its Redis) outlives a run.
    subnet = secrets.randbelow(253) + 3
    for n in range(count):
        headers = {"x-forwarded-for": f"198.18.{subnet}.{n + 1}"}
        body = {"email": f"bench-{uuid.uuid4().hex[:12]}@example.com", "password": "x" * 16}
        async with client.post("/api/auth/register", json=body, headers=headers) as registered:
            token = (await registered.json())["access_token"]
        auth = {"authorization": f"Bearer {token}"}
        async with client.post("/api/conversations", headers=auth) as created:
            made.append((token, (await created.json())["id"]))
    return made


async def open_streams(
    settings: Settings, stack: Stack, count: int
) -> tuple[int, list[float], list[float]]:
    """Hold `count` streams open on a fresh `stream_reply` (a reused stack's has held
    streams before, and Python keeps the memory): how many, and the RSS of each of its
    processes before and with them."""
    redis = redis_client(settings)
    stream_url = stack.function_urls()["stream_reply"]
    await stack.restart("stream_reply")
    process = psutil.Process(stack.supervisor.processes()["stream_reply"].pid)

    def rss_mb() -> list[float]:
        """Each process's: the function's launcher and the worker that holds the streams."""
        tree = [process, *process.children(recursive=True)]
        return [p.memory_info().rss / 2**20 for p in tree]

    before = rss_mb()
    user_id = uuid.uuid4()
    limits = httpx.Limits(max_connections=count + 10)
    async with httpx.AsyncClient(base_url=stream_url, timeout=60, limits=limits) as client:
        opened: list[httpx.Response] = []
        for _ in range(count):
            reply_id = uuid.uuid4()  # a reply that never ends: only heartbeats
            reply = replies.Reply(redis, settings, reply_id)
            await reply.open(user_id=user_id, conversation_id=uuid.uuid4())
            ticket = await tickets.mint(redis, settings, user_id=user_id, reply_id=reply_id)
            request = client.build_request(
                "GET", f"/api/replies/{reply_id}/stream", params={"ticket": ticket}
            )
            response = await client.send(request, stream=True)
            assert response.status_code == 200, (response.status_code, await response.aread())
            opened.append(response)
        await asyncio.sleep(2)
        held = rss_mb()
        for response in opened:
            await response.aclose()
    await redis.aclose()
    return len(opened), before, held


async def main(
    chats: int,
    levels: Sequence[int],
    rates: Sequence[float],
    delay_ms: int,
    skip_streams: bool,
    telemetry: Sequence[str],
) -> None:
    print(f"{chats} chats per level, scripted model: {TOKENS} tokens, {delay_ms} ms before each")
    for mode in telemetry:
        # A changed setting restarts the stack: each mode runs on processes of its own.
        stack = Stack(
            Settings(CHATFN_HOME=Path(".local/bench"), CHATFN_PORT=0, CHATFN_TELEMETRY=mode == "on")
        )
        settings = await stack.up(lambda *_: None)
        print(f"telemetry {mode} (traces written, /metrics served)" if mode == "on" else
              "telemetry off (the SDK not even imported)")  # fmt: skip
        await measure(stack, settings, chats, levels, rates, delay_ms)
    if skip_streams:
        return
    held, before_mb, with_mb = await open_streams(settings, stack, OPEN_STREAMS)
    print(
        f"stream_reply processes, restarted: {' + '.join(f'{mb:.0f}' for mb in before_mb)} MB"
        f"; holding {held} open streams: {' + '.join(f'{mb:.0f}' for mb in with_mb)} MB"
    )


async def measure(
    stack: Stack,
    settings: Settings,
    chats: int,
    levels: Sequence[int],
    rates: Sequence[float],
    delay_ms: int,
) -> None:
    gc.freeze()  # this process's own full collections would stall its clients (chatfn.runtime)
    model = AsyncOpenAI(base_url=settings.llm_routes["scripted"], api_key="bench", max_retries=0)
    rss = PeakRss(stack)
    watcher = asyncio.create_task(rss.watch())
    question = directive(delay_ms)
    # aiohttp, not httpx, for the chats: httpx's CPU per streamed response would take
    # the 2 cores from the pipeline being measured.
    async with aiohttp.ClientSession(
        base_url=f"http://127.0.0.1:{settings.port}",
        timeout=aiohttp.ClientTimeout(total=60),
        connector=aiohttp.TCPConnector(limit=200),
    ) as client:
        loads = [(f"{c}", partial(run_at, c), c) for c in levels] + [
            (f"{r:g}/s", partial(run_arriving, r), OPEN_LOOP_ACCOUNTS) for r in rates
        ]
        accounts = await users(client, max(width for _, _, width in loads))
        # A function's first chat also opens its connections (PostgreSQL, Redis, the model
        # server): shown here, kept out of the percentiles.
        warm_up = [await chat_ttft(client, question, *accounts[0]) for _ in range(WARM_UP_CHATS)]
        print("warm-up chats, one at a time: " + ", ".join(f"{ms:.1f}" for ms in warm_up) + " ms")
        print(f"{'chats':>5} | {'direct TTFT p50/p99':>20} | {'chatfn TTFT p50/p99':>20} | "
              f"{'added p50/p99':>16} | chats/s")  # fmt: skip
        for label, run, width in loads:
            direct, _ = await run(chats, lambda _: completion_ttft(model, question))

            async def chat(n: int, width: int = width) -> float:
                token, conversation = accounts[n % width]
                return await chat_ttft(client, question, token, conversation)

            cpu = CpuMeter(stack_pids(stack))
            through, rate = await run(chats, chat)
            spent = cpu.per_unit_ms(chats)
            (d50, d99), (c50, c99) = percentiles(direct), percentiles(through)
            print(f"{label:>5} | {d50:8.1f} / {d99:8.1f} ms | {c50:8.1f} / {c99:8.1f} ms | "
                  f"{c50 - d50:+6.1f} / {c99 - d99:+6.1f} | {rate:6.1f}")  # fmt: skip
            spent["functions"] = sum(spent[name] for name in function_names())
            spent["total"] -= spent["bench"]  # the clients are not the stack
            print(" " * 8 + describe({n: ms for n, ms in spent.items() if ms >= 0.5}, "chat"))
    watcher.cancel()
    print(
        "peak RSS, launcher and worker together: "
        + ", ".join(f"{n} {b / 2**20:.0f} MB" for n, b in rss.peak.items())
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chats", type=int, default=200)
    parser.add_argument("--concurrency", type=int, nargs="*", default=CONCURRENCY)
    parser.add_argument("--rates", type=float, nargs="*", default=(), help="chats a second")
    parser.add_argument("--delay-ms", type=int, default=0, help="the model's pause per token")
    parser.add_argument("--skip-streams", action="store_true", help="skip the 2,000 streams")
    parser.add_argument(
        "--telemetry",
        nargs="+",
        choices=("on", "off"),
        default=["on"],
        help="run everything once per mode, in order (off on: its cost, measured in one run)",
    )
    arguments = parser.parse_args()
    uvloop.run(
        main(
            arguments.chats,
            arguments.concurrency,
            arguments.rates,
            arguments.delay_ms,
            arguments.skip_streams,
            arguments.telemetry,
        )
    )
