"""Share links: a read-only snapshot of a conversation's branch at `/s/<token>`.

`POST /api/conversations/{id}/shares` copies the branch from the root to the chosen
message (its ancestors only: no later message, no sibling) with the title into the
`shares` row, so a link never shows what was said after it was made. The token is a
bearer capability to read that one snapshot: random, with no id in it, kept so the owner
can copy the link again, and gone with the row when the link is revoked. Shares are
state-stored by `api`; their lifecycle is published without the token.

A link answers only while its conversation lives: not while it is in the trash (it comes
back if the conversation is restored); purging the conversation (the user, or the trash
sweep) deletes its links at once (chatfn.api.share_links), as deleting the account does
(accounts.delete_account). A share found without its conversation all the same (purged
before this rule) is deleted when it is seen.

Anyone signed in can continue a shared conversation: it is copied into their own account as
`io.chatfn.conversation.imported` facts, with ids derived from the viewer and the share, so
a second click copies nothing.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid5

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession
from uuid6 import uuid7

from chatfn.api import share_links
from chatfn.api.chat_endpoints import owned_conversation
from chatfn.api.problems import not_found
from chatfn.api.security import SOURCE, Api, ApiDep, DbDep, PrincipalDep, ViewDep
from chatfn.chat import history, imports
from chatfn.events.catalog import (
    ConversationRestored,
    ImportedMessage,
    ShareCreated,
    new_event,
)
from chatfn.models import Conversation, Message, Share
from chatfn.problems import Problem

router = APIRouter(prefix="/api", tags=["share links"])
EXCERPT = 160  # characters of the last shared message shown in the owner's list
# A snapshot is for anyone with the link, never for a search engine or a shared cache.
PRIVATE = {"X-Robots-Tag": "noindex, nofollow", "Cache-Control": "no-store"}
_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,64}")
_CONTINUED = UUID("8f2c4b61-3d0e-4f7a-9b5c-6a1e2d3f4c5b")  # namespace of continued copies


class ShareIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    up_to_message_id: UUID = Field(description="shared with its ancestors; nothing after it")


class ShareOut(BaseModel):
    id: UUID
    url: str = Field(description="the link's path, `/s/<token>`: anyone holding it reads it")
    title: str
    conversation_id: UUID
    up_to_message_id: UUID
    excerpt: str = Field(description="the start of the last shared message")
    created_at: datetime
    available: bool = Field(description="false while its conversation is in the trash")

    @classmethod
    def of(cls, share: Share, available: bool = True) -> ShareOut:
        messages = share.snapshot["messages"]
        return cls(
            id=share.id, url=f"/s/{share.token}", title=share.snapshot["title"],
            conversation_id=share.conversation_id, up_to_message_id=share.up_to_message_id,
            excerpt=messages[-1]["content"][:EXCERPT] if messages else "",
            created_at=share.created_at, available=available,
        )  # fmt: skip


class SharedMessage(BaseModel):
    role: str
    content: str
    created_at: datetime
    model: str


class Shared(BaseModel):
    title: str
    created_at: datetime
    messages: list[SharedMessage] = Field(description="root first, the shared message last")


class Continued(BaseModel):
    conversation_id: UUID


async def _branch(db: AsyncSession, user_id: UUID, message_id: UUID) -> Sequence[Message]:
    """`message_id` and its ancestors, root first."""
    ids = [row.id for row in await history.branch(db, user_id, message_id)]
    found = await db.scalars(select(Message).where(Message.user_id == user_id, Message.id.in_(ids)))
    by_id = {message.id: message for message in found.all()}
    return [by_id[message_id] for message_id in ids]


@router.post("/conversations/{conversation_id}/shares", status_code=201)
async def create_share(
    conversation_id: UUID, body: ShareIn, principal: PrincipalDep, api: ApiDep, db: ViewDep
) -> ShareOut:
    """Share the branch up to `up_to_message_id` as it is now."""
    conversation = await owned_conversation(db, principal.user_id, conversation_id)
    last = await db.get(Message, (principal.user_id, body.up_to_message_id))
    if last is None or last.conversation_id != conversation_id:
        raise not_found("message in this conversation")
    branch = await _branch(db, principal.user_id, last.id)
    if any(message.status == "streaming" for message in branch):
        raise Problem(409, "A reply on this branch is still being written; share it once done.")
    snapshot: dict[str, Any] = {
        "title": conversation.title,
        "messages": [
            {"role": m.role, "content": m.content, "created_at": m.created_at.isoformat(),
             "model": m.model}
            for m in branch
        ],
    }  # fmt: skip
    share = Share(
        user_id=principal.user_id, id=uuid7(), conversation_id=conversation_id,
        up_to_message_id=last.id, token=secrets.token_urlsafe(32), snapshot=snapshot,
        created_at=datetime.now(UTC),
    )  # fmt: skip
    db.add(share)
    await db.commit()
    created = ShareCreated(user_id=principal.user_id, share_id=share.id,
                           conversation_id=conversation_id, up_to_message_id=last.id)  # fmt: skip
    await api.publish(new_event(created, source=SOURCE), "the new share")
    return ShareOut.of(share)


def _conversation_of(share: type[Share]) -> Any:  # a SQL condition
    return (Conversation.user_id == share.user_id) & (Conversation.id == share.conversation_id)


@router.get("/shares")
async def list_shares(principal: PrincipalDep, api: ApiDep, db: ViewDep) -> list[ShareOut]:
    """The user's share links, newest first."""
    orphans = await db.scalars(
        select(Share).where(
            Share.user_id == principal.user_id, ~exists().where(_conversation_of(Share))
        )
    )
    await share_links.forget(api, db, orphans.all())
    rows = await db.execute(
        select(Share, Conversation.deleted_at)
        .join(Conversation, _conversation_of(Share))
        .where(Share.user_id == principal.user_id)
        .order_by(Share.id.desc())
    )
    return [ShareOut.of(share, deleted_at is None) for share, deleted_at in rows.all()]


