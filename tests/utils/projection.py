"""Setting the chat tables up as the events would: through their one writer."""

from __future__ import annotations

from chatfn import runtime
from chatfn.chat import projection
from chatfn.events.catalog import ReceivedEvent, new_event


async def project(*facts: projection.Projected) -> None:
    """Apply `facts` in order, as `persist_history` would have."""
    async with runtime.current().sessions.begin() as db:
        for fact in facts:
            received = ReceivedEvent(event=new_event(fact, source="tests"), payload=fact)
            await projection.apply(db, received)
