"""An external OpenID provider's signing keys: discovery, then its JWKS, cached.

The key set is cached for `OIDC_JWKS_TTL_S`. A token whose `kid` is unknown (the
provider rotated its keys) triggers one refetch, shared by every request waiting
for it (single flight) and at most one per `REFETCH_INTERVAL_S`, so a flood of
tokens with made-up `kid`s cannot turn into a flood of fetches. When a fetch fails
the last good set stays in use, and the next try waits for `REFETCH_INTERVAL_S` too.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import httpx

from chatfn.identity.tokens import (
    ASYMMETRIC_ALGORITHMS,
    VerificationKey,
    Verifier,
    oidc_is_access_token,
)
from chatfn.settings import Settings

log = logging.getLogger(__name__)

REFETCH_INTERVAL_S = 10.0
FETCH_TIMEOUT_S = 5.0
# A JWK without `alg` gets the algorithm its key type implies, and only that one.
DEFAULT_ALGORITHMS = {("RSA", None): "RS256", ("EC", "P-256"): "ES256", ("EC", "P-384"): "ES384"}
PRIVATE_PARAMETERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "k"})


def _verification_key(jwk: dict[str, Any]) -> VerificationKey | None:
    """A signing key from a JWK, or None for anything else (encryption keys, secrets...)."""
    kid, kty = jwk.get("kid"), str(jwk.get("kty"))
    if not isinstance(kid, str) or jwk.get("use", "sig") != "sig" or PRIVATE_PARAMETERS & set(jwk):
        return None
    curve = str(jwk.get("crv")) if kty == "EC" else None
    algorithm = jwk.get("alg") or DEFAULT_ALGORITHMS.get((kty, curve))
    if algorithm not in ASYMMETRIC_ALGORITHMS or kty not in {"RSA", "EC"}:
        return None
    return VerificationKey(kid=kid, algorithm=algorithm, key=jwk)


class JwksCache:
    def __init__(self, issuer: str, client: httpx.AsyncClient, ttl_s: float) -> None:
        self.issuer = issuer.rstrip("/")
        self.client = client
        self.ttl_s = ttl_s
        self.keys: dict[str, VerificationKey] = {}
        self._fetched_at = -float("inf")
        self._attempted_at = -float("inf")
        self._lock = asyncio.Lock()

    async def lookup(self, kid: str) -> VerificationKey | None:
        now = time.monotonic()
        stale = now - self._fetched_at > self.ttl_s
        due = now - self._attempted_at >= REFETCH_INTERVAL_S
        if due and (stale or kid not in self.keys):
            await self.refresh(asked_at=now)
        return self.keys.get(kid)

    async def refresh(self, asked_at: float) -> None:
        async with self._lock:
            if self._attempted_at >= asked_at:
                return  # another request fetched while this one waited
            self._attempted_at = time.monotonic()
            try:
                keys = await self._fetch()
            except Exception as exc:  # unreachable, failing or malformed: keep the last good set
                log.warning("JWKS of %s not refreshed, keeping %d keys: %s", self.issuer,
                            len(self.keys), exc)  # fmt: skip
                return
            self.keys = keys
            self._fetched_at = time.monotonic()

    async def _fetch(self) -> dict[str, VerificationKey]:
        discovery_url = f"{self.issuer}/.well-known/openid-configuration"
        discovery = await self._get_json(discovery_url)
        if discovery.get("issuer", "").rstrip("/") != self.issuer:
            raise ValueError(f"{discovery_url} names another issuer: {discovery.get('issuer')!r}")
        jwks = await self._get_json(str(discovery["jwks_uri"]))
        keys = [_verification_key(jwk) for jwk in jwks.get("keys", []) if isinstance(jwk, dict)]
        usable = {key.kid: key for key in keys if key is not None}
        if not usable:  # an empty set is a broken answer, not a revocation of every key
            raise ValueError(f"{discovery['jwks_uri']} holds no usable signing key")
        return usable

    async def _get_json(self, url: str) -> dict[str, Any]:
        response = await self.client.get(url, timeout=FETCH_TIMEOUT_S)
        response.raise_for_status()
        body = response.json()
        if not isinstance(body, dict):
            raise ValueError(f"{url} did not answer a JSON object")
        return body


def oidc_verifier(settings: Settings, client: httpx.AsyncClient) -> Verifier:
    """The verifier of the provider's access tokens (asymmetric keys only)."""
    cache = JwksCache(settings.oidc_issuer, client, settings.oidc_jwks_ttl_s)
    return Verifier(
        issuer=settings.oidc_issuer,
        audience=settings.oidc_audience,
        family="asymmetric",
        keys=cache.lookup,
        is_access_token=oidc_is_access_token,
    )
