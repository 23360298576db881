"""Accounts: creating a user is deciding who owns an email, once.

`register` runs inside the consumer's transaction. The email claim's primary key
settles races: of two concurrent sign-ups for `A@x.com` and `a@x.com` (the same email
once normalised), one inserts the claim and the other waits for it, then finds it
taken. Run again for the same command it gives the same answer and writes nothing.

The password's argon2 hash never enters the command event, since the topic is kept
forever: `api` leaves it in Redis under the new user's id for a few minutes, and
`register_user` takes it from there and deletes it once the user is written.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Awaitable, Callable
from uuid import UUID

from redis.asyncio import Redis
from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from uuid6 import uuid7

from chatfn.events.catalog import UserRegistered, UserRegisterRejected, UserRegisterRequested
from chatfn.identity.tokens import AccessClaims
from chatfn.models import (
    ApiKey,
    InboundIntegration,
    Share,
    User,
    UserEmail,
    UserIdentity,
    WebhookEndpoint,
)
from chatfn.redis_client import key
from chatfn.settings import Settings

# Longer than a sign-up waits (REGISTER_TIMEOUT_S) plus the broker's retries of the
# command: a command that comes later than this is refused, and the user signs up again.
HANDOFF_TTL_S = 300


def normalize_email(email: str) -> str:
    """One spelling per mailbox as far as chatfn is concerned: NFKC, trimmed, lower case."""
    return unicodedata.normalize("NFKC", email).strip().lower()


def _handoff_key(settings: Settings, user_id: UUID) -> str:
    return key(settings, "register-handoff", str(user_id))


async def hand_off_password_hash(
    redis: Redis, settings: Settings, user_id: UUID, password_hash: str
) -> None:
    await redis.set(_handoff_key(settings, user_id), password_hash, ex=HANDOFF_TTL_S)


async def drop_password_hash(redis: Redis, settings: Settings, user_id: UUID) -> None:
    await redis.delete(_handoff_key(settings, user_id))


async def register(
    db: AsyncSession, redis: Redis, settings: Settings, command: UserRegisterRequested
) -> UserRegistered | UserRegisterRejected:
    email = normalize_email(command.email)
    existing = await db.get(User, command.user_id)
    if existing is None:
        password_hash = await redis.get(_handoff_key(settings, command.user_id))
        if password_hash is None:
            return UserRegisterRejected(user_id=command.user_id, reason="handoff_expired")
        claimed = await db.execute(
            insert(UserEmail)
            .values(email=email, user_id=command.user_id)
            .on_conflict_do_nothing(index_elements=["email"])
            .returning(UserEmail.user_id)
        )
        if claimed.first() is None:
            return UserRegisterRejected(user_id=command.user_id, reason="email_taken")
        existing = User(
            id=command.user_id,
            email=email,
            password_hash=password_hash,
            display_name=command.display_name,
            role="admin" if email in settings.admin_emails else "user",
        )
        db.add(existing)
    return UserRegistered(
        user_id=existing.id, email=existing.email, display_name=existing.display_name
    )


async def user_by_email(db: AsyncSession, email: str) -> User | None:
    claim = await db.scalar(
        select(UserEmail.user_id).where(UserEmail.email == normalize_email(email))
    )
    return None if claim is None else await db.get(User, claim)


async def provision_identity(
    db: AsyncSession, claims: AccessClaims, announce: Callable[[User], Awaitable[None]]
) -> User:
    """The user behind an OpenID provider's token, created the first time it is seen;
    `announce` publishes the new account's fact before it is committed (if it cannot,
    the account is not created, and the next request tries again).

    The provider's email is kept for display but never claimed: an account here with
    that email stays a separate account, so a provider cannot take one over.
    """
    lookup = select(UserIdentity.user_id).where(
        UserIdentity.issuer == claims.issuer, UserIdentity.subject == claims.subject
    )
    user_id = await db.scalar(lookup)
    if user_id is None:
        email = normalize_email(str(claims.claims.get("email", "")))
        name = claims.claims.get("name") or claims.claims.get("preferred_username") or email
        user = User(id=uuid7(), email=email, display_name=str(name or "You")[:100], role="user")
        db.add(user)
        await db.flush()
        identity = insert(UserIdentity).values(
            issuer=claims.issuer, subject=claims.subject, user_id=user.id
        )
        won = await db.execute(identity.on_conflict_do_nothing().returning(UserIdentity.user_id))
        if won.first() is None:  # a concurrent request provisioned it first
            await db.rollback()
            user_id = await db.scalar(lookup)
        else:
            await announce(user)
            await db.commit()
            user_id = user.id
    provisioned = await db.get(User, user_id)
    assert provisioned is not None
    return provisioned


# What `api` itself keeps of a user beside the account: credentials, integrations, shared
# links. The rest follows `io.chatfn.user.deleted`: persist_history drops the chat,
# `webhooks` its deliveries.
API_OWNED = (UserEmail, UserIdentity, ApiKey, InboundIntegration, WebhookEndpoint, Share)


async def delete_account(
    db: AsyncSession, user: User, announce: Callable[[], Awaitable[None]]
) -> None:
    """Delete `user` and what `api` keeps of them, once `announce` has published the
    deletion (so a broker that refuses it leaves the account as it was). The caller has
    ended the user's sessions; commits."""
    await announce()
    for table in API_OWNED:
        await db.execute(delete(table).where(table.user_id == user.id))
    await db.delete(user)  # its sessions go with it (ON DELETE CASCADE)
    await db.commit()
