"""The chat pipeline end to end, through the running stack: gateway, api, broker,
send_message, generate_reply, stream_reply, persist_history, titles and the scripted model."""

from __future__ import annotations

import asyncio
import os
import signal
from uuid import UUID

import pytest
from cloudevents.conversion import to_binary

from chatfn.chat.prompt import estimate_tokens
from chatfn.events.catalog import MessageSent, fact_id, new_event
from chatfn.local.stack import Stack
from chatfn.redis_client import key, redis_client
from chatfn.settings import Settings
from tests.utils.accounts import browser, sign_up
from tests.utils.chat import (
    Rows,
    conversation_when,
    handled,
    long_history,
    model_calls,
    model_stats,
    new_conversation,
    read_stream,
    rows_about,
    script,
    send,
    stop_was_requested,
    stored_feedback,
    terminals_on_stream,
    ticket,
    words,
)
from tests.utils.stack import until_serving
from tests.utils.waiting import until

TITLE_CALL = 1  # `titles` asks the same scripted model for the conversation's title
GENERATE_REPLY, TITLES = "generate-reply-on-message-sent", "titles-on-reply-completed"


async def test_a_message_streams_its_reply_and_the_history_keeps_the_tree(
    stack_settings: Settings, name: str
) -> None:
    async with browser(stack_settings) as client:
        user = await sign_up(client, name)
        conversation = await new_conversation(client, user)
        accepted = await send(client, user, conversation, f"{script(tokens=6)} Hello")

        read = await read_stream(client, accepted["reply_id"], accepted["stream_ticket"])
        history = await conversation_when(client, user, conversation, settled=1)

    assert read.text == words(6)
    assert read.terminal is not None
    assert read.terminal.kind == "done"
    assert read.terminal.data["finish_reason"] == "stop"
    assert read.terminal.data["usage"]["completion_tokens"] == 6
    question, answer = history["messages"]
    assert (question["id"], question["role"], question["parent_id"]) == (
        accepted["message_id"], "user", None,
    )  # fmt: skip
    assert (answer["id"], answer["parent_id"], answer["content"], answer["status"]) == (
        accepted["reply_id"], accepted["message_id"], words(6), "complete",
    )  # fmt: skip


async def test_a_reader_that_reconnects_with_last_event_id_gets_exactly_the_rest(
    stack_settings: Settings, name: str
) -> None:
    async with browser(stack_settings) as client:
        user = await sign_up(client, name)
        conversation = await new_conversation(client, user)
        accepted = await send(client, user, conversation, script(tokens=30, delay_ms=20))
        reply_id = accepted["reply_id"]

        first = await read_stream(client, reply_id, accepted["stream_ticket"], deltas=5)
        reused = await client.get(
            f"/api/replies/{reply_id}/stream", params={"ticket": accepted["stream_ticket"]}
        )
        rest = await read_stream(
            client, reply_id, await ticket(client, user, reply_id),
            last_event_id=first.events[-1].id,
        )  # fmt: skip

    assert reused.status_code == 401  # a ticket opens one stream only
    assert len(first.events) == 5
    assert first.text + rest.text == words(30)
    assert [e.kind for e in rest.events].count("done") == 1


async def test_edit_and_regenerate_make_siblings(stack_settings: Settings, name: str) -> None:
    async with browser(stack_settings) as client:
        user = await sign_up(client, name)
        conversation = await new_conversation(client, user)
        first = await send(client, user, conversation, f"{script(tokens=2)} first")
        await read_stream(client, first["reply_id"], first["stream_ticket"])
        edit = await send(client, user, conversation, f"{script(tokens=3)} edited", parent_id=None)
        await read_stream(client, edit["reply_id"], edit["stream_ticket"])
        again = await client.post(f"/api/messages/{edit['reply_id']}/regenerate", headers=user.auth)
        assert again.status_code == 202, again.text
        regenerated = again.json()
        read = await read_stream(client, regenerated["reply_id"], regenerated["stream_ticket"])
        history = await conversation_when(client, user, conversation, settled=3)

    by_id = {m["id"]: m for m in history["messages"]}
    assert by_id[edit["message_id"]]["siblings"] == [first["message_id"], edit["message_id"]]
    assert by_id[regenerated["reply_id"]]["parent_id"] == edit["message_id"]
    assert by_id[regenerated["reply_id"]]["siblings"] == [edit["reply_id"], regenerated["reply_id"]]
    assert read.text == words(3)


