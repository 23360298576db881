"""Streaming a model's answer onto a reply's Redis Stream, resumably.

The model is called through the `openai` SDK (any OpenAI-compatible server). What is
already on the stream is never asked for again: the model gets it as the start of its
own answer and continues from there. That one rule covers a model that fails
mid-stream (a bounded, jittered retry continues the answer) and a process that dies
mid-answer (the redelivered event continues it), and the reader sees one seamless text.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from dataclasses import dataclass, field
from typing import Any, Literal, cast

import openai
import stamina
from openai import AsyncOpenAI, AsyncStream
from openai.types.chat import ChatCompletionMessageParam
from opentelemetry.trace import SpanKind

from chatfn.chat.replies import Reply, Written
from chatfn.events.catalog import CompletionOptions
from chatfn.telemetry.tracing import tracer

ATTEMPTS = 3
STOP_POLL_S = 0.5
# After the first words, which go out at once, at most one write per window: 20 a
# second. Nobody reads faster than a few words a second, and 50 ms is three frames of a
# 60 Hz screen, so the text still flows; it is the throttle the Vercel AI SDK's docs set
# on its chat UI (`experimental_throttle: 50`, vercel/ai content/docs/08-troubleshooting/
# 03-common-issues/50-react-maximum-update-depth-exceeded.mdx). A model sending 100
# tokens a second then costs a fifth of the XADDs, SSE events and browser renders.
COALESCE_S = 0.05
FinishReason = Literal["stop", "length", "stopped"]
Chunk = dict[str, Any]


@dataclass
class Outcome:
    text: str
    finish_reason: FinishReason
    prompt_tokens: int
    completion_tokens: int
    # time.monotonic() of this delivery's first and last write, for the telemetry.
    first_written_at: float | None = None
    last_written_at: float | None = None


class ModelFailed(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _preparing(exc: Exception) -> bool:
    """The model server answers that its model is not ready yet (chatfn.local.model_server
    while llama.cpp compiles): minutes, not a blip to retry through."""
    return isinstance(exc, openai.APIStatusError) and exc.code == "model_preparing"


def _transient(exc: Exception) -> bool:
    if _preparing(exc):
        return False
    if isinstance(exc, openai.APIStatusError):
        return exc.status_code == 429 or exc.status_code >= 500
    # Connection drops, timeouts and a stream cut short mid-answer (an `error` payload).
    return isinstance(exc, openai.APIError)


def _failure(exc: openai.OpenAIError) -> ModelFailed:
    if _preparing(exc):
        body = exc.body if isinstance(exc, openai.APIStatusError) else None
        detail = body.get("message") if isinstance(body, dict) else None
        return ModelFailed("model_preparing", str(detail or "The model is being prepared."))
    if isinstance(exc, openai.RateLimitError):
        return ModelFailed("rate_limited", "The model is busy right now. Try again shortly.")
    if isinstance(exc, openai.APITimeoutError):
        return ModelFailed("timeout", "The model took too long to answer.")
    if isinstance(exc, openai.APIStatusError) and exc.status_code < 500:
        return ModelFailed("model_refused", f"The model refused the request ({exc.status_code}).")
    return ModelFailed("model_unavailable", "The model stopped answering. Try again.")


class _Arrivals:
    """The model's words not on the stream yet, and whether its answer is over."""

    def __init__(self) -> None:
        self.words: list[str] = []
        self._some = asyncio.Event()
        self._over = asyncio.Event()

    def add(self, word: str) -> None:
        self.words.append(word)
        self._some.set()

    @property
    def over(self) -> bool:
        return self._over.is_set()

    def end(self) -> None:
        self._over.set()
        self._some.set()

    def take(self) -> list[str]:
        words, self.words = self.words, []
        if not self.over:
            self._some.clear()
        return words

    async def some(self, timeout_s: float) -> bool:
        """Wait up to `timeout_s` for words or the end; False if neither came."""
        if self._some.is_set():
            return True
        try:
            async with asyncio.timeout(timeout_s):
                await self._some.wait()
        except TimeoutError:
            return False
        return True

    async def over_within(self, timeout_s: float) -> None:
        """Wait up to `timeout_s` for the end of the answer."""
        if timeout_s > 0 and not self.over:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout_s):
                    await self._over.wait()


