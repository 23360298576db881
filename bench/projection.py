"""What it costs that a change is an event first: a rename against the reads around it.

A rename is answered once its fact is in the log (`api` publishes it); the author's next
read waits until `persist_history` has projected it (chatfn.events.pending). Each round
renames one conversation, lists the conversations at once (the read that may wait), then,
once nothing is pending, lists them again: that idle read is the baseline, so
`list after - idle list` is what the wait for the projection adds to the next read, and
`rename + that` what a rename would take if it waited for the projection itself, the
way sign-up waits for register_user. Run:

    .venv/bin/python -m bench.projection --rounds 200

(it starts, or reuses, a stack under `--home`, `.local/bench-projection` by default, without
rate limits; `CHATFN_KAFKA_STORAGE=memory` in the environment keeps its Kafka in memory).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import time
import uuid
from pathlib import Path

import httpx

from bench.sign_up import first_sign_up, summary
from chatfn.events import pending
from chatfn.local.stack import Stack
from chatfn.redis_client import redis_client
from chatfn.settings import Settings

SETTLE_S = 0.05  # between rounds, so each idle read finds nothing pending


async def main(rounds: int, home: Path) -> None:
    # A stack of its own: three requests a round would soon meet the per-user limit.
    unlimited = Settings(CHATFN_HOME=home, CHATFN_PORT=0, RATE_LIMIT_USER="100000/minute",
                         RATE_LIMIT_IP="100000/minute")  # fmt: skip
    settings = await Stack(unlimited).up(lambda *_: None)
    gc.freeze()
    redis = redis_client(settings)
    headers = {"x-forwarded-for": f"198.19.{uuid.uuid4().int % 250}.1"}
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{settings.port}", timeout=30, headers=headers
    ) as client:
        signed = await first_sign_up(client)
        client.headers["authorization"] = f"Bearer {signed.json()['access_token']}"
        user_id = uuid.UUID(signed.json()["user"]["id"])
        created = (await client.post("/api/conversations", json={})).raise_for_status().json()
        renames, after, idle, waits = [], [], [], 0
        for n in range(rounds + 10):  # ten warm-up rounds first, not counted
            started = time.perf_counter()
            (await client.patch(f"/api/conversations/{created['id']}", json={"title": f"t{n}"})
             ).raise_for_status()  # fmt: skip
            renamed = time.perf_counter()
            listed = (await client.get("/api/conversations")).raise_for_status().json()
            read = time.perf_counter()
            seen = listed["conversations"][0]["title"]
            assert seen == f"t{n}", f"round {n}: the list says {seen!r}"  # the author sees it
            await asyncio.sleep(SETTLE_S)
            if not await pending.caught_up(redis, settings, user_id, 0):
                waits += 1
            idle_started = time.perf_counter()
            (await client.get("/api/conversations")).raise_for_status()
            if n >= 10:
                renames.append((renamed - started) * 1000)
                after.append((read - renamed) * 1000)
                idle.append((time.perf_counter() - idle_started) * 1000)
    await redis.aclose()
    renames.sort(), after.sort(), idle.sort()
    after_p50, idle_p50 = statistics.median(after), statistics.median(idle)
    added = after_p50 - idle_p50
    print(f"{rounds} rounds, one user, 2 cores, Kafka on {settings.kafka_storage}; "
          f"gateway {settings.port}")  # fmt: skip
    print(f"rename (PATCH)              {summary(renames)}")
    print(f"list right after it         {summary(after)}")
    print(f"list, nothing pending       {summary(idle)}   (baseline)")
    print(f"the next read waits {added:+.1f} ms p50 for the projection "
          f"({after_p50 / idle_p50:.2f}x the idle read); a rename that waited for it "
          f"would take about {statistics.median(renames) + added:.1f} ms p50")  # fmt: skip
    if waits:
        print(f"{waits} idle reads still found a fact pending after {SETTLE_S * 1000:.0f} ms")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--home", type=Path, default=Path(".local/bench-projection"))
    arguments = parser.parse_args()
    asyncio.run(main(arguments.rounds, arguments.home))