async def test_the_model_is_asked_with_the_user_s_instructions_and_only_this_branch(
    stack_settings: Settings, name: str
) -> None:
    async with browser(stack_settings) as client:
        user = await sign_up(client, name)
        instructions = {"custom_instructions": "Answer in French."}
        patched = await client.patch("/api/me", headers=user.auth, json=instructions)
        assert patched.status_code == 200, patched.text
        conversation = await new_conversation(client, user)
        first = await send(client, user, conversation, f"{script(id=f'{name}-a', tokens=2)} one")
        await read_stream(client, first["reply_id"], first["stream_ticket"])
        # A follow-up, then an edit of it: the edit's branch leaves the follow-up out.
        for content in (f"{script(id=f'{name}-b')} two", f"{script(id=f'{name}-c')} two, edited"):
            sent = await send(client, user, conversation, content, parent_id=first["reply_id"])
            await read_stream(client, sent["reply_id"], sent["stream_ticket"])

    asked = (await model_stats(stack_settings))["prompts"][f"{name}-c"]
    assert [message["role"] for message in asked] == ["system", "user", "assistant", "user"]
    assert asked[0]["content"].endswith("Answer in French.")
    assert [message["content"] for message in asked[1:]] == [
        f"{script(id=f'{name}-a', tokens=2)} one",
        words(2),
        f"{script(id=f'{name}-c')} two, edited",
    ]


async def test_stop_ends_the_reply_with_finish_reason_stopped(
    stack_settings: Settings, name: str
) -> None:
    async with browser(stack_settings) as client:
        user = await sign_up(client, name)
        conversation = await new_conversation(client, user)
        accepted = await send(client, user, conversation, script(tokens=200, delay_ms=20))
        reply_id = accepted["reply_id"]
        first = await read_stream(client, reply_id, accepted["stream_ticket"], deltas=3)
        stopped = await client.post(f"/api/replies/{reply_id}/stop", headers=user.auth)
        rest = await read_stream(client, reply_id, await ticket(client, user, reply_id),
                                 last_event_id=first.events[-1].id)  # fmt: skip
        history = await conversation_when(client, user, conversation, settled=1)

    assert stopped.status_code == 202
    assert rest.terminal is not None
    assert rest.terminal.data["finish_reason"] == "stopped"
    assert await terminals_on_stream(stack_settings, reply_id) == ["done"]
    text = first.text + rest.text
    assert words(200).startswith(text)
    assert len(text.split()) < 200
    assert history["messages"][1]["status"] == "stopped"
    assert history["messages"][1]["content"] == text


async def test_a_generate_reply_process_killed_mid_answer_resumes_the_same_reply_seamlessly(
    destructive_stack: Settings, name: str
) -> None:
    stack_settings = destructive_stack  # the kill must not reach other tests' chats
    await until_serving(stack_settings, name)
    stack = Stack(stack_settings)
    async with browser(stack_settings) as client:
        user = await sign_up(client, name)
        conversation = await new_conversation(client, user)
        accepted = await send(client, user, conversation, script(id=name, tokens=60, delay_ms=40))
        reply_id = accepted["reply_id"]
        first = await read_stream(client, reply_id, accepted["stream_ticket"], deltas=10)

        # The whole process group (supervisord gives each program its own): nothing the
        # function started outlives it.
        os.killpg(os.getpgid(stack.supervisor.processes()["generate_reply"].pid), signal.SIGKILL)

        async with asyncio.timeout(60):
            rest = await read_stream(client, reply_id, await ticket(client, user, reply_id),
                                     last_event_id=first.events[-1].id)  # fmt: skip
        history = await conversation_when(client, user, conversation, settled=1, titled=True)

    assert first.text + rest.text == words(60)
    assert rest.terminal is not None
    assert rest.terminal.kind == "done"
    assert await terminals_on_stream(stack_settings, reply_id) == ["done"]
    assert rest.terminal.data["usage"]["completion_tokens"] == 60  # counted once each
    assert history["messages"][1]["content"] == words(60)
    # The first call and one continuation.
    assert await model_calls(stack_settings, name) == 2 + TITLE_CALL