@dataclass
class Generation:
    client: AsyncOpenAI
    reply: Reply
    model: str
    # An API completion's own sampling options; the app's replies use the server's.
    options: CompletionOptions = field(default_factory=CompletionOptions)

    async def run(self, messages: list[ChatCompletionMessageParam], written: Written) -> Outcome:
        """Stream the answer after `written.text`; raises `ModelFailed` once retries are spent."""
        outcome = Outcome(written.text, "stop", 0, written.tokens)
        try:
            async for attempt in stamina.retry_context(
                on=_transient, attempts=ATTEMPTS, wait_initial=0.3, wait_max=3.0
            ):
                with attempt:
                    await self._attempt(messages, outcome)
        except openai.OpenAIError as exc:
            raise _failure(exc) from exc
        return outcome

    async def _attempt(self, messages: list[ChatCompletionMessageParam], outcome: Outcome) -> None:
        prefix: list[ChatCompletionMessageParam] = (
            [{"role": "assistant", "content": outcome.text}] if outcome.text else []
        )
        # The model is read and the stream written side by side: whatever arrives while a
        # write is under way, or within the window after it, goes into the next one.
        arrivals = _Arrivals()
        reader = asyncio.create_task(self._read([*messages, *prefix], arrivals, outcome))
        reader.add_done_callback(lambda _: arrivals.end())
        try:
            if await self._write(arrivals, outcome):
                outcome.finish_reason = "stopped"
                return
            reader.result()  # the model's failure, if any, once all it sent is on the stream
        finally:
            reader.cancel()

    async def _write(self, arrivals: _Arrivals, outcome: Outcome) -> bool:
        """Put the model's words on the stream until its answer is over; True if the user
        pressed stop. The first words go out the moment they arrive, the rest at most once
        per COALESCE_S, and the end of the answer at once."""
        clock = asyncio.get_running_loop().time
        written_at = -math.inf
        while True:
            if not await self._arrival(arrivals):
                return True
            await arrivals.over_within(written_at + COALESCE_S - clock())
            over = arrivals.over  # read before taking: nothing arrives after the end
            words = arrivals.take()
            if words:
                written_at = clock()
                text = "".join(words)
                first = outcome.first_written_at is None
                with (
                    tracer.start_as_current_span("redis XADD first delta", kind=SpanKind.CLIENT)
                    if first
                    else contextlib.nullcontext()
                ):
                    stop = await self.reply.append(text, len(words))
                outcome.last_written_at = time.monotonic()
                if first:
                    outcome.first_written_at = outcome.last_written_at
                outcome.text += text
                if stop:
                    return True
            if over:
                return False

    async def _arrival(self, arrivals: _Arrivals) -> bool:
        """Wait for the model's next words; False if the user pressed stop meanwhile. Stop
        rides along with each write, but a silent model writes nothing: while it is
        silent, ask every STOP_POLL_S, so stop takes effect within a second whatever the
        model does."""
        while not await arrivals.some(STOP_POLL_S):
            if await self.reply.stop_requested():
                return False
        return True

    async def _read(
        self,
        messages: list[ChatCompletionMessageParam],
        arrivals: _Arrivals,
        outcome: Outcome,
    ) -> None:
        tokens_before = outcome.completion_tokens
        longest = self.reply.settings.llm_max_tokens
        if self.options.max_tokens is not None:
            longest = min(longest, self.options.max_tokens)
        sampling = self.options.model_dump(exclude={"max_tokens"}, exclude_none=True)
        request = self.client.chat.completions.with_streaming_response.create(
            model=self.model,
            messages=messages,
            stream=True,
            stream_options={"include_usage": True},
            max_tokens=max(1, longest - outcome.completion_tokens),
            **sampling,
        )
        async with request as response:
            # The SDK's own SSE decoder (httpx-sse's, which it carries) and errors (`[DONE]`,
            # an `error` payload, a dropped connection as APIConnectionError), but each chunk
            # as the plain dict `json.loads` made: its pydantic model per token was about a
            # quarter of this function's CPU (20 of ~95 ms for 64 tokens).
            chunks = await response.parse(to=AsyncStream[object])
            finished = False
            async for chunk in chunks:
                finished |= _take(cast(Chunk, chunk), arrivals, outcome, tokens_before)
                if not outcome.text:
                    # Chunks already received are parsed without the loop switching tasks:
                    # without this, a fast model's whole answer is parsed before the first
                    # words are written. Once they are, writes batch whatever arrived.
                    await asyncio.sleep(0)
            if not finished:
                # Ended without a finish reason: cut short, not over (llama-cpp-python's server
                # ends a stream so, `[DONE]` and no more, when another request interrupts it).
                raise openai.APIError(
                    "the model's stream ended before its answer", response.http_request, body=None
                )


def _take(chunk: Chunk, arrivals: _Arrivals, outcome: Outcome, tokens_before: int) -> bool:
    """One streamed chunk: its words to write, its finish reason, its usage count; True if
    it finishes the answer."""
    if usage := chunk.get("usage"):  # the last chunk: the server's count for this attempt
        outcome.prompt_tokens = usage["prompt_tokens"]
        outcome.completion_tokens = tokens_before + usage["completion_tokens"]
    finished = False
    for choice in chunk.get("choices") or ():
        if content := (choice.get("delta") or {}).get("content"):
            arrivals.add(content)
            outcome.completion_tokens += 1
        if choice.get("finish_reason") == "length":
            outcome.finish_reason = "length"
        finished |= choice.get("finish_reason") is not None
    return finished
