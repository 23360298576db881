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
from alembic.script import ScriptDirectory
from cloudevents.http import CloudEvent
from sqlalchemy import inspect, text
from starlette.responses import JSONResponse, Response

from chatfn.db import Base, create_engine
from chatfn.events.emit import forward, publish
from chatfn.local.provision import alembic_config
from chatfn.local.stack import Stack
from chatfn.settings import Settings
from chatfn.storage import s3_client
from tests.utils.broker import LocalBroker, Subscriber, eventually, trigger, write_eventing
from tests.utils.isolation import fresh_database
from tests.utils.stack import ALL_EMBEDDED


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
            # Said first: when the replay itself failed, waiting for its deliveries says nothing.
            assert replayed.returncode == 0, replayed.stderr
            assert "2 dead letters replayed" in replayed.stdout, (listed.stdout, replayed.stdout)
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
    for output in (listed, shown, replayed):
        assert OLD_HASH not in output.stdout + output.stderr
        assert "it said" not in output.stdout  # the answer's detail may quote the event
    again = {event["id"]: event for event in subscriber.received[2:]}
    assert again[poison_id].data == POISON  # byte for byte
    assert again[sign_up_id].data["password_hash"] == OLD_HASH
    assert "knativeerrorcode" not in again[poison_id].get_attributes()


async def test_events_tail_from_the_beginning_prints_each_event_with_its_data_redacted(
    settings: Settings, tmp_path: Path, name: str
) -> None:
    folder = write_eventing(tmp_path, name)
    sent = [
        CloudEvent({"id": f"{name}-{i}", "source": "/tests", "type": "io.chatfn.test.happened"},
                   {"step": i, "api_key": f"secret-{i}"})
        for i in range(3)
    ]  # fmt: skip
    async with LocalBroker(folder, settings.kafka_bootstrap_servers).running() as broker:
        async with httpx.AsyncClient() as client:
            for event in sent:
                await publish(event, broker.url, client)
        tailed = await asyncio.to_thread(
            events_command, settings, folder, broker.url, "tail", "--from-beginning", "--limit", "3"
        )

    assert tailed.returncode == 0, tailed.stderr
    for i in range(3):
        assert f"{name}-{i}" in tailed.stdout
        assert f'"step": {i}' in tailed.stdout
        assert f"secret-{i}" not in tailed.stdout
    assert tailed.stdout.count('"api_key": "[redacted]"') == 3
    assert tailed.stdout.count("io.chatfn.test.happened") == 3


def migrate_command(database_url: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = os.environ | {"CHATFN_HOME": str(home), "DATABASE_URL": database_url}
    return subprocess.run(
        [sys.executable, "-m", "chatfn.local", "migrate"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def schema_of(settings: Settings) -> tuple[set[str], str | None]:
    """The database's tables and its Alembic revision."""
    engine = create_engine(settings, pooled=False)
    async with engine.connect() as conn:
        tables = await conn.run_sync(lambda sync: set(inspect(sync).get_table_names()))
        revision = await conn.scalar(text("SELECT version_num FROM alembic_version"))
    await engine.dispose()
    return tables, revision


async def test_migrate_brings_an_empty_database_to_head_and_again_changes_nothing(
    settings: Settings, tmp_path: Path, name: str
) -> None:
    url = await fresh_database(settings.database_url, name.replace("-", "_"))
    scratch = settings.model_copy(update={"database_url": url})
    head = ScriptDirectory.from_config(alembic_config(url)).get_current_head()

    first = await asyncio.to_thread(migrate_command, url, tmp_path / "home")
    after_first = await schema_of(scratch)
    again = await asyncio.to_thread(migrate_command, url, tmp_path / "home")

    assert first.returncode == 0, first.stdout + first.stderr
    assert "database at alembic head" in first.stdout
    tables, revision = after_first
    assert tables == set(Base.metadata.tables) | {"alembic_version"}
    assert revision == head
    assert again.returncode == 0, again.stdout + again.stderr
    assert await schema_of(scratch) == after_first
