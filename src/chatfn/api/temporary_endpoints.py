"""Temporary chats: conversations the server never keeps.

The browser holds a temporary chat (the tab's memory and sessionStorage) and sends its
turns with each new message. `api` puts the user's system prompt and custom instructions
before them and publishes `io.chatfn.completion.requested` with no API key and no
`store`: the turns wait in Redis beside the reply and never enter the event log, the
reply streams like any other (`GET /api/replies/{id}/stream`), and once it has ended its
Redis keys expire within ten minutes (generate_reply's `FORGET_S`), so nothing of it
outlives the answer by more than that, far inside the 24 hours promised. What is kept is
the day's usage (`io.chatfn.completion.finished`, no text). So it is never in the
history, never titled, exported, searched, projected or sent to webhooks (no webhook
listens for those facts).
"""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from openai.types.chat import ChatCompletionMessageParam
from pydantic import BaseModel, ConfigDict, Field, field_validator
from uuid6 import uuid7

from chatfn.api.chat_endpoints import Accepted, known_model, send_command
from chatfn.api.security import ApiDep, DbDep, PrincipalDep
from chatfn.chat import prompt
from chatfn.events.catalog import CompletionRequested
from chatfn.text import StoredText

router = APIRouter(prefix="/api", tags=["chat"])


class TemporaryTurn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Literal["user", "assistant"]
    content: StoredText = Field(max_length=100_000)


class TemporaryMessage(BaseModel):
    """The temporary chat so far, ending with the new message."""

    model_config = ConfigDict(extra="forbid")

    messages: list[TemporaryTurn] = Field(min_length=1, max_length=1000)
    model: StoredText | None = Field(None, max_length=200)

    @field_validator("messages")
    @classmethod
    def _ends_with_a_question(cls, messages: list[TemporaryTurn]) -> list[TemporaryTurn]:
        if messages[-1].role != "user" or not messages[-1].content.strip():
            raise ValueError("the last message must be the user's, and not empty")
        return messages


@router.post("/temporary-chat/messages", status_code=202)
async def send_temporary(
    body: TemporaryMessage, principal: PrincipalDep, api: ApiDep, db: DbDep
) -> Accepted:
    """Answer the last of `messages` without keeping any of them. The reply streams from
    `GET /api/replies/{reply_id}/stream?ticket=...`; stop works as for any reply."""
    await known_model(api, body.model)
    turns: list[ChatCompletionMessageParam] = [
        {"role": "user", "content": t.content} if t.role == "user"
        else {"role": "assistant", "content": t.content}
        for t in body.messages
    ]  # fmt: skip
    system = await prompt.system_prompt(db, api.settings, principal.user_id)
    messages = prompt.fit(system, turns, api.settings)
    command = CompletionRequested(
        user_id=principal.user_id, conversation_id=uuid7(), message_id=uuid7(), reply_id=uuid7(),
        key_id=None, model=body.model or api.settings.llm_model, store=False,
    )  # fmt: skip
    return await send_command(api, command, messages)
