"""Every known way to get a bad JWT accepted ends in the same InvalidToken."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable, Mapping
from typing import Any
from uuid import uuid4

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.hashes import SHA256
from jose import jwk

from chatfn.auth import (
    InvalidToken,
    VerificationKey,
    Verifier,
    issue_access_token,
    local_verifier,
    oidc_is_access_token,
    verify_access_token,
)
from chatfn.settings import Settings

SETTINGS = Settings(JWT_SECRET="unit-test-secret-" + "x" * 32)
PROVIDER = "https://id.example.com/realms/chatfn"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forge(
    header: Mapping[str, Any], claims: Mapping[str, Any], sign: Callable[[bytes], bytes]
) -> str:
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"
    return f"{signing_input}.{b64(sign(signing_input.encode()))}"


def hs256(secret: bytes) -> Callable[[bytes], bytes]:
    return lambda data: hmac.new(secret, data, hashlib.sha256).digest()


def rs256(key: rsa.RSAPrivateKey) -> Callable[[bytes], bytes]:
    return lambda data: key.sign(data, padding.PKCS1v15(), SHA256())


def good_claims(**changes: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {
        "iss": SETTINGS.jwt_issuer,
        "aud": SETTINGS.jwt_audience,
        "sub": str(uuid4()),
        "iat": now,
        "exp": now + 300,
        "jti": str(uuid4()),
    }
    return claims | changes


def local_header() -> dict[str, Any]:
    """The header chatfn's own tokens carry (kid of the current secret)."""
    token = issue_access_token(SETTINGS, user_id=uuid4(), role="user", session_id=uuid4()).token
    header: dict[str, Any] = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    return header


SECRET = SETTINGS.jwt_secret.get_secret_value().encode()
PROVIDER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
ATTACKER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
PUBLIC_PEM = PROVIDER_KEY.public_key().public_bytes(
    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
)
PUBLIC_DER = PROVIDER_KEY.public_key().public_bytes(
    serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
)


def provider_verifier() -> Verifier:
    keys = {
        "rsa-1": VerificationKey("rsa-1", "RS256", jwk.construct(PUBLIC_PEM, "RS256").to_dict())
    }

    async def lookup(kid: str) -> VerificationKey | None:
        return keys.get(kid)

    return Verifier(
        issuer=PROVIDER,
        audience="chatfn-api",
        family="asymmetric",
        keys=lookup,
        is_access_token=oidc_is_access_token,
    )


VERIFIERS = {SETTINGS.jwt_issuer: local_verifier(SETTINGS), PROVIDER: provider_verifier()}


def provider_claims(**changes: Any) -> dict[str, Any]:
    return good_claims(iss=PROVIDER, aud="chatfn-api", typ="Bearer") | changes


async def test_a_token_chatfn_issued_is_accepted() -> None:
    user_id, session_id = uuid4(), uuid4()
    issued = issue_access_token(SETTINGS, user_id=user_id, role="user", session_id=session_id)

    claims = await verify_access_token(issued.token, VERIFIERS)

    assert (claims.subject, claims.session_id) == (str(user_id), str(session_id))
    assert claims.token_id == issued.token_id


async def test_a_provider_token_is_accepted() -> None:
    token = forge(
        {"alg": "RS256", "kid": "rsa-1", "typ": "JWT"}, provider_claims(), rs256(PROVIDER_KEY)
    )

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


ATTACKS: dict[str, Callable[[], str]] = {
    "alg none": lambda: forge(local_header() | {"alg": "none"}, good_claims(), lambda _: b""),
    "alg None spelled otherwise": lambda: forge(
        local_header() | {"alg": "None"}, good_claims(), lambda _: b""
    ),
    "HS256 with the provider's PEM public key": lambda: forge(
        {"alg": "HS256", "kid": "rsa-1", "typ": "at+jwt"}, provider_claims(), hs256(PUBLIC_PEM)
    ),
    "HS256 with the provider's DER public key": lambda: forge(
        {"alg": "HS256", "kid": "rsa-1", "typ": "at+jwt"}, provider_claims(), hs256(PUBLIC_DER)
    ),
    "RS256 header on chatfn's HMAC key": lambda: forge(
        local_header() | {"alg": "RS256"}, good_claims(), rs256(ATTACKER_KEY)
    ),
    "unknown kid": lambda: forge(local_header() | {"kid": "nope"}, good_claims(), hs256(SECRET)),
    "path traversal kid": lambda: forge(
        local_header() | {"kid": "../../../../dev/null"}, good_claims(), hs256(b"")
    ),
    "no kid": lambda: forge({"alg": "HS256", "typ": "at+jwt"}, good_claims(), hs256(SECRET)),
    "inline jwk header with the attacker's key": lambda: forge(
        {
            "alg": "RS256",
            "kid": "rsa-1",
            "typ": "at+jwt",
            "jwk": jwk.construct(
                ATTACKER_KEY.public_key().public_bytes(
                    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
                ),
                "RS256",
            ).to_dict(),
        },
        provider_claims(),
        rs256(ATTACKER_KEY),
    ),
    "jku header to the attacker's key set": lambda: forge(
        {"alg": "RS256", "kid": "attacker", "typ": "at+jwt", "jku": "https://evil.example/jwks"},
        provider_claims(),
        rs256(ATTACKER_KEY),
    ),
    "x5u header to the attacker's certificate": lambda: forge(
        {"alg": "RS256", "kid": "rsa-1", "typ": "at+jwt", "x5u": "https://evil.example/cert"},
        provider_claims(),
        rs256(ATTACKER_KEY),
    ),
    "no aud": lambda: forge(local_header(), good_claims(aud=None), hs256(SECRET)),
    "foreign aud": lambda: forge(local_header(), good_claims(aud="other-app"), hs256(SECRET)),
    "wrong iss": lambda: forge(local_header(), good_claims(iss="https://evil"), hs256(SECRET)),
    "expired": lambda: forge(
        local_header(), good_claims(exp=int(time.time()) - 120), hs256(SECRET)
    ),
    "no exp": lambda: forge(local_header(), good_claims(exp=None), hs256(SECRET)),
    "iat in the future": lambda: forge(
        local_header(), good_claims(iat=int(time.time()) + 3600), hs256(SECRET)
    ),
    "iat not a number": lambda: forge(local_header(), good_claims(iat="soon"), hs256(SECRET)),
    "exp not a number": lambda: forge(local_header(), good_claims(exp=[1]), hs256(SECRET)),
    "no sub": lambda: forge(local_header(), good_claims(sub=None), hs256(SECRET)),
    "chatfn token without the access-token typ": lambda: forge(
        local_header() | {"typ": "JWT"}, good_claims(), hs256(SECRET)
    ),
    "provider ID token used as an access token": lambda: forge(
        {"alg": "RS256", "kid": "rsa-1", "typ": "JWT"},
        provider_claims(typ="ID"),
        rs256(PROVIDER_KEY),
    ),
    "signed with another secret": lambda: forge(local_header(), good_claims(), hs256(b"guess")),
    "1 MB token": lambda: forge(local_header(), good_claims(pad="x" * 1_000_000), hs256(SECRET)),
    "not a JWT at all": lambda: "definitely.not.a-jwt",
    "empty": lambda: "",
}


@pytest.mark.parametrize("attack", ATTACKS)
async def test_every_attack_is_one_invalid_token(attack: str) -> None:
    token = ATTACKS[attack]()

    with pytest.raises(InvalidToken) as refused:
        await verify_access_token(token, VERIFIERS)
    assert str(refused.value) == "invalid or expired token"
