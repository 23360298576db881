"""Streaming a model's answer onto a reply's Redis Stream, resumably.

The model is called through the `openai` SDK (any OpenAI-compatible server). What is
already on the stream is never asked for again: the model gets it as the start of its
own answer and continues from there. That one rule covers a model that fails
mid-stream (a bounded, jittered retry continues the answer) and a process that dies
mid-answer (the redelivered event continues it), and the reader sees one seamless text.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Literal

import httpx
import openai
import stamina
from openai import AsyncOpenAI
from openai.types.chat import ChatCompletionMessageParam

from chatfn.chat.replies import Reply, Written

ATTEMPTS = 3
STOP_POLL_S = 0.5
FinishReason = Literal["stop", "length", "stopped"]


@dataclass
class Outcome:
    text: str
    finish_reason: FinishReason
    prompt_tokens: int
    completion_tokens: int


class _StoppedWhileSilent(Exception):
    pass


class ModelFailed(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _transient(exc: Exception) -> bool:
    if isinstance(exc, openai.APIStatusError):
        return exc.status_code == 429 or exc.status_code >= 500
    # Connection drops, timeouts and a stream cut short mid-answer.
    return isinstance(exc, openai.APIConnectionError | openai.APIError | httpx.TransportError)


def _failure(exc: Exception) -> ModelFailed:
    if isinstance(exc, openai.RateLimitError):
        return ModelFailed("rate_limited", "The model is busy right now. Try again shortly.")
    if isinstance(exc, openai.APITimeoutError):
        return ModelFailed("timeout", "The model took too long to answer.")
    if isinstance(exc, openai.APIStatusError) and exc.status_code < 500:
        return ModelFailed("model_refused", f"The model refused the request ({exc.status_code}).")
    return ModelFailed("model_unavailable", "The model stopped answering. Try again.")


@dataclass
class Generation:
    client: AsyncOpenAI
    reply: Reply
    model: str

    async def run(self, messages: list[ChatCompletionMessageParam], written: Written) -> Outcome:
        """Stream the answer after `written.text`; raises `ModelFailed` once retries are spent."""
        outcome = Outcome(written.text, "stop", 0, written.tokens)
        try:
            async for attempt in stamina.retry_context(
                on=_transient, attempts=ATTEMPTS, wait_initial=0.3, wait_max=3.0
            ):
                with attempt:
                    await self._attempt(messages, outcome)
        except Exception as exc:
            if isinstance(exc, openai.OpenAIError | httpx.HTTPError):
                raise _failure(exc) from exc
            raise
        return outcome

    async def _attempt(self, messages: list[ChatCompletionMessageParam], outcome: Outcome) -> None:
        prefix: list[ChatCompletionMessageParam] = (
            [{"role": "assistant", "content": outcome.text}] if outcome.text else []
        )
        # The model is read and the stream written side by side: whatever arrives while a
        # write is under way goes into the next one. A slow model still gets one entry per
        # token, the first at once; a fast one is not held back by a round trip per token.
        arrived: asyncio.Queue[str | None] = asyncio.Queue()
        reader = asyncio.create_task(self._read([*messages, *prefix], arrived, outcome))
        reader.add_done_callback(lambda _: arrived.put_nowait(None))  # always the last item
        try:
            ended = False
            while not ended:
                try:
                    parts = [await self._next(arrived)]
                except _StoppedWhileSilent:
                    outcome.finish_reason = "stopped"
                    return
                while not arrived.empty():
                    parts.append(arrived.get_nowait())
                ended = parts[-1] is None
                words = [part for part in parts if part is not None]
                if not words:
                    continue
                text = "".join(words)
                stop = await self.reply.append(text, len(words))
                outcome.text += text
                if stop:
                    outcome.finish_reason = "stopped"
                    return
            reader.result()  # the model's failure, if any, once all it sent is on the stream
        finally:
            reader.cancel()

    async def _next(self, arrived: asyncio.Queue[str | None]) -> str | None:
        """The model's next words. Stop rides along with each write, but a silent model
        writes nothing: while it is silent, ask every STOP_POLL_S whether the user pressed
        stop, so stop takes effect within a second whatever the model does."""
        while arrived.empty():
            try:
                async with asyncio.timeout(STOP_POLL_S):
                    return await arrived.get()
            except TimeoutError:
                if await self.reply.stop_requested():
                    raise _StoppedWhileSilent from None
        return arrived.get_nowait()

    async def _read(
        self,
        messages: list[ChatCompletionMessageParam],
        arrived: asyncio.Queue[str | None],
        outcome: Outcome,
    ) -> None:
        tokens_before = outcome.completion_tokens
        stream = await self.client.chat.completions.create(
            model=self.model,
            messages=messages,
            stream=True,
            stream_options={"include_usage": True},
            max_tokens=max(1, self.reply.settings.llm_max_tokens - outcome.completion_tokens),
        )
        async with stream:
            async for chunk in stream:
                if chunk.usage:  # the last chunk: the server's own count for this attempt
                    outcome.prompt_tokens = chunk.usage.prompt_tokens
                    outcome.completion_tokens = tokens_before + chunk.usage.completion_tokens
                for choice in chunk.choices:
                    if choice.delta.content:
                        arrived.put_nowait(choice.delta.content)
                        outcome.completion_tokens += 1
                    if choice.finish_reason == "length":
                        outcome.finish_reason = "length"
                if not outcome.text:
                    # Chunks already received are parsed without the loop switching tasks:
                    # without this, a fast model's whole answer is parsed before the first
                    # token is written. Once it is, writes batch whatever arrived meanwhile.
                    await asyncio.sleep(0)
