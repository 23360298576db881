"""The webhooks function's work: one delivery per event per endpoint, each attempt signed
and recorded, retried on the schedule, and an endpoint that keeps failing disabled.

A delivery is claimed with a lease before each attempt, so two deliveries of one event to
the function (the broker's retry, a redelivery after a crash) never POST it twice at once;
the unique index gives each event one delivery per endpoint. A retry due within
`WEBHOOK_INLINE_RETRY_S` waits in the same request; a later one waits in the table for the
sweep (a PingSource's tick every minute).
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from cloudevents.http import CloudEvent
from sqlalchemy import and_, delete, func, or_, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from uuid6 import uuid7

from chatfn.events.catalog import Payload, WebhookResendRequested, WebhookTestRequested
from chatfn.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookHealth
from chatfn.settings import Mode, Settings
from chatfn.webhooks import facts, schedule, sender, signing

Sessions = async_sessionmaker[AsyncSession]
LEASE_MARGIN_S = 10.0  # beyond the attempt's own timeout, before another may claim it
SWEEP_BATCH = 200
ATTEMPTS_IN_FLIGHT = 32  # per process: more would only wait for database connections
PENDING_GRACE = timedelta(minutes=1)  # a first attempt the sweep takes over (its request died)
USER_AGENT = "chatfn-webhooks/1"
OWN_SOURCE = "chatfn/webhooks"


@dataclass(frozen=True)
class Key:
    user_id: UUID
    id: UUID


def policy(settings: Settings) -> sender.DeliveryPolicy:
    """Plain http only in local mode; private networks only where listed on purpose."""
    return sender.DeliveryPolicy(
        allow_http=settings.mode is Mode.local,
        allowed_networks=settings.webhook_allowed_networks,
        total_timeout=settings.webhook_timeout_s,
    )


def _enabled() -> Any:
    """Not disabled, or resumed by its owner since it was."""
    return or_(
        WebhookHealth.disabled_at.is_(None),
        WebhookEndpoint.resumed_at > WebhookHealth.disabled_at,
    )


def health_of_endpoint() -> Any:
    return and_(
        WebhookHealth.user_id == WebhookEndpoint.user_id,
        WebhookHealth.endpoint_id == WebhookEndpoint.id,
    )


async def fan_out(sessions: Sessions, event: CloudEvent, fact: Payload) -> list[Key]:
    """A delivery of `fact` for each endpoint that wants it (its owner's, and every
    instance-wide one), made once however often the event comes; those still to send."""
    user_id = getattr(fact, "user_id")  # noqa: B009 (every public fact names its user)
    event_type, source, event_id = event["type"], event["source"], event["id"]
    text = facts.body(event_type, event_id, event["time"], fact.model_dump(mode="json"))
    async with sessions.begin() as db:
        wanted = (
            await db.execute(
                select(WebhookEndpoint.user_id, WebhookEndpoint.id)
                .outerjoin(WebhookHealth, health_of_endpoint())
                .where(
                    or_(
                        and_(WebhookEndpoint.scope == "user", WebhookEndpoint.user_id == user_id),
                        WebhookEndpoint.scope == "instance",
                    ),
                    WebhookEndpoint.event_types.contains([event_type]),
                    WebhookEndpoint.paused.is_(False),
                    _enabled(),
                )
            )
        ).all()
        if not wanted:
            return []
        now = datetime.now(UTC)
        rows = [
            {"user_id": owner, "id": uuid7(), "endpoint_id": endpoint, "event_source": source,
             "event_id": event_id, "event_type": event_type, "body": text, "next_attempt_at": now}
            for owner, endpoint in wanted
        ]  # fmt: skip
        await db.execute(
            insert(WebhookDelivery)
            .values(rows)
            .on_conflict_do_nothing(
                index_elements=["user_id", "endpoint_id", "event_source", "event_id"],
                index_where=WebhookDelivery.resend_of.is_(None),
            )
        )
        unsent = await db.execute(
            select(WebhookDelivery.user_id, WebhookDelivery.id).where(
                tuple_(WebhookDelivery.user_id, WebhookDelivery.endpoint_id).in_(wanted),
                WebhookDelivery.event_source == source,
                WebhookDelivery.event_id == event_id,
                WebhookDelivery.resend_of.is_(None),
                WebhookDelivery.state == "pending",
            )
        )
        return [Key(*row) for row in unsent.all()]


async def test(sessions: Sessions, command: WebhookTestRequested) -> list[Key]:
    """A `io.chatfn.webhook.tested` delivery to the one endpoint, paused or not."""
    key = Key(command.user_id, command.delivery_id)
    data = facts.WebhookTested(endpoint_id=command.endpoint_id).model_dump(mode="json")
    now = datetime.now(UTC)
    text = facts.body(facts.TESTED, str(key.id), now, data)
    async with sessions.begin() as db:
        if await db.get(WebhookEndpoint, (command.user_id, command.endpoint_id)) is None:
            return []
        await db.execute(
            insert(WebhookDelivery)
            .values(
                user_id=key.user_id,
                id=key.id,
                endpoint_id=command.endpoint_id,
                event_source=OWN_SOURCE,
                event_id=str(key.id),
                event_type=facts.TESTED,
                body=text,
                next_attempt_at=now,
            )
            .on_conflict_do_nothing(index_elements=["user_id", "id"])
        )
    return [key]


async def resend(sessions: Sessions, command: WebhookResendRequested) -> list[Key]:
    """The event of an earlier delivery, again, as a delivery of its own (same webhook-id:
    a receiver that already has it can tell)."""
    async with sessions.begin() as db:
        original = await db.get(WebhookDelivery, (command.user_id, command.resend_of))
        if original is None:
            return []
        copied = {
            column: getattr(original, column)
            for column in ("endpoint_id", "event_source", "event_id", "event_type", "body")
        }
        await db.execute(
            insert(WebhookDelivery)
            .values(
                user_id=command.user_id,
                id=command.delivery_id,
                resend_of=original.id,
                next_attempt_at=datetime.now(UTC),
                **copied,
            )
            .on_conflict_do_nothing(index_elements=["user_id", "id"])
        )
    return [Key(command.user_id, command.delivery_id)]


async def due(sessions: Sessions) -> list[Key]:
    """Deliveries whose next attempt is due, and first attempts left by a request that died."""
    async with sessions() as db:
        rows = await db.execute(
            select(WebhookDelivery.user_id, WebhookDelivery.id)
            .where(
                or_(
                    and_(
                        WebhookDelivery.state == "retrying",
                        WebhookDelivery.next_attempt_at <= func.now(),
                    ),
                    and_(
                        WebhookDelivery.state == "pending",
                        WebhookDelivery.next_attempt_at <= func.now() - PENDING_GRACE,
                    ),
                ),
                or_(
                    WebhookDelivery.leased_until.is_(None),
                    WebhookDelivery.leased_until < func.now(),
                ),
            )
            .order_by(WebhookDelivery.next_attempt_at)
            .limit(SWEEP_BATCH)
        )
        return [Key(*row) for row in rows.all()]


def _gate() -> asyncio.Semaphore:
    """The attempts this process has in flight, whatever the requests that asked for them:
    a burst of events must queue here rather than for the database's connections."""
    loop = asyncio.get_running_loop()
    if loop not in _GATES:
        _GATES[loop] = asyncio.Semaphore(ATTEMPTS_IN_FLIGHT)
    return _GATES[loop]


