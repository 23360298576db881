"""The test stack: the same servers `chatfn up` runs, started once per test session.

Every xdist worker shares one stack under `CHATFN_HOME` (default `.local/test`); the
first worker to take the lock starts it, the others find it up. A service whose URL
is in the environment (CI's PostgreSQL and Redis, say) is used as it is. Tests are
isolated by a database per worker and a key prefix, topic and bucket per test.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from filelock import FileLock
from redis.asyncio import Redis

from chatfn.local.provision import migrate
from chatfn.redis_client import redis_client
from chatfn.settings import Settings
from chatfn.storage import s3_client
from tests.utils.isolation import fresh_database, unique_name
from tests.utils.stack import ensure_stack

pytest_plugins = ["tests.log_secrets"]

TEST_PARTITIONS = 4


@pytest.fixture(scope="session")
def stack_settings() -> Settings:
    """Settings of the running test stack (started here if it is not up yet)."""
    home = Path(os.environ.get("CHATFN_HOME", ".local/test"))
    home.mkdir(parents=True, exist_ok=True)
    with FileLock(home / "up.lock"):
        # Kafka in memory: ten times faster per event than on S3, and the shared stack
        # needs no log across restarts (nor does the destructive stack; S3 has its own test).
        # Webhook receivers in tests listen on 127.0.0.2, exempted here on purpose while
        # 127.0.0.1 stays refused (tests/utils/receivers.py).
        return ensure_stack(
            Settings(
                CHATFN_HOME=home,
                CHATFN_PORT=0,
                CHATFN_KAFKA_STORAGE="memory",
                WEBHOOK_ALLOWED_NETWORKS="127.0.0.2/32",
            )
        )


@pytest.fixture(scope="session")
async def settings(stack_settings: Settings, worker_id: str) -> Settings:
    """The stack's settings with a database of this worker's own, freshly migrated."""
    url = await fresh_database(stack_settings.database_url, f"chatfn_test_{worker_id}")
    settings = stack_settings.model_copy(update={"database_url": url})
    await migrate(settings)
    return settings


@pytest.fixture
def name(request: pytest.FixtureRequest) -> str:
    """A name no other test uses: a key prefix, topic or bucket of this test's own."""
    return unique_name(request.node.name)


@pytest.fixture
async def redis(settings: Settings, name: str) -> AsyncIterator[Redis]:
    client = redis_client(settings)
    yield client
    keys = [key async for key in client.scan_iter(match=f"{name}:*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


@pytest.fixture
async def topic(settings: Settings, name: str) -> AsyncIterator[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    await admin.start()
    await admin.create_topics([NewTopic(name, TEST_PARTITIONS, replication_factor=1)])
    yield name
    await admin.delete_topics([name])
    await admin.close()


@pytest.fixture
async def bucket(settings: Settings, name: str) -> AsyncIterator[str]:
    client = s3_client(settings)
    await asyncio.to_thread(client.make_bucket, name)
    yield name
    for obj in await asyncio.to_thread(lambda: list(client.list_objects(name, recursive=True))):
        await asyncio.to_thread(client.remove_object, name, obj.object_name)
    await asyncio.to_thread(client.remove_bucket, name)
