"""stream_reply: a reply as Server-Sent Events, from its Redis Stream (min-scale 1).

`GET /api/replies/{reply_id}/stream?ticket=...` answers `text/event-stream`: a `delta`
event (`{"text": ...}`) per stream entry, then exactly one `done`
(`{"finish_reason", "usage"}`) or `error` (`{"code", "message"}`), and a comment line as
a heartbeat while the model is quiet. Every event's `id` is its stream entry id, so a
reader that reconnects with `Last-Event-ID` gets exactly the rest. The ticket (single
use, from `api`) names the user; anyone else's reply, or an unknown one, is a 404.

One `Watcher` per process blocks on every open reply at once and hands each reader the
new entries (see chatfn.chat.watch); the entries at hand go out as one write, and a
reader holds a bounded batch at most, so memory per reader is bounded and a slow reader
only slows itself.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from functools import cache
from uuid import UUID

from functions_framework import aio
from opentelemetry.trace import SpanKind
from redis.exceptions import RedisError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from chatfn import runtime
from chatfn.chat import replies, tickets
from chatfn.chat.watch import Watcher
from chatfn.problems import Problem, crashed
from chatfn.telemetry import instruments
from chatfn.telemetry.tracing import context_of, tracer

log = logging.getLogger(__name__)
PATH = re.compile(r"^/api/replies/(?P<reply_id>[0-9a-fA-F-]{36})/stream$")
ENTRY_ID = re.compile(r"^\d{1,20}-\d{1,20}$")
HEARTBEAT_S = 15.0


@cache
def _watcher() -> Watcher:
    return Watcher(runtime.current().redis)


def event(entry: replies.Entry) -> str:
    entry_id, fields = entry
    # An entry's `data` is the JSON object the event carries, written by json.dumps (so on
    # one line): passed through as it is, not decoded and encoded again.
    return f"id: {entry_id}\nevent: {fields['type']}\ndata: {fields.get('data', '{}')}\n\n"


async def events(reply_id: UUID, after: str, traceparent: str | None) -> AsyncIterator[str]:
    """The reply's SSE events; the entries at hand at once go out as one write. The
    stream is a span of the trace that asked for the reply."""
    stream = replies.stream_key(runtime.current().settings, reply_id)
    # Not made current: a context attached in a generator may be detached in another.
    span = tracer.start_span("sse reply", context_of(traceparent), kind=SpanKind.SERVER)
    span.set_attribute("chatfn.reply_id", str(reply_id))
    instruments.open_streams.add(1)
    sent = 0
    try:
        async for batch in _watcher().batches(stream, after, HEARTBEAT_S):
            if batch is None:
                yield ": heartbeat\n\n"
                continue
            sent += len(batch)
            yield "".join(map(event, batch))
    except RedisError:
        # The response has begun, so no error status can be sent: end the stream and
        # let the reader reconnect with Last-Event-ID.
        log.warning("reply %s: Redis read failed; the reader will reconnect", reply_id)
    finally:
        instruments.open_streams.add(-1)
        span.set_attribute("chatfn.sse.entries", sent)
        span.end()


@aio.http
async def stream_reply(request: Request) -> Response:
    try:
        return await _open(request)
    except Problem as problem:
        return problem.response()
    except Exception as exc:  # Redis down, say: a problem body, logged without content
        return crashed(exc, "stream_reply").response()


async def _open(request: Request) -> Response:
    match = PATH.match(request.url.path)
    if request.method != "GET" or match is None:
        if request.url.path == "/healthz":
            runtime.current()  # a revision not given what it needs never becomes Ready
            return JSONResponse({"function": "stream_reply"})
        raise Problem(404, "Use GET /api/replies/{reply_id}/stream.")
    try:
        reply_id = UUID(match["reply_id"])
    except ValueError:  # 36 of the right characters, but not a UUID
        raise Problem(404, "No such reply.") from None
    context = runtime.current()
    user_id = await tickets.redeem(
        context.redis, context.settings, request.query_params.get("ticket", ""), reply_id
    )
    if user_id is None:
        raise Problem(401, "A fresh stream ticket is needed (POST .../ticket).")
    owner, traceparent = await replies.Reply(context.redis, context.settings, reply_id).opened()
    if owner != user_id:
        raise Problem(404, "No such reply.")
    after = request.headers.get("last-event-id") or request.query_params.get("lastEventId", "0-0")
    if not ENTRY_ID.match(after):
        raise Problem(400, "Last-Event-ID is not a stream entry id.")
    return StreamingResponse(
        events(reply_id, after, traceparent),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