_GATES: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
    weakref.WeakKeyDictionary()
)


async def forget(sessions: Sessions, user_id: UUID) -> None:
    """A deleted account's deliveries, attempts and endpoint health, gone with it."""
    async with sessions.begin() as db:
        for table in (WebhookAttempt, WebhookDelivery, WebhookHealth):
            await db.execute(delete(table).where(table.user_id == user_id))


async def deliver_all(sessions: Sessions, settings: Settings, keys: Iterable[Key]) -> None:
    """Attempt each delivery that is due (claimed together), each until it is delivered,
    given up, or its next attempt is further off than `WEBHOOK_INLINE_RETRY_S`."""
    ready = await _claim(sessions, settings, list(keys))
    async with asyncio.TaskGroup() as group:
        for endpoint, delivery in ready:
            group.create_task(_settle(sessions, settings, endpoint, delivery))


async def _settle(
    sessions: Sessions, settings: Settings, endpoint: WebhookEndpoint, delivery: WebhookDelivery
) -> None:
    while True:
        async with _gate():
            delay = await _attempt(sessions, settings, endpoint, delivery)
        if delay is None or delay > settings.webhook_inline_retry_s:
            return  # done, or the sweep's
        await asyncio.sleep(delay)
        again = await _claim(sessions, settings, [Key(delivery.user_id, delivery.id)])
        if not again:
            return  # someone else took it meanwhile
        [(endpoint, delivery)] = again


async def _attempt(
    sessions: Sessions, settings: Settings, endpoint: WebhookEndpoint, delivery: WebhookDelivery
) -> float | None:
    """POST it once, signed, and record how it went; seconds until the next attempt."""
    body = delivery.body.encode()
    headers = signing.sign(delivery.event_id, body, *_secrets(endpoint))
    headers |= {"content-type": "application/json", "user-agent": USER_AGENT}
    attempt = await sender.deliver(endpoint.url, headers, body, policy(settings))
    number = delivery.attempts + 1
    delay = schedule.next_attempt_delay(number, attempt)
    await _record(sessions, settings, endpoint, delivery, number, attempt, delay)
    return delay


def _secrets(endpoint: WebhookEndpoint) -> list[str]:
    """The secret, and the one it replaced while the rotation's overlap lasts."""
    until = endpoint.previous_valid_until
    overlapping = until is not None and until > datetime.now(UTC)
    previous = [endpoint.previous_secret] if overlapping and endpoint.previous_secret else []
    return [endpoint.secret, *previous]