async def test_the_same_message_sent_delivered_twice_makes_one_reply_and_one_model_call(
    stack_settings: Settings, name: str
) -> None:
    async with browser(stack_settings) as client:
        user = await sign_up(client, name)
        conversation = await new_conversation(client, user)
        content = script(id=name, tokens=4)
        accepted = await send(client, user, conversation, content)
        first = await read_stream(client, accepted["reply_id"], accepted["stream_ticket"])
        sent = MessageSent(
            user_id=UUID(user.user_id), conversation_id=UUID(conversation),
            message_id=UUID(accepted["message_id"]), reply_id=UUID(accepted["reply_id"]),
            content=content, model="scripted",
        )  # fmt: skip
        # The very event send_message emitted: same source, same (deterministic) id.
        duplicate = new_event(
            sent, source="chatfn/send_message", event_id=fact_id(MessageSent, sent.reply_id)
        )
        headers, body = to_binary(duplicate)
        # Once the first delivery's work is done: titles, by design, asks twice for two
        # deliveries of a reply.completed that overlap (see functions/titles.py).
        await conversation_when(client, user, conversation, settled=1, titled=True)
        published = await client.post(stack_settings.k_sink, headers=headers, content=body)
        # generate_reply answers the duplicate with the fact again; titles gets that one.
        await handled(stack_settings, conversation, GENERATE_REPLY, TITLES)
        again = await read_stream(
            client, accepted["reply_id"], await ticket(client, user, accepted["reply_id"])
        )

    assert published.status_code == 202
    assert again.events == first.events
    assert await model_calls(stack_settings, name) == 1 + TITLE_CALL


async def test_a_model_failing_mid_stream_is_retried_seamlessly(
    stack_settings: Settings, name: str
) -> None:
    async with browser(stack_settings) as client:
        user = await sign_up(client, name)
        conversation = await new_conversation(client, user)
        # Once: the tokens the client had not read when the connection dropped are lost with it
        # (aiohttp), so under load the continuation can start before the break.
        directive = script(id=name, tokens=12, fail_after=5, fail="disconnect", fail_times=1)
        accepted = await send(client, user, conversation, directive)
        read = await read_stream(client, accepted["reply_id"], accepted["stream_ticket"])
        await conversation_when(client, user, conversation, settled=1, titled=True)

    assert read.text == words(12)
    assert read.terminal is not None
    assert read.terminal.kind == "done"
    assert await model_calls(stack_settings, name) == 2 + TITLE_CALL


async def test_a_model_that_keeps_failing_ends_in_an_error_and_regenerate_recovers(
    stack_settings: Settings, name: str
) -> None:
    async with browser(stack_settings) as client:
        user = await sign_up(client, name)
        conversation = await new_conversation(client, user)
        accepted = await send(client, user, conversation,
                              script(id=name, tokens=3, status=503, status_times=4))  # fmt: skip
        failed = await read_stream(client, accepted["reply_id"], accepted["stream_ticket"])
        retry = await client.post(f"/api/messages/{accepted['reply_id']}/regenerate",
                                  headers=user.auth)  # fmt: skip
        recovered = await read_stream(
            client, retry.json()["reply_id"], retry.json()["stream_ticket"]
        )
        history = await conversation_when(client, user, conversation, settled=2)

    assert failed.terminal is not None
    assert failed.terminal.kind == "error"
    assert failed.terminal.data["code"] == "model_unavailable"
    assert recovered.text == words(3)
    statuses = {m["id"]: m["status"] for m in history["messages"]}
    assert statuses[accepted["reply_id"]] == "failed"


async def test_another_user_s_conversation_and_reply_are_not_found_and_left_as_they_were(
    stack_settings: Settings, name: str
) -> None:
    async with browser(stack_settings) as client:
        owner = await sign_up(client, f"{name}-owner")
        other = await sign_up(client, f"{name}-other")
        conversation = await new_conversation(client, owner)
        url = f"/api/conversations/{conversation}"
        titled = await client.patch(url, headers=owner.auth, json={"title": "The owner's"})
        assert titled.status_code == 200, titled.text
        trashed = await new_conversation(client, owner)
        assert (await client.delete(f"/api/conversations/{trashed}", headers=owner.auth)).is_success
        accepted = await send(client, owner, conversation, script(tokens=20, delay_ms=50))
        reply_id = accepted["reply_id"]

        answers = {
            "read": await client.get(url, headers=other.auth),
            "rename": await client.patch(url, headers=other.auth, json={"title": "mine now"}),
            "pin": await client.patch(url, headers=other.auth, json={"pinned": True}),
            "archive": await client.patch(url, headers=other.auth, json={"archived": True}),
            "delete": await client.delete(url, headers=other.auth),
            "restore": await client.post(f"/api/conversations/{trashed}/restore",
                                         headers=other.auth),
            "send": await client.post(f"{url}/messages", headers=other.auth,
                                      json={"content": "hi", "model": "scripted"}),
            "regenerate": await client.post(f"/api/messages/{reply_id}/regenerate",
                                            headers=other.auth),
            "ticket": await client.post(f"/api/replies/{reply_id}/ticket", headers=other.auth),
            "stop": await client.post(f"/api/replies/{reply_id}/stop", headers=other.auth),
            "feedback": await client.post(f"/api/messages/{reply_id}/feedback",
                                          headers=other.auth, json={"rating": "up"}),
        }  # fmt: skip
        stop_requested = await stop_was_requested(stack_settings, reply_id)
        read = await read_stream(client, reply_id, accepted["stream_ticket"])
        # Events are ordered per conversation: once this is persisted, so is anything the
        # refused requests could have sent about it.
        marker = await send(client, owner, conversation, script(tokens=1), parent_id=reply_id)
        await read_stream(client, marker["reply_id"], marker["stream_ticket"])
        mine = await conversation_when(client, owner, conversation, settled=2)
        in_trash = await client.get("/api/conversations/trash", headers=owner.auth)

    assert {k: a.status_code for k, a in answers.items()} == dict.fromkeys(answers, 404)
    assert (mine["title"], mine["pinned"], mine["archived"]) == ("The owner's", False, False)
    assert [m["id"] for m in mine["messages"]] == [
        accepted["message_id"], reply_id, marker["message_id"], marker["reply_id"],
    ]  # fmt: skip
    assert not stop_requested
    assert read.terminal is not None
    assert (read.text, read.terminal.data["finish_reason"]) == (words(20), "stop")
    assert trashed in [c["id"] for c in in_trash.json()]
    # Nothing written for anyone, not only nothing the owner can see.
    assert await rows_about(stack_settings, conversation, reply_id) == Rows(messages=4, feedback=0)


