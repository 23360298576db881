"""What the model is asked: the system prompt, the user's custom instructions and the
branch's history, trimmed from the oldest end to fit the model's context window.

The history comes from the projection, the question itself from its fact: the two are
consumed side by side, and the question's row may not be written yet."""

from __future__ import annotations

import math
from uuid import UUID

from openai.types.chat import ChatCompletionMessageParam
from redis.asyncio import Redis
from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from chatfn.chat import history, replies
from chatfn.events.catalog import MessageSent, ReplyRegenerated
from chatfn.events.consumer import RetryLater
from chatfn.models import Preferences
from chatfn.settings import Settings

PER_MESSAGE_TOKENS = 4  # role and separators in every chat template

# Only the one preference, built once: this runs before every reply's first token.
INSTRUCTIONS = select(Preferences.values["custom_instructions"].astext).where(
    Preferences.user_id == bindparam("user_id")
)


def estimate_tokens(text: str) -> int:
    """A deliberately high estimate (3 bytes a token; real tokenizers average about 4 on
    English): the model server's tokenizer is not available to us for every model."""
    return math.ceil(len(text.encode()) / 3) + PER_MESSAGE_TOKENS


async def build(
    db: AsyncSession, redis: Redis, settings: Settings, fact: MessageSent | ReplyRegenerated
) -> list[ChatCompletionMessageParam]:
    """The messages for answering the question `fact` is about, oldest first."""
    turns = await _history(db, redis, settings, fact)
    if isinstance(fact, MessageSent):
        turns.append({"role": "user", "content": fact.content})
    return fit(await system_prompt(db, settings, fact.user_id), turns, settings)


async def system_prompt(db: AsyncSession, settings: Settings, user_id: UUID) -> str:
    """The app's system prompt, with the user's custom instructions if they set any."""
    instructions = await db.scalar(INSTRUCTIONS, {"user_id": user_id})
    system = settings.system_prompt
    if instructions:
        system += f"\n\nThe user's instructions for every answer:\n{instructions}"
    return system


def fit(
    system: str, turns: list[ChatCompletionMessageParam], settings: Settings
) -> list[ChatCompletionMessageParam]:
    """`system`, then as many of the newest `turns` as the context window holds."""
    budget = settings.llm_context_tokens - settings.llm_max_tokens - estimate_tokens(system)
    kept: list[ChatCompletionMessageParam] = []
    for turn in reversed(turns):  # newest first, so the question itself always stays
        cost = estimate_tokens(str(turn.get("content", "")))
        if kept and cost > budget:
            break
        kept.insert(0, turn)
        budget -= cost
    return [{"role": "system", "content": system}, *kept]


async def _history(
    db: AsyncSession, redis: Redis, settings: Settings, fact: MessageSent | ReplyRegenerated
) -> list[ChatCompletionMessageParam]:
    """The branch before the answer: up to the question a regeneration answers again, up
    to the question's parent for a new message."""
    last = fact.message_id if isinstance(fact, ReplyRegenerated) else fact.parent_id
    if last is None:
        return []
    rows = await history.branch(db, fact.user_id, last)
    if not rows:
        # Decided, so the message exists: the projection has not caught up with it yet.
        raise RetryLater("the conversation's history is not projected yet")
    turns: list[ChatCompletionMessageParam] = []
    for message in rows:
        content = message.content
        if message.role == "assistant" and message.status == "streaming":
            # Streamed but not yet projected into PostgreSQL: the stream has the text.
            content = (await replies.Reply(redis, settings, message.id).read()).text
        if message.role == "user":
            turns.append({"role": "user", "content": content})
        elif message.role == "system":  # a kept API completion's own system prompt
            turns.append({"role": "system", "content": content})
        else:
            turns.append({"role": "assistant", "content": content})
    return turns
