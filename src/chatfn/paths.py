"""Which request paths chatfn serves at all: one rule for the dev gateway and `api`.

A proxy that decodes a path and then resolves it can be walked out of the prefix it
routes (`/api/../events/...`, `/api/..%2fevents/...`), and a control character makes
an upstream URL no client library will build. So a path is refused, before any routing,
unless it is already in its one normal form: no `.` or `..` segment, no empty segment,
no encoded `/` or `\\`, no control character, valid UTF-8.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import unquote_to_bytes

from starlette.types import ASGIApp, Receive, Scope, Send

from chatfn.problems import Problem

_ENCODED_SEPARATOR = re.compile(rb"%(2f|5c)", re.IGNORECASE)
# Up to this much of a refused request's body is read before the answer (see `_drain`).
DRAIN_LIMIT_BYTES = 1024 * 1024
_CONTROL = re.compile(rb"[\x00-\x1f\x7f]")


def refusal(raw_path: bytes) -> str | None:
    """Why `raw_path` (as it came on the request line, still percent-encoded) is refused,
    or None when it is fine to route."""
    if not raw_path.startswith(b"/"):
        return "the path must start with /"
    if _ENCODED_SEPARATOR.search(raw_path) or b"\\" in raw_path:
        return "the path may not hold an encoded / or a backslash"
    decoded = unquote_to_bytes(raw_path)
    if _CONTROL.search(decoded):
        return "the path may not hold a control character"
    try:
        decoded.decode()
    except UnicodeDecodeError:
        return "the path is not valid UTF-8"
    segments = decoded.split(b"/")[1:]
    if any(segment in (b".", b"..") for segment in segments):
        return "the path may not hold . or .. segments"
    if b"" in segments[:-1]:
        return "the path may not hold an empty segment"
    return None


class NormalPathsOnly:
    """ASGI middleware: a 400 problem (with `headers`) for every path `refusal` refuses."""

    def __init__(self, app: ASGIApp, headers: Mapping[str, str] | None = None) -> None:
        self.app = app
        self.headers = dict(headers or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            why = refusal(scope.get("raw_path") or scope["path"].encode())
            if why is not None:
                await _drain(receive)
                refused = Problem(400, why, title="Bad path", headers=self.headers)
                await refused.response()(scope, receive, send)
                return
        await self.app(scope, receive, send)


async def _drain(receive: Receive) -> None:
    """Read and drop the request's body. Answered and closed while the body is still
    arriving, the connection is reset by the body that comes after, and a client may
    lose the answer to that reset (seen: 4 in 300 requests whose body came apart)."""
    read = 0
    while read <= DRAIN_LIMIT_BYTES:
        message = await receive()
        if message["type"] != "http.request":
            return
        read += len(message.get("body", b""))
        if not message.get("more_body", False):
            return
