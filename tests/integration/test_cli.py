"""`chatfn up` / `status` / `down` as a person runs them, on a stack of the test's own."""

from __future__ import annotations

import asyncio
import io
import os
import subprocess
import sys
from pathlib import Path

import psutil
from sqlalchemy import text

from chatfn.db import create_engine
from chatfn.local.servers import SERVERS
from chatfn.local.stack import Stack
from chatfn.settings import Settings
from chatfn.storage import s3_client

ALL_EMBEDDED = {server.env_var: "" for server in SERVERS}


def chatfn(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = os.environ | {"CHATFN_HOME": str(home), "CHATFN_PORT": "0"} | ALL_EMBEDDED
    return subprocess.run(
        [sys.executable, "-m", "chatfn.local", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def stack_processes(home: Path) -> list[psutil.Process]:
    pid = int((home / "run" / "supervisord.pid").read_text())
    supervisord = psutil.Process(pid)
    return [supervisord, *supervisord.children(recursive=True)]


def still_running(processes: list[psutil.Process]) -> list[str]:
    alive = []
    for process in processes:
        try:
            if process.is_running() and process.status() != psutil.STATUS_ZOMBIE:
                alive.append(f"{process.pid} {' '.join(process.cmdline())[:80]}")
        except psutil.NoSuchProcess:
            pass
    return alive


async def write_data(settings: Settings) -> None:
    engine = create_engine(settings, pooled=False)
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE kept (note text)"))
        await conn.execute(text("INSERT INTO kept VALUES ('survives a restart')"))
    await engine.dispose()
    client = s3_client(settings)
    await asyncio.to_thread(
        client.put_object, settings.s3_bucket, "kept.txt", io.BytesIO(b"me too"), 6
    )


async def read_data(settings: Settings) -> tuple[str | None, bytes]:
    engine = create_engine(settings, pooled=False)
    async with engine.connect() as conn:
        note = await conn.scalar(text("SELECT note FROM kept"))
    await engine.dispose()
    response = await asyncio.to_thread(
        s3_client(settings).get_object, settings.s3_bucket, "kept.txt"
    )
    return note, response.read()


def test_up_status_down_restart_keeps_data_and_leaves_no_process(tmp_path: Path) -> None:
    home = tmp_path / "home"
    stack_settings = Settings.model_validate({"CHATFN_HOME": home, "CHATFN_PORT": 0} | ALL_EMBEDDED)

    up = chatfn(home, "up")
    assert up.returncode == 0, up.stdout + up.stderr
    assert "chatfn is up" in up.stdout
    status = chatfn(home, "status")
    assert status.returncode == 0, status.stdout
    for service in ("postgres", "redis", "kafka", "s3", "llm", "broker", "gateway"):
        assert service in status.stdout
    asyncio.run(write_data(Stack(stack_settings).resolved()))
    first_run = stack_processes(home)
    assert len(first_run) >= 8  # supervisord, five servers, broker, gateway (+ postgres workers)

    down = chatfn(home, "down")
    assert down.returncode == 0, down.stdout + down.stderr
    assert still_running(first_run) == []
    after_down = chatfn(home, "status")
    assert after_down.returncode == 1

    up_again = chatfn(home, "up")
    assert up_again.returncode == 0, up_again.stdout + up_again.stderr
    second_run = stack_processes(home)
    try:
        note, blob = asyncio.run(read_data(Stack(stack_settings).resolved()))
    finally:
        assert chatfn(home, "down").returncode == 0
    assert still_running(second_run) == []
    assert note == "survives a restart"
    assert blob == b"me too"
