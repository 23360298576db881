"""Personal API keys and the OpenAI-compatible `/v1`, through the running stack with the
real `openai` SDK as the client: the same pipeline as the UI (broker, send_message,
generate_reply, the reply's Redis Stream), the keys' scopes, expiry, revocation, budgets
and rate limits, and what `store` keeps."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import httpx
import openai
import pytest
from sqlalchemy import func, select, update

from chatfn.db import create_engine
from chatfn.local.stack import Stack
from chatfn.models import ApiKey, Conversation, DailyUsage, Message
from chatfn.settings import Settings
from tests.utils.accounts import SignedIn, browser, client_address, sign_up
from tests.utils.chat import model_calls, new_conversation, script, send, words
from tests.utils.stack import until_serving
from tests.utils.waiting import once

MODEL = "scripted"


async def create_key(client: httpx.AsyncClient, user: SignedIn, **fields: Any) -> str:
    body = {"name": "test", "scopes": ["chat"]} | fields
    created = await client.post("/api/keys", json=body, headers=user.auth)
    assert created.status_code == 201, created.text
    key: str = created.json()["key"]
    assert key.startswith("sk-chatfn-")
    return key


@asynccontextmanager
async def sdk(settings: Settings, key: str) -> AsyncIterator[openai.AsyncOpenAI]:
    """The real `openai` client, pointed at the stack's gateway, retrying nothing (a 429 is
    what a test wants to see, not to wait out)."""
    async with openai.AsyncOpenAI(
        base_url=f"http://127.0.0.1:{settings.port}/v1", api_key=key, max_retries=0,
        default_headers={"x-forwarded-for": client_address()}, timeout=60,
    ) as client:  # fmt: skip
        yield client


async def usage_of(client: httpx.AsyncClient, user: SignedIn) -> dict[str, Any]:
    answer = await client.get("/api/usage", headers=user.auth)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


async def rows_of(settings: Settings, user_id: str) -> tuple[int, int, int]:
    """The user's conversations, messages and daily-usage requests in PostgreSQL."""
    engine = create_engine(settings, pooled=False)
    async with engine.connect() as db:
        counts = [
            await db.scalar(select(func.count()).select_from(table).where(table.user_id == user_id))
            for table in (Conversation, Message)
        ]
        requests = await db.scalar(
            select(func.coalesce(func.sum(DailyUsage.requests), 0)).where(
                DailyUsage.user_id == user_id
            )
        )
    await engine.dispose()
    return counts[0] or 0, counts[1] or 0, int(requests or 0)


async def test_a_streamed_and_an_unstreamed_completion_and_the_models_through_the_sdk(
    stack_settings: Settings, name: str
) -> None:
    async with browser(stack_settings) as client:
        user = await sign_up(client, name)
        key = await create_key(client, user)
        async with sdk(stack_settings, key) as api:
            models = [model.id async for model in api.models.list()]
            whole = await api.chat.completions.create(
                model=MODEL, messages=[{"role": "user", "content": script(id=name, tokens=5)}]
            )
            stream = await api.chat.completions.create(
                model=MODEL, stream=True, stream_options={"include_usage": True},
                messages=[{"role": "system", "content": "Be brief."},
                          {"role": "user", "content": script(id=name, tokens=7)}],
            )  # fmt: skip
            chunks = [chunk async for chunk in stream]

    assert MODEL in models
    assert whole.object == "chat.completion"
    assert whole.choices[0].message.content == words(5)
    assert whole.choices[0].finish_reason == "stop"
    assert whole.usage is not None
    assert whole.usage.completion_tokens == 5
    assert whole.usage.total_tokens == whole.usage.prompt_tokens + 5
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == words(7)
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert all(c.id == chunks[0].id for c in chunks)
    *body, last = chunks
    assert last.choices == []  # include_usage: a last chunk with the usage alone
    assert last.usage is not None
    assert last.usage.completion_tokens == 7
    assert all(c.usage is None for c in body)


