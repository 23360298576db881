"""The api function built from functions/api.py, configured through the environment."""

from __future__ import annotations

import json
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from uuid import UUID

import httpx
import pytest
from functions_framework.aio import create_asgi_app
from jose import jwt
from sqlalchemy import update
from uuid6 import uuid7

from chatfn import runtime
from chatfn.events.catalog import ConversationCreated, ConversationTrashed, PingTick, new_event
from chatfn.local.stack import FUNCTIONS_DIR
from chatfn.models import Conversation
from chatfn.settings import Settings, get_settings
from tests.utils.broker import Subscriber, serving
from tests.utils.functions import a_user, deliver, function_client, signed_in_user
from tests.utils.jwt_attacks import local_attacks
from tests.utils.projection import project


def configure(monkeypatch: pytest.MonkeyPatch, **variables: str) -> None:
    for variable, value in variables.items():
        monkeypatch.setenv(variable, value)
    get_settings.cache_clear()
    runtime.current.cache_clear()


async def test_the_per_user_limit_answers_429_with_retry_after(
    function_env: Settings, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure(monkeypatch, RATE_LIMIT_USER="3/minute")
    token = await signed_in_user(f"{name}@example.com")

    async with function_client("api") as client:
        answers = [
            await client.get("/api/me", headers={"authorization": f"Bearer {token}"})
            for _ in range(4)
        ]

    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert answers[-1].headers["content-type"] == "application/problem+json"
    assert 0 < int(answers[-1].headers["retry-after"]) <= 60


@pytest.mark.parametrize(
    ("trusted", "statuses"),
    [
        # The in-process client connects from 127.0.0.1: untrusted, its header is ignored
        # and three requests from "three addresses" are three from one.
        ("10.0.0.1", [401, 401, 429]),
        # Trusted, the header names the client: three addresses, one request each.
        ("127.0.0.1", [401, 401, 401]),
    ],
)
async def test_x_forwarded_for_names_the_client_only_from_a_trusted_proxy(
    function_env: Settings, monkeypatch: pytest.MonkeyPatch, trusted: str, statuses: list[int]
) -> None:
    configure(monkeypatch, RATE_LIMIT_IP="2/minute", TRUSTED_PROXIES=trusted)

    async with function_client("api") as client:
        answers = [
            await client.get("/api/me", headers={"x-forwarded-for": f"198.51.100.{n}"})
            for n in range(3)
        ]

    assert [a.status_code for a in answers] == statuses


async def test_every_forged_token_gets_the_same_401(function_env: Settings, name: str) -> None:
    genuine = await signed_in_user(f"{name}@example.com")
    user_id = UUID(jwt.get_unverified_claims(genuine)["sub"])
    attacks = local_attacks(function_env, subject=user_id)

    async with function_client("api") as client:
        control = await client.get("/api/me", headers={"authorization": f"Bearer {genuine}"})
        answers = {
            attack: await client.get("/api/me", headers={"authorization": f"Bearer {token}"})
            for attack, token in attacks.items()
        }

    assert control.status_code == 200
    assert {attack: answer.status_code for attack, answer in answers.items()} == dict.fromkeys(
        attacks, 401
    )
    assert len({answer.text for answer in answers.values()}) == 1


@pytest.mark.parametrize(
    ("variables", "why"),
    [
        ({"REGISTER_TIMEOUT_S": "0.001"}, "taking longer than usual"),
        ({"K_SINK": "http://127.0.0.1:9/chatfn/default"}, "broker did not take"),
    ],
)
async def test_sign_up_without_a_timely_answer_is_a_503_with_retry_after(
    function_env: Settings,
    name: str,
    monkeypatch: pytest.MonkeyPatch,
    variables: dict[str, str],
    why: str,
) -> None:
    configure(monkeypatch, **variables)

    async with function_client("api") as client:
        answer = await client.post(
            "/api/auth/register", json={"email": f"{name}@example.com", "password": "x" * 12}
        )

    assert answer.status_code == 503
    assert answer.headers["retry-after"] == "2"
    assert why in answer.json()["detail"]


def register_result(data: object, **attributes: str) -> tuple[dict[str, str], bytes]:
    """A binary-mode delivery to `/events/register-result`, as the broker makes it."""
    headers = {
        "ce-specversion": "1.0", "ce-id": "e-1", "ce-source": "tests",
        "ce-type": "io.chatfn.user.registered", "content-type": "application/json",
        **{f"ce-{name}": value for name, value in attributes.items()},
    }  # fmt: skip
    return headers, data if isinstance(data, bytes) else json.dumps(data).encode()


@pytest.mark.parametrize(
    ("body", "attributes", "status"),
    [
        (b"{not json", {}, 422),
        (b"", {}, 422),
        (b"\xff\xfe\x00", {}, 422),
        ([], {}, 422),
        ({"user_id": "not-a-uuid", "surprise": 1}, {}, 422),
        ({}, {"dataschema": "urn:chatfn:io.chatfn.user.registered:v9"}, 422),
    ],
)
async def test_a_bad_result_event_is_a_final_4xx_never_a_500(
    function_env: Settings, body: object, attributes: dict[str, str], status: int
) -> None:
    """A 5xx would have the broker retry a poison event as if it were transient."""
    headers, content = register_result(body, **attributes)

    async with function_client("api") as client:
        answer = await client.post("/events/register-result", headers=headers, content=content)

    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize("broken", ["DATABASE_URL", "REDIS_URL"])
async def test_a_dependency_down_is_a_503_problem_with_retry_after(
    function_env: Settings, name: str, monkeypatch: pytest.MonkeyPatch, broken: str
) -> None:
    token = await signed_in_user(f"{name}@example.com")
    closed = {
        "DATABASE_URL": "postgresql://127.0.0.1:9/chatfn",
        "REDIS_URL": "redis://127.0.0.1:9/0",
    }
    configure(monkeypatch, **{broken: closed[broken]})
    bearer = {"authorization": f"Bearer {token}"}

    async with function_client("api") as client:
        answer = await client.get("/api/conversations", headers=bearer)

    assert answer.status_code == 503, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert int(answer.headers["retry-after"]) > 0


async def test_an_unexpected_error_stays_in_its_request(function_env: Settings) -> None:
    """Served as Knative serves it (functions-framework under uvicorn), one request fails
    unexpectedly; the next on the same kept-alive connection (the gateway pools them, so
    it may be another user's) is answered as usual."""
    app = create_asgi_app(target="api", source=str(FUNCTIONS_DIR / "api.py"))  # type: ignore[no-untyped-call]
    api_module = sys.modules["api"]
    fastapi_app = api_module._app()

    async def boom() -> None:
        raise RuntimeError("an email@example.com the message must not leak")

    fastapi_app.add_api_route("/api/boom", boom)
    async with serving(app) as url, httpx.AsyncClient(base_url=url) as client:
        failed = await client.get("/api/boom")
        answers = [await client.get("/healthz") for _ in range(5)]

    assert failed.status_code == 500
    assert failed.headers["content-type"] == "application/problem+json"
    assert "example.com" not in failed.text
    assert [a.status_code for a in answers] == [200] * 5


async def test_a_body_without_a_length_is_cut_off_at_the_cap(function_env: Settings) -> None:
    sent = 0

    async def chunks() -> AsyncIterator[bytes]:
        nonlocal sent
        for _ in range(100):  # 6.4 MiB if it were all read
            sent += 1
            yield b"x" * 65536

    async with function_client("api") as client:
        answer = await client.post("/api/auth/login", content=chunks())

    assert answer.status_code == 413
    assert answer.headers["content-type"] == "application/problem+json"
    assert sent <= 17  # read up to the cap (1 MiB), no further


async def test_the_daily_trash_sweep_purges_what_has_been_in_the_trash_for_30_days(
    function_env: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    user_id = await a_user()
    old, recent, kept = uuid7(), uuid7(), uuid7()
    ids = [{"user_id": user_id, "conversation_id": c} for c in (old, recent, kept)]
    await project(*(ConversationCreated(**i) for i in ids),
                  *(ConversationTrashed(**i) for i in ids[:2]))  # fmt: skip
    async with runtime.current().sessions.begin() as db:  # as if `old` went 31 days ago
        month_ago = datetime.now(UTC) - timedelta(days=31)
        await db.execute(
            update(Conversation).where(Conversation.id == old).values(deleted_at=month_ago)
        )
    ping = "/apis/v1/namespaces/chatfn/pingsources/trash-sweep"
    tick = new_event(PingTick(sweep="trash"), source=ping)

    async with Subscriber().running() as broker:
        configure(monkeypatch, K_SINK=broker.url)
        async with function_client("api") as client:
            swept = [await deliver(client, tick, path="/events/trash-sweep") for _ in range(2)]

    assert [answer.status_code for answer in swept] == [202, 202]
    purges = [e for e in broker.received if e.data["user_id"] == str(user_id)]
    assert {e["type"] for e in purges} == {"io.chatfn.conversation.purged"}
    assert {e.data["conversation_id"] for e in purges} == {str(old)}
    assert len({e["id"] for e in purges}) == 1  # two ticks, one fact: the second a duplicate
