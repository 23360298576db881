"""webhooks built from functions/webhooks.py, against the stack's PostgreSQL and real
receivers on 127.0.0.2: each event once per endpoint however often it is delivered, a
Retry-After kept, an endpoint that keeps failing disabled, a tick retrying what is due."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from aiohttp import web
from sqlalchemy import select, update
from uuid6 import uuid7

from chatfn import runtime
from chatfn.events.catalog import ConversationCreated, PingTick, new_event
from chatfn.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookHealth
from chatfn.settings import Settings, get_settings
from chatfn.webhooks.signing import new_secret
from tests.utils.functions import a_user, deliver, function_client
from tests.utils.receivers import ALLOWED, Receiver, receiving

CREATED = ConversationCreated.event_type


@pytest.fixture
def hooks_env(function_env: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Receivers on 127.0.0.2 allowed; a retry never waits in the request; two failures
    in a row disable an endpoint."""
    for variable, value in {"WEBHOOK_ALLOWED_NETWORKS": f"{ALLOWED}/32",
                            "WEBHOOK_INLINE_RETRY_S": "0",
                            "WEBHOOK_DISABLE_AFTER_FAILURES": "2"}.items():  # fmt: skip
        monkeypatch.setenv(variable, value)
    get_settings.cache_clear()
    runtime.current.cache_clear()
    return function_env


async def an_endpoint(receiver: Receiver, *event_types: str) -> tuple[WebhookEndpoint, str]:
    user_id = await a_user()
    endpoint = WebhookEndpoint(user_id=user_id, id=uuid7(), url=receiver.url, secret=new_secret(),
                               event_types=list(event_types or [CREATED]))  # fmt: skip
    async with runtime.current().sessions.begin() as db:
        db.add(endpoint)
    return endpoint, str(user_id)


async def delivery_rows(endpoint: WebhookEndpoint) -> list[WebhookDelivery]:
    async with runtime.current().sessions() as db:
        return list((await db.scalars(
            select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint.id)
        )).all())  # fmt: skip


def created(endpoint: WebhookEndpoint) -> ConversationCreated:
    return ConversationCreated(user_id=endpoint.user_id, conversation_id=uuid7())


async def test_an_event_delivered_three_times_reaches_the_endpoint_once(
    hooks_env: Settings,
) -> None:
    async with receiving(ALLOWED) as receiver:
        endpoint, _ = await an_endpoint(receiver)
        event = new_event(created(endpoint), source="chatfn/api")
        async with function_client("webhooks") as client:
            answers = [await deliver(client, event) for _ in range(3)]

    assert [answer.status_code for answer in answers] == [202] * 3
    assert len(receiver.seen) == 1
    [row] = await delivery_rows(endpoint)
    assert (row.state, row.attempts) == ("delivered", 1)


async def test_a_retry_after_is_kept_and_a_tick_retries_only_what_is_due(
    hooks_env: Settings,
) -> None:
    answers = [web.Response(status=503, headers={"Retry-After": "120"}), web.Response()]

    async def busy_then_fine(request: web.Request) -> web.StreamResponse:
        return answers.pop(0)

    tick = PingTick(sweep="webhooks")
    ping = "/apis/v1/namespaces/chatfn/pingsources/webhooks-sweep"
    async with receiving(ALLOWED, busy_then_fine) as receiver:
        endpoint, _ = await an_endpoint(receiver)
        async with function_client("webhooks") as client:
            await deliver(client, new_event(created(endpoint), source="chatfn/api"))
            [waiting] = await delivery_rows(endpoint)
            await deliver(client, new_event(tick, source=ping))
            seen_before_due = len(receiver.seen)
            async with runtime.current().sessions.begin() as db:  # as if two minutes passed
                await db.execute(update(WebhookDelivery).where(WebhookDelivery.id == waiting.id)
                                 .values(next_attempt_at=datetime.now(UTC)))  # fmt: skip
            await deliver(client, new_event(tick, source=ping))
        [done] = await delivery_rows(endpoint)

    assert waiting.state == "retrying"
    assert waiting.next_attempt_at is not None
    assert waiting.next_attempt_at - waiting.created_at >= timedelta(seconds=120)
    assert seen_before_due == 1
    assert len(receiver.seen) == 2
    assert (done.state, done.attempts) == ("delivered", 2)


async def test_an_endpoint_that_keeps_failing_is_disabled_until_its_owner_resumes_it(
    hooks_env: Settings,
) -> None:
    async def broken(request: web.Request) -> web.StreamResponse:
        return web.Response(status=500, text="<h1>oops</h1>")

    async with receiving(ALLOWED, broken) as receiver:
        endpoint, _ = await an_endpoint(receiver)
        async with function_client("webhooks") as client:
            for _ in range(3):  # the third finds it disabled: no delivery at all
                await deliver(client, new_event(created(endpoint), source="chatfn/api"))
        async with runtime.current().sessions() as db:
            health = await db.get(WebhookHealth, (endpoint.user_id, endpoint.id))
            attempts = (await db.scalars(select(WebhookAttempt).where(
                WebhookAttempt.user_id == endpoint.user_id))).all()  # fmt: skip

    assert len(receiver.seen) == 2
    assert len(await delivery_rows(endpoint)) == 2
    assert health is not None
    assert health.disabled_at is not None
    assert health.disabled_reason is not None
    assert "2 failed attempts in a row" in health.disabled_reason
    assert sorted((a.status_code, a.excerpt) for a in attempts) == [(500, "<h1>oops</h1>")] * 2
