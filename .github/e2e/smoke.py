"""Black-box checks of a deployed chatfn through its public edge, over HTTP alone.

The pytest suites cannot do this: their fixtures start and reach into a local stack
(PostgreSQL, Redis, Kafka), not a URL. Standard library only, so any runner's python3 runs
it; tests/manifests/test_workflows.py runs it against the local stack's gateway, which
routes like the edge. Usage:

    python3 .github/e2e/smoke.py <base URL> [--model NAME] [--insecure] [--client-address IP]
"""

from __future__ import annotations

import argparse
import json
import secrets
import ssl
import sys
import time
import urllib.error
import urllib.request
from typing import Any

# The first request also waits out cold starts (api at zero, a Kafka Broker just made).
FIRST_REQUEST_S = 120
# No model server answers in the kind cluster: the reply fails after LLM_TIMEOUT_S and the
# function's retries, and its stream ends then.
STREAM_S = 180


class Edge:
    def __init__(self, base: str, insecure: bool, client_address: str | None) -> None:
        self.base = base.rstrip("/")
        self.context = ssl.create_default_context()
        if insecure:  # the kind cluster's edge serves Traefik's own certificate (no CDN)
            self.context.check_hostname = False
            self.context.verify_mode = ssl.CERT_NONE
        # Per-address rate limits: behind a trusted proxy, this names the client.
        self.headers = {"x-forwarded-for": client_address} if client_address else {}

    def open(self, method: str, path: str, body: Any = None, token: str = "") -> Any:
        request = urllib.request.Request(  # noqa: S310 (the base URL is the operator's)
            self.base + path,
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers=self.headers
            | ({"content-type": "application/json"} if body is not None else {})
            | ({"authorization": f"Bearer {token}"} if token else {}),
        )
        return urllib.request.urlopen(request, context=self.context, timeout=STREAM_S)  # noqa: S310

    def json(self, method: str, path: str, body: Any = None, token: str = "") -> Any:
        with self.open(method, path, body, token) as response:
            return json.load(response)

    def status(self, method: str, path: str) -> int:
        try:
            with self.open(method, path) as response:
                return int(response.status)
        except urllib.error.HTTPError as error:
            return error.code


def check(holds: bool, failure: str) -> None:
    if not holds:
        sys.exit(f"smoke check failed: {failure}")


def register(edge: Edge, credentials: dict[str, str]) -> str:
    """Sign-up is api -> Broker (Kafka) -> register_user -> api: a 201 means a real event
    went through the Broker, its Trigger, the EventPolicies and the NetworkPolicies."""
    deadline = time.monotonic() + FIRST_REQUEST_S
    while True:
        try:
            return str(edge.json("POST", "/api/auth/register", credentials)["access_token"])
        except (urllib.error.URLError, ConnectionError) as error:
            retriable = not isinstance(error, urllib.error.HTTPError) or error.code >= 500
            if not retriable or time.monotonic() > deadline:
                raise
            time.sleep(5)


def stream_ends(edge: Edge, reply: dict[str, str]) -> list[str]:
    """The terminal events of a reply's stream, read to its end through the edge's
    unbuffered route to stream_reply."""
    path = f"/api/replies/{reply['reply_id']}/stream?ticket={reply['stream_ticket']}"
    with edge.open("GET", path) as response:
        events = [line.decode().strip() for line in response if line.startswith(b"event:")]
    return [event for event in events if event in ("event: done", "event: error")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("base", help="the edge's URL, e.g. https://127.0.0.1:8443")
    parser.add_argument("--model", help="the model to ask (default: LLM_MODEL)")
    parser.add_argument("--insecure", action="store_true", help="accept any TLS certificate")
    parser.add_argument("--client-address", help="X-Forwarded-For to send")
    args = parser.parse_args()
    edge = Edge(args.base, args.insecure, args.client_address)

    credentials = {
        "email": f"e2e-{secrets.token_hex(6)}@example.com",
        "password": secrets.token_urlsafe(18),
    }
    register(edge, credentials)
    token = str(edge.json("POST", "/api/auth/login", credentials)["access_token"])

    # Written to PostgreSQL and read back: the migration Job made the schema.
    conversation = edge.json("POST", "/api/conversations", {"title": "e2e"}, token)["id"]
    listed = edge.json("GET", "/api/conversations", token=token)["conversations"]
    check(conversation in [c["id"] for c in listed], "the new conversation is not listed")

    # send_message, generate_reply and stream_reply, through Kafka and Redis: exactly one
    # `done` (a model answered) or `error` (none did) ends the stream.
    message = {"content": "hello"} | ({"model": args.model} if args.model else {})
    reply = edge.json("POST", f"/api/conversations/{conversation}/messages", message, token)
    ends = stream_ends(edge, reply)
    check(len(ends) == 1, f"the reply stream ended {len(ends)} times: {ends}")

    # Never public: api's endpoints for the Broker's deliveries.
    for path in ("/events/register-result", "/events/dead-letter"):
        status = edge.status("POST", path)
        check(400 <= status < 500, f"POST {path} answered {status} at the edge")

    sys.stdout.write(f"smoke checks passed against {edge.base} ({ends[0]})\n")


if __name__ == "__main__":
    main()
