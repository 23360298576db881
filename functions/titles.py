"""titles: names a conversation after its first reply.

Consumes `io.chatfn.reply.completed`. When the conversation has no title yet, asks the
model for a short one (falling back to the first words of the question when the model
cannot answer) and replies with `io.chatfn.conversation.titled`; otherwise replies with
nothing. The title it chose is kept in Redis for a day, so a redelivered event gets the
same fact again (one id per conversation: a duplicate `persist_history` skips) without
asking the model twice. Nothing is recorded before the model answers: a process that
dies in between leaves the redelivery to ask again, never a conversation untitled.

The conversation and its question are read from PostgreSQL, where `persist_history` may
not have projected them yet (a short reply can complete first): a reply that finds them
missing is retried for `PROJECTION_LAG_S`, then taken for one whose conversation was
purged, or its owner deleted, since.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import cast

import openai
from cloudevents.http import CloudEvent
from functions_framework import aio

from chatfn import runtime
from chatfn.chat.projection import event_time
from chatfn.events.catalog import (
    ConversationTitled,
    ReceivedEvent,
    ReplyCompleted,
    fact_id,
    new_event,
)
from chatfn.events.consumer import RetryLater, consumes
from chatfn.models import Conversation, Message
from chatfn.redis_client import key

SOURCE = "chatfn/titles"
TITLE_WORDS = 6
MAX_TITLE = 80
CHOSEN_TTL_S = 24 * 3600
# Under the broker's retries (about 64 s): a conversation still missing after this is gone,
# and its reply is not dead-lettered.
PROJECTION_LAG_S = 30
CODE_BLOCK = re.compile(r"```.*?(```|$)", re.DOTALL)  # an unclosed fence runs to the end
MARKUP = re.compile(r"[`*_#>\"“”]|^\s*[-+]\s+|^'|'$")
LABEL = re.compile(r"^\s*title\s*:\s*", re.IGNORECASE)
INSTRUCTION = (
    "Write a title of at most six words for a conversation that begins with the user's "
    "message below. Answer with the title only, without quotes."
)


def fallback_title(question: str) -> str:
    words = question.split()
    return " ".join(words[:TITLE_WORDS]) + ("…" if len(words) > TITLE_WORDS else "")


def clean(title: str) -> str:
    """The model's answer as a one-line title: small models wrap it in markdown, quotes,
    a `Title:` label, or answer with code; code is no title at all."""
    prose = CODE_BLOCK.sub("\n", title)
    line = next((line for line in prose.splitlines() if line.strip()), "")
    line = LABEL.sub("", MARKUP.sub("", line))
    words = " ".join(line.split())
    if len(words) > MAX_TITLE:
        words = words[:MAX_TITLE].rsplit(" ", 1)[0] + "…"
    return words


@aio.http
@consumes(ReplyCompleted)
async def titles(received: ReceivedEvent[ReplyCompleted]) -> CloudEvent | None:
    context = runtime.current()
    reply = received.payload
    async with context.sessions() as db:
        conversation = await db.get(Conversation, (reply.user_id, reply.conversation_id))
        question = await db.get(Message, (reply.user_id, reply.message_id))
    if conversation is not None and conversation.title:
        return None
    if conversation is None or question is None:
        if datetime.now(UTC) - event_time(received) < timedelta(seconds=PROJECTION_LAG_S):
            raise RetryLater("the conversation is not projected yet")
        return None
    chosen = key(context.settings, "title", str(reply.conversation_id))
    # The client decodes responses, so these are str (redis-py types them more loosely).
    title = cast(str | None, await context.redis.get(chosen))
    title = title or await _ask(context, reply, question.content)
    # The first title chosen stays: a concurrent delivery that asked too gets it.
    first = await context.redis.set(chosen, title, ex=CHOSEN_TTL_S, nx=True, get=True)
    title = cast(str | None, first) or title
    return new_event(
        ConversationTitled(
            user_id=reply.user_id, conversation_id=reply.conversation_id, title=title
        ),
        source=SOURCE,
        event_id=fact_id(ConversationTitled, reply.conversation_id),
        traceparent=received.event.get("traceparent"),
    )


async def _ask(context: runtime.Runtime, reply: ReplyCompleted, question: str) -> str:
    try:
        answer = await context.llm_for(reply.model).chat.completions.create(
            model=reply.model,
            messages=[
                {"role": "system", "content": INSTRUCTION},
                {"role": "user", "content": question[:2000]},
            ],
            max_tokens=24,
        )
        title = clean(answer.choices[0].message.content or "")
    except openai.OpenAIError:
        title = ""
    return title or clean(fallback_title(question)) or "New chat"
