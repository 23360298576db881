"""Standard Webhooks signatures (symmetric, `v1`): the three headers of an outbound post and
their verification for an inbound one.

The signed content is `webhook-id.webhook-timestamp.body` (the body's exact bytes), the MAC
HMAC-SHA256 with the secret's decoded bytes, the header `v1,<base64>`; several signatures are
space-separated, which is how a rotated secret overlaps with the old one (sign with both, a
receiver accepts either).

Written here rather than taken from `standardwebhooks` (the spec authors' package, which
`svix` wraps; zero dependencies, typed, released 2026-07): its `verify` turns a malformed
signature header into a bare ValueError or binascii.Error (`v1` alone, bad base64), and any
body that is not UTF-8 into a UnicodeDecodeError, so a hostile header would surface as a 500
instead of a refusal; its tolerance is fixed at five minutes, it takes one secret per object
and has no secret generator. The scheme itself is the few lines below; the tests check it
against `svix`'s verifier and an implementation written from the spec.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from collections.abc import Mapping
from secrets import token_bytes

SECRET_PREFIX = "whsec_"  # noqa: S105 (the spec's marker, not a secret)
SECRET_BYTES = 32
# The spec's bounds for a symmetric secret (192 to 512 bits).
MIN_SECRET_BYTES, MAX_SECRET_BYTES = 24, 64
DEFAULT_TOLERANCE = 300.0  # seconds either side of now; the spec's replay window


class WebhookVerificationError(Exception):
    """An inbound post that is not proven to come from the holder of a secret."""


class MissingHeader(WebhookVerificationError):
    pass


class TimestampOutOfTolerance(WebhookVerificationError):
    pass


class BadSignature(WebhookVerificationError):
    pass


def new_secret() -> str:
    """A fresh endpoint secret, `whsec_` and the base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(token_bytes(SECRET_BYTES)).decode()


def _key(secret: str) -> bytes:
    encoded = secret.removeprefix(SECRET_PREFIX)
    try:
        key = base64.b64decode(encoded, validate=True)
    except binascii.Error:
        raise ValueError("a webhook secret is whsec_ and base64") from None
    if not MIN_SECRET_BYTES <= len(key) <= MAX_SECRET_BYTES:
        raise ValueError(f"a webhook secret holds {MIN_SECRET_BYTES}-{MAX_SECRET_BYTES} bytes")
    return key


def _mac(key: bytes, msg_id: str, timestamp: str, body: bytes) -> bytes:
    signed = b"%s.%s.%s" % (msg_id.encode(), timestamp.encode(), body)
    return hmac.new(key, signed, hashlib.sha256).digest()


def sign(msg_id: str, body: bytes, *secrets: str, timestamp: int | None = None) -> dict[str, str]:
    """The `webhook-id`, `webhook-timestamp` and `webhook-signature` headers for `body`,
    signed with every secret given (the current one, then any still being rotated out).
    `timestamp` is the attempt's (unix seconds, now by default): each retry signs anew."""
    if not secrets:
        raise ValueError("sign needs at least one secret")
    if not msg_id or "." in msg_id:
        # The id is a field of the dot-joined signed content: a dot would let a forger
        # move the boundary between id, timestamp and body.
        raise ValueError("a webhook id is non-empty and has no '.'")
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    signatures = (_mac(_key(s), msg_id, stamp, body) for s in secrets)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": stamp,
        "webhook-signature": " ".join(f"v1,{base64.b64encode(s).decode()}" for s in signatures),
    }


def verify(
    body: bytes,
    headers: Mapping[str, str],
    *secrets: str,
    tolerance: float = DEFAULT_TOLERANCE,
    now: float | None = None,
) -> None:
    """Return if `headers` carry a valid `v1` signature of `body` by any of `secrets` with a
    timestamp within `tolerance` seconds of now; raise a WebhookVerificationError otherwise.
    `headers` may be any mapping (Starlette's Headers too); names are matched in any case."""
    if not secrets:
        raise ValueError("verify needs at least one secret")
    found = {name.lower(): value for name, value in headers.items()}
    msg_id = found.get("webhook-id")
    stamp = found.get("webhook-timestamp")
    signature = found.get("webhook-signature")
    if not (msg_id and stamp and signature):
        raise MissingHeader("webhook-id, webhook-timestamp and webhook-signature are required")
    if not (stamp.isascii() and stamp.isdigit()):
        raise TimestampOutOfTolerance("webhook-timestamp is not unix seconds")
    skew = int(stamp) - (time.time() if now is None else now)
    if abs(skew) > tolerance:
        raise TimestampOutOfTolerance(
            f"webhook-timestamp is {abs(skew):.0f} s in the {'future' if skew > 0 else 'past'}"
        )
    expected = [_mac(_key(s), msg_id, stamp, body) for s in secrets]
    for candidate in _v1_signatures(signature):
        if any(hmac.compare_digest(candidate, e) for e in expected):
            return
    raise BadSignature("no v1 signature matches")


def _v1_signatures(header: str) -> list[bytes]:
    """The decoded `v1` signatures of a header; other versions (`v1a`) and malformed
    entries are skipped, as the spec lets a receiver try each until one matches."""
    decoded = []
    for entry in header.split():
        version, _, value = entry.partition(",")
        if version != "v1":
            continue
        try:
            decoded.append(base64.b64decode(value, validate=True))
        except binascii.Error:
            continue
    return decoded
