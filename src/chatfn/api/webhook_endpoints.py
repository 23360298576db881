"""`/api/webhooks`: the endpoints a user registers to hear chatfn's public facts.

Endpoints are state-stored here (`api` is their one writer: each holds a signing secret,
and its URL may itself be a credential), each change published as a fact without either.
The secret is shown once, when made or rotated; a rotation keeps signing with the old one
too for an overlap. A URL is checked when it is saved, by the same rules as every
delivery (chatfn.webhooks.sender). Deliveries are the `webhooks` function's: a test or a
resend is a command to it. Another user's endpoint or delivery is a 404.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Query
from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from sqlalchemy import select
from uuid6 import uuid7

from chatfn.api.problems import not_found
from chatfn.api.security import SOURCE, ApiDep, DbDep, UserDep
from chatfn.events.catalog import (
    WebhookEndpointDeleted,
    WebhookEndpointSaved,
    WebhookResendRequested,
    WebhookTestRequested,
    new_event,
)
from chatfn.identity.roles import allowed
from chatfn.models import User, WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookHealth
from chatfn.problems import Problem
from chatfn.text import StoredText
from chatfn.webhooks import facts, outbox, signing
from chatfn.webhooks.sender import HostNotFound, URLRefused, check_url

router = APIRouter(prefix="/api/webhooks", tags=["webhooks"])


class EventTypeOut(BaseModel):
    type: str
    description: str
    version: int
    data_schema: dict[str, object] = Field(description="JSON Schema of the body's `data`")


def _public(types: list[str]) -> list[str]:
    unknown = sorted(set(types) - set(facts.PUBLIC))
    if unknown:
        raise ValueError(f"not an event type integrations can hear: {', '.join(unknown)}")
    return sorted(set(types))


EventTypes = Annotated[
    list[Annotated[str, Field(max_length=128)]],
    Field(min_length=1, max_length=len(facts.PUBLIC)),
    AfterValidator(_public),
]


class EndpointIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: StoredText = Field(max_length=2048)
    event_types: EventTypes
    description: StoredText = Field("", max_length=200)
    scope: Literal["user", "instance"] = Field("user", description="instance: admins only")


class EndpointUpdate(BaseModel):
    """Only the fields present change; `paused: false` also re-enables a disabled one."""

    model_config = ConfigDict(extra="forbid")

    url: StoredText | None = Field(None, max_length=2048)
    event_types: EventTypes | None = None
    description: StoredText | None = Field(None, max_length=200)
    paused: bool | None = None


class EndpointOut(BaseModel):
    id: UUID
    url: str
    event_types: list[str]
    description: str
    scope: str
    state: Literal["active", "paused", "disabled"]
    disabled_reason: str | None
    created_at: datetime
    secret_rotated_at: datetime | None

    @classmethod
    def of(cls, endpoint: WebhookEndpoint, health: WebhookHealth | None) -> EndpointOut:
        disabled = not outbox.still_enabled(endpoint, health)
        state = "paused" if endpoint.paused else "disabled" if disabled else "active"
        return cls(
            id=endpoint.id, url=endpoint.url, event_types=endpoint.event_types,
            description=endpoint.description, scope=endpoint.scope, state=state,
            disabled_reason=health.disabled_reason if disabled and health else None,
            created_at=endpoint.created_at, secret_rotated_at=endpoint.secret_rotated_at,
        )  # fmt: skip


class EndpointCreated(EndpointOut):
    secret: str = Field(description="shown once: keep it where the receiver can read it")


class Rotate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    overlap_hours: int = Field(24, ge=0, le=168, description="how long the old secret still signs")


class Rotated(BaseModel):
    secret: str
    previous_valid_until: datetime | None


class AttemptOut(BaseModel):
    at: datetime
    status_code: int | None
    latency_ms: int
    error: str | None
    excerpt: str


class DeliveryOut(BaseModel):
    id: UUID
    event_id: str
    event_type: str
    state: str
    attempts: int
    next_attempt_at: datetime | None
    created_at: datetime
    last_attempt: AttemptOut | None


class Queued(BaseModel):
    delivery_id: UUID


@router.get("/event-types")
async def event_types(user: UserDep) -> list[EventTypeOut]:
    """What an endpoint can subscribe to, each with its body's `data` schema."""
    return [
        EventTypeOut(
            type=name,
            description=fact.description,
            version=fact.version,
            data_schema=facts.schema(name),
        )
        for name, fact in facts.PUBLIC.items()
    ]


