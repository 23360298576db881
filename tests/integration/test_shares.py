"""Share links through the running stack: a link shows the branch it was made from and
nothing said later or beside it, answers unsigned with noindex, dies with its revocation
or its conversation's purge, and anyone signed in can continue it in their own account."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import func, select

from chatfn.db import create_engine
from chatfn.models import Share
from chatfn.settings import Settings
from tests.integration.test_temporary_chat import log_mentions
from tests.utils.accounts import SignedIn, browser, sign_up
from tests.utils.chat import new_conversation, send
from tests.utils.waiting import once

ECHO = "[[script echo]]"  # the scripted model answers with the rest of the message


async def settled(client: httpx.AsyncClient, user: SignedIn, conversation: str,
                  replies: int) -> dict[str, Any]:  # fmt: skip
    """The conversation once `replies` of its replies are kept; generous, and patient with a
    404 while a busy machine's projection has not caught up with the conversation yet."""

    def holds(read: httpx.Response) -> bool:
        if read.status_code != 200:
            return False
        messages = read.json()["messages"]
        kept = [m for m in messages if m["role"] == "assistant" and m["status"] != "streaming"]
        return len(kept) >= replies

    url = f"/api/conversations/{conversation}"
    read = await once(lambda: client.get(url, headers=user.auth), holds, within=60)
    body: dict[str, Any] = read.json()
    return body


async def echoed(client: httpx.AsyncClient, user: SignedIn, conversation: str, text: str,
                 replies: int, parent_id: str | None = None) -> dict[str, Any]:  # fmt: skip
    """Send `text`, answered with itself, and wait until the conversation keeps `replies`."""
    sent = await send(client, user, conversation, f"{ECHO} {text}",
                      parent_id=parent_id)  # fmt: skip
    await settled(client, user, conversation, replies)
    return sent


async def share(client: httpx.AsyncClient, user: SignedIn, conversation: str,
                up_to: str) -> dict[str, Any]:  # fmt: skip
    made = await client.post(f"/api/conversations/{conversation}/shares", headers=user.auth,
                             json={"up_to_message_id": up_to})  # fmt: skip
    assert made.status_code == 201, made.text
    body: dict[str, Any] = made.json()
    return body


def contents(snapshot: dict[str, Any]) -> list[str]:
    return [message["content"] for message in snapshot["messages"]]


async def test_a_link_shows_only_the_branch_it_was_made_from(
    stack_settings: Settings, name: str
) -> None:
    async with browser(stack_settings) as client, browser(stack_settings) as stranger:
        owner = await sign_up(client, f"{name}-owner")
        conversation = await new_conversation(client, owner)
        renamed = await client.patch(f"/api/conversations/{conversation}", headers=owner.auth,
                                     json={"title": "Shared title"})  # fmt: skip
        assert renamed.status_code == 200, renamed.text
        first = await echoed(client, owner, conversation, "alpha", 1)
        kept = await echoed(client, owner, conversation, "bravo", 2, parent_id=first["reply_id"])
        await echoed(client, owner, conversation, "sibling", 3, parent_id=first["reply_id"])
        made = await share(client, owner, conversation, kept["reply_id"])
        # Said after the link was made: a reply under the shared one, and a new title.
        await echoed(client, owner, conversation, "later", 4, parent_id=kept["reply_id"])
        await client.patch(f"/api/conversations/{conversation}", headers=owner.auth,
                           json={"title": "Renamed later"})  # fmt: skip

        token = made["url"].removeprefix("/s/")
        assert made["url"] == f"/s/{token}"
        assert len(token) >= 43  # 32 random bytes
        assert owner.user_id not in token
        assert conversation not in token
        assert (made["title"], made["up_to_message_id"]) == ("Shared title", kept["reply_id"])
        read = await stranger.get(f"/api/shared/{token}")  # signed out

    assert read.status_code == 200, read.text
    assert read.headers["x-robots-tag"] == "noindex, nofollow"
    assert read.headers["cache-control"] == "no-store"
    snapshot = read.json()
    assert snapshot["title"] == "Shared title"
    assert contents(snapshot) == [f"{ECHO} alpha", "alpha", f"{ECHO} bravo", "bravo"]
    assert [m["role"] for m in snapshot["messages"]] == ["user", "assistant"] * 2
    assert snapshot["messages"][-1]["model"] == "scripted"


