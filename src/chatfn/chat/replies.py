"""A reply while it is being written: a Redis Stream per reply, read by `stream_reply`.

`reply:{id}` holds `delta` entries (`text`) and ends with exactly one terminal entry,
`done` (`finish_reason`, `usage`) or `error` (`code`, `message`). The entry id is the
SSE event id, so a reader that reconnects with `Last-Event-ID` resumes exactly.

Beside it: `reply:{id}:meta` (whose reply it is, written by `api` when it mints the
id, so a stream can be authorised before PostgreSQL knows the reply; and the trace of
the request that asked for it, which the reader's stream joins), `reply:{id}:decision`
(what `send_message` decided, so a redelivered command is decided the same way),
`reply:{id}:stop` (the user pressed stop), `reply:{id}:lease` (which delivery of the
event is generating; see `Lease`) and `reply:{id}:prompt` (an API completion's messages
when it is not to be kept: they never enter the event log). `Reply` writes them all;
`stream_reply` reads many streams at once (see chatfn.chat.watch). Everything expires a
day after the reply started, or minutes after an unkept completion ended.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from dataclasses import dataclass, field
from typing import Any, Literal, cast
from uuid import UUID

from opentelemetry import trace
from redis.asyncio import Redis
from redis.typing import EncodableT, FieldT

from chatfn.redis_client import key
from chatfn.settings import Settings
from chatfn.telemetry import instruments
from chatfn.telemetry.tracing import current_traceparent

TTL_S = 24 * 3600
TERMINAL = ("done", "error")
PARTS = ("meta", "decision", "stop", "lease", "ended", "prompt")
Entry = tuple[str, dict[str, str]]


def stream_key(settings: Settings, reply_id: UUID) -> str:
    # The braces are a Redis Cluster hash tag: a reply's keys share a slot, so one Lua
    # script may touch them all.
    return key(settings, "reply", f"{{{reply_id}}}")


@dataclass
class Written:
    """What a reply's stream holds so far."""

    text: str = ""
    tokens: int = 0  # the model's tokens behind `text`
    terminal: dict[str, Any] | None = None
    last_id: str = "0-0"
    entries: list[tuple[str, dict[str, Any]]] = field(default_factory=list)


def decode(fields: dict[str, str]) -> dict[str, Any]:
    """A stream entry as the SSE `data` it becomes."""
    entry: dict[str, Any] = {"type": fields["type"]}
    if "data" in fields:
        entry |= json.loads(fields["data"])
    return entry


# Appends the terminal entry unless the stream already has one: exactly one per reply.
_FINISH = """
if redis.call('set', KEYS[2], 1, 'NX', 'EX', ARGV[3]) then
  local id = redis.call('xadd', KEYS[1], '*', 'type', ARGV[1], 'data', ARGV[2])
  redis.call('expire', KEYS[1], ARGV[3])
  return id
end
return false
"""


