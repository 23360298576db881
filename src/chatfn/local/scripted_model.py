"""A deterministic OpenAI-compatible model server for tests and benchmarks, scripted by the prompt.

`chatfn scripted-model --port 8099` serves it; a test mounts `create_app()` in process. It
answers `GET /v1/models` (one model, `scripted`) and `POST /v1/chat/completions`, streamed
(SSE chunks, then `data: [DONE]`) or not. Any bearer token is accepted, and none.

The answer is a fixed token sequence: by default token i is the text `f"w{i} "`, so a
three-token answer reads `"w0 w1 w2 "`. A directive anywhere in the last user message
scripts how it comes out; every key is optional, a bare key means `key=true`, an unknown
key or a bad value answers 422:

    [[script id=abc tokens=40 delay_ms=5 fail_after=10 fail=disconnect status=429 status_times=2]]

- `id` (default ""): the name `GET /stats` counts requests under, and `status_times` and
  `fail_times` too.
- `tokens` (8): the length of the whole answer.
- `echo` (false): the answer is the rest of that message after the directive, leading
  whitespace dropped; each token is a run of non-space characters and the whitespace after
  it, so the tokens join back to the text exactly (no text: an empty answer). `tokens`, if
  given, keeps only the first that many. `[[script echo]] *hi*  <b>` streams `"*hi*  "`, `"<b>"`.
- `delay_ms` (0): the pause before each token (a non-streamed answer waits for all of them).
- `fail_after=N` and `fail=disconnect|error|end` (given one, the other defaults to
  `disconnect` or 0): after token N, `disconnect` drops the connection with no finish chunk,
  `error` sends `data: {"error": {...}}` and ends the stream, `end` ends it cleanly with
  `data: [DONE]` but no finish chunk (as llama-cpp-python's server cuts a stream short).
  N counts from the start of the whole answer: a continuation already holding N tokens or
  more goes past it, and a reply that ends (or is cut by `max_tokens`) before N never fails.
  A non-streamed answer that would break fails whole: `disconnect` (and `end`) drops it
  after the headers, `error` answers 500.
- `fail_times=K` (every request by default): only the first K completion requests with this
  id break; later ones go past N. A dropped connection can lose tokens the client had not
  read yet (aiohttp raises the error before its buffer), so the continuation may start
  before N: with K=1 it still goes to the end, and the request count stays the same.
- `status=S status_times=K` (K defaults to 1): the first K completion requests with this id
  get HTTP S, an OpenAI-style JSON error and `Retry-After: 0`; later ones get the answer.

Continuation: when the messages end with an assistant message, its text must be exactly the
first k tokens of the answer (else 400), and the reply is tokens k onwards. `max_tokens` (or
`max_completion_tokens`) caps a reply's tokens; a capped reply finishes with "length".

`GET /stats` counts completion requests by script id, `{"calls": {"abc": 3}}`; requests
without an id count under "". It also holds the messages of each id's latest request,
`{"prompts": {"abc": [{"role": "system", "content": "..."}, ...]}}`, so a test can see
what the model was asked (a message's image parts as `"images": [url, ...]`).
`DELETE /stats` clears both, and the `status_times` and `fail_times` budgets too.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import re
import time
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

import chatfn.serve
from chatfn.telemetry.logs import configure_logging

MODEL_ID = "scripted"
DIRECTIVE = re.compile(r"\[\[script\b(?P<settings>[^\]]*)\]\]")
ECHO_TOKEN = re.compile(r"\S+\s*")
DEFAULT_TOKENS = 8

Finish = Literal["stop", "length"]


class Script(BaseModel):
    """One directive's settings: `key=value` words, parsed in pydantic's lax mode."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = ""
    tokens: int | None = Field(default=None, ge=0, le=100_000)
    echo: bool = False
    delay_ms: float = Field(default=0, ge=0)
    fail_after: int | None = Field(default=None, ge=0)
    fail: Literal["disconnect", "error", "end"] | None = None
    fail_times: int | None = Field(default=None, ge=0)
    status: int | None = Field(default=None, ge=400, le=599)
    status_times: int = Field(default=1, ge=0)

    @classmethod
    def from_text(cls, text: str) -> Script:
        match = DIRECTIVE.search(text)
        if match is None:
            return cls()
        words = (word.partition("=") for word in match["settings"].split())
        return cls.model_validate({key: value if sep else "true" for key, sep, value in words})

    def answer(self, text: str) -> list[str]:
        """The whole answer to a last user message `text` (the one scripted), token by token."""
        if self.echo:
            match = DIRECTIVE.search(text)  # leading whitespace matches no token: it is dropped
            return ECHO_TOKEN.findall(text, match.end() if match else len(text))[: self.tokens]
        return [f"w{i} " for i in range(DEFAULT_TOKENS if self.tokens is None else self.tokens)]

    def break_at(self, start: int, end: int, call: int) -> int | None:
        """The token index the `call`-th request's reply of tokens [start, end) breaks at,
        if it breaks."""
        if self.fail is None and self.fail_after is None:
            return None
        if self.fail_times is not None and call > self.fail_times:
            return None
        at = self.fail_after or 0
        if at > end or (start > 0 and start >= at):
            return None
        return at


