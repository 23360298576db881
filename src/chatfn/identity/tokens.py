"""JSON Web Tokens: chatfn's access tokens and an OpenID provider's, issued and verified here.

python-jose is used in this file only, so swapping the library touches nothing else.
The rules every token meets:

- the issuer (`iss`, read before the signature) picks one `Verifier`; each verifier
  holds one key family only (HMAC for chatfn's own tokens, RSA/EC for the provider's),
  so an HS256 token signed with a provider's public key has no key to match;
- `kid` picks the key, and each key allows exactly one algorithm; `jku`, `x5u` and
  inline `jwk` headers are never read;
- `exp`, `iat`, `iss`, `aud` and `sub` are required and checked, `iat` may not lie in
  the future, and the token type must say "access token" so an ID token is refused;
- tokens over `MAX_TOKEN_BYTES` are refused unread;
- every failure is the same `InvalidToken`: the caller learns nothing to probe with.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from uuid import UUID

from jose import jwt
from jose.exceptions import JOSEError
from uuid6 import uuid7

from chatfn.settings import Settings

MAX_TOKEN_BYTES = 8 * 1024
LEEWAY_S = 30
ACCESS_TOKEN_TYPE = "at+jwt"  # noqa: S105 (RFC 9068's header `typ` for access tokens)
HMAC_ALGORITHMS = frozenset({"HS256", "HS384", "HS512"})
ASYMMETRIC_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"}
)
Family = Literal["hmac", "asymmetric"]


class InvalidToken(Exception):
    """The one answer to every bad token (a 401)."""

    def __init__(self) -> None:
        super().__init__("invalid or expired token")


@dataclass(frozen=True)
class VerificationKey:
    kid: str
    algorithm: str
    key: str | dict[str, Any]  # an HMAC secret or a public JWK


@dataclass(frozen=True)
class AccessClaims:
    """What a verified access token says."""

    issuer: str
    subject: str
    token_id: str
    issued_at: float  # seconds since the epoch, to the millisecond when the issuer says so
    expires_at: int
    session_id: str | None = None
    claims: Mapping[str, Any] = field(default_factory=dict)


KeyLookup = Callable[[str], Awaitable[VerificationKey | None]]


@dataclass(frozen=True)
class Verifier:
    """Verifies the tokens of one issuer, with keys of one family."""

    issuer: str
    audience: str
    family: Family
    keys: KeyLookup
    # Decides from the header and claims whether the token is an access token.
    is_access_token: Callable[[Mapping[str, Any], Mapping[str, Any]], bool]

    async def verify(self, token: str, header: Mapping[str, Any]) -> Mapping[str, Any]:
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise InvalidToken
        key = await self.keys(kid)
        if key is None or header.get("alg") != key.algorithm:
            raise InvalidToken
        allowed = HMAC_ALGORITHMS if self.family == "hmac" else ASYMMETRIC_ALGORITHMS
        if key.algorithm not in allowed:
            raise InvalidToken
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key.key,
                algorithms=[key.algorithm],
                audience=self.audience,
                issuer=self.issuer,
                options={
                    "require_exp": True,
                    "require_iat": True,
                    "require_aud": True,
                    "require_iss": True,
                    "require_sub": True,
                    "leeway": LEEWAY_S,
                },
            )
            issued_at = float(claims["iat"])
        # python-jose lets a few malformed claims (`"exp": null`) through as TypeError.
        except (JOSEError, TypeError, ValueError):
            raise InvalidToken from None
        if issued_at > time.time() + LEEWAY_S or not self.is_access_token(header, claims):
            raise InvalidToken
        return claims


async def verify_access_token(token: str, verifiers: Mapping[str, Verifier]) -> AccessClaims:
    """The claims of a valid access token from one of `verifiers` (keyed by issuer)."""
    if len(token) > MAX_TOKEN_BYTES:
        raise InvalidToken
    try:
        header = jwt.get_unverified_header(token)
        issuer = jwt.get_unverified_claims(token).get("iss")
    except JOSEError:
        raise InvalidToken from None
    verifier = verifiers.get(issuer) if isinstance(issuer, str) else None
    if verifier is None:
        raise InvalidToken
    claims = await verifier.verify(token, header)
    return AccessClaims(
        issuer=verifier.issuer,
        subject=str(claims["sub"]),
        token_id=str(claims.get("jti", "")),
        issued_at=float(claims.get("iat_ms", float(claims["iat"]) * 1000)) / 1000,
        expires_at=int(claims["exp"]),
        session_id=claims.get("sid"),
        claims=claims,
    )


# --- chatfn's own tokens --------------------------------------------------------------


def _hmac_key(secret: str) -> VerificationKey:
    # The kid names the secret without revealing it, so a rotation can keep both.
    kid = "hs256-" + hashlib.sha256(secret.encode()).hexdigest()[:12]
    return VerificationKey(kid=kid, algorithm="HS256", key=secret)


def _signing_key(settings: Settings) -> VerificationKey:
    return _hmac_key(settings.jwt_secret.get_secret_value())


def local_verifier(settings: Settings) -> Verifier:
    """The verifier of the tokens `issue_access_token` makes (current and previous secret)."""
    secrets = [settings.jwt_secret, settings.jwt_previous_secret]
    keys = {k.kid: k for k in (_hmac_key(s.get_secret_value()) for s in secrets if s)}

    async def lookup(kid: str) -> VerificationKey | None:
        return keys.get(kid)

    return Verifier(
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        family="hmac",
        keys=lookup,
        is_access_token=lambda header, _claims: _typ(header) == ACCESS_TOKEN_TYPE,
    )


@dataclass(frozen=True)
class IssuedToken:
    token: str
    token_id: str
    expires_in: int


def issue_access_token(
    settings: Settings, *, user_id: UUID, role: str, session_id: UUID
) -> IssuedToken:
    """A short-lived access token for `user_id` in the sign-in `session_id`."""
    now = time.time()
    key = _signing_key(settings)
    token_id = str(uuid7())
    claims = {
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "sub": str(user_id),
        "iat": int(now),
        # Millisecond precision, so a logout-all in the same second tells before from after.
        "iat_ms": int(now * 1000),
        "exp": int(now) + settings.access_token_ttl_s,
        "jti": token_id,
        "sid": str(session_id),
        "role": role,
    }
    headers = {"kid": key.kid, "typ": ACCESS_TOKEN_TYPE}
    token = jwt.encode(claims, str(key.key), algorithm=key.algorithm, headers=headers)
    return IssuedToken(token=token, token_id=token_id, expires_in=settings.access_token_ttl_s)


def _typ(header: Mapping[str, Any]) -> str:
    """The header's `typ`: a media type, so compared without case (RFC 9068 section 4)."""
    typ = header.get("typ")
    return typ.lower() if isinstance(typ, str) else ""


def oidc_is_access_token(header: Mapping[str, Any], claims: Mapping[str, Any]) -> bool:
    """RFC 9068's header type, or Keycloak's `typ: Bearer` claim (its ID tokens say `ID`)."""
    return _typ(header) in {ACCESS_TOKEN_TYPE, "application/at+jwt"} or (
        claims.get("typ") == "Bearer"
    )
