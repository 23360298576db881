"""Sending events on: publish to the broker (`K_SINK`) or reply with one in the response.

A function publishes by POSTing a binary-mode CloudEvent to the sink that a Knative
SinkBinding injects as `K_SINK`. Transient failures (5xx, 429, connection errors) are
retried a bounded number of times with jittered backoff (stamina), always with the
same event, so the same `id`: the consumers' idempotency makes a retry harmless.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import httpx
import stamina
from cloudevents.conversion import to_binary
from cloudevents.http import CloudEvent
from starlette.responses import Response

ATTEMPTS = 5
TIMEOUT_S = 10.0
# With Knative's `authentication-oidc` on, a Broker or KafkaSink refuses an event without
# an OIDC token for its audience. The SinkBinding mounts one for K_SINK; `api` mounts one
# for the dead-letter KafkaSink (eventing/oidc/README.md). Read on every send: both rotate.
SINK_TOKEN = Path("/oidc/token")
DEAD_LETTER_TOKEN = Path("/var/run/chatfn/dead-letter/token")


class SinkRefused(Exception):
    """The sink answered with a final 4xx: the event will not be accepted as it is."""

    def __init__(self, status: int, body: str) -> None:
        super().__init__(f"sink refused the event: {status} {body[:200]}")
        self.status = status


def _transient(exc: Exception) -> bool:
    if isinstance(exc, httpx.HTTPStatusError):
        return exc.response.status_code >= 500 or exc.response.status_code == 429
    return isinstance(exc, httpx.TransportError)


async def publish(event: CloudEvent, sink: str, client: httpx.AsyncClient) -> None:
    """POST `event` to `sink` until it is accepted; raise once it is refused or retries run out."""
    headers, body = to_binary(event)
    await forward({**headers, **bearer(SINK_TOKEN)}, body, sink, client)


def bearer(token: Path) -> dict[str, str]:
    """The Authorization header for the token in `token`, if there is one. A read of a
    small file on a tmpfs volume: cheaper than handing it to a thread."""
    return {"Authorization": f"Bearer {token.read_text().strip()}"} if token.is_file() else {}


async def forward(
    headers: Mapping[str, str], body: bytes, sink: str, client: httpx.AsyncClient
) -> None:
    """`publish` for an event as it came over HTTP, byte for byte (one that may not parse)."""
    async for attempt in stamina.retry_context(
        on=_transient, attempts=ATTEMPTS, timeout=TIMEOUT_S, wait_initial=0.05, wait_max=1.0
    ):
        with attempt:
            response = await client.post(sink, headers=headers, content=body)
            if response.is_client_error and response.status_code != 429:
                raise SinkRefused(response.status_code, response.text)
            response.raise_for_status()


def reply(event: CloudEvent) -> Response:
    """Knative reply semantics: the event in this HTTP response goes back to the broker."""
    headers, body = to_binary(event)
    return Response(content=body, status_code=200, headers=headers)
