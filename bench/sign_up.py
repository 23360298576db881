"""Sign-up through the broker against sign-in, the same edge work without the round trip.

Both hash or verify one argon2id password; sign-up also publishes the command, waits for
register_user's answer through the broker and Redis, and writes the account. The
difference is what event-driven sign-up costs. Run:

    .venv/bin/python -m bench.sign_up --users 40

(it starts, or reuses, a stack under `.local/bench`).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx

from chatfn.local.stack import Stack
from chatfn.settings import Settings

PASSWORD = "correct horse battery staple"  # noqa: S105 (the benchmark users' own)


async def timed(
    calls: list[Callable[[], Awaitable[httpx.Response]]], concurrency: int
) -> list[float]:
    gate = asyncio.Semaphore(concurrency)
    latencies: list[float] = []

    async def one(call: Callable[[], Awaitable[httpx.Response]]) -> None:
        async with gate:
            started = time.perf_counter()
            response = await call()
            latencies.append((time.perf_counter() - started) * 1000)
            assert response.status_code in {200, 201}, response.text

    await asyncio.gather(*(one(call) for call in calls))
    return sorted(latencies)


async def first_sign_up(client: httpx.AsyncClient, within_s: float = 60) -> httpx.Response:
    """A new account's sign-up, tried again while a stack that has just started answers 503
    (its broker's consumer groups still joining: on Kafka in S3, up to half a minute)."""
    deadline = time.monotonic() + within_s
    while True:
        email = f"bench-{uuid.uuid4().hex[:12]}@example.com"
        answer = await client.post(
            "/api/auth/register", json={"email": email, "password": PASSWORD}
        )
        if answer.status_code != 503 or time.monotonic() > deadline:
            return answer.raise_for_status()
        await asyncio.sleep(1)


def summary(latencies: list[float]) -> str:
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    return f"p50 {statistics.median(latencies):7.1f} ms  p99 {p99:7.1f} ms"


async def main(users: int) -> None:
    settings = await Stack(Settings(CHATFN_HOME=Path(".local/bench"), CHATFN_PORT=0)).up(
        lambda *_: None
    )
    gc.freeze()  # this process's own full collections would stall its clients (chatfn.runtime)
    emails = [f"bench-{uuid.uuid4().hex[:12]}@example.com" for _ in range(users)]
    # Distinct client addresses behind the trusted loopback gateway: the per-address sign-up
    # limit would otherwise stop the run, which is not what is measured.
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{settings.port}", timeout=30
    ) as client:

        def post(path: str, email: str, n: int) -> Callable[[], Awaitable[httpx.Response]]:
            headers = {"x-forwarded-for": f"198.18.{n // 250}.{n % 250 + 1}"}
            body = {"email": email, "password": PASSWORD}
            return lambda: client.post(path, json=body, headers=headers)

        print(f"{users} users on 2 cores; gateway {settings.port}")
        for concurrency in (1, 8):
            batch = [f"c{concurrency}-{email}" for email in emails]
            sign_ups = await timed([post("/api/auth/register", e, n) for n, e in enumerate(batch)],
                                   concurrency)  # fmt: skip
            sign_ins = await timed([post("/api/auth/login", e, n) for n, e in enumerate(batch)],
                                   concurrency)  # fmt: skip
            up, into = statistics.median(sign_ups), statistics.median(sign_ins)
            print(f"concurrency {concurrency:2}: sign-in {summary(sign_ins)} | sign-up "
                  f"{summary(sign_ups)} | the broker round trip adds {up - into:+.1f} ms p50 "
                  f"({up / into:.2f}x)")  # fmt: skip


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=40)
    asyncio.run(main(parser.parse_args().users))