async def test_a_stream_ticket_lives_a_minute_and_is_refused_once_expired(
    stack_settings: Settings, name: str
) -> None:
    async with browser(stack_settings) as client:
        user = await sign_up(client, name)
        conversation = await new_conversation(client, user)
        accepted = await send(client, user, conversation, script(tokens=2))
        reply_id = accepted["reply_id"]
        expiring = await ticket(client, user, reply_id)
        redis = redis_client(stack_settings)
        try:
            ticket_key = key(stack_settings, "ticket", expiring)
            lifetime_ms = await redis.pttl(ticket_key)
            await redis.pexpire(ticket_key, 1)  # as if its minute had passed

            async def expired_in_redis() -> bool:
                return not await redis.exists(ticket_key)

            await until(expired_in_redis)
        finally:
            await redis.aclose()
        expired = await client.get(f"/api/replies/{reply_id}/stream", params={"ticket": expiring})
        fresh = await read_stream(client, reply_id, await ticket(client, user, reply_id))

    assert 0 < lifetime_ms <= 60_000
    assert expired.status_code == 401
    assert expired.headers["content-type"] == "application/problem+json"
    assert fresh.text == words(2)


async def test_a_last_event_id_that_is_no_stream_entry_id_is_a_400(
    stack_settings: Settings, name: str
) -> None:
    async with browser(stack_settings) as client:
        user = await sign_up(client, name)
        conversation = await new_conversation(client, user)
        accepted = await send(client, user, conversation, script(tokens=2))
        reply_id = accepted["reply_id"]
        url = f"/api/replies/{reply_id}/stream"
        answers = [
            await client.get(url, params={"ticket": await ticket(client, user, reply_id)},
                             headers={"last-event-id": bad})
            for bad in ("latest", "1-x", "-1-0", "1" * 21 + "-0")
        ]  # fmt: skip
        resumed = await read_stream(client, reply_id, accepted["stream_ticket"],
                                    last_event_id="0-0")  # fmt: skip

    assert [answer.status_code for answer in answers] == [400] * 4
    assert {answer.headers["content-type"] for answer in answers} == {"application/problem+json"}
    assert resumed.text == words(2)


async def test_the_model_gets_the_newest_history_that_fits_its_context_window(
    stack_settings: Settings, name: str
) -> None:
    async with browser(stack_settings) as client:
        user = await sign_up(client, name)
        conversation = await new_conversation(client, user)
        # Titled already: `titles` would ask the model under the same script id.
        await client.patch(f"/api/conversations/{conversation}", headers=user.auth,
                           json={"title": "Long"})  # fmt: skip
        # About 3,200 estimated tokens of history: more than the window has room for.
        count = 400
        history = await long_history(stack_settings, UUID(user.user_id), UUID(conversation), count)
        question = f"{script(id=name, tokens=2)} and now?"
        sent = await send(client, user, conversation, question, parent_id=str(history[-1]))
        read = await read_stream(client, sent["reply_id"], sent["stream_ticket"])

    asked = (await model_stats(stack_settings))["prompts"][name]
    kept = [message["content"] for message in asked[1:]]
    room = stack_settings.llm_context_tokens - stack_settings.llm_max_tokens
    cost = sum(estimate_tokens(message["content"]) for message in asked)
    oldest_kept = count - (len(kept) - 1)
    assert read.text == words(2)
    assert asked[0]["role"] == "system"
    assert 1 < len(kept) < count  # trimmed, not emptied
    # The newest messages without a gap, then the question: the oldest ones went.
    assert kept == [f"message {i}" for i in range(oldest_kept, count)] + [question]
    assert cost <= room
    assert cost + estimate_tokens(f"message {oldest_kept - 1}") > room  # the next one did not fit