class ImageUrl(BaseModel):
    url: str


class Part(BaseModel):
    type: str
    text: str = ""
    image_url: ImageUrl | None = None


class ChatMessage(BaseModel):
    role: str
    content: str | list[Part] | None = None

    @property
    def text(self) -> str:
        if isinstance(self.content, list):
            return "".join(part.text for part in self.content)
        return self.content or ""

    def seen(self) -> dict[str, object]:
        """The message as `/stats` shows it: its text, and its images' URLs if it has any."""
        parts = self.content if isinstance(self.content, list) else []
        images = [part.image_url.url for part in parts if part.image_url]
        return {"role": self.role, "content": self.text} | ({"images": images} if images else {})


class StreamOptions(BaseModel):
    include_usage: bool = False


class ChatRequest(BaseModel):
    """The fields of an OpenAI Chat Completions request this server obeys; others are ignored."""

    model: str
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    stream_options: StreamOptions | None = None
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)


class _Dropped(Exception):
    """Ends a response without its last body message, as a server that crashed mid-answer."""


class DroppableStreamingResponse(StreamingResponse):
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Returning with the body unfinished makes uvicorn close the connection.
        with contextlib.suppress(_Dropped):
            await super().__call__(scope, receive, send)


def continued_from(messages: list[ChatMessage], answer: list[str]) -> int | None:
    """How many tokens the trailing assistant message already holds; None if it is no prefix."""
    if messages[-1].role != "assistant":
        return 0
    prefix, at, held = messages[-1].text, 0, 0
    while at < len(prefix) and held < len(answer) and prefix.startswith(answer[held], at):
        at += len(answer[held])
        held += 1
    return held if at == len(prefix) else None


def error(
    status: int, message: str, kind: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    body = {"error": {"message": message, "type": kind, "param": None, "code": None}}
    return JSONResponse(body, status_code=status, headers=headers)


def sse(data: dict[str, Any]) -> str:
    return f"data: {json.dumps(data, separators=(',', ':'))}\n\n"


def usage(prompt_tokens: int, completion_tokens: int) -> dict[str, int]:
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }


async def models(request: Request) -> JSONResponse:
    model = {"id": MODEL_ID, "object": "model", "created": 0, "owned_by": "chatfn"}
    return JSONResponse({"object": "list", "data": [model]})


