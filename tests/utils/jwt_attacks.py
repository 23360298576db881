"""Forged JWTs: every known way to get a bad token accepted, aimed at a given deployment."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable, Mapping
from typing import Any
from uuid import UUID, uuid4

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.hashes import SHA256
from jose import jwk

from chatfn.identity.tokens import issue_access_token
from chatfn.settings import Settings

Signer = Callable[[bytes], bytes]


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forge(header: Mapping[str, Any], claims: Mapping[str, Any], sign: Signer) -> str:
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"
    return f"{signing_input}.{b64(sign(signing_input.encode()))}"


def hs256(secret: bytes) -> Signer:
    return lambda data: hmac.new(secret, data, hashlib.sha256).digest()


def rs256(key: rsa.RSAPrivateKey) -> Signer:
    return lambda data: key.sign(data, padding.PKCS1v15(), SHA256())


def new_rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def public_pem(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def public_der(key: rsa.RSAPrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def public_jwk(key: rsa.RSAPrivateKey, kid: str) -> dict[str, Any]:
    public: dict[str, Any] = jwk.construct(public_pem(key), "RS256").to_dict()
    return public | {"kid": kid, "use": "sig"}


def claims_for(issuer: str, audience: str, **changes: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {"iss": issuer, "aud": audience, "sub": str(uuid4()), "iat": now, "exp": now + 300,
              "jti": str(uuid4())}  # fmt: skip
    return claims | changes


def local_attacks(settings: Settings, subject: UUID | None = None) -> dict[str, str]:
    """Tokens aimed at chatfn's own verifier (its issuer, audience and current kid), about
    `subject` (a real user, so that only the forgery can explain a refusal)."""
    subject = subject or uuid4()
    issued = issue_access_token(settings, user_id=subject, role="user", session_id=uuid4())
    header: dict[str, Any] = json.loads(base64.urlsafe_b64decode(issued.token.split(".")[0] + "=="))
    secret = hs256(settings.jwt_secret.get_secret_value().encode())
    attacker = new_rsa_key()

    def claims(**changes: Any) -> dict[str, Any]:
        return claims_for(settings.jwt_issuer, settings.jwt_audience, sub=str(subject)) | changes

    now = int(time.time())
    return {
        "alg none": forge(header | {"alg": "none"}, claims(), lambda _: b""),
        "alg None": forge(header | {"alg": "None"}, claims(), lambda _: b""),
        "RS256 header on chatfn's HMAC kid": forge(
            header | {"alg": "RS256"}, claims(), rs256(attacker)
        ),
        "HS256 keyed with an RSA public key PEM": forge(
            header, claims(), hs256(public_pem(attacker))
        ),
        "unknown kid": forge(header | {"kid": "nope"}, claims(), secret),
        "path traversal kid": forge(header | {"kid": "../../../../dev/null"}, claims(), hs256(b"")),
        "no kid": forge({"alg": "HS256", "typ": "at+jwt"}, claims(), secret),
        "inline jwk header": forge(
            header | {"alg": "RS256", "jwk": public_jwk(attacker, header["kid"])},
            claims(),
            rs256(attacker),
        ),
        "jku header": forge(
            header | {"alg": "RS256", "jku": "https://evil.example/jwks"}, claims(), rs256(attacker)
        ),
        "x5u header": forge(
            header | {"alg": "RS256", "x5u": "https://evil.example/cert"}, claims(), rs256(attacker)
        ),
        "no aud": forge(header, claims(aud=None), secret),
        "foreign aud": forge(header, claims(aud="another-app"), secret),
        "wrong iss": forge(header, claims(iss="https://evil.example"), secret),
        "expired": forge(header, claims(exp=now - 120), secret),
        "no exp": forge(header, claims(exp=None), secret),
        "exp not a number": forge(header, claims(exp=[1]), secret),
        "iat in the future": forge(header, claims(iat=now + 3600), secret),
        "iat not a number": forge(header, claims(iat="soon"), secret),
        "no sub": forge(header, claims(sub=None), secret),
        "not an access token (typ JWT)": forge(header | {"typ": "JWT"}, claims(), secret),
        "another secret": forge(header, claims(), hs256(b"a guess")),
        "1 MB": forge(header, claims(pad="x" * 1_000_000), secret),
        "not a JWT": "definitely.not.a-jwt",
        "empty": "",
    }
