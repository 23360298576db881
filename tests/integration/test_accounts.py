"""Accounts end to end: the gateway, the api function, the broker and register_user."""

from __future__ import annotations

import asyncio
from typing import Any
from uuid import UUID

import httpx
import pytest

from chatfn.settings import Settings
from tests.utils.accounts import (
    SignedIn,
    browser,
    end_retry_grace,
    login,
    make_admin,
    refresh,
    refresh_cookie_attributes,
    register,
    signed_in,
)
from tests.utils.chat import conversation_when, new_conversation, read_stream, script, send

# Out of reach of scripts (HttpOnly), never over plain http (Secure), never sent by another
# site's request (SameSite=Strict), and sent to the sign-in routes only.
REFRESH_COOKIE_FLAGS = {"httponly": True, "secure": True, "samesite": "strict", "path": "/api/auth"}


def refresh_cookie_flags(response: httpx.Response) -> dict[str, str | bool]:
    attributes = refresh_cookie_attributes(response)
    flags = {name: attributes.get(name, False) for name in REFRESH_COOKIE_FLAGS}
    samesite = flags["samesite"]
    return flags | {"samesite": samesite.lower() if isinstance(samesite, str) else samesite}


async def test_register_me_refresh_logout(stack_settings: Settings, name: str) -> None:
    async with browser(stack_settings) as client:
        registered = await register(client, f"{name}@Example.com", display_name="Ada")
        assert registered.status_code == 201, registered.text
        assert refresh_cookie_flags(registered) == REFRESH_COOKIE_FLAGS
        session = signed_in(registered)

        me = await client.get("/api/me", headers=session.auth)
        assert me.json()["email"] == f"{name}@example.com"
        assert me.json()["display_name"] == "Ada"

        refreshing = await refresh(client, session)
        assert refresh_cookie_flags(refreshing) == REFRESH_COOKIE_FLAGS
        refreshed = signed_in(refreshing)
        assert refreshed.refresh_token != session.refresh_token
        assert (await client.get("/api/me", headers=refreshed.auth)).status_code == 200

        logout = await client.post("/api/auth/logout", headers=refreshed.auth)
        assert logout.status_code == 204
        after = await client.get("/api/me", headers=refreshed.auth)
        assert after.status_code == 401
        assert after.headers["content-type"] == "application/problem+json"
        again = await refresh(client, refreshed)
        assert again.status_code == 401

        logged_in = await login(client, f"{name}@example.com")
        assert logged_in.status_code == 200
        assert refresh_cookie_flags(logged_in) == REFRESH_COOKIE_FLAGS


async def test_preferences_are_saved_and_validated(stack_settings: Settings, name: str) -> None:
    async with browser(stack_settings) as client:
        session = signed_in(await register(client, f"{name}@example.com"))

        changed = await client.patch(
            "/api/me",
            headers=session.auth,
            json={
                "theme": "dark",
                "custom_instructions": "Answer briefly.",
                "display_name": " Ada ",
            },
        )
        refused = await client.patch("/api/me", headers=session.auth, json={"theme": "neon"})
        me = await client.get("/api/me", headers=session.auth)

    assert changed.status_code == 200, changed.text
    assert me.json()["display_name"] == "Ada"
    assert me.json()["preferences"] == {
        "theme": "dark",
        "custom_instructions": "Answer briefly.",
        "default_model": "",
    }
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["loc"] == ["body", "theme"]


async def test_two_spellings_of_one_email_make_one_account(
    stack_settings: Settings, name: str
) -> None:
    async with browser(stack_settings) as client:
        answers = await asyncio.gather(
            register(client, f"{name.upper()}@X.com"), register(client, f"{name}@x.com")
        )

    assert sorted(answer.status_code for answer in answers) == [201, 409]
    conflict = next(answer for answer in answers if answer.status_code == 409)
    assert conflict.json()["title"] == "Email taken"


async def test_a_retried_registration_makes_no_second_account(
    stack_settings: Settings, name: str
) -> None:
    async with browser(stack_settings) as client:
        first = await client.post(
            "/api/auth/register",
            json={"email": f"{name}@example.com", "password": "correct horse battery"},
            headers={"idempotency-key": name},
        )
        retry = await client.post(
            "/api/auth/register",
            json={"email": f"{name}@example.com", "password": "correct horse battery"},
            headers={"idempotency-key": name},
        )

    assert (first.status_code, retry.status_code) == (201, 201)
    assert first.json()["user"]["id"] == retry.json()["user"]["id"]


