"""An OpenID provider of the test's own: key pairs, and discovery + JWKS over real HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import uvicorn
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jose import jwk, jwt
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from chatfn.api import create_app
from chatfn.runtime import Runtime
from chatfn.settings import Settings
from tests.utils.jwt_attacks import new_rsa_key, public_pem

REALM = "/realms/chatfn"
JWKS_PATH = f"{REALM}/protocol/openid-connect/certs"


@dataclass(frozen=True)
class SigningKey:
    """One of a provider's key pairs, published under `kid`."""

    kid: str
    algorithm: str
    private: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey

    @property
    def public_pem(self) -> bytes:
        return public_pem(self.private)

    @property
    def jwk(self) -> dict[str, Any]:
        public: dict[str, Any] = jwk.construct(self.public_pem, self.algorithm).to_dict()
        return public | {"kid": self.kid, "use": "sig"}

    def sign(self, claims: Mapping[str, Any], **header: Any) -> str:
        """A JWT with these claims, its header naming this key unless `header` says otherwise."""
        headers = {"kid": self.kid} | header
        token: str = jwt.encode(dict(claims), self.private, self.algorithm, headers=headers)
        return token


def rsa_key(kid: str) -> SigningKey:
    return SigningKey(kid, "RS256", new_rsa_key())


def ec_key(kid: str) -> SigningKey:
    return SigningKey(kid, "ES256", ec.generate_private_key(ec.SECP256R1()))


class Provider:
    """Serves `{issuer}/.well-known/openid-configuration` and the JWKS of `keys`.

    Assign `keys` to rotate; set `failing` to make the JWKS answer 500, `discovery` to
    answer another discovery document; `jwks_requests` counts the JWKS requests, failed
    ones included.
    """

    def __init__(self, keys: list[SigningKey]) -> None:
        self.keys = keys
        self.failing = False
        self.discovery: dict[str, Any] | None = None
        self.jwks_requests = 0
        self.issuer = ""  # known once the server listens
        self.app = Starlette(
            routes=[
                Route(f"{REALM}/.well-known/openid-configuration", self._discovery),
                Route(JWKS_PATH, self._jwks),
            ]
        )

    @property
    def jwks_uri(self) -> str:
        return self.issuer.removesuffix(REALM) + JWKS_PATH

    async def _discovery(self, _: Request) -> JSONResponse:
        return JSONResponse(self.discovery or {"issuer": self.issuer, "jwks_uri": self.jwks_uri})

    async def _jwks(self, _: Request) -> JSONResponse:
        self.jwks_requests += 1
        if self.failing:
            return JSONResponse({"error": "unavailable"}, status_code=500)
        return JSONResponse({"keys": [key.jwk for key in self.keys]})


class _Server(uvicorn.Server):
    @contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield  # Ctrl-C stays pytest's


@asynccontextmanager
async def serve_provider(keys: list[SigningKey]) -> AsyncIterator[Provider]:
    """A provider publishing `keys`, on a free loopback port for the block's duration."""
    provider = Provider(keys)
    config = uvicorn.Config(
        provider.app, host="127.0.0.1", port=0, log_level="warning", lifespan="off"
    )
    server = _Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()  # startup failed: raise why
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    provider.issuer = f"http://127.0.0.1:{port}{REALM}"
    try:
        yield provider
    finally:
        server.should_exit = True
        await task


@asynccontextmanager
async def api_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The REST API in-process, with the runtime's clients closed afterwards."""
    runtime = Runtime(settings)
    transport = httpx.ASGITransport(app=create_app(runtime))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
            yield client
    finally:
        await runtime.http.aclose()
        await runtime.redis.aclose()
        await runtime.sessions.kw["bind"].dispose()
