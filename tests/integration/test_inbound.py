"""Inbound webhooks through the running stack: an integration posts a signed message (signed
by svix's signer, not ours), gets the reply on the SSE stream, and the completed reply
reaches the user's outbound webhook; a bad signature, a stale timestamp and a replayed id
are refused."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from svix.webhooks import Webhook
from uuid6 import uuid7

from chatfn.settings import Settings
from tests.utils.accounts import SignedIn, browser, sign_up
from tests.utils.chat import read_stream, script, words
from tests.utils.receivers import ALLOWED, Receiver, receiving
from tests.utils.waiting import until


async def an_integration(client: httpx.AsyncClient, user: SignedIn) -> dict[str, Any]:
    made = await client.post("/api/integrations", headers=user.auth, json={"name": "Helpdesk"})
    assert made.status_code == 201, made.text
    body: dict[str, Any] = made.json()
    return body


def signed(
    secret: str, payload: dict[str, Any], *, msg_id: str | None = None, at: datetime | None = None
) -> tuple[dict[str, str], bytes]:
    """Headers and body as a Standard Webhooks sender makes them."""
    body = json.dumps(payload)
    msg_id, at = msg_id or f"msg_{uuid7()}", at or datetime.now(UTC)
    signature = Webhook(secret).sign(msg_id, at, body)
    headers = {"webhook-id": msg_id, "webhook-timestamp": str(int(at.timestamp())),
               "webhook-signature": signature, "content-type": "application/json"}  # fmt: skip
    return headers, body.encode()


async def post(
    client: httpx.AsyncClient, integration: dict[str, Any], headers: dict[str, str], body: bytes
) -> httpx.Response:
    return await client.post(integration["url"], headers=headers, content=body)


async def test_an_integration_posts_a_message_and_hears_the_reply(
    stack_settings: Settings, name: str
) -> None:
    async with receiving(ALLOWED) as receiver, browser(stack_settings) as client:
        user = await sign_up(client, name)
        integration = await an_integration(client, user)
        hooked = await client.post("/api/webhooks", headers=user.auth, json={
            "url": receiver.url, "event_types": ["io.chatfn.reply.completed"]})  # fmt: skip
        assert hooked.status_code == 201, hooked.text
        ticket = {"content": f"{script(tokens=3)} Ticket #1: printer", "model": "scripted"}
        first = await post(client, integration, *signed(integration["secret"], ticket))
        assert first.status_code == 202, first.text
        accepted = first.json()
        read = await read_stream(client, accepted["reply_id"], accepted["stream_ticket"])
        await until(lambda: _has(receiver, 1), within=30)
        follow_up = await post(client, integration, *signed(integration["secret"], {
            "content": f"{script(tokens=2)} Still broken", "model": "scripted",
            "conversation_id": accepted["conversation_id"]}))  # fmt: skip
        assert follow_up.status_code == 202, follow_up.text
        await read_stream(client, follow_up.json()["reply_id"], follow_up.json()["stream_ticket"])
        conversation = await client.get(f"/api/conversations/{accepted['conversation_id']}",
                                        headers=user.auth)  # fmt: skip

    assert read.text == words(3)
    completed = json.loads(receiver.seen[0].body)
    assert completed["type"] == "io.chatfn.reply.completed"
    assert completed["data"]["reply_id"] == accepted["reply_id"]
    by_id = {m["id"]: m for m in conversation.json()["messages"]}
    # Without a parent, a follow-up answers the conversation's latest reply.
    assert by_id[follow_up.json()["message_id"]]["parent_id"] == accepted["reply_id"]


async def _has(receiver: Receiver, count: int) -> bool:
    return len(receiver.seen) >= count


async def test_a_bad_signature_a_stale_timestamp_and_a_replayed_id_are_refused(
    stack_settings: Settings, name: str
) -> None:
    message = {"content": f"{script(tokens=1)} Hi", "model": "scripted"}
    async with browser(stack_settings) as client:
        user = await sign_up(client, name)
        integration = await an_integration(client, user)
        other = await an_integration(client, user)
        wrong_secret = await post(client, integration, *signed(other["secret"], message))
        ten_minutes_ago = datetime.now(UTC) - timedelta(minutes=10)
        stale = await post(client, integration, *signed(integration["secret"], message,
                                                        at=ten_minutes_ago))  # fmt: skip
        headers, body = signed(integration["secret"], message)
        tampered = await post(client, integration, headers, body.replace(b"Hi", b"Ho"))
        first = await post(client, integration, headers, body)
        replayed = await post(client, integration, headers, body)
        unsigned = await client.post(integration["url"], json=message)
        nobody = await client.post(f"/api/inbound/{uuid7()}", headers=headers, content=body)

    assert [r.status_code for r in (wrong_secret, stale, tampered, unsigned)] == [401] * 4
    assert first.status_code == 202, first.text
    assert replayed.status_code == 409
    assert nobody.status_code == 404
    for refused in (wrong_secret, stale, tampered, unsigned, replayed):
        assert refused.headers["content-type"] == "application/problem+json"
