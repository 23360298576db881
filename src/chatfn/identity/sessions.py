"""Sign-in sessions: rotating refresh tokens and their revocation, in PostgreSQL.

A sign-in starts a refresh-token *family*. Each refresh token is used once: using it
marks it used and issues the next one in the family. Presenting a token that was
already used means it was copied, so the whole family is revoked (RFC 9700's
reuse detection). One exception: a client whose refresh answer was lost on the way
presents the same token again, moments later, having never used its successor; it
gets a new successor, and the lost one is retired: presenting a retired token, even
within that grace, is reuse too. Tokens are stored as SHA-256 hashes only.

Access tokens live minutes and are not stored. Each names its sign-in (`sid`, the
family), and every request checks in PostgreSQL that the family is not revoked and its
user not disabled: logging out, logging out everywhere and disabling an account all end
up there, and PostgreSQL keeps them through any Redis restart. An OpenID provider's
token has no family here: logging it out puts its `jti` on a Redis denylist, and logging
out everywhere sets the user's `valid-after` mark there, until such tokens expire.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID

from redis.asyncio import Redis
from sqlalchemy import exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from uuid6 import uuid7

from chatfn.identity.tokens import (
    LEEWAY_S,
    AccessClaims,
    InvalidToken,
    IssuedToken,
    issue_access_token,
)
from chatfn.models import RefreshToken, RefreshTokenFamily, User
from chatfn.redis_client import key
from chatfn.settings import Settings

REFRESH_COOKIE = "chatfn_refresh"
# How long a client may retry a refresh whose answer it never got (a dropped connection,
# a phone going into a tunnel), as Okta's and Auth0's reuse grace periods allow.
RETRY_GRACE = timedelta(seconds=30)


@dataclass(frozen=True)
class Session:
    user: User
    access: IssuedToken
    refresh_token: str


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _now() -> datetime:
    return datetime.now(UTC)


async def _next_session(
    db: AsyncSession, settings: Settings, user: User, family_id: UUID
) -> Session:
    secret = secrets.token_urlsafe(32)
    db.add(
        RefreshToken(
            user_id=user.id,
            token_hash=_hash(secret),
            family_id=family_id,
            expires_at=_now() + timedelta(days=settings.refresh_token_ttl_days),
        )
    )
    access = issue_access_token(settings, user_id=user.id, role=user.role, session_id=family_id)
    # The user id travels in the token so the lookup goes straight to the user's shard.
    return Session(user=user, access=access, refresh_token=f"{user.id}.{secret}")


async def start_session(
    db: AsyncSession, settings: Settings, user: User, user_agent: str = ""
) -> Session:
    """A new sign-in for `user`: a new family and its first tokens."""
    family = RefreshTokenFamily(user_id=user.id, id=uuid7(), user_agent=user_agent[:256])
    db.add(family)
    await db.flush()
    return await _next_session(db, settings, user, family.id)


async def rotate(db: AsyncSession, settings: Settings, presented: str) -> Session:
    """Trade a refresh token for the next one; a reused token revokes its family.

    Raises `InvalidToken` for anything but a live token of an enabled user, unused or
    retried after a lost answer. On reuse the revocation is committed before raising.
    """
    user_part, _, secret = presented.partition(".")
    try:
        user_id = UUID(user_part)
    except ValueError:
        raise InvalidToken from None
    row = (
        await db.execute(
            select(RefreshToken, RefreshTokenFamily, User)
            .join(
                RefreshTokenFamily,
                (RefreshTokenFamily.user_id == RefreshToken.user_id)
                & (RefreshTokenFamily.id == RefreshToken.family_id),
            )
            .join(User, User.id == RefreshToken.user_id)
            .where(RefreshToken.user_id == user_id, RefreshToken.token_hash == _hash(secret))
            .with_for_update(of=RefreshToken)
        )
    ).first()
    if row is None:
        raise InvalidToken
    token, family, user = row.tuple()
    retried = not _retired(token) and await _retried_after_a_lost_answer(db, token)
    if token.used_at is not None and not retried and family.revoked_at is None:
        family.revoked_at = _now()
        await db.commit()
        raise InvalidToken
    if family.revoked_at or token.expires_at < _now() or user.disabled_at:
        raise InvalidToken
    if retried:
        # The successor that never arrived is retired: used and expired when this token
        # was used, so presenting it is reuse (see `_retired`); this token stays
        # retryable for the rest of its window.
        await db.execute(
            update(RefreshToken)
            .where(
                RefreshToken.user_id == token.user_id,
                RefreshToken.family_id == token.family_id,
                RefreshToken.used_at.is_(None),
            )
            .values(used_at=token.used_at, expires_at=token.used_at)
        )
    else:
        token.used_at = _now()
    return await _next_session(db, settings, user, family.id)


def _retired(token: RefreshToken) -> bool:
    """A successor retired by a retry (its `expires_at` set to its `used_at`, which no
    token used in its lifetime has): it never reached the browser, so it is never a retry."""
    return token.used_at is not None and token.expires_at <= token.used_at


async def _retried_after_a_lost_answer(db: AsyncSession, token: RefreshToken) -> bool:
    """Was `token` rotated moments ago, and no token of its family used since? Then its
    client most likely never got the answer holding the successor. A thief replaying a
    copy inside the window is still caught: the client's next refresh presents the
    successor this retires, and that revokes the family."""
    used_at = token.used_at
    if used_at is None or used_at < _now() - RETRY_GRACE:
        return False
    used_since = await db.scalar(
        select(
            exists().where(
                RefreshToken.user_id == token.user_id,
                RefreshToken.family_id == token.family_id,
                RefreshToken.used_at > used_at,
            )
        )
    )
    return not used_since


async def end_session(
    db: AsyncSession, redis: Redis, settings: Settings, claims: AccessClaims
) -> None:
    """Log out this sign-in: its refresh family revoked, its access token denied."""
    if claims.issuer == settings.jwt_issuer and claims.session_id:
        await db.execute(
            update(RefreshTokenFamily)
            .where(
                RefreshTokenFamily.user_id == UUID(claims.subject),
                RefreshTokenFamily.id == UUID(claims.session_id),
                RefreshTokenFamily.revoked_at.is_(None),
            )
            .values(revoked_at=_now())
        )
    else:
        remaining_s = max(1, claims.expires_at + LEEWAY_S - int(time.time()))
        await redis.set(key(settings, "jwt-denied", claims.token_id), 1, ex=remaining_s)


async def end_all_sessions(
    db: AsyncSession, redis: Redis, settings: Settings, user_id: UUID
) -> None:
    """Log out everywhere: every family revoked, every access token issued so far refused.

    Disabling an account calls this too, and sign-in and refresh check `disabled_at`.
    """
    await db.execute(
        update(RefreshTokenFamily)
        .where(RefreshTokenFamily.user_id == user_id, RefreshTokenFamily.revoked_at.is_(None))
        .values(revoked_at=_now())
    )
    # The OpenID provider's tokens have no family: they all expire within their lifetime,
    # so the mark is needed that long.
    await redis.set(
        key(settings, "valid-after", str(user_id)),
        repr(time.time()),
        ex=settings.access_token_ttl_s + LEEWAY_S,
    )


async def is_revoked(
    db: AsyncSession, redis: Redis, settings: Settings, claims: AccessClaims, user_id: UUID
) -> bool:
    """Whether the token's sign-in has ended: logged out (here or everywhere), or its
    user disabled."""
    if claims.issuer == settings.jwt_issuer:  # chatfn's own: an OpenID `sid` is not a family
        try:
            family_id = UUID(claims.session_id or "")
        except ValueError:
            return True
        live = select(
            exists().where(
                RefreshTokenFamily.user_id == user_id,
                RefreshTokenFamily.id == family_id,
                RefreshTokenFamily.revoked_at.is_(None),
                User.id == RefreshTokenFamily.user_id,
                User.disabled_at.is_(None),
            )
        )
        return not await db.scalar(live)
    denied, valid_after = await redis.mget(
        key(settings, "jwt-denied", claims.token_id),
        key(settings, "valid-after", str(user_id)),
    )
    return denied is not None or (
        valid_after is not None and claims.issued_at <= float(valid_after)
    )
