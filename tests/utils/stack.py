"""Start (or find) the local stack the suite runs against, or a whole stack of a test's own."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import Iterator
from pathlib import Path

import httpx

from chatfn.local.servers import SERVERS
from chatfn.local.stack import Stack
from chatfn.settings import Settings
from tests.utils.accounts import browser, register, signed_in
from tests.utils.chat import new_conversation, read_stream, send

log = logging.getLogger("tests.stack")

# Every server embedded, whatever the environment names (CI's PostgreSQL, say): a stack
# whose servers a test stops or kills must not share them with anyone.
ALL_EMBEDDED = {server.env_var: "" for server in SERVERS}
RECOVERY_S = 60.0


def ensure_stack(settings: Settings) -> Settings:
    """`chatfn up` for the tests: idempotent, so a stack already up is only checked."""

    def report(name: str, state: str, detail: str) -> None:
        log.info("%-9s %-10s %s", name, state, detail)

    return asyncio.run(Stack(settings).up(report))


@contextlib.contextmanager
def own_stack(home: Path, **env: str) -> Iterator[Settings]:
    """A whole stack under `home`, every server embedded (but those `env` replaces, as
    `LLM_BASE_URL`), stopped afterwards."""
    # Kafka in memory, as on the shared stack: Tansu on S3 sometimes timed a request out
    # as a fresh stack started in CI (tests/integration/test_kafka_storage.py covers S3).
    settings = Settings.model_validate(
        {"CHATFN_HOME": home, "CHATFN_PORT": 0, "CHATFN_KAFKA_STORAGE": "memory"}
        | ALL_EMBEDDED
        | env
    )
    try:
        yield ensure_stack(settings)
    finally:
        Stack(settings).down()


async def gateway_health(settings: Settings) -> httpx.Response:
    async with httpx.AsyncClient(timeout=10) as client:
        return await client.get(f"http://127.0.0.1:{settings.port}/api/health")


async def until_healthy(settings: Settings, within: float = RECOVERY_S) -> None:
    """Poll the gateway's health until it says 200, as a load balancer would."""
    async with asyncio.timeout(within):
        while True:
            if (await gateway_health(settings)).status_code == 200:
                return
            await asyncio.sleep(0.1)


async def echoed(settings: Settings, email: str, text: str) -> str:
    """Sign up as `email`, send `text` for the scripted model to echo: the reply's text."""
    async with browser(settings) as client:
        user = signed_in(await register(client, email))
        conversation = await new_conversation(client, user)
        accepted = await send(client, user, conversation, f"[[script echo]] {text}")
        read = await read_stream(client, accepted["reply_id"], accepted["stream_ticket"])
    return read.text


async def until_serving(settings: Settings, name: str, within: float = RECOVERY_S) -> None:
    """Until a whole chat (sign-up, send, the streamed reply) goes through. Health is not
    enough after a server restarted: each function drops a stale connection on its first
    use of it with a 503 (retry), so a test that needs a working stack asks for one."""
    async with asyncio.timeout(within):
        for attempt in itertools.count():
            email = f"{name}-ready-{attempt}@example.com"
            with contextlib.suppress(AssertionError):  # a 503 on the way
                if await echoed(settings, email, "ready") == "ready":
                    return
            await asyncio.sleep(0.5)
