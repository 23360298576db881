"""`chatfn` as a person runs it: `up` / `status` / `down` on a stack of the test's own, and
`events dlq` on a broker and topics of the test's own."""

from __future__ import annotations

import asyncio
import io
import os
import subprocess
import sys
from pathlib import Path

import httpx
import psutil
from cloudevents.http import CloudEvent
from sqlalchemy import text
from starlette.responses import JSONResponse, Response

from chatfn.db import create_engine
from chatfn.emit import forward, publish
from chatfn.local.servers import SERVERS
from chatfn.local.stack import Stack
from chatfn.settings import Settings
from chatfn.storage import s3_client
from tests.utils.broker import LocalBroker, Subscriber, eventually, trigger, write_eventing

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


POISON = b"\xff\xfe\x00 neither UTF-8 nor JSON"
OLD_HASH = "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo"


def events_command(
    settings: Settings, eventing: Path, sink: str, *args: str
) -> subprocess.CompletedProcess[str]:
    """`chatfn events ...` against the test stack's Kafka and a test broker of its own."""
    env = os.environ | {
        "CHATFN_HOME": str(eventing / "home"),  # no stack there: the URLs below are used
        "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
        "CHATFN_EVENTING_DIR": str(eventing),
        "K_SINK": sink,
    }
    return subprocess.run(
        [sys.executable, "-m", "chatfn.local", "events", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def test_dlq_lists_and_replays_dead_letters_whose_data_is_not_json_without_printing_data(
    settings: Settings, tmp_path: Path, name: str
) -> None:
    fixed = False

    async def refuse_until_fixed(event: CloudEvent) -> Response:
        if fixed:
            return Response(status_code=202)
        problem = {"title": "Malformed event", "status": 400, "detail": f"it said {OLD_HASH}"}
        return JSONResponse(problem, status_code=400, media_type="application/problem+json")

    subscriber = Subscriber(refuse_until_fixed)
    poison_id, sign_up_id = f"{name}-poison", f"{name}-sign-up"
    poison = {"ce-specversion": "1.0", "ce-id": poison_id, "ce-source": "/tests",
              "ce-type": "io.chatfn.test.poison",
              "content-type": "application/octet-stream"}  # fmt: skip
    # What a sign-up event held before the hash stayed out of events: the log keeps it.
    sign_up = CloudEvent(
        {"id": sign_up_id, "source": "/tests", "type": "io.chatfn.user.register.requested"},
        {"email": f"{name}@example.com", "password_hash": OLD_HASH, "display_name": "Ada"},
    )
    async with subscriber.running():
        folder = write_eventing(tmp_path, name, trigger("refusing", subscriber.url))
        async with LocalBroker(folder, settings.kafka_bootstrap_servers).running() as broker:
            async with httpx.AsyncClient() as client:
                await forward(poison, POISON, broker.url, client)
                await publish(sign_up, broker.url, client)
            await broker.dead_letters(expected=2)

            listed = await asyncio.to_thread(events_command, settings, folder, broker.url, "dlq")
            shown = await asyncio.to_thread(
                events_command, settings, folder, broker.url, "dlq", "--show-data"
            )
            fixed = True
            replayed = await asyncio.to_thread(
                events_command, settings, folder, broker.url, "dlq", "--replay"
            )
            await eventually(lambda: len(subscriber.received) == 4)

    assert listed.returncode == 0, listed.stderr
    assert "2 dead letters pending" in listed.stdout
    listing = (poison_id, "io.chatfn.test.poison", sign_up_id, "/tests", "400",
               "'Malformed event'", f"{len(POISON)} B, application/octet-stream")  # fmt: skip
    for expected in listing:
        assert expected in listed.stdout
    assert f"{name}@example.com" not in listed.stdout  # no data at all without --show-data
    assert shown.returncode == 0, shown.stderr
    assert f'"email": "{name}@example.com"' in shown.stdout
    assert '"password_hash": "[redacted]"' in shown.stdout
    assert "not JSON: not shown" in shown.stdout
    assert replayed.returncode == 0, replayed.stderr
    assert "2 dead letters replayed" in replayed.stdout
    for output in (listed, shown, replayed):
        assert OLD_HASH not in output.stdout + output.stderr
        assert "it said" not in output.stdout  # the answer's detail may quote the event
    again = {event["id"]: event for event in subscriber.received[2:]}
    assert again[poison_id].data == POISON  # byte for byte
    assert again[sign_up_id].data["password_hash"] == OLD_HASH
    assert "knativeerrorcode" not in again[poison_id].get_attributes()
