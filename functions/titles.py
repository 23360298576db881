"""titles: names a conversation after its first reply.

Consumes `io.chatfn.reply.completed`. When the conversation has no title yet, asks the
model for a short one (falling back to the first words of the question when the model
cannot answer) and replies with `io.chatfn.conversation.titled`; otherwise replies with
nothing. Each event is handled once (the idempotency ledger), and the fact has one id
per conversation, so a retry changes nothing.
"""

from __future__ import annotations

import openai
from cloudevents.http import CloudEvent
from functions_framework import aio

from chatfn import runtime
from chatfn.consumer import consumes
from chatfn.events import ConversationTitled, ReceivedEvent, ReplyCompleted, fact_id, new_event
from chatfn.idempotency import first_delivery
from chatfn.models import Conversation, Message

SOURCE = "chatfn/titles"
TITLE_WORDS = 6
INSTRUCTION = (
    "Write a title of at most six words for a conversation that begins with the user's "
    "message below. Answer with the title only, without quotes."
)


def fallback_title(question: str) -> str:
    words = question.split()
    return " ".join(words[:TITLE_WORDS]) + ("…" if len(words) > TITLE_WORDS else "")


def clean(title: str) -> str:
    return " ".join(title.strip().strip("\"'“”#*").split())[:80]


@aio.http
@consumes(ReplyCompleted)
async def titles(received: ReceivedEvent[ReplyCompleted]) -> CloudEvent | None:
    context = runtime.current()
    reply = received.payload
    async with context.sessions.begin() as db:
        # Once per event: a redelivered reply.completed must not ask the model again.
        if not await first_delivery(db, received, consumer="titles"):
            return None
        conversation = await db.get(Conversation, (reply.user_id, reply.conversation_id))
        question = await db.get(Message, (reply.user_id, reply.message_id))
    if conversation is None or conversation.title or question is None:
        return None
    try:
        answer = await context.llm_for(reply.model).chat.completions.create(
            model=reply.model,
            messages=[
                {"role": "system", "content": INSTRUCTION},
                {"role": "user", "content": question.content[:2000]},
            ],
            max_tokens=24,
        )
        title = clean(answer.choices[0].message.content or "")
    except openai.OpenAIError:
        title = ""
    titled = ConversationTitled(
        user_id=reply.user_id,
        conversation_id=reply.conversation_id,
        title=title or clean(fallback_title(question.content)) or "New chat",
    )
    return new_event(
        titled,
        source=SOURCE,
        event_id=fact_id(ConversationTitled, reply.conversation_id),
        traceparent=received.event.get("traceparent"),
    )