@pytest.mark.parametrize("copy_is_stale_because", ["the browser carried on", "the grace passed"])
async def test_a_reused_refresh_token_revokes_its_whole_family(
    stack_settings: Settings, name: str, copy_is_stale_because: str
) -> None:
    async with browser(stack_settings) as client:
        first = signed_in(await register(client, f"{name}@example.com"))
        latest = signed_in(await refresh(client, first))
        if copy_is_stale_because == "the browser carried on":
            latest = signed_in(await refresh(client, latest))
        else:
            await end_retry_grace(stack_settings, first.user_id)

        stolen = await refresh(client, first)
        legitimate = await refresh(client, latest)

    assert (stolen.status_code, legitimate.status_code) == (401, 401)


async def test_a_refresh_retried_after_its_answer_was_lost_signs_in_again(
    stack_settings: Settings, name: str
) -> None:
    async with browser(stack_settings) as client:
        first = signed_in(await register(client, f"{name}@example.com"))
        lost = signed_in(await refresh(client, first))  # the answer never reaches the browser

        retried = signed_in(await refresh(client, first))
        carried_on = signed_in(await refresh(client, retried))
        assert (await client.get("/api/me", headers=carried_on.auth)).status_code == 200

        # The successor that was lost is retired: if it shows up now, it was copied.
        assert (await refresh(client, lost)).status_code == 401
        assert (await refresh(client, carried_on)).status_code == 401


async def test_a_retired_successor_shown_within_the_grace_is_reuse(
    stack_settings: Settings, name: str
) -> None:
    """The successor a retry retires was never the browser's: presenting it, even at
    once, means it was copied, and the whole sign-in ends."""
    async with browser(stack_settings) as client:
        first = signed_in(await register(client, f"{name}@example.com"))
        lost = signed_in(await refresh(client, first))
        retried = signed_in(await refresh(client, first))

        shown = await refresh(client, lost)
        after = await refresh(client, retried)

    assert (shown.status_code, after.status_code) == (401, 401)


async def test_logout_all_ends_every_session_and_a_new_one_works_at_once(
    stack_settings: Settings, name: str
) -> None:
    async with browser(stack_settings) as client:
        laptop = signed_in(await register(client, f"{name}@example.com"))
        phone = signed_in(await login(client, f"{name}@example.com"))

        assert (await client.post("/api/auth/logout-all", headers=phone.auth)).status_code == 204
        fresh = signed_in(await login(client, f"{name}@example.com"))

        for session in (laptop, phone):
            assert (await client.get("/api/me", headers=session.auth)).status_code == 401
            assert (await refresh(client, session)).status_code == 401
        assert (await client.get("/api/me", headers=fresh.auth)).status_code == 200


async def as_listed(client: httpx.AsyncClient, admin: SignedIn, user_id: str) -> dict[str, Any]:
    """The user as `GET /api/admin/users` lists them. Users come oldest first (UUIDv7 ids):
    the page after the id just before theirs starts with them."""
    just_before = str(UUID(int=UUID(user_id).int - 1))
    page = await client.get(
        "/api/admin/users", headers=admin.auth, params={"cursor": just_before, "limit": 1}
    )
    assert page.status_code == 200, page.text
    (found,) = page.json()["users"]
    assert found["id"] == user_id
    return dict(found)


async def test_a_disabled_user_is_locked_out_and_admin_pages_are_invisible_to_users(
    stack_settings: Settings, name: str
) -> None:
    async with browser(stack_settings) as client:
        admin = signed_in(await register(client, f"{name}-admin@example.com"))
        user = signed_in(await register(client, f"{name}-user@example.com"))
        await make_admin(stack_settings, admin.user_id)

        as_user = await client.get("/api/admin/users", headers=user.auth)
        disable_as_user = await client.post(
            f"/api/admin/users/{admin.user_id}/disable", headers=user.auth
        )
        disabled = await client.post(f"/api/admin/users/{user.user_id}/disable", headers=admin.auth)

        me = await client.get("/api/me", headers=user.auth)
        refreshed = await refresh(client, user)
        sign_in = await login(client, f"{name}-user@example.com")
        listed = await as_listed(client, admin, user.user_id)
        admin_listed = await as_listed(client, admin, admin.user_id)

    assert (as_user.status_code, disable_as_user.status_code) == (404, 404)
    assert admin_listed["disabled"] is False
    assert disabled.status_code == 204
    assert (me.status_code, refreshed.status_code, sign_in.status_code) == (401, 401, 403)
    assert listed["disabled"] is True