@dataclass(frozen=True)
class Reply:
    """One reply's stream and the keys beside it: every write and read of the protocol."""

    redis: Redis
    settings: Settings
    id: UUID

    @property
    def stream(self) -> str:
        return stream_key(self.settings, self.id)

    def _part(self, part: str) -> str:
        return f"{self.stream}:{part}"

    async def open(self, *, user_id: UUID, conversation_id: UUID) -> None:
        """Say whose reply this is, before PostgreSQL knows it (`api` mints the id)."""
        name = self._part("meta")
        meta: dict[FieldT, EncodableT] = {
            "user_id": str(user_id),
            "conversation_id": str(conversation_id),
        }
        if traceparent := current_traceparent():
            meta["traceparent"] = traceparent
            trace.get_current_span().set_attribute("chatfn.reply_id", str(self.id))
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(name, mapping=meta)
            pipe.expire(name, TTL_S)
            await pipe.execute()

    async def keep_prompt(self, messages: str) -> None:
        """Hold an unkept completion's messages (JSON) for `generate_reply`."""
        await self.redis.set(self._part("prompt"), messages, ex=TTL_S)

    async def prompt(self) -> str | None:
        return cast(str | None, await self.redis.get(self._part("prompt")))

    async def forget_within(self, seconds: int) -> None:
        """Let the reply and everything beside it expire in `seconds`: an unkept
        completion stays only as long as a redelivery of its event may need it."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for name in (self.stream, *map(self._part, PARTS)):
                pipe.expire(name, seconds)
            await pipe.execute()

    async def owner(self) -> UUID | None:
        user_id, _ = await self.opened()
        return user_id

    async def belongs_to(self, user_id: UUID, conversation_id: UUID) -> bool:
        """Whether `api` opened this reply for `user_id` in `conversation_id`."""
        meta = await self.redis.hmget(self._part("meta"), ["user_id", "conversation_id"])
        return cast(list[str | None], meta) == [str(user_id), str(conversation_id)]

    async def decided(self, decision: str) -> str:
        """`decision` (a fact, serialised), unless one was recorded before: then that one.
        The first decision on a command stands, whatever a redelivery would decide now."""
        earlier = await self.redis.set(self._part("decision"), decision, nx=True, ex=TTL_S,
                                       get=True)  # fmt: skip
        return cast(str | None, earlier) or decision

    async def opened(self) -> tuple[UUID | None, str | None]:
        """Whose reply this is, and the trace that asked for it (if it was traced)."""
        # The client decodes responses (redis-py types them more loosely).
        meta = await self.redis.hmget(self._part("meta"), ["user_id", "traceparent"])
        user_id, traceparent = cast(list[str | None], meta)
        return (UUID(str(user_id)) if user_id else None), traceparent

    async def read(self) -> Written:
        written = Written()
        # The client decodes responses, so entries are str (redis-py types them more loosely).
        entries = cast(list[Entry], await self.redis.xrange(self.stream))
        for entry_id, fields in entries:
            entry = decode(fields)
            written.entries.append((entry_id, entry))
            written.last_id = entry_id
            if entry["type"] == "delta":
                written.text += entry["text"]
                written.tokens += int(fields.get("tokens", 0))
            else:
                written.terminal = entry
        return written

    async def append(self, text: str, tokens: int) -> bool:
        """Append `text` (`tokens` of the model's); True if the user has asked to stop.
        The question rides along with the write, so honouring stop costs no round trip of
        its own on the hot path. The count, beside the text, lets a resumed reply count
        usage exactly; readers never see it."""
        delta = {"type": "delta", "data": json.dumps({"text": text}), "tokens": tokens}
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.xadd(self.stream, delta)  # type: ignore[arg-type]  # redis-py types values too narrowly
            pipe.expire(self.stream, TTL_S)
            pipe.exists(self._part("stop"))
            _, _, stop = await pipe.execute()
        return bool(stop)

    async def finish(self, kind: Literal["done", "error"], *, model: str = "", **data: Any) -> bool:
        """End the stream with `kind`; False if it had already ended. `model`, the one that
        answered (none if the reply never reached one), only labels the count."""
        keys = (self.stream, self._part("ended"))
        ended = bool(await self.redis.eval(_FINISH, 2, *keys, kind, json.dumps(data), TTL_S))
        if ended:  # counted once, by whoever ended it
            state = "stopped" if data.get("finish_reason") == "stopped" else kind
            labels = {"state": state, "code": data.get("code", ""), "model": model}
            instruments.replies.add(1, labels)
        return ended

    async def request_stop(self) -> None:
        await self.redis.set(self._part("stop"), 1, ex=TTL_S)

    async def stop_requested(self) -> bool:
        return bool(await self.redis.exists(self._part("stop")))

    def lease(self, ttl_s: float) -> Lease:
        return Lease(self.redis, self._part("lease"), ttl_s)


class LeaseLost(Exception):
    """This delivery's lease expired and another one took the reply over."""


class Lease:
    """Which delivery of a reply's event may call the model.

    The broker may deliver the same event twice (a retry after a timeout, a restart).
    The first delivery takes the lease and renews it while it works; a second one finds
    it taken and backs off, and only once the holder has died and the lease expired
    does a redelivery take over and resume the reply where it stopped.
    """

    def __init__(self, redis: Redis, name: str, ttl_s: float) -> None:
        self.redis = redis
        self.name = name
        self.ttl_ms = int(ttl_s * 1000)
        self.token = secrets.token_hex(8)

    async def acquire(self) -> bool:
        return bool(await self.redis.set(self.name, self.token, nx=True, px=self.ttl_ms))

    async def renew(self) -> bool:
        """Extend the lease if it is still ours (compare-and-set in one Lua call)."""
        renewed = await self.redis.eval(
            "if redis.call('get', KEYS[1]) == ARGV[1] then "
            "return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end",
            1,
            self.name,
            self.token,
            self.ttl_ms,
        )
        return bool(renewed)

    async def keep(self) -> None:
        """Renew the lease until cancelled; raise `LeaseLost` if another delivery took it."""
        while True:
            await asyncio.sleep(self.ttl_ms / 3000)
            if not await self.renew():
                raise LeaseLost

    async def release(self) -> None:
        await self.redis.eval(
            "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) "
            "else return 0 end",
            1,
            self.name,
            self.token,
        )
