"""exports: a user's data, out and in.

Consumes `io.chatfn.export.requested` (sent by `api` from Settings): writes every
conversation the user keeps into a zip in S3 (chatfn.exports.archive) and replies with
`io.chatfn.export.ready`. Consumes `io.chatfn.import.requested`: reads the uploaded file
(chatfn's export or ChatGPT's, chatfn.exports.reading), publishes its conversations as
`io.chatfn.conversation.imported` facts (and `...pinned`, `...archived`) to K_SINK, deletes
the upload and replies with `io.chatfn.import.completed`. The daily trash-sweep tick
deletes the exports past their seven days and uploads never imported; `io.chatfn.user.deleted`
deletes all of the account's. The one writer of
the exports and imports tables (chatfn.exports.jobs).
"""

from __future__ import annotations

from cloudevents.http import CloudEvent
from functions_framework import aio

from chatfn import runtime
from chatfn.events.catalog import (
    ExportRequested,
    ImportRequested,
    Payload,
    PingTick,
    ReceivedEvent,
    UserDeleted,
)
from chatfn.events.consumer import consumes
from chatfn.exports import jobs


@aio.http
@consumes(ExportRequested, ImportRequested, UserDeleted, PingTick)
async def exports(received: ReceivedEvent[Payload]) -> CloudEvent | None:
    context = runtime.current()
    match received.payload:
        case ExportRequested() as command:
            return await jobs.export(context, command)
        case ImportRequested() as command:
            return await jobs.import_(context, command)
        case UserDeleted() as deleted:
            await jobs.forget(context, deleted.user_id)
        case _:
            await jobs.sweep(context)
    return None
