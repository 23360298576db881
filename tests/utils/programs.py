"""A server of the local stack as a child process of the caller's own, from the very
`Program` the stack gives supervisord: for a test or benchmark that restarts one, or runs
two side by side (Tansu in memory and on S3)."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

from chatfn.local.health import check
from chatfn.local.servers import SERVERS, Ports, Program
from chatfn.settings import Settings
from tests.utils.broker import free_port
from tests.utils.waiting import until


def program(name: str, settings: Settings, data: Path, **environment: str) -> tuple[Program, str]:
    """The stack's program for server `name` on free ports, with `environment` added, and
    the URL its clients use."""
    server = next(server for server in SERVERS if server.name == name)
    ports: Ports = {}
    for port_name in server.port_names:  # one by one: a server's ports must differ
        while (port := free_port()) in ports.values():
            pass
        ports[port_name] = port
    data.mkdir(parents=True, exist_ok=True)
    prepared = server.prepare(data, ports, settings)
    environment = prepared.environment | environment
    return dataclasses.replace(prepared, environment=environment), server.url(ports)


@contextlib.contextmanager
def child(command: Program, settings: Settings, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """`command` running with the environment supervisord gives it (the settings as
    variables, then its own), its output appended to `log`; stopped as supervisord
    stops it."""
    environment = os.environ | settings.as_environment() | command.environment
    with log.open("ab") as output:
        process = subprocess.Popen(
            command.command, env=environment, stdout=output, stderr=subprocess.STDOUT
        )
    try:
        yield process
    finally:
        process.send_signal(signal.Signals[f"SIG{command.stop_signal}"])
        try:
            process.wait(timeout=command.stop_wait_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def until_healthy(name: str, settings: Settings, within: float = 60.0) -> None:
    """Until the stack's own health check of server `name` passes against `settings`."""

    async def healthy() -> bool:
        return (await check(name, settings)).ok

    await until(healthy, within)
