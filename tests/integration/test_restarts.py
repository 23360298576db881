"""Servers of the local stack restarting under it: Kafka (Tansu, which forgets every topic)
and Redis (which keeps its data on disk). They run on the destructive stack (see
conftest.py), since they stop servers that every other test uses."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import AsyncIterator, Awaitable, Callable

from redis.asyncio import Redis

from chatfn.local.health import check
from chatfn.local.stack import BROKER, Stack, http_health
from chatfn.redis_client import redis_client
from chatfn.settings import Settings
from tests.utils.accounts import browser, register, signed_in
from tests.utils.chat import new_conversation, read_stream, send
from tests.utils.stack import gateway_health, until_healthy

# The broker logs a line per change of state; before, it logged ~100 errors a second.
BROKER_LOG_LINES_PER_RESTART = 40


async def eventually(condition: Callable[[], Awaitable[bool]], within: float) -> None:
    async with asyncio.timeout(within):
        while True:
            if await condition():
                return
            await asyncio.sleep(0.1)


async def a_chat_is_answered(settings: Settings, name: str) -> None:
    """Sign up (through the broker: register_user answers by event), send a message and
    read its whole reply."""
    async with browser(settings) as client, asyncio.timeout(30):
        user = signed_in(await register(client, f"{name}@example.com"))
        conversation = await new_conversation(client, user)
        accepted = await send(client, user, conversation, "[[script echo]] hi")
        read = await read_stream(client, accepted["reply_id"], accepted["stream_ticket"])
    assert read.text == "hi"


def log_lines(settings: Settings, program: str) -> int:
    return len((settings.home / "logs" / f"{program}.log").read_bytes().splitlines())


async def test_health_says_delivery_is_broken_while_kafka_is_down_then_it_recovers(
    destructive_stack: Settings, name: str
) -> None:
    stack = Stack(destructive_stack)
    broker_url = stack.broker_url()
    assert broker_url is not None
    lines_before = log_lines(destructive_stack, BROKER)

    stack.stop("kafka")
    try:
        while_down = await gateway_health(destructive_stack)
        broker_while_down = await http_health(broker_url + "/healthz")
        statuses = {status.name: status for status in await stack.status()}
    finally:
        await stack.start("kafka")
    await until_healthy(destructive_stack)
    await a_chat_is_answered(destructive_stack, name)

    assert while_down.status_code == 503
    assert while_down.json()["dependencies"]["broker"]["ok"] is False
    assert not broker_while_down.ok, broker_while_down.detail  # what `chatfn status` shows
    assert not statuses[BROKER].health.ok
    assert log_lines(destructive_stack, BROKER) - lines_before < BROKER_LOG_LINES_PER_RESTART


async def test_a_chat_sent_once_health_is_back_after_a_kafka_restart_is_answered(
    destructive_stack: Settings, name: str
) -> None:
    lines_before = log_lines(destructive_stack, BROKER)

    # Tansu comes back at once, without the topics, offsets and groups it had.
    await Stack(destructive_stack).restart("kafka")
    await until_healthy(destructive_stack)
    await a_chat_is_answered(destructive_stack, name)

    assert log_lines(destructive_stack, BROKER) - lines_before < BROKER_LOG_LINES_PER_RESTART


@contextlib.asynccontextmanager
async def redis_at(settings: Settings) -> AsyncIterator[Redis]:
    """A client of its own: the server may have restarted since the last one."""
    client = redis_client(settings)
    try:
        yield client
    finally:
        await client.aclose()


async def test_redis_keeps_its_data_through_a_restart_and_a_crash(
    destructive_stack: Settings, name: str
) -> None:
    stack = Stack(destructive_stack)
    async with redis_at(destructive_stack) as redis:
        await redis.set(f"{name}:revoked", "1")
        await redis.xadd(f"{name}:reply", {"text": "kept"})
    await stack.restart("redis")
    async with redis_at(destructive_stack) as redis:
        kept = await redis.get(f"{name}:revoked"), await redis.xlen(f"{name}:reply")
        assert kept == ("1", 1), "lost in a restart"
        await redis.incr(f"{name}:count")

    async def on_disk() -> bool:  # appendfsync everysec: within about a second
        files = (destructive_stack.home / "redis").rglob("*.aof")
        return any(f"{name}:count".encode() in file.read_bytes() for file in files)

    await eventually(on_disk, within=10)
    crashed = stack.supervisor.processes()["redis"].pid
    os.kill(crashed, signal.SIGKILL)

    async def started_again() -> bool:  # by supervisord
        pid = stack.supervisor.processes()["redis"].pid
        return pid not in {crashed, 0} and (await check("redis", destructive_stack)).ok

    await eventually(started_again, within=30)
    async with redis_at(destructive_stack) as redis:
        kept_through_crash = await redis.get(f"{name}:count")

    assert kept_through_crash == "1"
