"""The path rule's middleware refuses a bad path only after the request's body is in."""

from __future__ import annotations

from starlette.types import Message, Receive, Scope, Send

from chatfn.paths import NormalPathsOnly


async def never_called(scope: Scope, receive: Receive, send: Send) -> None:
    raise AssertionError("a refused path reached the app")


async def test_a_refused_request_is_answered_after_its_whole_body_is_read() -> None:
    # Answered before the rest of the body arrives, the connection is reset by what
    # comes after, and the client may lose the answer.
    arriving: list[Message] = [
        {"type": "http.request", "body": b'{"a":', "more_body": True},
        {"type": "http.request", "body": b"1}", "more_body": False},
    ]
    events: list[str] = []

    async def receive() -> Message:
        events.append("read")
        return arriving.pop(0)

    async def send(message: Message) -> None:
        events.append(message["type"])

    path = "/api/../events/x"
    scope: Scope = {"type": "http", "method": "POST", "path": path, "raw_path": path.encode()}
    await NormalPathsOnly(never_called)(scope, receive, send)

    assert events == ["read", "read", "http.response.start", "http.response.body"]
