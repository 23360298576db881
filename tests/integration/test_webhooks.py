"""Outbound webhooks through the running stack: register in the API, chat, and the facts
reach a real receiver once each, signed (checked with svix's verifier, an implementation
of the Standard Webhooks spec that is not ours); refused addresses are refused at
registration; a failing receiver is retried; a redirect is never followed."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
from aiohttp import web
from svix.webhooks import Webhook

from chatfn.settings import Settings
from tests.utils.accounts import SignedIn, browser, sign_up
from tests.utils.chat import new_conversation, read_stream, script, send
from tests.utils.receivers import ALLOWED, Receiver, receiving
from tests.utils.waiting import until

FACTS = ["io.chatfn.conversation.created", "io.chatfn.message.sent", "io.chatfn.reply.completed"]


async def register(
    client: httpx.AsyncClient, user: SignedIn, url: str, event_types: list[str]
) -> dict[str, Any]:
    created = await client.post("/api/webhooks", headers=user.auth,
                                json={"url": url, "event_types": event_types})  # fmt: skip
    assert created.status_code == 201, created.text
    body: dict[str, Any] = created.json()
    return body


async def deliveries(client: httpx.AsyncClient, user: SignedIn, endpoint: str) -> list[Any]:
    listed = await client.get(f"/api/webhooks/{endpoint}/deliveries", headers=user.auth)
    assert listed.status_code == 200, listed.text
    found: list[Any] = listed.json()
    return found


def bodies(receiver: Receiver, secret: str) -> list[dict[str, Any]]:
    """What reached the receiver, each checked against its signature as a receiver would."""
    verifier = Webhook(secret)
    for seen in receiver.seen:
        verifier.verify(seen.body, dict(seen.headers))  # raises unless signed with `secret`
    return [json.loads(seen.body) for seen in receiver.seen]


async def test_a_chat_reaches_the_endpoint_once_per_fact_signed(
    stack_settings: Settings, name: str
) -> None:
    async with receiving(ALLOWED) as receiver, browser(stack_settings) as client:
        user = await sign_up(client, name)
        endpoint = await register(client, user, receiver.url, FACTS)
        someone_else = await sign_up(client, f"{name}-other")
        conversation = await new_conversation(client, user)
        accepted = await send(client, user, conversation, f"{script(tokens=3)} Hello")
        await read_stream(client, accepted["reply_id"], accepted["stream_ticket"])
        elsewhere = await new_conversation(client, someone_else)  # not this endpoint's user
        await until(lambda: _count(receiver, 3), within=30)
        await asyncio.sleep(1)  # any duplicate would arrive by now
        listed = await deliveries(client, user, endpoint["id"])

    received = bodies(receiver, endpoint["secret"])
    assert sorted(body["type"] for body in received) == sorted(FACTS)
    by_type = {body["type"]: body for body in received}
    assert by_type["io.chatfn.message.sent"]["data"]["reply_id"] == accepted["reply_id"]
    assert by_type["io.chatfn.reply.completed"]["data"]["content"] == "w0 w1 w2 "
    assert all(body["version"] == 1 and body["id"] == seen.headers["webhook-id"]
               for body, seen in zip(received, receiver.seen, strict=True))  # fmt: skip
    assert elsewhere not in json.dumps(received)
    assert sorted(d["state"] for d in listed) == ["delivered"] * 3
    assert all(d["last_attempt"]["status_code"] == 200 for d in listed)
    assert "secret" not in json.dumps(listed)


async def _count(receiver: Receiver, wanted: int) -> bool:
    return len(receiver.seen) >= wanted


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/hook",
        "http://localhost:9/hook",  # a name that resolves to loopback
        "http://[::1]:9/hook",
        "http://0x7f000001:9/hook",
        "http://2130706433:9/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::ffff:127.0.0.1]:9/hook",
        "http://10.1.2.3/hook",
        "ftp://127.0.0.2/hook",
    ],
)
async def test_registration_refuses_what_a_webhook_must_never_reach(
    stack_settings: Settings, name: str, url: str
) -> None:
    async with browser(stack_settings) as client:
        user = await sign_up(client, name)
        refused = await client.post("/api/webhooks", headers=user.auth,
                                    json={"url": url, "event_types": FACTS})  # fmt: skip
        listed = await client.get("/api/webhooks", headers=user.auth)

    assert refused.status_code == 422, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    assert listed.json() == []


async def test_a_failing_receiver_is_tried_again_and_a_redirect_is_not_followed(
    stack_settings: Settings, name: str
) -> None:
    answers = [web.Response(status=500, text="down for a moment"), web.Response(text="ok")]

    async def once_failing(request: web.Request) -> web.StreamResponse:
        return answers.pop(0) if answers else web.Response(text="ok")

    async with receiving("127.0.0.1") as forbidden, receiving(ALLOWED, once_failing) as flaky:

        async def redirect(request: web.Request) -> web.StreamResponse:
            raise web.HTTPFound(forbidden.url)

        async with receiving(ALLOWED, redirect) as redirecting, browser(stack_settings) as client:
            user = await sign_up(client, name)
            retried = await register(client, user, flaky.url, FACTS)
            moved = await register(client, user, redirecting.url, FACTS)
            for endpoint in (retried, moved):
                sent = await client.post(f"/api/webhooks/{endpoint['id']}/test", headers=user.auth)
                assert sent.status_code == 202, sent.text
            # The first retry is 2.5-7.5 s after the failure (5 s, jittered).
            await until(lambda: _count(flaky, 2), within=30)
            await until(lambda: _count(redirecting, 1), within=30)
            flaky_log = await deliveries(client, user, retried["id"])
            moved_log = await deliveries(client, user, moved["id"])

    assert [body["type"] for body in bodies(flaky, retried["secret"])] == [
        "io.chatfn.webhook.tested"
    ] * 2
    assert flaky.seen[0].headers["webhook-id"] == flaky.seen[1].headers["webhook-id"]
    [test] = flaky_log
    assert (test["state"], test["attempts"], test["last_attempt"]["status_code"]) == (
        "delivered", 2, 200)  # fmt: skip
    [moved_test] = moved_log
    assert moved_test["last_attempt"]["status_code"] == 302
    assert moved_test["state"] == "retrying"
    assert forbidden.seen == []  # the redirect pointed at loopback: never followed
