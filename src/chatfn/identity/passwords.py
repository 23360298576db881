"""Password hashing with argon2id (argon2-cffi), off the event loop.

Hashing costs tens of milliseconds of CPU on purpose, so it runs in a worker thread
and never stalls the other requests of the same process.
"""

from __future__ import annotations

import asyncio

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()
# Verified against when an account has no password, so "no such user" takes as long as
# "wrong password" and the timing does not tell which emails have accounts. A literal, made
# with _hasher's parameters (a test holds them equal): hashing it at import took about 0.1 s
# of each cold start of `api`.
DECOY_HASH = (
    "$argon2id$v=19$m=65536,t=3,p=4$awPM/o5icolajK5cM3nt5Q"
    "$y9fDO+J3RvwvqNzAx6X+erX6t303EPVyXJx0WExSUoU"
)


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(_hasher.hash, password)


async def verify_password(password_hash: str | None, password: str) -> bool:
    def verify() -> bool:
        try:
            return _hasher.verify(password_hash or DECOY_HASH, password) and bool(password_hash)
        except (VerificationError, InvalidHashError):
            return False

    return await asyncio.to_thread(verify)
