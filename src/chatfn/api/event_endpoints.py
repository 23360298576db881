"""`/events/*`: results the broker delivers to `api` (never routed from the public `/api`).

A Trigger sends `io.chatfn.user.registered` and `...register.rejected` here; each
is handed to whichever `api` instance waits for its `correlationid` (see rendezvous).
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from starlette.responses import JSONResponse

from chatfn import rendezvous
from chatfn.api.security import ApiDep
from chatfn.consumer import problem_response
from chatfn.events import (
    MalformedEvent,
    UserRegistered,
    UserRegisterRejected,
    parse_event,
)

router = APIRouter(prefix="/events", include_in_schema=False)


@router.post("/register-result")
async def register_result(request: Request, api: ApiDep) -> Response:
    try:
        received = parse_event(
            request.headers, await request.body(), UserRegistered, UserRegisterRejected
        )
        correlation = received.event.get(rendezvous.EXTENSION)
        if not isinstance(correlation, str) or not rendezvous.is_signed(api.settings, correlation):
            raise MalformedEvent("correlationid missing or not signed by chatfn")
    except MalformedEvent as exc:
        return problem_response(exc)
    result = {"type": received.event["type"], **received.payload.model_dump(mode="json")}
    await rendezvous.deliver_result(api.runtime.redis, api.settings, correlation, result)
    return JSONResponse({"delivered": True}, status_code=202)
