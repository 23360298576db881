"""What an idle local stack costs: CPU of each process (with its children) over a quiet minute.

Starts, or reuses, a stack under `--home` (`.local/bench`), waits `--settle` seconds for
start-up work to end (imports, first health checks, consumer groups joining), then
measures every supervised process and supervisord itself over `--seconds` while nothing
is sent, and prints each one's share of one core, highest first, then the share of the
servers chatfn embeds (PostgreSQL, Redis, Tansu, SeaweedFS, llama.cpp: tuned only by
how they are started) and the total. The goal is the total: <= 1% of one core. Usage:

    .venv/bin/python -m bench.idle [--seconds 60] [--settle 20] [--home .local/bench]

Run it on a stack nobody else is sending to (another benchmark on the same home is not
idleness); `--home .local/bench-idle` gives it one of its own.
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

import uvloop

from bench.cpu import CpuMeter
from chatfn.local.servers import SERVERS
from chatfn.local.stack import Stack
from chatfn.settings import Settings


async def main(seconds: int, settle: float, home: Path) -> None:
    stack = Stack(Settings(CHATFN_HOME=home, CHATFN_PORT=0))
    await stack.up(lambda *_: None)
    await asyncio.sleep(settle)
    supervisord = stack.supervisor.pid()
    assert supervisord is not None, "the stack is up, so supervisord runs"
    pids = {name: info.pid for name, info in stack.supervisor.processes().items() if info.pid}
    meter = CpuMeter(pids | {"supervisord": supervisord})
    await asyncio.sleep(seconds)
    # Milliseconds of CPU per second of idleness, tenths of a percent of one core.
    spent = meter.per_unit_ms(seconds)
    print(f"idle stack under {home}, {seconds} s after {settle:.0f} s to settle")
    print(f"{'process':<16} {'% of a core':>11}")
    for name, ms_per_s in spent.items():
        if name == "total":
            servers = sum(spent.get(server.name, 0.0) for server in SERVERS)
            print(f"{'(servers)':<16} {servers / 10:>11.2f}")
        print(f"{name:<16} {ms_per_s / 10:>11.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--settle", type=float, default=20.0)
    parser.add_argument("--home", type=Path, default=Path(".local/bench"))
    arguments = parser.parse_args()
    uvloop.run(main(arguments.seconds, arguments.settle, arguments.home))
