"""What the model is asked: the system prompt, the user's custom instructions and the
branch's history, trimmed from the oldest end to fit the model's context window.

The history comes from the projection, the question itself from its fact: the two are
consumed side by side, and the question's row may not be written yet. A user message's
files come with it: their text (cut when sent, chatfn.attachments.reading) in the
message, an image as an image part for a model that reads images (`LLM_IMAGE_MODELS`)
and as a note for one that does not."""

from __future__ import annotations

import base64
import math
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol
from uuid import UUID

from openai.types.chat import ChatCompletionContentPartParam, ChatCompletionMessageParam
from redis.asyncio import Redis
from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from chatfn.chat import history, replies
from chatfn.events.catalog import MessageSent, ReplyRegenerated
from chatfn.events.consumer import RetryLater
from chatfn.models import MessageAttachment, Preferences
from chatfn.settings import Settings

PER_MESSAGE_TOKENS = 4  # role and separators in every chat template
BYTES_PER_TOKEN = 3
IMAGE_TOKENS = 800  # a generous price of one image (OpenAI: 85 + 170 per 512 px tile)
# An image's bytes by its attachment's object key (S3, in generate_reply).
ImageReader = Callable[[UUID, UUID], Awaitable[bytes]]


class Attached(Protocol):
    """A file as the prompt reads it: from a message's fact or from its row."""

    @property
    def id(self) -> UUID: ...
    @property
    def name(self) -> str: ...
    @property
    def content_type(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def text(self) -> str: ...
    @property
    def cut(self) -> bool: ...


# Only the one preference, built once: this runs before every reply's first token.
INSTRUCTIONS = select(Preferences.values["custom_instructions"].astext).where(
    Preferences.user_id == bindparam("user_id")
)


def estimate_tokens(text: str) -> int:
    """A deliberately high estimate (3 bytes a token; real tokenizers average about 4 on
    English): the model server's tokenizer is not available to us for every model."""
    return math.ceil(len(text.encode()) / BYTES_PER_TOKEN) + PER_MESSAGE_TOKENS


async def build(
    db: AsyncSession,
    redis: Redis,
    settings: Settings,
    fact: MessageSent | ReplyRegenerated,
    read_image: ImageReader,
) -> list[ChatCompletionMessageParam]:
    """The messages for answering the question `fact` is about, oldest first."""
    reads_images = fact.model in settings.llm_image_models
    turns = await _history(db, redis, settings, fact, read_image if reads_images else None)
    if isinstance(fact, MessageSent):
        turns.append(await user_turn(
            fact.user_id, fact.content, fact.attachments, read_image if reads_images else None
        ))  # fmt: skip
    return fit(await system_prompt(db, settings, fact.user_id), turns, settings)


async def user_turn(
    user_id: UUID, content: str, attached: Sequence[Attached], read_image: ImageReader | None
) -> ChatCompletionMessageParam:
    """A user message with its files: their text after the message's, each in a `<file>`
    element naming it; images as parts of their own when the model reads them."""
    text = content
    images: list[ChatCompletionContentPartParam] = []
    for file in attached:
        if file.kind == "text":
            note = "\n[The rest of this file did not fit and was left out.]" if file.cut else ""
            text += f'\n\n<file name="{_quoted(file.name)}">\n{file.text}{note}\n</file>'
        elif read_image is None:
            text += (
                f'\n\n[An image, "{_quoted(file.name)}", is attached; this model cannot see it.]'
            )
        else:
            data = base64.b64encode(await read_image(user_id, file.id)).decode()
            url = f"data:{file.content_type};base64,{data}"
            images.append({"type": "image_url", "image_url": {"url": url}})
    if not images:
        return {"role": "user", "content": text}
    return {"role": "user", "content": [{"type": "text", "text": text}, *images]}


def _quoted(name: str) -> str:
    return name.replace('"', "'").replace("\n", " ")


def turn_tokens(turn: ChatCompletionMessageParam) -> int:
    """`estimate_tokens` of a turn: its text, and `IMAGE_TOKENS` for each image."""
    content = turn.get("content", "")
    if isinstance(content, str):
        return estimate_tokens(content)
    parts = list(content or ())
    text = "".join(str(part.get("text", "")) for part in parts)
    return estimate_tokens(text) + IMAGE_TOKENS * sum(
        part.get("type") == "image_url" for part in parts
    )


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
        cost = turn_tokens(turn)
        if kept and cost > budget:
            break
        kept.insert(0, turn)
        budget -= cost
    return [{"role": "system", "content": system}, *kept]


async def _history(
    db: AsyncSession,
    redis: Redis,
    settings: Settings,
    fact: MessageSent | ReplyRegenerated,
    read_image: ImageReader | None,
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
    attached = await _attachments(db, fact.user_id, [m.id for m in rows if m.role == "user"])
    turns: list[ChatCompletionMessageParam] = []
    for message in rows:
        content = message.content
        if message.role == "assistant" and message.status == "streaming":
            # Streamed but not yet projected into PostgreSQL: the stream has the text.
            content = (await replies.Reply(redis, settings, message.id).read()).text
        if message.role == "user":
            turns.append(
                await user_turn(fact.user_id, content, attached.get(message.id, []), read_image)
            )
        elif message.role == "system":  # a kept API completion's own system prompt
            turns.append({"role": "system", "content": content})
        else:
            turns.append({"role": "assistant", "content": content})
    return turns


async def _attachments(
    db: AsyncSession, user_id: UUID, message_ids: list[UUID]
) -> dict[UUID, list[MessageAttachment]]:
    """The files of these messages, in the order they were sent."""
    rows = await db.scalars(
        select(MessageAttachment)
        .where(MessageAttachment.user_id == user_id, MessageAttachment.message_id.in_(message_ids))
        .order_by(MessageAttachment.position)
    )
    found: dict[UUID, list[MessageAttachment]] = {}
    for row in rows:
        found.setdefault(row.message_id, []).append(row)
    return found
