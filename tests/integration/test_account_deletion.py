"""Deleting one's own account through the running stack: it takes the password again, and
then nothing of the user is left in any table or in S3, and no session or API key works."""

from __future__ import annotations

import asyncio
import contextlib
from uuid import UUID

from sqlalchemy import Table, func, select

from chatfn.attachments import files
from chatfn.db import Base, create_engine
from chatfn.runtime import Runtime
from chatfn.settings import Settings
from tests.integration.test_attachments import uploaded
from tests.integration.test_openai_api import create_key
from tests.utils.accounts import PASSWORD, browser, login, register, sign_up
from tests.utils.chat import conversation_when, new_conversation, script, send
from tests.utils.receivers import ALLOWED
from tests.utils.waiting import once

URL = "/api/auth/account"


async def rows_of(settings: Settings, user_id: str) -> dict[str, int]:
    """The user's rows in every table that has a `user_id`, by table (non-empty only)."""
    engine = create_engine(settings, pooled=False)
    found: dict[str, int] = {}
    async with engine.connect() as db:
        for table in Base.metadata.sorted_tables:
            # erased_users keeps the id alone, so that late facts bring nothing back.
            if "user_id" in table.c and table.name != "erased_users":
                count = await db.scalar(
                    select(func.count()).select_from(table).where(table.c.user_id == user_id)
                )
                if count:
                    found[table.name] = count
        users: Table = Base.metadata.tables["users"]
        if await db.scalar(select(func.count()).select_from(users).where(users.c.id == user_id)):
            found["users"] = 1
    await engine.dispose()
    return found


async def objects_of(settings: Settings, user_id: str) -> list[str]:
    """The user's attachments in S3, sent or not."""
    client = Runtime(settings).s3
    found = await asyncio.to_thread(
        lambda: list(client.list_objects(settings.s3_bucket, files.user_prefix(UUID(user_id)),
                                         recursive=True))
    )  # fmt: skip
    return [item.object_name for item in found if item.object_name]


async def test_deleting_my_account_takes_the_password_and_leaves_nothing_of_me(
    stack_settings: Settings, name: str
) -> None:
    async with browser(stack_settings) as client:
        user = await sign_up(client, name)
        conversation = await new_conversation(client, user)
        attachment = await uploaded(client, user, "notes.txt", b"my notes")
        await uploaded(client, user, "draft.txt", b"not sent")
        await send(client, user, conversation, script(tokens=3), attachments=[attachment])
        await conversation_when(client, user, conversation, settled=1)
        key = await create_key(client, user)
        endpoint = {"url": f"http://{ALLOWED}:9/hook", "event_types": ["io.chatfn.reply.completed"]}
        hook = await client.post("/api/webhooks", headers=user.auth, json=endpoint)
        assert hook.status_code == 201, hook.text
        inbound = await client.post("/api/integrations", headers=user.auth, json={"name": "bot"})
        assert inbound.status_code == 201, inbound.text
        read = await client.get(f"/api/conversations/{conversation}", headers=user.auth)
        up_to = {"up_to_message_id": read.json()["messages"][-1]["id"]}
        shared = await client.post(
            f"/api/conversations/{conversation}/shares", headers=user.auth, json=up_to
        )
        assert shared.status_code == 201, shared.text
        before = await rows_of(stack_settings, user.user_id)
        files_before = await objects_of(stack_settings, user.user_id)

        wrong = await client.request("DELETE", URL, headers=user.auth, json={"password": "nope"})
        still = await client.get("/api/me", headers=user.auth)
        deleted = await client.request(
            "DELETE", URL, headers=user.auth, json={"password": PASSWORD}
        )
        with contextlib.suppress(TimeoutError):  # the assertion below names what is left
            await once(lambda: rows_of(stack_settings, user.user_id), lambda rows: rows == {})
            await once(lambda: objects_of(stack_settings, user.user_id), lambda names: not names)
        after = await rows_of(stack_settings, user.user_id)
        files_after = await objects_of(stack_settings, user.user_id)
        session = await client.get("/api/me", headers=user.auth)
        by_key = await client.get("/v1/models", headers={"authorization": f"Bearer {key}"})
        signed_in = await login(client, user.email)
        again = await register(client, user.email)
        link = await client.get(f"/api/shared/{shared.json()['url'].rsplit('/', 1)[-1]}")

    assert {"users", "messages", "conversations", "api_keys", "webhook_endpoints",
            "inbound_integrations", "daily_usage", "shares",
            "message_attachments"} <= set(before)  # fmt: skip
    assert len(files_before) == 2  # the sent file and the unsent upload
    assert files_after == []
    assert wrong.status_code == 403
    assert still.status_code == 200
    assert deleted.status_code == 204
    assert after == {}
    assert session.status_code == 401
    assert by_key.status_code == 401
    assert signed_in.status_code == 401
    assert again.status_code == 201  # the email is free again
    assert link.status_code == 404
