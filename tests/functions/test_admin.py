"""The admin routes of the api function built from functions/api.py, on this worker's own
database (nothing else writes to it meanwhile, so totals move only by what a test adds)."""

from __future__ import annotations

from uuid import UUID

import httpx
from uuid6 import uuid7

from chatfn import runtime
from chatfn.models import Conversation, Message
from chatfn.settings import Settings
from tests.utils.functions import a_user, function_client, signed_in_user


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


async def totals(client: httpx.AsyncClient, admin_token: str) -> dict[str, int]:
    answer = await client.get("/api/admin/usage", headers=bearer(admin_token))
    assert answer.status_code == 200, answer.text
    usage: dict[str, int] = answer.json()
    return usage


async def chatted(user_id: UUID, *conversations: list[tuple[int, int]]) -> None:
    """Conversations of questions each answered with (prompt, completion) tokens, straight
    into the read model as persist_history leaves them."""
    async with runtime.current().sessions.begin() as db:
        for replies in conversations:
            conversation = Conversation(user_id=user_id, id=uuid7())
            db.add(conversation)
            await db.flush()
            parent = None
            for prompt_tokens, completion_tokens in replies:
                question = Message(user_id=user_id, id=uuid7(), conversation_id=conversation.id,
                                   parent_id=parent, role="user", content="q")  # fmt: skip
                db.add(question)
                await db.flush()
                reply = Message(user_id=user_id, id=uuid7(), conversation_id=conversation.id,
                                parent_id=question.id, role="assistant", content="a",
                                prompt_tokens=prompt_tokens,
                                completion_tokens=completion_tokens)  # fmt: skip
                db.add(reply)
                await db.flush()
                parent = reply.id


async def test_usage_totals_every_user_s_conversations_messages_and_tokens(
    function_env: Settings, name: str
) -> None:
    admin = await signed_in_user(f"{name}-admin@example.com", role="admin")
    user = await signed_in_user(f"{name}-user@example.com")
    async with function_client("api") as client:
        before = await totals(client, admin)
        await chatted(await a_user(), [(10, 3), (20, 5)], [(7, 1)])
        await chatted(await a_user(), [(100, 50)])
        after = await totals(client, admin)
        as_user = await client.get("/api/admin/usage", headers=bearer(user))

    assert {figure: after[figure] - before[figure] for figure in after} == {
        "conversations": 3,
        "messages": 8,
        "prompt_tokens": 10 + 20 + 7 + 100,
        "completion_tokens": 3 + 5 + 1 + 50,
    }
    assert as_user.status_code == 404  # to anyone but an admin, the path does not exist
