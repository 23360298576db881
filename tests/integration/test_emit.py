"""Publishing to a sink: an in-process ASGI sink answers as a Knative broker ingress would."""

from __future__ import annotations

import socket
from pathlib import Path

import httpx
import pytest
from cloudevents.conversion import to_binary
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from chatfn.events import emit
from chatfn.events.catalog import MessageSendRequested, new_event, parse_event
from chatfn.events.emit import SinkRefused, publish, reply
from tests.utils.events import send_requested


class ScriptedSink:
    """Answers each POST with the next status of its script, recording the event ids seen."""

    def __init__(self, *statuses: int) -> None:
        self.statuses = list(statuses)
        self.ids: list[str] = []
        self.authorizations: list[str | None] = []
        self.app = Starlette(routes=[Route("/", self.receive, methods=["POST"])])

    async def receive(self, request: Request) -> Response:
        received = parse_event(request.headers, await request.body(), MessageSendRequested)
        self.ids.append(received.event["id"])
        self.authorizations.append(request.headers.get("authorization"))
        return Response(status_code=self.statuses.pop(0))

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app))


async def test_a_transient_failure_is_retried_with_the_same_event_id() -> None:
    sink = ScriptedSink(503, 429, 500, 202)
    event = new_event(send_requested(), source="/t")
    async with sink.client() as client:
        await publish(event, "http://broker/", client)
    assert sink.ids == [event["id"]] * 4


async def test_a_publish_carries_the_sinkbindings_token_where_there_is_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sink = ScriptedSink(202, 202)
    token = tmp_path / "token"
    monkeypatch.setattr(emit, "SINK_TOKEN", token)
    async with sink.client() as client:
        await publish(new_event(send_requested(), source="/t"), "http://broker/", client)
        token.write_text("eyJ.rotated\n")
        await publish(new_event(send_requested(), source="/t"), "http://broker/", client)
    assert sink.authorizations == [None, "Bearer eyJ.rotated"]


async def test_a_final_refusal_is_not_retried() -> None:
    sink = ScriptedSink(400, 202)
    async with sink.client() as client:
        with pytest.raises(SinkRefused) as refused:
            await publish(new_event(send_requested(), source="/t"), "http://broker/", client)
    assert refused.value.status == 400
    assert len(sink.ids) == 1


async def test_retries_are_bounded_when_the_sink_is_unreachable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    async with httpx.AsyncClient() as client:
        with pytest.raises(httpx.ConnectError):
            await publish(
                new_event(send_requested(), source="/t"), f"http://127.0.0.1:{closed_port}/", client
            )


def test_a_reply_carries_the_event_in_binary_mode() -> None:
    event = new_event(send_requested(), source="/t")
    response = reply(event)
    headers, body = to_binary(event)
    assert response.status_code == 200
    assert response.body == body
    assert response.headers["ce-id"] == headers["ce-id"]