async def test_a_revoked_link_answers_404_and_leaves_the_list_and_the_log_never_holds_it(
    stack_settings: Settings, name: str
) -> None:
    async with browser(stack_settings) as client:
        owner = await sign_up(client, f"{name}-owner")
        conversation = await new_conversation(client, owner)
        sent = await echoed(client, owner, conversation, "to be revoked", 1)
        older = await share(client, owner, conversation, sent["message_id"])
        newer = await share(client, owner, conversation, sent["reply_id"])
        listed = (await client.get("/api/shares", headers=owner.auth)).json()
        assert [s["id"] for s in listed] == [newer["id"], older["id"]]  # newest first
        assert (listed[0]["url"], listed[0]["excerpt"]) == (newer["url"], "to be revoked")
        assert listed[0]["available"] is True

        revoked = await client.delete(f"/api/shares/{older['id']}", headers=owner.auth)
        assert revoked.status_code == 204, revoked.text
        gone = await client.get(f"/api/shared/{older['url'].removeprefix('/s/')}")
        again = await client.delete(f"/api/shares/{older['id']}", headers=owner.auth)
        still = await client.get(f"/api/shared/{newer['url'].removeprefix('/s/')}")
        listed = (await client.get("/api/shares", headers=owner.auth)).json()
        unknown = await client.get("/api/shared/not-a-token-anyone-was-given")

    assert gone.status_code == 404
    assert gone.headers["content-type"].startswith("application/problem+json")
    assert gone.headers["x-robots-tag"] == "noindex, nofollow"
    assert again.status_code == 404
    assert still.status_code == 200
    assert [s["id"] for s in listed] == [newer["id"]]
    assert unknown.status_code == 404
    # Its lifecycle is in the event log, the token that reads it is not.
    assert await log_mentions(stack_settings, older["id"])
    assert not await log_mentions(stack_settings, older["url"].removeprefix("/s/"))


async def test_only_the_owner_shares_and_only_their_conversations_messages(
    stack_settings: Settings, name: str
) -> None:
    async with browser(stack_settings) as client:
        owner = await sign_up(client, f"{name}-owner")
        other = await sign_up(client, f"{name}-other")
        conversation = await new_conversation(client, owner)
        elsewhere = await new_conversation(client, owner)
        sent = await echoed(client, owner, conversation, "mine", 1)
        by_other = await client.post(f"/api/conversations/{conversation}/shares",
                                     headers=other.auth,
                                     json={"up_to_message_id": sent["reply_id"]})  # fmt: skip
        wrong_place = await client.post(f"/api/conversations/{elsewhere}/shares",
                                        headers=owner.auth,
                                        json={"up_to_message_id": sent["reply_id"]})  # fmt: skip
        anonymous = await client.get("/api/shares")
        others_list = (await client.get("/api/shares", headers=other.auth)).json()
        await share(client, owner, conversation, sent["reply_id"])

    assert by_other.status_code == 404
    assert wrong_place.status_code == 404
    assert anonymous.status_code == 401
    assert others_list == []