@pytest.mark.model
async def test_the_real_local_model_answers_through_the_whole_pipeline(
    stack_settings: Settings, name: str
) -> None:
    async with browser(stack_settings) as client:
        user = await sign_up(client, name)
        conversation = await new_conversation(client, user)
        accepted = await send(client, user, conversation, "Say hello in one short sentence.",
                              model=stack_settings.llm_model)  # fmt: skip
        async with asyncio.timeout(120):
            read = await read_stream(client, accepted["reply_id"], accepted["stream_ticket"])
        history = await conversation_when(client, user, conversation, settled=1, timeout_s=60)

    assert read.terminal is not None
    assert read.terminal.kind == "done", read.terminal
    assert read.text.strip()
    assert history["messages"][1]["content"] == read.text


async def test_a_thousand_message_conversation_pages_in_order_without_gaps(
    stack_settings: Settings, name: str
) -> None:
    async with browser(stack_settings) as client:
        user = await sign_up(client, name)
        conversation = await new_conversation(client, user)
        expected = await long_history(stack_settings, UUID(user.user_id), UUID(conversation), 1000)
        seen: list[str] = []
        cursor: str | None = None
        pages = 0
        while True:
            params = {"limit": 300} | ({"cursor": cursor} if cursor else {})
            page = (await client.get(f"/api/conversations/{conversation}", headers=user.auth,
                                     params=params)).json()  # fmt: skip
            seen += [m["id"] for m in page["messages"]]
            pages += 1
            cursor = page["next_cursor"]
            if cursor is None:
                break

    assert pages == 4
    assert seen == [str(i) for i in expected]


async def test_feedback_on_a_reply_is_kept_and_replaced(
    stack_settings: Settings, name: str
) -> None:
    async with browser(stack_settings) as client:
        user = await sign_up(client, name)
        conversation = await new_conversation(client, user)
        accepted = await send(client, user, conversation, script(tokens=2))
        await read_stream(client, accepted["reply_id"], accepted["stream_ticket"])
        await conversation_when(client, user, conversation, settled=1)
        url = f"/api/messages/{accepted['reply_id']}/feedback"

        up = await client.post(url, headers=user.auth, json={"rating": "up"})
        down = await client.post(url, headers=user.auth,
                                 json={"rating": "down", "comment": " Too short. "})  # fmt: skip
        on_question = await client.post(f"/api/messages/{accepted['message_id']}/feedback",
                                        headers=user.auth, json={"rating": "up"})  # fmt: skip
        invalid = await client.post(url, headers=user.auth, json={"rating": "meh"})

    assert (up.status_code, down.status_code) == (204, 204)
    assert on_question.status_code == 404
    assert invalid.status_code == 422
    rating = await stored_feedback(stack_settings, UUID(user.user_id), UUID(accepted["reply_id"]))
    assert rating == ("down", "Too short.")


async def test_search_finds_conversations_by_title_and_by_any_part_of_a_message(
    stack_settings: Settings, name: str
) -> None:
    async with browser(stack_settings) as client:
        user = await sign_up(client, name)
        by_message = await new_conversation(client, user)
        accepted = await send(client, user, by_message, f"{script(tokens=2)} about zeppelins")
        await read_stream(client, accepted["reply_id"], accepted["stream_ticket"])
        by_title = await new_conversation(client, user)
        await client.patch(f"/api/conversations/{by_title}", headers=user.auth,
                           json={"title": "Budget 100% review"})  # fmt: skip
        await conversation_when(client, user, by_message, settled=1)

        async def found(q: str) -> list[str]:
            page = await client.get("/api/conversations", headers=user.auth, params={"q": q})
            return [c["id"] for c in page.json()["conversations"]]

        assert await found("EPPELIN") == [by_message]
        assert await found("100%") == [by_title]
        assert await found("1%") == []  # a % in the query is a literal, not a wildcard
        assert set(await found("")) == {by_message, by_title}
