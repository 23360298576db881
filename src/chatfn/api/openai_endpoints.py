"""The OpenAI-compatible API: `POST /v1/chat/completions` and `GET /v1/models`, for the
`openai` SDKs and anything else that speaks that protocol, with an API key.

A completion takes the UI's path: `api` publishes `io.chatfn.completion.requested`,
`send_message` checks the key and the budgets, `generate_reply` streams the answer onto
the reply's Redis Stream, and this endpoint reads that stream (the process's one
`Watcher`) into OpenAI's chunks or, unstreamed, into one `chat.completion`. So a
completion survives a `generate_reply` crash like any reply: the redelivered event
resumes the same stream. With `store` (the key's default unless the request says) the
exchange becomes a conversation; without, its messages wait in Redis beside the reply
and never enter the event log, and only its usage is kept.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response
from uuid6 import uuid7

from chatfn.api.chat_endpoints import publish_command
from chatfn.api.problems import invalid_api_key, openai_body
from chatfn.api.security import ApiDep, DbDep, Principal, with_scope
from chatfn.chat import history
from chatfn.chat.replies import decode, stream_key
from chatfn.events.catalog import CompletionOptions, CompletionRequested, Turn
from chatfn.models import ApiKey
from chatfn.problems import Problem
from chatfn.text import StoredText

router = APIRouter(prefix="/v1", tags=["openai"])
HEARTBEAT_S = 15.0
# How long the answer's first entry may take: a model call (LLM_TIMEOUT_S, 60 s) after
# the broker's retries of a cold or restarting function.
FIRST_ENTRY_TIMEOUT_S = 120.0
# A reply's error code (chatfn.chat.generation, decide, the dead-letter sink) as an HTTP
# status and OpenAI's error code.
FAILURES: dict[str, tuple[int, str]] = {
    "budget_exceeded": (429, "insufficient_quota"),
    "key_revoked": (401, "invalid_api_key"),
    "not_found": (404, "not_found"),
    "model_refused": (400, "invalid_request_error"),
    "timeout": (504, "timeout"),
}
ChatKeyDep = Annotated[Principal, with_scope("chat")]


class TextPart(BaseModel):
    type: Literal["text"]
    text: StoredText


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Literal["system", "developer", "user", "assistant"]
    content: StoredText | list[TextPart] | None = Field(
        None, description="text, or text parts (images are not supported)"
    )
    name: StoredText | None = Field(None, max_length=64, description="accepted, not used")

    def turn(self) -> Turn:
        content = self.content or ""
        if isinstance(content, list):
            content = "".join(part.text for part in content)
        role = "system" if self.role == "developer" else self.role
        return Turn(id=uuid7(), role=role, content=content)


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    include_usage: bool = False


class ChatCompletionRequest(BaseModel):
    """OpenAI's request, the parameters chatfn honours; any other is a 400 naming it."""

    model_config = ConfigDict(extra="forbid")

    model: StoredText = Field(max_length=200)
    messages: list[ChatMessage] = Field(min_length=1, max_length=1000)
    stream: bool = False
    stream_options: StreamOptions | None = None
    store: bool | None = Field(None, description="keep it as a conversation; none: the key's")
    max_tokens: int | None = Field(None, ge=1)
    max_completion_tokens: int | None = Field(None, ge=1)
    temperature: float | None = Field(None, ge=0, le=2)
    top_p: float | None = Field(None, ge=0, le=1)
    stop: StoredText | list[StoredText] | None = None
    seed: int | None = None
    presence_penalty: float | None = Field(None, ge=-2, le=2)
    frequency_penalty: float | None = Field(None, ge=-2, le=2)
    n: Literal[1] = Field(1, description="one choice per request")
    user: StoredText | None = Field(None, max_length=256, description="accepted, not used")

    def options(self) -> CompletionOptions:
        stop = [self.stop] if isinstance(self.stop, str) else self.stop
        return CompletionOptions(
            max_tokens=self.max_completion_tokens or self.max_tokens, temperature=self.temperature,
            top_p=self.top_p, stop=stop, seed=self.seed, presence_penalty=self.presence_penalty,
            frequency_penalty=self.frequency_penalty,
        )  # fmt: skip


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int = 0
    owned_by: str = "chatfn"


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]