async def test_another_user_continues_a_shared_conversation_once(
    stack_settings: Settings, name: str
) -> None:
    async with browser(stack_settings) as client, browser(stack_settings) as stranger:
        owner = await sign_up(client, f"{name}-owner")
        viewer = await sign_up(stranger, f"{name}-viewer")
        conversation = await new_conversation(client, owner)
        first = await echoed(client, owner, conversation, "one", 1)
        await echoed(client, owner, conversation, "two", 2, parent_id=first["reply_id"])
        made = await share(client, owner, conversation, first["reply_id"])
        path = f"/api/shared/{made['url'].removeprefix('/s/')}/continue"

        anonymous = await stranger.post(path)
        clicks = [await stranger.post(path, headers=viewer.auth) for _ in range(2)]
        copied = clicks[0].json()["conversation_id"]
        copy = await settled(stranger, viewer, copied, 1)
        listed = (await stranger.get("/api/conversations", headers=viewer.auth)).json()
        owners_view = await client.get(f"/api/conversations/{copied}", headers=owner.auth)
        by_parent = {m["parent_id"]: m for m in copy["messages"]}
        chain = [by_parent[None]]
        while chain[-1]["id"] in by_parent:
            chain.append(by_parent[chain[-1]["id"]])
        # The copy is the viewer's own: it goes on like any conversation.
        await echoed(stranger, viewer, copied, "three", 2, parent_id=chain[-1]["id"])
        # Continued again once the copy is in the trash: the same copy, brought back.
        await stranger.delete(f"/api/conversations/{copied}", headers=viewer.auth)
        again = await stranger.post(path, headers=viewer.auth)
        back = await stranger.get(f"/api/conversations/{copied}", headers=viewer.auth)

    assert anonymous.status_code == 401
    assert [c.status_code for c in clicks] == [201, 201]
    assert clicks[1].json()["conversation_id"] == copied != conversation
    assert [m["content"] for m in chain] == [f"{ECHO} one", "one"]
    assert len(copy["messages"]) == 2
    assert [c["id"] for c in listed["conversations"]] == [copied]
    assert owners_view.status_code == 404
    assert again.json()["conversation_id"] == copied
    assert back.status_code == 200
    assert len(back.json()["messages"]) == 4


async def shares_in_postgres(settings: Settings, user_id: str) -> int:
    engine = create_engine(settings, pooled=False)
    async with engine.connect() as db:
        count = await db.scalar(
            select(func.count()).select_from(Share).where(Share.user_id == user_id)
        )
    await engine.dispose()
    return int(count or 0)


async def test_a_link_is_hidden_in_the_trash_and_gone_with_the_purge(
    stack_settings: Settings, name: str
) -> None:
    async with browser(stack_settings) as client:
        owner = await sign_up(client, f"{name}-owner")
        conversation = await new_conversation(client, owner)
        sent = await echoed(client, owner, conversation, "short-lived", 1)
        made = await share(client, owner, conversation, sent["reply_id"])
        link = f"/api/shared/{made['url'].removeprefix('/s/')}"

        trashed = await client.delete(f"/api/conversations/{conversation}", headers=owner.auth)
        assert trashed.status_code == 204
        in_trash = await once(lambda: client.get(link), lambda r: r.status_code == 404)
        listed_in_trash = (await client.get("/api/shares", headers=owner.auth)).json()
        restore = f"/api/conversations/{conversation}/restore"
        assert (await client.post(restore, headers=owner.auth)).status_code == 200
        back = await once(lambda: client.get(link), lambda r: r.status_code == 200)

        await client.delete(f"/api/conversations/{conversation}", headers=owner.auth)
        purged = await client.delete(f"/api/conversations/trash/{conversation}",
                                     headers=owner.auth)  # fmt: skip
        assert purged.status_code == 204, purged.text
        kept = await shares_in_postgres(stack_settings, owner.user_id)  # before any read
        listed = (await client.get("/api/shares", headers=owner.auth)).json()
        after = await client.get(link)

    assert in_trash.json()["detail"] == "This link was revoked or never existed."
    assert [s["available"] for s in listed_in_trash] == [False]
    assert back.json()["messages"][-1]["content"] == "short-lived"
    assert kept == 0  # the snapshot went with the purge, not when next seen
    assert listed == []
    assert after.status_code == 404