async def _claim(
    sessions: Sessions, settings: Settings, keys: list[Key]
) -> list[tuple[WebhookEndpoint, WebhookDelivery]]:
    """The deliveries of `keys` that are due and not leased to another attempt, leased to
    this one, each with its endpoint. One whose endpoint is paused or disabled is left for
    later (a test or a resend, which its owner asked for now, goes anyway); one whose
    endpoint is gone is over."""
    if not keys:
        return []
    lease = timedelta(seconds=settings.webhook_timeout_s + LEASE_MARGIN_S)
    async with sessions.begin() as db:
        claimed = (
            await db.scalars(
                update(WebhookDelivery)
                .where(
                    tuple_(WebhookDelivery.user_id, WebhookDelivery.id).in_(
                        [(key.user_id, key.id) for key in keys]
                    ),
                    WebhookDelivery.state.in_(("pending", "retrying")),
                    WebhookDelivery.next_attempt_at <= func.now(),
                    or_(
                        WebhookDelivery.leased_until.is_(None),
                        WebhookDelivery.leased_until < func.now(),
                    ),
                )
                .values(leased_until=func.now() + lease)
                .returning(WebhookDelivery)
            )
        ).all()
        if not claimed:
            return []
        wanted = {(delivery.user_id, delivery.endpoint_id) for delivery in claimed}
        found = await db.execute(
            select(WebhookEndpoint, WebhookHealth)
            .outerjoin(WebhookHealth, health_of_endpoint())
            .where(tuple_(WebhookEndpoint.user_id, WebhookEndpoint.id).in_(wanted))
        )
        endpoints = {(e.user_id, e.id): (e, h) for e, h in found.all()}
        ready = []
        for delivery in claimed:
            endpoint, health = endpoints.get((delivery.user_id, delivery.endpoint_id), (None, None))
            if endpoint is None:
                delivery.state, delivery.leased_until = "failed", None
                continue
            asked_for_now = delivery.event_type == facts.TESTED or delivery.resend_of is not None
            if not asked_for_now and (endpoint.paused or not still_enabled(endpoint, health)):
                delivery.leased_until = None
                continue
            ready.append((endpoint, delivery))
        return ready


def still_enabled(endpoint: WebhookEndpoint, health: WebhookHealth | None) -> bool:
    """Never disabled, or resumed by its owner since it was."""
    if health is None or health.disabled_at is None:
        return True
    return endpoint.resumed_at is not None and endpoint.resumed_at > health.disabled_at


async def _record(
    sessions: Sessions,
    settings: Settings,
    endpoint: WebhookEndpoint,
    delivery: WebhookDelivery,
    number: int,
    attempt: sender.Attempt,
    delay: float | None,
) -> None:
    """The attempt, the delivery's new state and the endpoint's health, in one transaction."""
    now = datetime.now(UTC)
    failed = attempt.error is not None
    state = ("retrying" if delay is not None else "failed") if failed else "delivered"
    async with sessions.begin() as db:
        db.add(WebhookAttempt(
            user_id=delivery.user_id, delivery_id=delivery.id, number=number, at=now,
            status_code=attempt.status, latency_ms=round(attempt.latency_ms),
            error=attempt.reason[:300] if failed else None, excerpt=attempt.response_excerpt[:600],
        ))  # fmt: skip
        await db.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.user_id == delivery.user_id, WebhookDelivery.id == delivery.id)
            .values(
                attempts=number,
                state=state,
                leased_until=None,
                next_attempt_at=now + timedelta(seconds=delay) if delay is not None else None,
            )
        )
        await _judge(db, settings, endpoint, attempt, now)


async def _judge(
    db: AsyncSession,
    settings: Settings,
    endpoint: WebhookEndpoint,
    attempt: sender.Attempt,
    now: datetime,
) -> None:
    """Count the endpoint's failures in a row (afresh once its owner resumed it) and
    disable it after too many, or at once when it answers 410 Gone."""
    if attempt.error is None:
        # A row only once it has failed: a success writes nothing unless it ends a streak.
        await db.execute(
            update(WebhookHealth)
            .where(
                WebhookHealth.user_id == endpoint.user_id,
                WebhookHealth.endpoint_id == endpoint.id,
                WebhookHealth.failures_in_a_row > 0,
            )
            .values(failures_in_a_row=0, last_success_at=now)
        )
        return
    health = await db.get(WebhookHealth, (endpoint.user_id, endpoint.id), with_for_update=True)
    if health is None:
        health = WebhookHealth(user_id=endpoint.user_id, endpoint_id=endpoint.id,
                               failures_in_a_row=0)  # fmt: skip
        db.add(health)
    resumed = endpoint.resumed_at is not None and (
        health.last_failure_at is None or endpoint.resumed_at > health.last_failure_at
    )
    health.failures_in_a_row = (0 if resumed else health.failures_in_a_row) + 1
    health.last_failure_at = now
    if not still_enabled(endpoint, health):
        return  # disabled already
    gone = attempt.status == 410
    if gone or health.failures_in_a_row >= settings.webhook_disable_after_failures:
        what = f"HTTP {attempt.status}" if attempt.status else attempt.error
        health.disabled_at = now
        health.disabled_reason = (
            "The receiver answered 410 Gone." if gone else
            f"{health.failures_in_a_row} failed attempts in a row; the last: {what}, "
            f"{attempt.reason}"
        )[:300]  # fmt: skip
