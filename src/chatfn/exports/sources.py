"""What an import brings in, whoever exported it: conversations whose messages keep the
source's own keys and parent links, parents before children. The importer gives them
chatfn ids (chatfn.exports.jobs)."""

from __future__ import annotations

import re
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, TypeVar

# What a single message and a title may hold (chatfn.events.catalog): longer text is cut.
MAX_CONTENT = 100_000
MAX_TITLE = 200
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")

Role = Literal["system", "user", "assistant"]
Source = Literal["chatfn", "chatgpt"]
T = TypeVar("T")
K = TypeVar("K", bound=Hashable)


class Unreadable(Exception):
    """The file is not an export chatfn can import; the message says why, for the user."""


@dataclass(frozen=True)
class Message:
    key: str  # the source's id of the message
    parent: str | None
    role: Role
    content: str
    model: str
    created_at: datetime


@dataclass(frozen=True)
class Conversation:
    key: str
    title: str
    created_at: datetime
    pinned: bool
    archived: bool
    messages: list[Message]


@dataclass
class Read:
    source: Source
    conversations: list[Conversation]
    skipped: int  # messages left out: hidden, empty, tools' and the system's scaffolding


def storable(text: str, limit: int) -> str:
    """`text` as PostgreSQL keeps it (no NUL, no lone surrogate), cut at `limit`."""
    return _UNSTORABLE.sub("", text)[:limit]


def parents_first(
    items: Iterable[T], key: Callable[[T], K], parent: Callable[[T], K | None]
) -> list[T]:
    """`items` so that each comes after its parent (one whose parent is missing is a root),
    siblings in their given order; an item in a cycle is left out."""
    given = list(items)
    keys = {key(item) for item in given}
    children: dict[K | None, list[T]] = {}
    for item in given:
        above = parent(item)
        children.setdefault(above if above in keys else None, []).append(item)
    ordered: list[T] = []
    stack = list(reversed(children.get(None, [])))
    while stack:
        item = stack.pop()
        ordered.append(item)
        stack.extend(reversed(children.get(key(item), [])))
    return ordered
