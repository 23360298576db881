"""The export zip: `conversations.json` (chatfn.exports.schema), one Markdown file per
conversation under `conversations/`, and a README.txt that names the format's version.

The Markdown shows each conversation's latest branch, the path to its newest message,
which is what the chat shows when it is opened; a conversation with other branches
(edits, regenerations) says how many, and `conversations.json` holds every one of them.
"""

from __future__ import annotations

import re
import unicodedata
import zipfile
from typing import BinaryIO

from chatfn.exports.schema import FORMAT, VERSION, Export, ExportedConversation, ExportedMessage

SLUG_LENGTH = 40
ROLE_HEADINGS = {"user": "You", "assistant": "Assistant", "system": "System"}

README = f"""\
Your chatfn data
================

conversations.json  every conversation you keep (not the ones in the trash), with every
                    branch of each: format "{FORMAT}", version {VERSION}. Its JSON Schema
                    is published as urn:chatfn:export:v{VERSION} (schema-v{VERSION}.json in
                    chatfn's source). Messages form a tree through parent_id; an edited
                    question or a regenerated answer is a sibling of the one it replaced.
conversations/      each conversation as Markdown, its latest branch only (the messages
                    the chat shows when you open it).

Import this zip into chatfn (Settings > Data > Import) to bring every branch back.
"""


def latest_branch(messages: list[ExportedMessage]) -> list[ExportedMessage]:
    """The path from the first message to the newest one, oldest first."""
    if not messages:
        return []
    by_id = {message.id: message for message in messages}
    newest: ExportedMessage | None = max(messages, key=lambda m: (m.created_at, m.id))
    branch: list[ExportedMessage] = []
    while newest is not None:
        branch.append(newest)
        newest = by_id.get(newest.parent_id) if newest.parent_id else None
    return branch[::-1]


def leaves(messages: list[ExportedMessage]) -> int:
    """How many branches the tree has (its messages without children)."""
    parents = {message.parent_id for message in messages}
    return sum(message.id not in parents for message in messages)


def slug(title: str) -> str:
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    words = re.findall(r"[a-z0-9]+", ascii_title.lower())
    return "-".join(words)[:SLUG_LENGTH].strip("-") or "untitled"


def file_name(conversation: ExportedConversation) -> str:
    """`<date>-<slug>-<short id>.md`: sorts by date, reads by title, never collides."""
    day = conversation.created_at.date().isoformat()
    return f"{day}-{slug(conversation.title)}-{conversation.id.hex[:8]}.md"


def markdown(conversation: ExportedConversation) -> str:
    title = conversation.title or "Untitled"
    lines = [f"# {title}", "", f"Started {conversation.created_at:%Y-%m-%d %H:%M} UTC."]
    others = leaves(conversation.messages) - 1
    if others > 0:
        lines.append(
            f"This is the latest branch; {others} other branch{'es' if others > 1 else ''} "
            "(edits, regenerations) are in conversations.json."
        )
    for message in latest_branch(conversation.messages):
        heading = ROLE_HEADINGS[message.role]
        if message.model and message.role == "assistant":
            heading += f" ({message.model})"
        lines += ["", f"## {heading} · {message.created_at:%Y-%m-%d %H:%M}", "", message.content]
    return "\n".join(lines) + "\n"


def write(export: Export, into: BinaryIO) -> None:
    """The zip of `export`, written to `into`."""
    with zipfile.ZipFile(into, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("README.txt", README)
        archive.writestr("conversations.json", export.model_dump_json(indent=1))
        for conversation in export.conversations:
            archive.writestr(f"conversations/{file_name(conversation)}", markdown(conversation))
