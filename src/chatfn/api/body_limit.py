"""A cap on request bodies, checked before anything parses them.

Without it one 12 MB JSON body held `api`'s event loop for seconds while other users
waited. The largest body the API takes is a message (100,000 characters, up to six
bytes each as escaped JSON): 1 MiB covers it. Starlette has no such limit of its own.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from chatfn.problems import Problem

MAX_BODY_BYTES = 1024 * 1024


def too_large(max_bytes: int) -> Problem:
    return Problem(413, f"The request body is larger than {max_bytes} bytes.")


class BodyLimit:
    """The cap on every path but those under the `unlimited` prefixes."""

    def __init__(
        self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES, unlimited: tuple[str, ...] = ()
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.unlimited = unlimited

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(self.unlimited):
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length", b"0")
        if declared.isdigit() and int(declared) > self.max_bytes:
            await too_large(self.max_bytes).response()(scope, receive, send)
            return
        # A chunked body declares no length: read it, up to the cap, before the app does.
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away: nobody to answer
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.max_bytes:
                await too_large(self.max_bytes).response()(scope, receive, send)
                return
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()  # after the body: the disconnect, when it comes
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)
