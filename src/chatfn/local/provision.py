"""What a fresh stack needs before the product can run: database, schema, topic, bucket.

Each step is idempotent, so `chatfn up` can run them on every start.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from pathlib import Path

import asyncpg
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
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


async def create_database(database_url: str, *, timeout_s: float = 30.0) -> None:
    """Create the URL's database on a server that may still be starting (embedded PostgreSQL)."""
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


async def create_topics(bootstrap_servers: str, eventing: Eventing) -> list[str]:
    """The broker's topic and every KafkaSink's, as `eventing/` names them."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        existing = await admin.list_topics()
        for name in eventing.topics:
            if name in existing:
                continue
            topic = NewTopic(name, eventing.partitions, replication_factor=1)
            with contextlib.suppress(TopicAlreadyExistsError):  # another `up` won the race
                await admin.create_topics([topic])
    finally:
        await admin.close()
    return eventing.topics


async def create_bucket(settings: Settings) -> None:
    client = s3_client(settings)
    if not await asyncio.to_thread(client.bucket_exists, settings.s3_bucket):
        await asyncio.to_thread(client.make_bucket, settings.s3_bucket)
