"""What a fresh stack needs before the product can run: database, schema, topic, bucket.

Each step is idempotent, so `chatfn up` can run them on every start.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import stamina
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import NoError, RequestTimedOutError, TopicAlreadyExistsError, for_code
from alembic import command
from alembic.config import Config
from sqlalchemy.engine import make_url

from chatfn.local.broker.config import Eventing
from chatfn.settings import Settings
from chatfn.storage import s3_client

PROJECT_ROOT = Path(__file__).resolve().parents[3]


async def server_connection(database_url: str) -> asyncpg.Connection:
    """A connection to the maintenance database of the server `database_url` points at."""
    url = make_url(database_url)
    return await asyncpg.connect(
        host=url.host, port=url.port, user=url.username, password=url.password, database="postgres"
    )


async def create_database(database_url: str, *, timeout_s: float = 120.0) -> None:
    """Create the URL's database on a server that may still be starting (embedded PostgreSQL).
    After an unclean stop it first replays its WAL: 40 s once here, on a slow disk."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            conn = await server_connection(database_url)
            break
        except (OSError, asyncpg.CannotConnectNowError):
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)
    database = make_url(database_url).database
    try:
        if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", database):
            await conn.execute(f'CREATE DATABASE "{database}"')
    finally:
        await conn.close()


def alembic_config(database_url: str) -> Config:
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    # Passed as an attribute, not an ini option: a password may hold `%`, which ini would expand.
    config.attributes["database_url"] = database_url
    config.attributes["configure_logging"] = False
    return config


async def migrate(settings: Settings) -> None:
    # Alembic's async env runs its own event loop, so it gets a thread of its own.
    await asyncio.to_thread(command.upgrade, alembic_config(settings.database_url), "head")


@dataclass(frozen=True)
class TopicChanges:
    created: list[str]
    remade: list[str]


@contextlib.asynccontextmanager
async def kafka_admin(bootstrap_servers: str) -> AsyncIterator[AIOKafkaAdminClient]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, request_timeout_ms=5000)
    await admin.start()
    try:
        yield admin
    finally:
        await admin.close()


async def partitions(admin: AIOKafkaAdminClient) -> dict[str, int]:
    # All topics: asking for named ones would make Tansu auto-create those it lacks.
    return {topic["topic"]: len(topic["partitions"]) for topic in await admin.describe_topics()}


async def topic_partitions(bootstrap_servers: str) -> dict[str, int]:
    """Every topic Kafka holds, with its partition count."""
    async with kafka_admin(bootstrap_servers) as admin:
        return await partitions(admin)


# Tansu on S3 writes a new topic's metadata to S3 before it answers; a slow S3 (a busy
# machine) makes it answer RequestTimedOut although the topic may come into being. Asking
# again is safe: what exists is found, and an existing topic is no error.
@stamina.retry(on=RequestTimedOutError, attempts=4, wait_initial=1.0, wait_max=5.0)
async def ensure_topics(
    bootstrap_servers: str, eventing: Eventing, *, remake: AbstractSet[str] = frozenset()
) -> TopicChanges:
    """The broker's topic and every KafkaSink's, as `eventing/` names them: missing ones
    are created, and those in `remake` whose partition count is not `eventing`'s are
    deleted and created again (Tansu auto-creates a missing topic with 4 partitions
    for the first client that asks for it, as after a restart)."""
    async with kafka_admin(bootstrap_servers) as admin:
        existing = await partitions(admin)
        missing = [name for name in eventing.topics if name not in existing]
        wrong = [
            name
            for name in eventing.topics
            if name in remake and existing.get(name, eventing.partitions) != eventing.partitions
        ]
        if wrong:
            _raise_errors((await admin.delete_topics(wrong)).topic_error_codes)
        if missing or wrong:
            new = [NewTopic(n, eventing.partitions, replication_factor=1) for n in missing + wrong]
            _raise_errors((await admin.create_topics(new)).topic_errors)
    return TopicChanges(created=missing, remade=wrong)


def _raise_errors(results: list[tuple[Any, ...]]) -> None:
    """Raise the first error of a topic admin answer; a topic that already exists is none
    (another `up` or broker won the race)."""
    for name, code, *_ in results:
        error = for_code(code)
        if error is not NoError and error is not TopicAlreadyExistsError:
            raise error(name)


async def create_topics(bootstrap_servers: str, eventing: Eventing) -> list[str]:
    """The topics `eventing/` names, created where missing (`chatfn up`)."""
    await ensure_topics(bootstrap_servers, eventing)
    return eventing.topics


async def create_bucket(settings: Settings, name: str) -> None:
    client = s3_client(settings)
    if not await asyncio.to_thread(client.bucket_exists, name):
        await asyncio.to_thread(client.make_bucket, name)