@router.get("/models")
async def models(principal: ChatKeyDep, api: ApiDep) -> ModelList:
    """The models on offer, the default first."""
    return ModelList(data=[ModelCard(id=model) for model in await api.models()])


@router.post("/chat/completions", response_model=None)
async def chat_completions(
    body: ChatCompletionRequest, principal: ChatKeyDep, api: ApiDep, db: DbDep
) -> Response:
    """A chat completion as OpenAI's API gives it: one `chat.completion`, or with `stream`
    a `text/event-stream` of `chat.completion.chunk`s ending in `[DONE]`."""
    key = _key_of(principal)
    if body.model not in await api.models():
        raise Problem(404, f"The model {body.model!r} does not exist; GET /v1/models lists them.",
                      extra={"code": "model_not_found", "param": "model"})  # fmt: skip
    await _within_budgets(api, db, key)
    store = key.store if body.store is None else body.store
    turns = [message.turn() for message in body.messages]
    command = CompletionRequested(
        user_id=key.user_id, conversation_id=uuid7(), message_id=turns[-1].id, reply_id=uuid7(),
        key_id=key.id, model=body.model, store=store, options=body.options(),
        messages=turns if store else None,
    )  # fmt: skip
    prompt = [turn.model_dump(include={"role", "content"}) for turn in turns]
    await publish_command(api, command, None if store else prompt)
    include_usage = body.stream_options is not None and body.stream_options.include_usage
    answer = Answer(api, command, include_usage=include_usage)
    first = await answer.first()
    headers = {"chatfn-conversation-id": str(command.conversation_id)} if store else {}
    if body.stream:
        return StreamingResponse(answer.chunks(first), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store", **headers})  # fmt: skip
    return JSONResponse(await answer.whole(first), headers=headers)


def _key_of(principal: Principal) -> ApiKey:
    if principal.key is None:
        raise invalid_api_key("Use an API key (Settings, API keys) as the bearer token.")
    return principal.key


def _until_midnight_s() -> int:
    now = datetime.now(UTC)
    midnight = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), UTC)
    return int((midnight - now).total_seconds()) + 1


async def _within_budgets(api: ApiDep, db: DbDep, key: ApiKey) -> None:
    """A 429 at once when the owner's or the key's daily budget is spent; `send_message`
    checks again, as it does for the UI."""
    spent = []
    owner_budget, key_budget = api.settings.daily_token_budget, key.daily_token_budget
    if owner_budget and await history.tokens_used_today(db, key.user_id) >= owner_budget:
        spent.append(f"your daily budget of {owner_budget} tokens")
    if key_budget and await history.tokens_used_today(db, key.user_id, key.id) >= key_budget:
        spent.append(f"this key's daily budget of {key_budget} tokens")
    if spent:
        raise Problem(429, f"{' and '.join(spent).capitalize()} is used up until midnight UTC.",
                      headers={"Retry-After": str(_until_midnight_s())},
                      extra={"code": "insufficient_quota"})  # fmt: skip


