"""generate_reply: writes the model's answer onto the reply's Redis Stream.

Consumes `io.chatfn.message.sent`, `io.chatfn.reply.regenerated` and
`io.chatfn.completion.accepted`. Builds the prompt from the branch's history (a
completion brings its own), streams the model's answer onto `reply:{reply_id}` (the
first delta at once, then what arrives within each 50 ms window as one entry; honouring
stop within one entry), and ends the stream with `done` or `error`. Replies with
`io.chatfn.reply.completed` or `io.chatfn.reply.failed`; a completion that is not kept
replies with `io.chatfn.completion.finished` (its usage, not its text), and its Redis
keys expire within `FORGET_S`.

Failover: a lease in Redis keeps a duplicate delivery from calling the model while the
first is alive (it gets a 503 and the broker retries later). If the process dies
mid-answer, the lease expires and the redelivered event resumes the same reply from
what is already on the stream. A delivery that finds the stream ended only re-emits
the fact, under the same event id, so consumers see it once.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import cast
from uuid import UUID

from cloudevents.http import CloudEvent
from functions_framework import aio
from openai.types.chat import ChatCompletionMessageParam
from opentelemetry.trace import Span, SpanKind

from chatfn import runtime
from chatfn.attachments import files
from chatfn.chat import prompt
from chatfn.chat.generation import Generation, ModelFailed, Outcome
from chatfn.chat.replies import Lease, Reply, Written
from chatfn.events.catalog import (
    CompletionAccepted,
    CompletionFinished,
    MessageSent,
    ReceivedEvent,
    ReplyCompleted,
    ReplyFailed,
    ReplyRegenerated,
    fact_id,
    new_event,
)
from chatfn.events.consumer import RetryLater, consumes
from chatfn.telemetry import instruments
from chatfn.telemetry.tracing import tracer

SOURCE = "chatfn/generate_reply"
LEASE_S = 5.0
# How long an unkept completion's reply stays in Redis once it ended: long enough for the
# broker to redeliver its event (which then only re-emits the fact).
FORGET_S = 600
Answered = MessageSent | ReplyRegenerated | CompletionAccepted


@aio.http
@consumes(MessageSent, ReplyRegenerated, CompletionAccepted)
async def generate_reply(received: ReceivedEvent[Answered]) -> CloudEvent:
    started = time.monotonic()
    context = runtime.current()
    request = received.payload
    reply = Reply(context.redis, context.settings, request.reply_id)
    written = await reply.read()
    if written.terminal is None:
        lease = reply.lease(LEASE_S)
        if not await lease.acquire():
            raise RetryLater("another delivery of this event is generating the reply")
        try:
            # Read again under the lease: the previous holder may have finished meanwhile.
            written = await reply.read()
            if written.terminal is None:
                messages = await _prompt(reply, request)
                generation = Generation(context.llm_for(request.model), reply, request.model)
                if isinstance(request, CompletionAccepted):
                    generation.options = request.options
                with tracer.start_as_current_span(
                    f"chat {request.model}", kind=SpanKind.CLIENT
                ) as span:
                    outcome = await _generate_holding(lease, generation, messages, written)
                    _measure(span, request.model, outcome, started, written.tokens)
        finally:
            await lease.release()
        written = await reply.read()
    if isinstance(request, CompletionAccepted) and not request.store:
        await reply.forget_within(FORGET_S)
    return _fact(received, written)


async def _prompt(reply: Reply, request: Answered) -> list[ChatCompletionMessageParam]:
    """What the model is asked: a completion's own messages, else the branch's history."""
    if not isinstance(request, CompletionAccepted):
        context = runtime.current()
        with tracer.start_as_current_span("db prompt", kind=SpanKind.CLIENT):
            async with context.sessions() as db:
                return await prompt.build(
                    db, context.redis, context.settings, request, _image_reader(context)
                )
    if request.messages is not None:
        turns = [turn.model_dump(include={"role", "content"}) for turn in request.messages]
    elif (kept := await reply.prompt()) is not None:
        turns = json.loads(kept)
    else:  # expired: the event came back after a day
        turns = []
    return cast(list[ChatCompletionMessageParam], turns)


def _image_reader(context: runtime.Runtime) -> prompt.ImageReader:
    """An image sent with a message, from S3, for a model that reads images."""

    async def read(user_id: UUID, attachment_id: UUID) -> bytes:
        key = files.object_key(user_id, attachment_id)
        return await files.read(context.s3, context.settings, key)

    return read


async def _generate_holding(
    lease: Lease,
    generation: Generation,
    messages: list[ChatCompletionMessageParam],
    written: Written,
) -> Outcome | None:
    """Generate while renewing the lease; stop at once if the lease is lost. The
    outcome, or None if the model failed (the stream says how)."""
    keeper = asyncio.create_task(lease.keep())
    work = asyncio.create_task(generation.run(messages, written))
    done, _ = await asyncio.wait({keeper, work}, return_when=asyncio.FIRST_COMPLETED)
    keeper.cancel()
    if work not in done:
        work.cancel()
        # Taken here, so asyncio does not log "Task exception was never retrieved".
        lost = keeper.exception()
        raise RetryLater("the lease was lost to another delivery") from lost
    try:
        outcome = work.result()
    except ModelFailed as failed:
        await generation.reply.finish(
            "error", model=generation.model, code=failed.code, message=failed.message
        )
        return None
    usage = {"prompt_tokens": outcome.prompt_tokens, "completion_tokens": outcome.completion_tokens}
    await generation.reply.finish(
        "done", model=generation.model, finish_reason=outcome.finish_reason, usage=usage
    )
    return outcome


def _measure(
    span: Span, model: str, outcome: Outcome | None, started: float, tokens_before: int
) -> None:
    """The model call's figures, on its span and in the metrics (OpenTelemetry's GenAI
    attribute names)."""
    span.set_attribute("gen_ai.operation.name", "chat")
    span.set_attribute("gen_ai.request.model", model)
    if outcome is None or outcome.first_written_at is None:
        return
    ttft = outcome.first_written_at - started
    tokens = outcome.completion_tokens - tokens_before
    span.set_attribute("gen_ai.usage.input_tokens", outcome.prompt_tokens)
    span.set_attribute("gen_ai.usage.output_tokens", tokens)
    span.set_attribute("chatfn.time_to_first_token_s", round(ttft, 6))
    instruments.time_to_first_token.record(ttft, {"model": model})
    assert outcome.last_written_at is not None  # written with first_written_at
    if (lasted := outcome.last_written_at - outcome.first_written_at) > 0:
        instruments.tokens_per_second.record(tokens / lasted, {"model": model})


def _fact(received: ReceivedEvent[Answered], written: Written) -> CloudEvent:
    """The fact the stream's terminal entry states, with the one id it always gets."""
    request = received.payload
    ids = request.model_dump(include={"user_id", "conversation_id", "message_id", "reply_id"})
    terminal = written.terminal or {}
    key_id = request.key_id if isinstance(request, CompletionAccepted) else None
    fact: ReplyCompleted | ReplyFailed | CompletionFinished
    if isinstance(request, CompletionAccepted) and not request.store:
        done = terminal.get("type") == "done"
        usage = terminal["usage"] if done else {"prompt_tokens": 0, "completion_tokens": 0}
        fact = CompletionFinished(**ids, key_id=request.key_id, model=request.model,
                                  finish_reason=terminal["finish_reason"] if done else "error",
                                  **usage)  # fmt: skip
    elif terminal.get("type") == "done":
        fact = ReplyCompleted(
            **ids,
            content=written.text,
            model=request.model,
            finish_reason=terminal["finish_reason"],
            **terminal["usage"],
            key_id=key_id,
        )
    else:
        fact = ReplyFailed(
            **ids,
            content=written.text,
            model=request.model,
            code=terminal.get("code", "unknown"),
            message=terminal.get("message", ""),
        )
    return new_event(
        fact,
        source=SOURCE,
        event_id=fact_id(type(fact), request.reply_id),
        traceparent=received.event.get("traceparent"),
    )