async def chat_completions(request: Request) -> Response:
    try:
        body = ChatRequest.model_validate_json(await request.body())
        users = [m for m in body.messages if m.role == "user"]
        question = users[-1].text if users else ""
        script = Script.from_text(question)
    except ValidationError as exc:
        return error(422, str(exc), "invalid_request_error")

    calls: Counter[str] = request.app.state.calls
    calls[script.id] += 1
    request.app.state.prompts[script.id] = [m.seen() for m in body.messages]
    if script.status is not None and calls[script.id] <= script.status_times:
        message = f"scripted status {script.status} ({calls[script.id]} of {script.status_times})"
        return error(script.status, message, "scripted_status", {"Retry-After": "0"})

    tokens = script.answer(question)
    start = continued_from(body.messages, tokens)
    if start is None:
        message = "the last assistant message is not a prefix of the scripted answer"
        return error(400, message, "invalid_request_error")
    cap = body.max_completion_tokens or body.max_tokens
    end = len(tokens) if cap is None else min(len(tokens), start + cap)
    finish: Finish = "stop" if end == len(tokens) else "length"
    broken_at = script.break_at(start, end, calls[script.id])
    head = {
        "id": f"chatcmpl-{script.id or MODEL_ID}-{calls[script.id]}",
        "created": int(time.time()),
        "model": body.model,
    }
    prompt_tokens = sum(len(m.text.split()) for m in body.messages)

    def chunk(delta: dict[str, str], finish_reason: Finish | None = None) -> str:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
        return sse({**head, "object": "chat.completion.chunk", "choices": [choice]})

    if body.stream:
        include_usage = body.stream_options is not None and body.stream_options.include_usage

        async def events() -> AsyncIterator[str]:
            yield chunk({"role": "assistant", "content": ""})
            for i in range(start, end if broken_at is None else broken_at):
                if script.delay_ms:
                    await asyncio.sleep(script.delay_ms / 1000)
                yield chunk({"content": tokens[i]})
            if broken_at is not None:
                if script.fail == "error":
                    failure = f"scripted failure after token {broken_at}"
                    yield sse({"error": {"message": failure, "type": "server_error", "code": None}})
                    return
                if script.fail == "end":
                    yield "data: [DONE]\n\n"
                    return
                raise _Dropped
            yield chunk({}, finish)
            if include_usage:
                counts = usage(prompt_tokens, end - start)
                yield sse(
                    {**head, "object": "chat.completion.chunk", "choices": [], "usage": counts}
                )
            yield "data: [DONE]\n\n"

        return DroppableStreamingResponse(events(), media_type="text/event-stream")

    if broken_at is not None:
        if script.fail == "error":
            return error(500, f"scripted failure after token {broken_at}", "server_error")

        async def headers_only() -> AsyncIterator[bytes]:
            yield b""
            raise _Dropped

        return DroppableStreamingResponse(headers_only(), media_type="application/json")

    await asyncio.sleep(script.delay_ms * (end - start) / 1000)
    choice = {
        "index": 0,
        "message": {"role": "assistant", "content": "".join(tokens[start:end])},
        "logprobs": None,
        "finish_reason": finish,
    }
    return JSONResponse(
        {
            **head,
            "object": "chat.completion",
            "choices": [choice],
            "usage": usage(prompt_tokens, end - start),
        }
    )


async def stats(request: Request) -> Response:
    calls: Counter[str] = request.app.state.calls
    prompts: dict[str, list[dict[str, str]]] = request.app.state.prompts
    if request.method == "DELETE":
        calls.clear()
        prompts.clear()
        return Response(status_code=204)
    return JSONResponse({"calls": dict(calls), "prompts": prompts})


def create_app() -> Starlette:
    app = Starlette(
        routes=[
            Route("/v1/models", models),
            Route("/v1/chat/completions", chat_completions, methods=["POST"]),
            Route("/stats", stats, methods=["GET", "DELETE"]),
        ]
    )
    app.state.calls = Counter[str]()
    app.state.prompts = {}
    return app


def serve(port: int) -> None:
    # Run by `chatfn scripted-model`, not chatfn.serve's main: its uvicorn logs through here.
    configure_logging("scripted_model")
    app = create_app()
    gc.freeze()  # set up: full collections skip all of it (see chatfn.runtime)
    chatfn.serve.serve(app, host="127.0.0.1", port=port)
