"""Every known way to get a bad JWT accepted ends in the same InvalidToken."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

import pytest

from chatfn.identity.tokens import (
    InvalidToken,
    VerificationKey,
    Verifier,
    issue_access_token,
    local_verifier,
    oidc_is_access_token,
    verify_access_token,
)
from chatfn.settings import Settings
from tests.utils.jwt_attacks import (
    Signer,
    claims_for,
    forge,
    hs256,
    local_attacks,
    new_rsa_key,
    public_der,
    public_jwk,
    public_pem,
    rs256,
)

SETTINGS = Settings(JWT_SECRET="unit-test-secret-" + "x" * 32)
PROVIDER = "https://id.example.com/realms/chatfn"
PROVIDER_KEY = new_rsa_key()
ATTACKER = new_rsa_key()
KEYS = {"rsa-1": VerificationKey("rsa-1", "RS256", public_jwk(PROVIDER_KEY, "rsa-1"))}


async def lookup(kid: str) -> VerificationKey | None:
    return KEYS.get(kid)


VERIFIERS = {
    SETTINGS.jwt_issuer: local_verifier(SETTINGS),
    PROVIDER: Verifier(issuer=PROVIDER, audience="chatfn-api", family="asymmetric", keys=lookup,
                       is_access_token=oidc_is_access_token),
}  # fmt: skip


def provider_token(header: dict[str, Any], sign: Signer | None = None, **claims: Any) -> str:
    """A token as the provider would sign it (its key, kid, issuer), changed by the arguments."""
    signer = sign or rs256(PROVIDER_KEY)
    return forge({"kid": "rsa-1"} | header, claims_for(PROVIDER, "chatfn-api", **claims), signer)


async def test_a_token_chatfn_issued_is_accepted() -> None:
    user_id, session_id = uuid4(), uuid4()
    issued = issue_access_token(SETTINGS, user_id=user_id, role="user", session_id=session_id)

    claims = await verify_access_token(issued.token, VERIFIERS)

    assert (claims.subject, claims.session_id) == (str(user_id), str(session_id))
    assert claims.token_id == issued.token_id


async def test_a_provider_access_token_is_accepted() -> None:
    token = provider_token({"alg": "RS256", "typ": "JWT"}, typ="Bearer")

    assert (await verify_access_token(token, VERIFIERS)).issuer == PROVIDER


async def test_tokens_of_the_previous_secret_stay_valid_during_a_rotation() -> None:
    issued = issue_access_token(SETTINGS, user_id=uuid4(), role="user", session_id=uuid4())
    rotated = SETTINGS.model_copy(
        update={
            "jwt_secret": Settings(JWT_SECRET="new-" + "y" * 40).jwt_secret,
            "jwt_previous_secret": SETTINGS.jwt_secret,
        }
    )

    await verify_access_token(issued.token, {rotated.jwt_issuer: local_verifier(rotated)})


LOCAL_ATTACKS = local_attacks(SETTINGS)
PROVIDER_ATTACKS = {
    "HS256 keyed with the provider's PEM public key": lambda: provider_token(
        {"alg": "HS256", "typ": "at+jwt"}, hs256(public_pem(PROVIDER_KEY))
    ),
    "HS256 keyed with the provider's DER public key": lambda: provider_token(
        {"alg": "HS256", "typ": "at+jwt"}, hs256(public_der(PROVIDER_KEY))
    ),
    "the provider's ID token": lambda: provider_token({"alg": "RS256", "typ": "JWT"}, typ="ID"),
    "the provider's token for another audience": lambda: provider_token(
        {"alg": "RS256", "typ": "at+jwt"}, aud="another-app"
    ),
    "an attacker's key inlined as jwk": lambda: provider_token(
        {"alg": "RS256", "typ": "at+jwt", "jwk": public_jwk(ATTACKER, "rsa-1")}, rs256(ATTACKER)
    ),
}


@pytest.mark.parametrize("attack", LOCAL_ATTACKS)
async def test_every_attack_on_chatfn_tokens_is_one_invalid_token(attack: str) -> None:
    with pytest.raises(InvalidToken) as refused:
        await verify_access_token(LOCAL_ATTACKS[attack], VERIFIERS)
    assert str(refused.value) == "invalid or expired token"


@pytest.mark.parametrize("attack", PROVIDER_ATTACKS)
async def test_every_attack_on_provider_tokens_is_one_invalid_token(attack: str) -> None:
    with pytest.raises(InvalidToken):
        await verify_access_token(PROVIDER_ATTACKS[attack](), VERIFIERS)
