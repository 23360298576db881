"""Personal API keys: minted, kept as a keyed hash, and recognised again.

A key is `sk-chatfn-` and 40 base62 characters (238 bits). The prefix lets secret
scanners (GitHub's push protection, gitleaks, trufflehog) find a leaked one by pattern.

Only HMAC-SHA256 of the key under `API_KEY_HASH_SECRET` is stored. A slow password hash
(argon2, which guards passwords here) buys time against guessing a low-entropy secret;
nothing can guess 238 random bits however fast each try is, so it would only cost 64 MiB
and 0.1 s of a core on every API call, a denial of service for the asking. The key of
the HMAC means a copy of the table alone cannot even confirm that a found string is a
live key: the secret lives elsewhere (chatfn-secrets, not the database).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string
from datetime import UTC, datetime
from uuid import UUID

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from chatfn.models import ApiKey
from chatfn.settings import Settings

PREFIX = "sk-chatfn-"
ALPHABET = string.ascii_letters + string.digits  # no `-` or `_`: a double-click selects it all
LENGTH = 40
HINT_CHARACTERS = 4  # of the random part, shown in lists to tell keys apart
SCOPES = ("chat", "history:read")
# How stale `last_used_at` may be: one write a minute per key, not one per request.
LAST_USED_EVERY_S = 60


def mint() -> str:
    return PREFIX + "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))


def looks_like_key(token: str) -> bool:
    return token.startswith(PREFIX)


def hint(key: str) -> str:
    return f"{key[: len(PREFIX) + HINT_CHARACTERS]}…"


def digest(settings: Settings, key: str) -> bytes:
    secret = settings.api_key_hash_secret.get_secret_value().encode()
    return hmac.new(secret, key.encode(), hashlib.sha256).digest()


async def find(db: AsyncSession, settings: Settings, key: str) -> ApiKey | None:
    """The live key `key` is (not revoked, not expired), or None. Looked up on every
    request, never cached, so a revocation holds at once on every instance."""
    if not looks_like_key(key) or len(key) != len(PREFIX) + LENGTH:
        return None
    found = await db.scalar(select(ApiKey).where(ApiKey.digest == digest(settings, key)))
    now = datetime.now(UTC)
    if found is None or found.revoked_at is not None:
        return None
    if found.expires_at is not None and found.expires_at <= now:
        return None
    return found


async def mark_used(db: AsyncSession, key: ApiKey) -> None:
    """Note that the key was used, at most once a minute (a write per call would make
    every completion a row update)."""
    now = datetime.now(UTC)
    if (
        key.last_used_at is not None
        and (now - key.last_used_at).total_seconds() < LAST_USED_EVERY_S
    ):
        return
    await db.execute(
        update(ApiKey)
        .where(ApiKey.user_id == key.user_id, ApiKey.id == key.id)
        .values(last_used_at=now)
    )
    await db.commit()


async def revoke(db: AsyncSession, user_id: UUID, key_id: UUID) -> bool:
    """Revoke the user's key; False if they have no such live key."""
    revoked = await db.execute(
        update(ApiKey)
        .where(ApiKey.user_id == user_id, ApiKey.id == key_id, ApiKey.revoked_at.is_(None))
        .values(revoked_at=datetime.now(UTC))
    )
    await db.commit()
    return bool(revoked.rowcount)  # type: ignore[attr-defined]  # CursorResult at runtime
