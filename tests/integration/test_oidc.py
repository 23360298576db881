"""Access tokens of an external OpenID provider, verified against the JWKS it serves over HTTP."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from chatfn.identity import oidc
from chatfn.settings import Settings
from tests.utils.jwt_attacks import claims_for, forge, hs256
from tests.utils.oidc import Provider, api_client, ec_key, rsa_key, serve_provider

AUDIENCE = "chatfn-web"


@pytest.fixture
async def provider() -> AsyncIterator[Provider]:
    async with serve_provider([rsa_key("rsa-1"), ec_key("ec-1")]) as provider:
        yield provider


@pytest.fixture
async def attacker() -> AsyncIterator[Provider]:
    async with serve_provider([rsa_key("attacker-1")]) as attacker:
        yield attacker


def provider_settings(
    settings: Settings, name: str, provider: Provider, **changes: Any
) -> Settings:
    update = {"oidc_issuer": provider.issuer, "oidc_audience": AUDIENCE, "redis_prefix": name}
    return settings.model_copy(update=update | changes)


@pytest.fixture
async def api(
    settings: Settings, name: str, provider: Provider
) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(provider_settings(settings, name, provider)) as client:
        yield client


def access_claims(provider: Provider, **changes: Any) -> dict[str, Any]:
    """An access token's claims as Keycloak issues them (claim `typ: Bearer`)."""
    return claims_for(provider.issuer, AUDIENCE, typ="Bearer") | changes


async def me(api: httpx.AsyncClient, token: str) -> httpx.Response:
    return await api.get("/api/me", headers={"authorization": f"Bearer {token}"})


async def test_rs256_and_es256_access_tokens_are_accepted_and_a_subject_is_one_user(
    api: httpx.AsyncClient, provider: Provider
) -> None:
    rsa, ec = provider.keys
    alice = access_claims(provider, preferred_username="alice")
    alice_rfc_9068 = claims_for(provider.issuer, AUDIENCE, sub=alice["sub"])  # no claim typ
    bob = access_claims(provider)

    first = await me(api, rsa.sign(alice))
    again = await me(api, ec.sign(alice_rfc_9068, typ="at+jwt"))
    other = await me(api, rsa.sign(bob))

    assert [r.status_code for r in (first, again, other)] == [200, 200, 200], other.text
    assert first.json()["id"] == again.json()["id"] != other.json()["id"]
    assert first.json()["display_name"] == "alice"


