from __future__ import annotations

import json
from uuid import UUID, uuid4

import pytest
from argon2 import PasswordHasher
from cloudevents.http import CloudEvent
from sqlalchemy import func, select

from chatfn import runtime
from chatfn.events.catalog import UserRegisterRequested, new_event
from chatfn.identity import accounts
from chatfn.models import User, UserEmail
from chatfn.settings import Settings, get_settings
from tests.utils.functions import deliver, deliver_malformed, function_client, reply_of

HASH = PasswordHasher().hash("correct horse battery staple")


async def command(email: str, user_id: UUID | None = None) -> CloudEvent:
    """A sign-up as `api` makes it: the hash handed off in Redis, the event without it."""
    payload = UserRegisterRequested(user_id=user_id or uuid4(), email=email, display_name="Ada")
    context = runtime.current()
    await accounts.hand_off_password_hash(context.redis, context.settings, payload.user_id, HASH)
    return new_event(payload, source="tests", extensions={"correlationid": "c-1.sig"})


async def accounts_for(email: str) -> int:
    async with runtime.current().sessions() as db:
        return (
            await db.scalar(
                select(func.count()).select_from(UserEmail).where(UserEmail.email == email)
            )
            or 0
        )


async def test_a_new_email_is_registered_and_the_answer_carries_the_correlation(
    function_env: Settings, name: str
) -> None:
    email = f"{name}@example.com"
    event = await command(email.upper())

    async with function_client("register_user") as client:
        answer = reply_of(await deliver(client, event))

    assert answer["type"] == "io.chatfn.user.registered"
    assert answer["correlationid"] == "c-1.sig"
    assert answer.data["email"] == email
    async with runtime.current().sessions() as db:
        user = await db.get(User, UUID(answer.data["user_id"]))
    assert user is not None
    assert (user.email, user.password_hash, user.role) == (email, HASH, "user")
    assert "argon2" not in json.dumps(event.data)
    context = runtime.current()
    handoff = await context.redis.keys(f"{context.settings.redis_prefix}:register-handoff:*")
    assert handoff == [], "the hash stays in Redis only until the user is written"


async def test_a_command_whose_hash_is_no_longer_waiting_is_refused(
    function_env: Settings, name: str
) -> None:
    event = await command(f"{name}@example.com")
    context = runtime.current()
    user_id = UUID(event.data["user_id"])
    await accounts.drop_password_hash(context.redis, context.settings, user_id)

    async with function_client("register_user") as client:
        answer = reply_of(await deliver(client, event))

    assert answer["type"] == "io.chatfn.user.register.rejected"
    assert answer.data["reason"] == "handoff_expired"
    assert await accounts_for(f"{name}@example.com") == 0


async def test_a_redelivered_command_gets_the_same_answer_and_writes_nothing(
    function_env: Settings, name: str
) -> None:
    event = await command(f"{name}@example.com")

    async with function_client("register_user") as client:
        first = reply_of(await deliver(client, event))
        second = reply_of(await deliver(client, event))

    assert first["type"] == second["type"] == "io.chatfn.user.registered"
    assert first.data == second.data
    assert await accounts_for(f"{name}@example.com") == 1


async def test_an_email_taken_in_another_case_is_rejected(
    function_env: Settings, name: str
) -> None:
    async with function_client("register_user") as client:
        reply_of(await deliver(client, await command(f"{name}@Example.com")))
        answer = reply_of(await deliver(client, await command(f"{name.upper()}@example.COM")))

    assert answer["type"] == "io.chatfn.user.register.rejected"
    assert answer.data["reason"] == "email_taken"
    assert await accounts_for(f"{name}@example.com") == 1


async def test_an_admin_email_becomes_an_admin(
    function_env: Settings, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    email = f"{name}@example.com"
    monkeypatch.setenv("ADMIN_EMAILS", f"someone@example.com, {email.upper()}")
    get_settings.cache_clear()
    runtime.current.cache_clear()

    async with function_client("register_user") as client:
        answer = reply_of(await deliver(client, await command(email)))

    async with runtime.current().sessions() as db:
        user = await db.get(User, UUID(answer.data["user_id"]))
    assert user is not None
    assert user.role == "admin"


async def test_bad_events_are_final_answers_for_the_dead_letter_sink(
    function_env: Settings,
) -> None:
    plaintext = await command("x@example.com")
    plaintext.data["password_hash"] = "hunter2"  # no password, nor its hash, gets in

    async with function_client("register_user") as client:
        malformed = await deliver_malformed(client)
        invalid = await deliver(client, plaintext)
        probe = await client.get("/healthz")

    assert malformed.status_code == 400
    assert invalid.status_code == 422
    assert invalid.headers["content-type"] == "application/problem+json"
    assert "hunter2" not in invalid.text
    assert probe.json() == {
        "function": "register_user",
        "consumes": ["io.chatfn.user.register.requested"],
    }
