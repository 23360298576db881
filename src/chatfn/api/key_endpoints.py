"""Personal API keys and what they spent: `/api/keys` and `/api/usage`.

Only a signed-in session manages keys (`UserDep` refuses an API key), so a leaked key
can neither make another, nor read one, nor outlive its revocation. The key itself is
in the answer that creates it and nowhere else; its keyed hash is kept
(chatfn.identity.api_keys). Keys are state-stored by `api`, their one writer; their
lifecycle is published without key material.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from uuid6 import uuid7

from chatfn.api.problems import not_found
from chatfn.api.security import SOURCE, ApiDep, DbDep, UserDep
from chatfn.chat import history
from chatfn.chat.projection import APP
from chatfn.events.catalog import ApiKeyCreated, ApiKeyRevoked, new_event
from chatfn.identity import api_keys
from chatfn.models import ApiKey, DailyUsage
from chatfn.problems import Problem
from chatfn.text import StoredText

router = APIRouter(prefix="/api", tags=["api keys"])
Scope = Literal["chat", "history:read"]


class ApiKeyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: StoredText = Field(min_length=1, max_length=100)
    scopes: list[Scope] = Field(min_length=1, max_length=len(api_keys.SCOPES))
    expires_in_days: int | None = Field(None, ge=1, le=365, description="none: never")
    store: bool | None = Field(
        None, description="its completions become conversations; none: API_KEY_STORE_DEFAULT"
    )
    daily_token_budget: int | None = Field(None, ge=1, le=2**31 - 1,
                                           description="none: the owner's")  # fmt: skip
    requests_per_minute: int | None = Field(None, ge=1, le=10_000,
                                            description="none: RATE_LIMIT_PER_KEY")  # fmt: skip


class ApiKeyOut(BaseModel):
    id: UUID
    name: str
    hint: str = Field(description="the key's first characters, to tell it by")
    scopes: list[str]
    store: bool
    daily_token_budget: int | None
    requests_per_minute: int | None
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None = Field(description="to the minute")
    revoked_at: datetime | None

    @classmethod
    def of(cls, key: ApiKey) -> ApiKeyOut:
        return cls.model_validate(key, from_attributes=True)


class ApiKeyCreatedOut(ApiKeyOut):
    key: str = Field(description="shown once, in this answer only")


class UsageDay(BaseModel):
    day: date
    key_id: UUID | None = Field(description="none: the app itself")
    key_name: str | None
    requests: int
    prompt_tokens: int
    completion_tokens: int


class Usage(BaseModel):
    daily_token_budget: int = Field(description="per UTC day, the app and keys together; 0: none")
    used_today: int
    days: list[UsageDay] = Field(description="newest day first")


@router.get("/keys")
async def list_keys(user: UserDep, db: DbDep) -> list[ApiKeyOut]:
    """The user's keys, newest first; revoked ones stay listed with `revoked_at`."""
    found = await db.scalars(
        select(ApiKey).where(ApiKey.user_id == user.id).order_by(ApiKey.id.desc())
    )
    return [ApiKeyOut.of(key) for key in found.all()]


@router.post("/keys", status_code=201)
async def create_key(body: ApiKeyIn, user: UserDep, api: ApiDep, db: DbDep) -> ApiKeyCreatedOut:
    """A new key, shown once in this answer."""
    owner_budget = api.settings.daily_token_budget
    if body.daily_token_budget and owner_budget and body.daily_token_budget > owner_budget:
        raise Problem(422, f"A key's daily budget cannot exceed yours ({owner_budget} tokens).")
    secret = api_keys.mint()
    now = datetime.now(UTC)
    key = ApiKey(
        user_id=user.id, id=uuid7(), name=body.name.strip(), hint=api_keys.hint(secret),
        digest=api_keys.digest(api.settings, secret), scopes=sorted(set(body.scopes)),
        store=api.settings.api_key_store_default if body.store is None else body.store,
        daily_token_budget=body.daily_token_budget, requests_per_minute=body.requests_per_minute,
        created_at=now, expires_at=now + timedelta(days=body.expires_in_days)
        if body.expires_in_days else None,
    )  # fmt: skip
    db.add(key)
    await db.commit()
    created = ApiKeyCreated(user_id=user.id, key_id=key.id, name=key.name, scopes=key.scopes)
    await api.publish(new_event(created, source=SOURCE), "the new key")
    return ApiKeyCreatedOut(**ApiKeyOut.of(key).model_dump(), key=secret)


@router.delete("/keys/{key_id}", status_code=204)
async def revoke_key(key_id: UUID, user: UserDep, api: ApiDep, db: DbDep) -> None:
    """Revoke the key: every instance refuses it from the next request on."""
    if not await api_keys.revoke(db, user.id, key_id):
        raise not_found("live API key")
    revoked = ApiKeyRevoked(user_id=user.id, key_id=key_id)
    await api.publish(new_event(revoked, source=SOURCE), "the revocation")


@router.get("/usage")
async def usage(
    user: UserDep, api: ApiDep, db: DbDep, days: Annotated[int, Query(ge=1, le=366)] = 30
) -> Usage:
    """Tokens spent per UTC day, by the app and by each key, and today's against the budget."""
    since = datetime.now(UTC).date() - timedelta(days=days - 1)
    rows = await db.execute(
        select(DailyUsage, ApiKey.name)
        .outerjoin(
            ApiKey, (ApiKey.user_id == DailyUsage.user_id) & (ApiKey.id == DailyUsage.key_id)
        )
        .where(DailyUsage.user_id == user.id, DailyUsage.day >= since)
        .order_by(DailyUsage.day.desc(), DailyUsage.key_id)
    )
    spent = [
        UsageDay(day=row.day, key_id=None if row.key_id == APP else row.key_id, key_name=name,
                 requests=row.requests, prompt_tokens=row.prompt_tokens,
                 completion_tokens=row.completion_tokens)
        for row, name in rows.all()
    ]  # fmt: skip
    return Usage(daily_token_budget=api.settings.daily_token_budget,
                 used_today=await history.tokens_used_today(db, user.id), days=spent)  # fmt: skip