async def _checked(api: ApiDep, url: str) -> str:
    """`url` if a delivery could reach it now, else a 422 naming the rule."""
    try:
        await check_url(url, outbox.policy(api.settings))
    except HostNotFound as exc:
        raise Problem(
            422, f"The URL's host does not resolve: {exc}", title="Unreachable URL"
        ) from None
    except URLRefused as exc:
        raise Problem(422, str(exc), title="URL not allowed") from None
    return url


async def _owned(db: DbDep, user: User, endpoint_id: UUID) -> WebhookEndpoint:
    endpoint = await db.get(WebhookEndpoint, (user.id, endpoint_id))
    if endpoint is None:
        raise not_found("webhook endpoint")
    return endpoint


async def _out(db: DbDep, endpoint: WebhookEndpoint) -> EndpointOut:
    return EndpointOut.of(endpoint, await db.get(WebhookHealth, (endpoint.user_id, endpoint.id)))


async def _announce_saved(api: ApiDep, endpoint: WebhookEndpoint) -> None:
    fact = WebhookEndpointSaved(
        user_id=endpoint.user_id, endpoint_id=endpoint.id, event_types=endpoint.event_types,
        scope=endpoint.scope, paused=endpoint.paused,
    )  # fmt: skip
    await api.publish(new_event(fact, source=SOURCE), "the endpoint")


@router.get("")
async def list_endpoints(user: UserDep, db: DbDep) -> list[EndpointOut]:
    rows = await db.execute(
        select(WebhookEndpoint, WebhookHealth)
        .outerjoin(WebhookHealth, outbox.health_of_endpoint())
        .where(WebhookEndpoint.user_id == user.id)
        .order_by(WebhookEndpoint.id)
    )
    return [EndpointOut.of(endpoint, health) for endpoint, health in rows.all()]


@router.post("", status_code=201)
async def create_endpoint(
    body: EndpointIn, user: UserDep, api: ApiDep, db: DbDep
) -> EndpointCreated:
    """Register an endpoint. Its signing secret is in this answer, and never again."""
    if body.scope == "instance" and not allowed(user.role, "webhooks", "instance"):
        raise Problem(403, "Only an admin can hear every user's facts.", title="Not allowed")
    endpoint = WebhookEndpoint(
        user_id=user.id, id=uuid7(), scope=body.scope, url=await _checked(api, body.url),
        event_types=body.event_types, description=body.description.strip(),
        secret=signing.new_secret(), paused=False, created_at=datetime.now(UTC),
    )  # fmt: skip
    db.add(endpoint)
    await _announce_saved(api, endpoint)  # the fact first: if it cannot go, nothing changes
    await db.commit()
    return EndpointCreated(**EndpointOut.of(endpoint, None).model_dump(), secret=endpoint.secret)


@router.patch("/{endpoint_id}")
async def update_endpoint(
    endpoint_id: UUID, update: EndpointUpdate, user: UserDep, api: ApiDep, db: DbDep
) -> EndpointOut:
    endpoint = await _owned(db, user, endpoint_id)
    if update.url is not None:
        endpoint.url = await _checked(api, update.url)
    if update.event_types is not None:
        endpoint.event_types = update.event_types
    if update.description is not None:
        endpoint.description = update.description.strip()
    if update.paused is not None:
        if not update.paused:
            endpoint.resumed_at = datetime.now(UTC)  # a disabling before this no longer holds
        endpoint.paused = update.paused
    await _announce_saved(api, endpoint)
    await db.commit()
    return await _out(db, endpoint)