async def test_admin_lists_what_each_user_used_and_enables_a_disabled_user(
    stack_settings: Settings, name: str
) -> None:
    async with browser(stack_settings) as client:
        admin = signed_in(await register(client, f"{name}-admin@example.com"))
        user = signed_in(await register(client, f"{name}-user@example.com"))
        other = signed_in(await register(client, f"{name}-other@example.com"))
        await make_admin(stack_settings, admin.user_id)
        # Two conversations, three replies of 3, 5 and 7 tokens.
        first, second = await new_conversation(client, user), await new_conversation(client, user)

        async def reply(conversation: str, tokens: int, **parent: str) -> dict[str, Any]:
            accepted = await send(client, user, conversation, script(tokens=tokens), **parent)
            read = await read_stream(client, accepted["reply_id"], accepted["stream_ticket"])
            assert read.terminal is not None
            usage: dict[str, Any] = read.terminal.data["usage"]
            return usage | {"reply_id": accepted["reply_id"]}

        opening = await reply(first, 3)
        usages = [opening, await reply(first, 5, parent_id=opening["reply_id"]),
                  await reply(second, 7)]  # fmt: skip
        await conversation_when(client, user, first, settled=2)
        await conversation_when(client, user, second, settled=1)

        listed = await as_listed(client, admin, user.user_id)
        disabled = await client.post(f"/api/admin/users/{user.user_id}/disable", headers=admin.auth)
        enable_as_other = await client.post(
            f"/api/admin/users/{user.user_id}/enable", headers=other.auth
        )
        refused = await login(client, f"{name}-user@example.com")  # still disabled
        enabled = await client.post(f"/api/admin/users/{user.user_id}/enable", headers=admin.auth)
        signed_in_again = await login(client, f"{name}-user@example.com")
        listed_after = await as_listed(client, admin, user.user_id)

    assert listed["usage"] == {
        "conversations": 2,
        "messages": 6,  # three questions, three replies
        "prompt_tokens": sum(usage["prompt_tokens"] for usage in usages),
        "completion_tokens": 3 + 5 + 7,
    }
    assert all(usage["prompt_tokens"] > 0 for usage in usages)
    assert (listed["email"], listed["role"], listed["disabled"]) == (user.email, "user", False)
    assert (disabled.status_code, refused.status_code) == (204, 403)
    assert enable_as_other.status_code == 404  # no such path, to a user
    assert (enabled.status_code, signed_in_again.status_code) == (204, 200)
    assert listed_after["disabled"] is False


async def test_login_brute_force_is_slowed_with_a_problem_and_retry_after(
    stack_settings: Settings, name: str
) -> None:
    async with browser(stack_settings) as client:
        await register(client, f"{name}@example.com")
        answers = [await login(client, f"{name}@example.com", "wrong password!") for _ in range(11)]
        correct_but_locked = await login(client, f"{name}@example.com")

    assert [a.status_code for a in answers] == [401] * 10 + [429]
    assert correct_but_locked.status_code == 429
    assert int(correct_but_locked.headers["retry-after"]) > 0
    assert correct_but_locked.json()["status"] == 429


async def test_unauthenticated_and_malformed_requests_get_problems(
    stack_settings: Settings,
) -> None:
    async with browser(stack_settings) as client:
        anonymous = await client.get("/api/me")
        garbage = await client.get("/api/me", headers={"authorization": "Bearer x.y.z"})
        not_json = await client.post(
            "/api/auth/login", content=b"{", headers={"content-type": "application/json"}
        )
        unknown = await client.get("/api/nothing-here")

    for answer, status in ((anonymous, 401), (garbage, 401), (not_json, 422), (unknown, 404)):
        assert answer.status_code == status, answer.text
        assert answer.headers["content-type"] == "application/problem+json"
    assert anonymous.json() == garbage.json()


async def test_openapi_is_published(stack_settings: Settings) -> None:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{stack_settings.port}") as client:
        spec = (await client.get("/api/openapi.json")).json()

    assert {"/api/auth/register", "/api/auth/login", "/api/me"} <= set(spec["paths"])
    assert "/events/register-result" not in spec["paths"]