async def test_without_store_nothing_is_kept_but_the_usage_and_with_store_a_conversation(
    stack_settings: Settings, name: str
) -> None:
    async with browser(stack_settings) as client:
        user = await sign_up(client, name)
        key = await create_key(client, user)  # store: off unless asked (the default setting)
        async with sdk(stack_settings, key) as api:
            unkept = await api.chat.completions.create(
                model=MODEL, messages=[{"role": "user", "content": script(id=name, tokens=3)}]
            )
            await once(lambda: rows_of(stack_settings, user.user_id), lambda rows: rows[2] == 1)
            assert await rows_of(stack_settings, user.user_id) == (0, 0, 1)

            kept = await api.chat.completions.with_raw_response.create(
                model=MODEL, store=True,
                messages=[{"role": "system", "content": "Be brief."},
                          {"role": "user", "content": script(id=name, tokens=4)}],
            )  # fmt: skip
        conversation = kept.headers["chatfn-conversation-id"]
        listed = await once(
            lambda: client.get("/api/conversations", headers=user.auth),
            lambda answer: len(answer.json()["conversations"]) == 1,
        )
        history = await client.get(f"/api/conversations/{conversation}", headers=user.auth)
        usage = await once(lambda: usage_of(client, user), lambda u: u["days"][0]["requests"] == 2)

    assert unkept.choices[0].message.content == words(3)
    assert listed.json()["conversations"][0]["id"] == conversation
    messages = history.json()["messages"]
    assert [(m["role"], m["content"]) for m in messages][:2] == [
        ("system", "Be brief."), ("user", script(id=name, tokens=4))
    ]  # fmt: skip
    assert messages[2]["role"] == "assistant"
    (day,) = usage["days"]
    assert day["key_name"] == "test"
    assert day["completion_tokens"] == 3 + 4
    assert usage["used_today"] == day["prompt_tokens"] + day["completion_tokens"]


async def test_revoked_expired_and_unscoped_keys_are_refused_in_openai_s_shape(
    stack_settings: Settings, name: str
) -> None:
    async with browser(stack_settings) as client:
        user = await sign_up(client, name)
        revoked, expired = await create_key(client, user), await create_key(client, user)
        reader = await create_key(client, user, scopes=["history:read"])
        listed = (await client.get("/api/keys", headers=user.auth)).json()
        revoked_id = next(k["id"] for k in listed if revoked.startswith(k["hint"].rstrip("…")))
        assert (
            await client.delete(f"/api/keys/{revoked_id}", headers=user.auth)
        ).status_code == 204
        engine = create_engine(stack_settings, pooled=False)
        async with engine.begin() as db:  # as if a day went by
            await db.execute(
                update(ApiKey)
                .where(ApiKey.user_id == user.user_id, ApiKey.id != UUID(revoked_id))
                .where(ApiKey.scopes.contains(["chat"]))
                .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
            )
        await engine.dispose()
        ask = [{"role": "user", "content": "hello"}]
        refusals = {}
        for label, key in (("revoked", revoked), ("expired", expired), ("unscoped", reader)):
            async with sdk(stack_settings, key) as api:
                with pytest.raises(openai.APIStatusError) as refused:
                    await api.chat.completions.create(model=MODEL, messages=ask)  # type: ignore[arg-type]
                refusals[label] = refused.value
        anonymous = await client.post(
            "/v1/chat/completions", json={"model": MODEL, "messages": ask}
        )

    assert isinstance(refusals["revoked"], openai.AuthenticationError)
    assert isinstance(refusals["expired"], openai.AuthenticationError)
    assert isinstance(refusals["unscoped"], openai.PermissionDeniedError)
    for refusal in refusals.values():
        error = refusal.response.json()["error"]
        assert set(error) == {"message", "type", "param", "code"}
    assert refusals["revoked"].code == "invalid_api_key"
    assert refusals["unscoped"].code == "insufficient_scope"
    assert anonymous.status_code == 401
    assert anonymous.json()["error"]["type"] == "invalid_request_error"


async def test_a_key_reads_only_its_owner_s_history_and_never_manages_keys(
    stack_settings: Settings, name: str
) -> None:
    async with browser(stack_settings) as client:
        owner = await sign_up(client, name)
        other = await sign_up(client, f"{name}-other")
        theirs = await new_conversation(client, other)
        mine = await new_conversation(client, owner)
        key = await create_key(client, owner, scopes=["chat", "history:read"])
        as_key = {"authorization": f"Bearer {key}"}
        own = await client.get(f"/api/conversations/{mine}", headers=as_key)
        foreign = await client.get(f"/api/conversations/{theirs}", headers=as_key)
        listed = await client.get("/api/conversations", headers=as_key)
        writes = [
            await client.post("/api/keys", json={"name": "x", "scopes": ["chat"]}, headers=as_key),
            await client.get("/api/keys", headers=as_key),
            await client.post(f"/api/conversations/{mine}/messages", json={"content": "hi"},
                              headers=as_key),
            await client.patch("/api/me", json={"display_name": "x"}, headers=as_key),
            await client.post("/api/auth/logout-all", headers=as_key),
        ]  # fmt: skip
        garbage = await client.get(
            "/api/conversations", headers={"authorization": f"Bearer {key}x"}
        )

    assert own.status_code == 200
    assert foreign.status_code == 404
    assert [c["id"] for c in listed.json()["conversations"]] == [mine]
    assert [answer.status_code for answer in writes] == [403] * 5, [w.text for w in writes]
    assert garbage.status_code == 401


