"""Bad input through the running stack: refused at the edge with a problem body, and
nothing lost or left hanging behind it (issue 13's hostile-user findings)."""

from __future__ import annotations

import asyncio
from uuid import UUID, uuid4

import pytest
from cloudevents.conversion import to_binary

from chatfn.chat import replies
from chatfn.events.catalog import MessageSendRequested, new_event
from chatfn.redis_client import redis_client
from chatfn.settings import Settings
from tests.utils.accounts import browser, make_admin, register, sign_up, signed_in
from tests.utils.chat import (
    model_calls,
    new_conversation,
    read_stream,
    script,
    send,
    terminals_on_stream,
)
from tests.utils.waiting import until

NUL = "before\u0000after"


async def raw_request(
    settings: Settings, request_line: str, body: bytes = b"", headers: str = ""
) -> bytes:
    """One request exactly as written (an HTTP client would normalise the path first);
    `headers` replaces the Content-Length header."""
    reader, writer = await asyncio.open_connection("127.0.0.1", settings.port)
    headers = headers or f"Content-Length: {len(body)}\r\n"
    head = f"{request_line}\r\nHost: chatfn\r\n{headers}Content-Type: application/json\r\n"
    # Head and body apart, as many clients send them: a server that answered on the head
    # alone would be reset by the body, and the answer could be lost (chatfn.paths._drain).
    writer.write(f"{head}Connection: close\r\n\r\n".encode())
    await writer.drain()
    writer.write(body)
    await writer.drain()
    answer = await reader.read()
    writer.close()
    return answer


@pytest.mark.parametrize(
    "path",
    [
        "/api/../events/register-result",
        "/api/..%2fevents/register-result",
        "/api/%2e%2e/events/register-result",
        "/api/conversations/abc%14/restore",  # a control character: was a 500
    ],
)
async def test_a_path_out_of_normal_form_is_refused_before_any_routing(
    stack_settings: Settings, path: str
) -> None:
    answer = await raw_request(stack_settings, f"POST {path} HTTP/1.1", b"{}")

    status_line, _, rest = answer.partition(b"\r\n")
    assert status_line == b"HTTP/1.1 400 Bad Request"
    assert b"application/problem+json" in rest
    # Refused by the path rule, not answered 400 by api's results endpoint (which it
    # reached before, through the gateway's resolving of `..`).
    assert b'"title":"Bad path"' in rest


async def test_nul_is_refused_with_a_422_wherever_text_is_kept(
    stack_settings: Settings, name: str
) -> None:
    async with browser(stack_settings) as client:
        signup = await register(client, f"{name}-nul@example.com", display_name=NUL)
        user = await sign_up(client, name)
        conversation = await new_conversation(client, user)
        auth = user.auth
        answers = {
            "message": await client.post(
                f"/api/conversations/{conversation}/messages", headers=auth, json={"content": NUL}
            ),
            "model": await client.post(
                f"/api/conversations/{conversation}/messages",
                headers=auth,
                json={"content": "hi", "model": NUL},
            ),
            "lone surrogate": await client.post(
                f"/api/conversations/{conversation}/messages",
                headers={**auth, "content-type": "application/json"},
                content=b'{"content": "\\ud800"}',
            ),
            "title": await client.patch(
                f"/api/conversations/{conversation}", headers=auth, json={"title": NUL}
            ),
            "new title": await client.post("/api/conversations", headers=auth, json={"title": NUL}),
            "display name": await client.patch("/api/me", headers=auth, json={"display_name": NUL}),
            "instructions": await client.patch(
                "/api/me", headers=auth, json={"custom_instructions": NUL}
            ),
            "default model": await client.patch(
                "/api/me", headers=auth, json={"default_model": NUL}
            ),
            "search": await client.get("/api/conversations", headers=auth, params={"q": NUL}),
        }
        after = await client.get("/api/me", headers=auth)

    assert signup.status_code == 422, signup.text  # at once, not a 503 after 10 s
    assert {what: a.status_code for what, a in answers.items()} == dict.fromkeys(answers, 422)
    assert {a.headers["content-type"] for a in answers.values()} == {"application/problem+json"}
    assert after.status_code == 200  # the next request on the same connection is fine


async def test_an_unknown_model_is_refused(stack_settings: Settings, name: str) -> None:
    async with browser(stack_settings) as client:
        user = await sign_up(client, name)
        conversation = await new_conversation(client, user)
        listed = await client.get("/api/models", headers=user.auth)
        unknown = await client.post(
            f"/api/conversations/{conversation}/messages",
            headers=user.auth,
            json={"content": "hi", "model": "gpt-imaginary"},
        )

    assert "gpt-imaginary" not in [m["id"] for m in listed.json()]
    assert unknown.status_code == 422
    assert "gpt-imaginary" in unknown.json()["detail"]


async def test_a_large_body_is_refused_before_it_is_parsed_and_errors_echo_little(
    stack_settings: Settings, name: str
) -> None:
    many_keys = {f"k{n}": n for n in range(40_000)}  # 0.6 MB: under the cap
    # The body is never sent: the answer must come before it would have.
    declared = await raw_request(
        stack_settings, "POST /api/auth/login HTTP/1.1", headers="Content-Length: 12000000\r\n"
    )
    async with browser(stack_settings) as client:
        echoed = await client.post(
            "/api/auth/login",
            json={"email": f"{name}@example.com", "password": "x" * 12} | many_keys,
        )

    assert declared.startswith(b"HTTP/1.1 413 ")
    assert echoed.status_code == 422
    assert len(echoed.json()["errors"]) <= 20
    assert len(echoed.content) < 10_000