class Answer:
    """The reply's stream, read as OpenAI's completion objects."""

    def __init__(self, api: ApiDep, command: CompletionRequested, *, include_usage: bool) -> None:
        self.api = api
        self.command = command
        self.include_usage = include_usage
        self.entries = api.watcher.batches(
            stream_key(api.settings, command.reply_id), "0-0", HEARTBEAT_S
        )
        self.id = f"chatcmpl-{command.reply_id.hex}"
        self.created = int(time.time())
        self.ended = False

    async def first(self) -> list[dict[str, Any]]:
        """The first entries, before the answer's status is chosen: an error that comes
        before any text (a spent budget, a refusal) is the request's own HTTP error."""
        deadline = time.monotonic() + FIRST_ENTRY_TIMEOUT_S
        async for batch in self.entries:
            if batch:
                entries = [decode(fields) for _, fields in batch]
                if entries[0]["type"] == "error":
                    self.ended = True
                    await self.close()
                    raise _failure(entries[0])
                return entries
            if time.monotonic() > deadline:
                await self.close()
                raise Problem(504, "The model did not start answering in time.",
                              extra={"code": "timeout"})  # fmt: skip
        raise Problem(503, "The reply ended without an answer.")

    async def rest(self, first: list[dict[str, Any]]) -> AsyncIterator[list[dict[str, Any]] | None]:
        """`first`, then each later batch of entries; None for a quiet `HEARTBEAT_S`."""
        yield first
        async for batch in self.entries:
            yield [decode(fields) for _, fields in batch] if batch else None

    async def chunks(self, first: list[dict[str, Any]]) -> AsyncIterator[str]:
        try:
            yield self._chunk({"role": "assistant", "content": ""})
            async for entries in self.rest(first):
                if entries is None:
                    yield ": keep-alive\n\n"
                for entry in entries or ():
                    if entry["type"] == "delta":
                        yield self._chunk({"content": entry["text"]})
                    elif entry["type"] == "error":
                        self.ended = True
                        # OpenAI's SDKs raise an APIError for an `error` in the stream.
                        yield self._sse(openai_body(_failure(entry)))
                        return
                    else:
                        self.ended = True
                        yield self._chunk({}, _finish_reason(entry))
                        if self.include_usage:
                            yield self._sse(self._object("chat.completion.chunk", [],
                                                         usage=_usage(entry)))  # fmt: skip
                        yield "data: [DONE]\n\n"
                        return
        finally:
            await self.close()

    async def whole(self, first: list[dict[str, Any]]) -> dict[str, Any]:
        text: list[str] = []
        try:
            async for entries in self.rest(first):
                for entry in entries or ():
                    if entry["type"] == "delta":
                        text.append(entry["text"])
                    elif entry["type"] == "error":
                        self.ended = True
                        raise _failure(entry)
                    else:
                        self.ended = True
                        message = {"role": "assistant", "content": "".join(text), "refusal": None}
                        choice = {"index": 0, "message": message, "logprobs": None,
                                  "finish_reason": _finish_reason(entry)}  # fmt: skip
                        return self._object("chat.completion", [choice], usage=_usage(entry))
        finally:
            await self.close()
        raise Problem(503, "The reply ended without an answer.")

    async def close(self) -> None:
        """Stop watching the stream. If the caller went away before the end, an unkept
        completion is stopped, since nobody will ever read it; a kept one goes on into its
        conversation."""
        await self.entries.aclose()
        if not self.ended and not self.command.store:
            self.ended = True
            await self.api.reply(self.command.reply_id).request_stop()

    def _object(self, kind: str, choices: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
        return {"id": self.id, "object": kind, "created": self.created,
                "model": self.command.model, "system_fingerprint": None, "choices": choices,
                **extra}  # fmt: skip

    def _chunk(self, delta: dict[str, Any], finish_reason: str | None = None) -> str:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
        extra = {"usage": None} if self.include_usage else {}
        return self._sse(self._object("chat.completion.chunk", [choice], **extra))

    @staticmethod
    def _sse(data: dict[str, Any]) -> str:
        return f"data: {json.dumps(data, separators=(',', ':'))}\n\n"


def _finish_reason(done: dict[str, Any]) -> str:
    # `stopped` (a stop the caller asked for by hanging up) reads as OpenAI's plain stop.
    return "length" if done.get("finish_reason") == "length" else "stop"


def _usage(done: dict[str, Any]) -> dict[str, int]:
    usage = done.get("usage") or {}
    prompt, completion = usage.get("prompt_tokens", 0), usage.get("completion_tokens", 0)
    return {"prompt_tokens": prompt, "completion_tokens": completion,
            "total_tokens": prompt + completion}  # fmt: skip


def _failure(error: dict[str, Any]) -> Problem:
    code = str(error.get("code", "server_error"))
    status, openai_code = FAILURES.get(code, (503, code))
    headers = {"Retry-After": str(_until_midnight_s() if status == 429 else 2)}
    return Problem(status, str(error.get("message") or "The model could not answer."),
                   headers=headers if status in (429, 503) else {},
                   extra={"code": openai_code})  # fmt: skip