async def test_a_spent_budget_and_the_key_s_rate_limit_answer_429_with_retry_after(
    stack_settings: Settings, name: str
) -> None:
    async with browser(stack_settings) as client:
        user = await sign_up(client, name)
        frugal = await create_key(client, user, daily_token_budget=1)
        hasty = await create_key(client, user, requests_per_minute=2)
        ask = [{"role": "user", "content": script(id=name, tokens=2)}]
        async with sdk(stack_settings, frugal) as api:
            await api.chat.completions.create(model=MODEL, messages=ask)  # type: ignore[arg-type]
            await once(lambda: usage_of(client, user), lambda usage: usage["used_today"] > 0)
            with pytest.raises(openai.RateLimitError) as spent:
                await api.chat.completions.create(model=MODEL, messages=ask)  # type: ignore[arg-type]
        async with sdk(stack_settings, hasty) as api:
            for _ in range(2):
                await api.models.list()
            with pytest.raises(openai.RateLimitError) as hurried:
                await api.models.list()

    assert spent.value.code == "insufficient_quota"
    assert 0 < int(spent.value.response.headers["retry-after"]) <= 86_400
    assert hurried.value.code == "rate_limit_exceeded"
    assert 0 < int(hurried.value.response.headers["retry-after"]) <= 60


async def test_a_completion_whose_generate_reply_is_killed_mid_answer_completes_once(
    destructive_stack: Settings, name: str
) -> None:
    stack_settings = destructive_stack  # the kill must not reach other tests' chats
    await until_serving(stack_settings, name)
    async with browser(stack_settings) as client:
        user = await sign_up(client, name)
        key = await create_key(client, user)
        async with sdk(stack_settings, key) as api:
            stream = await api.chat.completions.create(
                model=MODEL, stream=True, stream_options={"include_usage": True},
                messages=[{"role": "user", "content": script(id=name, tokens=60, delay_ms=40)}],
            )  # fmt: skip
            chunks = []
            async with asyncio.timeout(90):
                async for chunk in stream:
                    chunks.append(chunk)
                    if len(chunks) == 10:
                        group = os.getpgid(
                            Stack(stack_settings).supervisor.processes()["generate_reply"].pid
                        )
                        os.killpg(group, signal.SIGKILL)

    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == words(60)
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == 60  # counted once each
    assert await model_calls(stack_settings, name) == 2  # the first call and one continuation


async def test_an_unknown_model_or_parameter_is_openai_s_error(
    stack_settings: Settings, name: str
) -> None:
    async with browser(stack_settings) as client:
        user = await sign_up(client, name)
        key = await create_key(client, user)
        async with sdk(stack_settings, key) as api:
            with pytest.raises(openai.NotFoundError) as unknown:
                await api.chat.completions.create(
                    model="no-such-model", messages=[{"role": "user", "content": "hi"}]
                )
            with pytest.raises(openai.BadRequestError) as unsupported:
                await api.chat.completions.create(
                    model=MODEL, messages=[{"role": "user", "content": "hi"}],
                    tools=[{"type": "function", "function": {"name": "f"}}],
                )  # fmt: skip
        ui = await send(client, user, await new_conversation(client, user), script(tokens=1))

    assert unknown.value.code == "model_not_found"
    assert unsupported.value.param == "tools"
    assert ui["reply_id"]  # the app's own path is untouched


async def test_the_openapi_document_describes_v1_and_the_keys(stack_settings: Settings) -> None:
    async with browser(stack_settings) as client:
        spec = (await client.get("/api/openapi.json")).json()

    assert {"/v1/chat/completions", "/v1/models", "/api/keys", "/api/usage"} <= set(spec["paths"])
    request = spec["components"]["schemas"]["ChatCompletionRequest"]
    assert {"model", "messages"} <= set(request["required"])
    assert {"stream", "stream_options", "store", "max_tokens"} <= set(request["properties"])