async def test_a_logged_out_or_disabled_users_token_fails_on_every_route_without_redis(
    stack_settings: Settings, name: str
) -> None:
    """Revocation is PostgreSQL's to keep: nothing of it is in Redis, so a Redis that
    restarts empty cannot bring a token back."""
    async with browser(stack_settings) as client:
        leaving = await sign_up(client, f"{name}-out")
        disabled = await sign_up(client, f"{name}-off")
        admin = await sign_up(client, f"{name}-admin")
        await make_admin(stack_settings, admin.user_id)
        conversation = await new_conversation(client, disabled)
        assert (await client.post("/api/auth/logout", headers=leaving.auth)).status_code == 204
        off = await client.post(f"/api/admin/users/{disabled.user_id}/disable", headers=admin.auth)
        assert off.status_code == 204
        answers = [
            await client.get("/api/conversations", headers=user.auth)
            for user in (leaving, disabled)
        ]
        answers.append(
            await client.post(
                f"/api/conversations/{conversation}/messages",
                headers=disabled.auth,
                json={"content": "still here?"},
            )
        )

    assert [a.status_code for a in answers] == [401, 401, 401]
    redis = redis_client(stack_settings)
    remembered = [k async for k in redis.scan_iter(match=f"{stack_settings.redis_prefix}:jwt-*")]
    await redis.aclose()
    assert remembered == []


async def test_a_command_given_up_on_ends_its_reply_with_an_error(
    stack_settings: Settings, name: str
) -> None:
    """A command send_message can never take (here: content PostgreSQL cannot store,
    published past the edge) is dead-lettered, and its reader is told at once."""
    async with browser(stack_settings) as client:
        user = await sign_up(client, name)
        conversation = await new_conversation(client, user)
        reply_id, ids = uuid4(), {"user_id": user.user_id, "conversation_id": conversation}
        redis = redis_client(stack_settings)
        await replies.Reply(redis, stack_settings, reply_id).open(
            user_id=UUID(user.user_id), conversation_id=UUID(conversation)
        )
        valid = MessageSendRequested(
            **ids, message_id=uuid4(), reply_id=reply_id, content="placeholder"
        )
        poison = new_event(valid, source="tests/hostile")
        poison.data["content"] = NUL
        headers, body = to_binary(poison)
        published = await client.post(stack_settings.k_sink, headers=headers, content=body)
        minted = await client.post(f"/api/replies/{reply_id}/ticket", headers=user.auth)
        read = await read_stream(client, str(reply_id), minted.json()["ticket"])

    assert published.status_code == 202
    assert read.terminal is not None
    assert (read.terminal.kind, read.terminal.data["code"]) == ("error", "undeliverable")
    assert await terminals_on_stream(stack_settings, str(reply_id)) == ["error"]
    await redis.aclose()


async def test_stop_ends_a_reply_while_the_model_is_silent(
    stack_settings: Settings, name: str
) -> None:
    """The model waits 60 s before its first token; stop must not wait for it."""
    async with browser(stack_settings) as client:
        user = await sign_up(client, name)
        conversation = await new_conversation(client, user)
        silent = script(id=name, tokens=2, delay_ms=60_000)
        accepted = await send(client, user, conversation, silent)
        reply_id = accepted["reply_id"]
        reading = asyncio.create_task(read_stream(client, reply_id, accepted["stream_ticket"]))

        async def asked() -> bool:  # and from then on silent
            return await model_calls(stack_settings, name) == 1

        await until(asked)
        stopped = await client.post(f"/api/replies/{reply_id}/stop", headers=user.auth)
        async with asyncio.timeout(20):  # a third of the model's silence
            read = await reading

    assert stopped.status_code == 202
    assert read.terminal is not None
    assert (read.terminal.kind, read.terminal.data["finish_reason"]) == ("done", "stopped")
    assert await terminals_on_stream(stack_settings, reply_id) == ["done"]


async def test_the_logs_hold_no_prompt_password_hash_token_or_email(
    stack_settings: Settings, name: str
) -> None:
    """A user's whole visit, bad requests and a dead letter included, then every log of
    the stack is read for what it must never hold."""
    secret_prompt = f"my-secret-prompt-{uuid4().hex}"
    secret_title = f"my-secret-title-{uuid4().hex}"
    email = f"{name}-logs@example.com"
    async with browser(stack_settings) as client:
        user = signed_in(await register(client, email))
        conversation = await new_conversation(client, user)
        accepted = await send(client, user, conversation, f"[[script echo]] {secret_prompt}")
        await read_stream(client, accepted["reply_id"], accepted["stream_ticket"])
        await client.patch(
            f"/api/conversations/{conversation}", headers=user.auth, json={"title": secret_title}
        )
        await client.get("/api/conversations", headers=user.auth, params={"q": secret_prompt})
        await client.post("/api/auth/login", json={"email": email, "password": "wrong password"})
        await client.post(
            f"/api/conversations/{conversation}/messages",
            headers=user.auth,
            json={"content": f"{secret_prompt}\u0000"},
        )

    logs = "".join(
        path.read_text(errors="replace") for path in (stack_settings.home / "logs").glob("*.log")
    )
    found = {
        what: what_text in logs
        for what, what_text in {
            "prompt": secret_prompt,
            "title": secret_title,
            "email": email,
            "access token": user.access_token,
            "refresh token": user.refresh_token.partition(".")[2],
            "password": "correct horse battery staple",
            "password hash": "$argon2id$",
        }.items()
    }
    assert found == dict.fromkeys(found, False)
