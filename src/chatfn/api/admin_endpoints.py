"""`/api/admin`: users and usage, for the `admin` role (the policy is in chatfn/policy)."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import partial
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query
from pydantic import BaseModel
from sqlalchemy import func, select

from chatfn.api.problems import not_found
from chatfn.api.security import SOURCE, ApiDep, DbDep, requires
from chatfn.events.catalog import UserDeleted, UserDisabled, UserEnabled, new_event
from chatfn.identity import accounts
from chatfn.identity.sessions import end_all_sessions
from chatfn.models import Conversation, Message, User

router = APIRouter(prefix="/api/admin", tags=["admin"])


class Usage(BaseModel):
    conversations: int = 0
    messages: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0


class UserSummary(BaseModel):
    id: UUID
    email: str
    display_name: str
    role: str
    disabled: bool
    created_at: datetime
    usage: Usage


class UserPage(BaseModel):
    users: list[UserSummary]
    next_cursor: UUID | None


MESSAGES = func.count(Message.id)
PROMPT_TOKENS = func.coalesce(func.sum(Message.prompt_tokens), 0)
COMPLETION_TOKENS = func.coalesce(func.sum(Message.completion_tokens), 0)


@router.get("/users", dependencies=[requires("users", "read")])
async def list_users(
    db: DbDep,
    cursor: UUID | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
) -> UserPage:
    """Users oldest first (ids are UUIDv7, so in creation order), with what each has used."""
    query = select(User).order_by(User.id).limit(limit + 1)
    if cursor is not None:
        query = query.where(User.id > cursor)
    users = list((await db.scalars(query)).all())
    page, more = users[:limit], len(users) > limit
    ids = [user.id for user in page]
    conversations = dict(
        (await db.execute(
            select(Conversation.user_id, func.count()).where(Conversation.user_id.in_(ids))
            .group_by(Conversation.user_id)
        )).all()
    )  # fmt: skip
    messages = {
        row[0]: row[1:]
        for row in (
            await db.execute(
                select(Message.user_id, MESSAGES, PROMPT_TOKENS, COMPLETION_TOKENS)
                .where(Message.user_id.in_(ids))
                .group_by(Message.user_id)
            )
        ).all()
    }
    summaries = []
    for user in page:
        count, prompt, completion = messages.get(user.id, (0, 0, 0))
        usage = Usage(
            conversations=conversations.get(user.id, 0),
            messages=count,
            prompt_tokens=prompt,
            completion_tokens=completion,
        )
        summaries.append(
            UserSummary(
                id=user.id,
                email=user.email,
                display_name=user.display_name,
                role=user.role,
                disabled=user.disabled_at is not None,
                created_at=user.created_at,
                usage=usage,
            )
        )
    return UserPage(users=summaries, next_cursor=page[-1].id if more else None)


@router.get("/usage", dependencies=[requires("usage", "read")])
async def usage(db: DbDep) -> Usage:
    """Totals over every user."""
    totals = select(MESSAGES, PROMPT_TOKENS, COMPLETION_TOKENS)
    count, prompt, completion = (await db.execute(totals)).one()
    conversations = await db.scalar(select(func.count()).select_from(Conversation)) or 0
    return Usage(
        conversations=conversations,
        messages=count,
        prompt_tokens=prompt,
        completion_tokens=completion,
    )


async def _set_disabled(db: DbDep, api: ApiDep, user_id: UUID, disabled: bool) -> None:
    """The account's state, after its fact: an event first, so a failure to publish
    changes nothing and the admin's retry does it all."""
    user = await db.get(User, user_id)
    if user is None:
        raise not_found("user")
    user.disabled_at = datetime.now(UTC) if disabled else None
    if disabled:
        await end_all_sessions(db, api.runtime.redis, api.settings, user_id)
    fact = UserDisabled(user_id=user_id) if disabled else UserEnabled(user_id=user_id)
    await api.publish(new_event(fact, source=SOURCE), "the change")
    await db.commit()


MAY_DISABLE = [requires("users", "disable")]


@router.post("/users/{user_id}/disable", status_code=204, dependencies=MAY_DISABLE)
async def disable_user(user_id: UUID, db: DbDep, api: ApiDep) -> None:
    """Lock the user out: their sessions end and their access tokens stop working now."""
    await _set_disabled(db, api, user_id, disabled=True)


@router.post("/users/{user_id}/enable", status_code=204, dependencies=MAY_DISABLE)
async def enable_user(user_id: UUID, db: DbDep, api: ApiDep) -> None:
    """Let a disabled user sign in again."""
    await _set_disabled(db, api, user_id, disabled=False)


@router.delete("/users/{user_id}", status_code=204, dependencies=[requires("users", "delete")])
async def delete_user(user_id: UUID, db: DbDep, api: ApiDep) -> None:
    """Delete the account and everything of it (chatfn.identity.accounts.delete_account)."""
    user = await db.get(User, user_id)
    if user is None:
        raise not_found("user")
    await end_all_sessions(db, api.runtime.redis, api.settings, user_id)
    deleted = UserDeleted(user_id=user_id)
    await accounts.delete_account(db, user, partial(api.publish_fact, deleted, "the deletion"))