async def test_a_rotated_key_is_trusted_after_one_refetch_without_waiting_for_the_ttl(
    api: httpx.AsyncClient, provider: Provider, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(oidc, "REFETCH_INTERVAL_S", 0.0)
    old, new = provider.keys[0], rsa_key("rsa-2")
    assert (await me(api, old.sign(access_claims(provider)))).status_code == 200

    provider.keys = [new]
    rotated = await me(api, new.sign(access_claims(provider)))

    assert rotated.status_code == 200
    assert provider.jwks_requests == 2
    assert (await me(api, old.sign(access_claims(provider)))).status_code == 401


class Clock:
    """The clock of the oidc module only: moved on instead of waited for."""

    def __init__(self) -> None:
        self.ahead_s = 0.0

    def monotonic(self) -> float:
        return time.monotonic() + self.ahead_s


async def test_a_flood_of_made_up_kids_costs_the_provider_one_fetch(
    api: httpx.AsyncClient, provider: Provider, monkeypatch: pytest.MonkeyPatch
) -> None:
    # However long the flood takes on a busy machine, it is within one interval.
    monkeypatch.setattr(oidc, "REFETCH_INTERVAL_S", 60.0)
    clock = Clock()
    monkeypatch.setattr(oidc, "time", clock)
    key = provider.keys[0]
    assert (await me(api, key.sign(access_claims(provider)))).status_code == 200
    clock.ahead_s += 60.0  # long enough since that fetch for an unknown kid to refetch

    tokens = [key.sign(access_claims(provider), kid=f"made-up-{n}") for n in range(100)]
    answers = await asyncio.gather(*(me(api, token) for token in tokens))

    assert {answer.status_code for answer in answers} == {401}
    assert provider.jwks_requests == 2  # the first fetch, then one for the whole flood


async def test_the_last_good_keys_stay_in_use_when_the_jwks_endpoint_fails(
    settings: Settings, name: str, provider: Provider, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(oidc, "REFETCH_INTERVAL_S", 0.0)
    stale_at_once = provider_settings(settings, name, provider, oidc_jwks_ttl_s=0)
    key = provider.keys[0]

    async with api_client(stale_at_once) as api:
        assert (await me(api, key.sign(access_claims(provider)))).status_code == 200
        provider.failing = True
        during_outage = await me(api, key.sign(access_claims(provider)))

    assert during_outage.status_code == 200
    assert provider.jwks_requests == 2


async def test_while_the_jwks_endpoint_fails_it_is_not_asked_again_on_every_request(
    settings: Settings, name: str, provider: Provider
) -> None:
    stale_at_once = provider_settings(settings, name, provider, oidc_jwks_ttl_s=0)
    key = provider.keys[0]

    async with api_client(stale_at_once) as api:
        assert (await me(api, key.sign(access_claims(provider)))).status_code == 200
        provider.failing = True
        answers = [await me(api, key.sign(access_claims(provider))) for _ in range(10)]

    assert {answer.status_code for answer in answers} == {200}
    assert provider.jwks_requests == 1  # the next refetch waits for REFETCH_INTERVAL_S


BROKEN_DISCOVERIES: dict[str, Callable[[Provider], dict[str, Any]]] = {
    "no jwks_uri": lambda p: {"issuer": p.issuer},
    "issuer null": lambda p: {"issuer": None, "jwks_uri": p.jwks_uri},
}


@pytest.mark.parametrize("broken", BROKEN_DISCOVERIES)
async def test_the_last_good_keys_stay_in_use_when_the_discovery_document_is_broken(
    broken: str,
    settings: Settings,
    name: str,
    provider: Provider,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(oidc, "REFETCH_INTERVAL_S", 0.0)
    stale_at_once = provider_settings(settings, name, provider, oidc_jwks_ttl_s=0)
    key = provider.keys[0]

    async with api_client(stale_at_once) as api:
        assert (await me(api, key.sign(access_claims(provider)))).status_code == 200
        provider.discovery = BROKEN_DISCOVERIES[broken](provider)
        answer = await me(api, key.sign(access_claims(provider)))

    assert answer.status_code == 200


# Each makes a token from the provider, the attacker and a genuine token's claims.
Forgery = Callable[[Provider, Provider, dict[str, Any]], str]
FORGERIES: dict[str, Forgery] = {
    "an ID token": lambda p, a, c: p.keys[0].sign(c | {"typ": "ID"}),
    "a foreign aud": lambda p, a, c: p.keys[0].sign(c | {"aud": "another-app"}),
    "a wrong iss": lambda p, a, c: p.keys[0].sign(c | {"iss": "https://evil.example"}),
    "an expired token": lambda p, a, c: p.keys[0].sign(
        c | {"iat": int(time.time()) - 900, "exp": int(time.time()) - 120}
    ),
    "a key not in the JWKS, under the provider's kid": lambda p, a, c: rsa_key("rsa-1").sign(c),
    "a key not in the JWKS, under its own kid": lambda p, a, c: rsa_key("rsa-x").sign(c),
    "HS256 keyed with the provider's public key PEM": lambda p, a, c: forge(
        {"alg": "HS256", "typ": "JWT", "kid": p.keys[0].kid}, c, hs256(p.keys[0].public_pem)
    ),
    "a jku header naming an attacker's JWKS": lambda p, a, c: a.keys[0].sign(c, jku=a.jwks_uri),
}


@pytest.mark.parametrize("forgery", FORGERIES)
async def test_a_forged_or_misdirected_token_is_401_beside_a_genuine_one(
    forgery: str, api: httpx.AsyncClient, provider: Provider, attacker: Provider
) -> None:
    claims = access_claims(provider)
    genuine = await me(api, provider.keys[0].sign(claims))

    refused = await me(api, FORGERIES[forgery](provider, attacker, claims))

    assert genuine.status_code == 200
    assert refused.status_code == 401
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.headers["www-authenticate"] == "Bearer"
    assert refused.json()["status"] == 401
    assert attacker.jwks_requests == 0