@router.delete("/{endpoint_id}", status_code=204)
async def delete_endpoint(endpoint_id: UUID, user: UserDep, api: ApiDep, db: DbDep) -> None:
    endpoint = await _owned(db, user, endpoint_id)
    fact = WebhookEndpointDeleted(user_id=user.id, endpoint_id=endpoint_id)
    await api.publish(new_event(fact, source=SOURCE), "the deletion")
    await db.delete(endpoint)
    await db.commit()


@router.post("/{endpoint_id}/rotate-secret")
async def rotate_secret(
    endpoint_id: UUID, user: UserDep, api: ApiDep, db: DbDep, body: Rotate | None = None
) -> Rotated:
    """A new secret, shown once; the old one keeps signing beside it for `overlap_hours`,
    so the receiver can switch without missing an event."""
    endpoint = await _owned(db, user, endpoint_id)
    now, overlap = datetime.now(UTC), timedelta(hours=(body or Rotate()).overlap_hours)
    endpoint.previous_secret = endpoint.secret if overlap else None
    endpoint.previous_valid_until = now + overlap if overlap else None
    endpoint.secret, endpoint.secret_rotated_at = signing.new_secret(), now
    await db.commit()
    return Rotated(secret=endpoint.secret, previous_valid_until=endpoint.previous_valid_until)


@router.post("/{endpoint_id}/test", status_code=202)
async def send_test(endpoint_id: UUID, user: UserDep, api: ApiDep, db: DbDep) -> Queued:
    """Send `io.chatfn.webhook.tested` to the endpoint now, even paused or disabled."""
    await _owned(db, user, endpoint_id)
    command = WebhookTestRequested(user_id=user.id, endpoint_id=endpoint_id, delivery_id=uuid7())
    await api.publish(new_event(command, source=SOURCE), "the test")
    return Queued(delivery_id=command.delivery_id)


@router.get("/{endpoint_id}/deliveries")
async def deliveries(
    endpoint_id: UUID,
    user: UserDep,
    db: DbDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> list[DeliveryOut]:
    """The endpoint's latest deliveries, newest first, each with its last attempt."""
    await _owned(db, user, endpoint_id)
    found = (
        await db.scalars(
            select(WebhookDelivery)
            .where(WebhookDelivery.user_id == user.id, WebhookDelivery.endpoint_id == endpoint_id)
            .order_by(WebhookDelivery.id.desc())
            .limit(limit)
        )
    ).all()
    last = {
        attempt.delivery_id: attempt
        for attempt in (
            await db.scalars(
                select(WebhookAttempt)
                .where(
                    WebhookAttempt.user_id == user.id,
                    WebhookAttempt.delivery_id.in_([d.id for d in found]),
                )
                .order_by(WebhookAttempt.delivery_id, WebhookAttempt.number)
            )
        ).all()
    }
    return [
        DeliveryOut(
            id=d.id,
            event_id=d.event_id,
            event_type=d.event_type,
            state=d.state,
            attempts=d.attempts,
            next_attempt_at=d.next_attempt_at,
            created_at=d.created_at,
            last_attempt=AttemptOut.model_validate(last[d.id], from_attributes=True)
            if d.id in last
            else None,
        )
        for d in found
    ]


@router.post("/deliveries/{delivery_id}/resend", status_code=202)
async def resend(delivery_id: UUID, user: UserDep, api: ApiDep, db: DbDep) -> Queued:
    """Deliver the same event again (the same `webhook-id`), as a new delivery."""
    original = await db.get(WebhookDelivery, (user.id, delivery_id))
    if original is None:
        raise not_found("delivery")
    command = WebhookResendRequested(user_id=user.id, endpoint_id=original.endpoint_id,
                                     delivery_id=uuid7(), resend_of=delivery_id)  # fmt: skip
    await api.publish(new_event(command, source=SOURCE), "the resend")
    return Queued(delivery_id=command.delivery_id)