@router.delete("/shares/{share_id}", status_code=204)
async def revoke_share(share_id: UUID, principal: PrincipalDep, api: ApiDep, db: DbDep) -> None:
    """Revoke the link: it answers 404 from now on."""
    share = await db.get(Share, (principal.user_id, share_id))
    if share is None:
        raise not_found("share link")
    await share_links.forget(api, db, [share])


def _unknown_link() -> Problem:
    return Problem(404, "This link was revoked or never existed.", headers=PRIVATE)


async def _live_share(api: Api, db: AsyncSession, token: str) -> Share:
    """The share `token` reads, while its conversation is out of the trash."""
    if not _TOKEN.fullmatch(token):
        raise _unknown_link()
    share = await db.scalar(select(Share).where(Share.token == token).limit(1))
    if share is None:
        raise _unknown_link()
    conversation = await db.get(Conversation, (share.user_id, share.conversation_id))
    if conversation is None:
        await share_links.forget(api, db, [share])
    if conversation is None or conversation.deleted_at is not None:
        raise _unknown_link()
    return share


@router.get("/shared/{token}", responses={404: {"description": "revoked or never existed"}})
async def read_shared(token: str, api: ApiDep, db: DbDep, response: Response) -> Shared:
    """The snapshot behind a share link, for anyone who holds it (no sign-in)."""
    share = await _live_share(api, db, token)
    response.headers.update(PRIVATE)
    return Shared(title=share.snapshot["title"], created_at=share.created_at,
                  messages=share.snapshot["messages"])  # fmt: skip


@router.post("/shared/{token}/continue", status_code=201)
async def continue_shared(
    token: str, principal: PrincipalDep, api: ApiDep, db: ViewDep, response: Response
) -> Continued:
    """Copy the snapshot into the signed-in user's account as a conversation of their own;
    asked again, the same conversation (brought back from the trash if it is there)."""
    share = await _live_share(api, db, token)
    response.headers.update(PRIVATE)
    viewer = principal.user_id
    conversation_id = uuid5(_CONTINUED, f"{viewer}:{share.id}")
    copy = await db.get(Conversation, (viewer, conversation_id))
    if copy is not None:
        if copy.deleted_at is not None:
            restored = ConversationRestored(user_id=viewer, conversation_id=conversation_id)
            await api.announce(restored, viewer)
        return Continued(conversation_id=conversation_id)
    messages: list[ImportedMessage] = []
    for index, message in enumerate(share.snapshot["messages"]):
        messages.append(ImportedMessage(
            id=uuid5(_CONTINUED, f"{viewer}:{share.id}:{index}"),
            parent_id=messages[-1].id if messages else None, role=message["role"],
            content=message["content"], model=message["model"],
            created_at=datetime.fromisoformat(message["created_at"]),
        ))  # fmt: skip
    title, at = share.snapshot["title"], datetime.now(UTC)
    for fact in imports.facts(viewer, conversation_id, title, at, messages):
        await api.announce(fact, viewer)
    return Continued(conversation_id=conversation_id)
