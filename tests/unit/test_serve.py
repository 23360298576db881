"""chatfn.serve: a function in one process, a server that sleeps while idle and exits at once
when told."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import psutil
import uvicorn
from starlette.applications import Starlette

from chatfn.local.provision import PROJECT_ROOT
from chatfn.serve import SleepingServer
from tests.utils.broker import free_port

START_S = 45.0  # a cold start on a busy 2-core machine takes a few seconds
# Measured: 0.11 s from SIGTERM to exit (uvicorn's shutdown waits 0.1 s for connections).
# The bounds are loose so a loaded machine does not fail them; what they catch is a server
# that sleeps through the signal until its next tick.
EXIT_S = 5.0


class CountingServer(SleepingServer):
    """Counts its main loop's wakes."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ticks = 0

    async def on_tick(self, counter: int) -> bool:
        self.ticks += 1
        return await super().on_tick(counter)


@contextmanager
def serving(server: CountingServer) -> Iterator[threading.Thread]:
    """`server` running in a thread of its own, as a signal handler would find it: uvicorn
    installs no handlers off the main thread, so this test's process keeps its own."""
    thread = threading.Thread(target=server.run, daemon=True)  # a failed test leaves it behind
    thread.start()
    try:
        deadline = time.monotonic() + START_S
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.01)
        assert server.started
        yield thread
    finally:
        server.should_exit = True
        thread.join(EXIT_S)


def counting_server() -> CountingServer:
    config = uvicorn.Config(Starlette(), host="127.0.0.1", port=0, log_level="warning")
    return CountingServer(config)


def test_an_idle_server_wakes_about_once_a_second() -> None:
    """uvicorn's own loop would wake 20 times in these 2 s."""
    server = counting_server()
    with serving(server):
        before = server.ticks
        time.sleep(2.0)
        woken = server.ticks - before

    assert 1 <= woken <= 4


def test_the_exit_signal_wakes_a_sleeping_server_at_once() -> None:
    server = counting_server()
    server.tick_s = 600.0  # were it left to the next tick, the thread would outlive the join
    with serving(server) as thread:
        began = time.monotonic()
        server.handle_exit(signal.SIGTERM, None)
        thread.join(EXIT_S)

        assert not thread.is_alive(), "still serving after the exit signal"
    assert time.monotonic() - began < EXIT_S


def test_a_function_is_served_by_one_process_that_stops_on_sigterm() -> None:
    port = free_port()
    function = subprocess.Popen(
        [sys.executable, "-m", "chatfn.serve", "--target", "persist_history",
         "--source", "functions/persist_history.py", "--host", "127.0.0.1", "--port", str(port)],
        cwd=PROJECT_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + START_S
        while (status := health(port)) is None and time.monotonic() < deadline:
            assert function.poll() is None, function.communicate()[1].decode()
            time.sleep(0.05)
        assert status == 200
        assert psutil.Process(function.pid).children(recursive=True) == []

        began = time.monotonic()
        function.send_signal(signal.SIGTERM)
        function.wait(EXIT_S)
        assert time.monotonic() - began < EXIT_S
        # uvicorn ends by raising the signal it handled again: the exit status says SIGTERM.
        assert function.returncode == -signal.SIGTERM
    finally:
        function.kill()
        function.wait()


def health(port: int) -> int | None:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code
    except httpx.TransportError:
        return None
