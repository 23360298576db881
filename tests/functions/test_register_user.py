from __future__ import annotations

from uuid import UUID, uuid4

import pytest
from argon2 import PasswordHasher
from cloudevents.http import CloudEvent
from sqlalchemy import func, select

from chatfn import runtime
from chatfn.events import UserRegisterRequested, new_event
from chatfn.models import User, UserEmail
from chatfn.settings import Settings, get_settings
from tests.utils.functions import deliver, function_client, reply_of

HASH = PasswordHasher().hash("correct horse battery staple")


def command(email: str, user_id: UUID | None = None) -> CloudEvent:
    payload = UserRegisterRequested(
        user_id=user_id or uuid4(), email=email, password_hash=HASH, display_name="Ada"
    )
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
    event = command(email.upper())

    async with function_client("register_user") as client:
        answer = reply_of(await deliver(client, event))

    assert answer["type"] == "io.chatfn.user.registered"
    assert answer["correlationid"] == "c-1.sig"
    assert answer.data["email"] == email
    async with runtime.current().sessions() as db:
        user = await db.get(User, UUID(answer.data["user_id"]))
    assert user is not None
    assert (user.email, user.password_hash, user.role) == (email, HASH, "user")


async def test_a_redelivered_command_gets_the_same_answer_and_writes_nothing(
    function_env: Settings, name: str
) -> None:
    event = command(f"{name}@example.com")

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
        reply_of(await deliver(client, command(f"{name}@Example.com")))
        answer = reply_of(await deliver(client, command(f"{name.upper()}@example.COM")))

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
        answer = reply_of(await deliver(client, command(email)))

    async with runtime.current().sessions() as db:
        user = await db.get(User, UUID(answer.data["user_id"]))
    assert user is not None
    assert user.role == "admin"


async def test_bad_events_are_final_answers_for_the_dead_letter_sink(
    function_env: Settings,
) -> None:
    plaintext = command("x@example.com")
    plaintext.data["password_hash"] = "hunter2"  # a plain password must never get in

    async with function_client("register_user") as client:
        malformed = await client.post(
            "/", content=b"{}", headers={"content-type": "application/json"}
        )
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
