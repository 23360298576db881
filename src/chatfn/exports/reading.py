"""What an uploaded file holds, whichever exporter made it: chatfn's export zip, or
ChatGPT's (its zip, or its `conversations.json` alone)."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from chatfn.exports import chatgpt
from chatfn.exports.schema import FORMAT, VERSION, Export
from chatfn.exports.sources import (
    MAX_CONTENT,
    MAX_TITLE,
    Conversation,
    Message,
    Read,
    Unreadable,
    parents_first,
    storable,
)

# conversations.json as unpacked from a zip: ChatGPT's reach hundreds of MB.
MAX_JSON_BYTES = 1024 * 1024 * 1024


def read(path: Path) -> Read:
    """The conversations in the file at `path`."""
    document = _document(path)
    if isinstance(document, dict) and document.get("format") == FORMAT:
        return _chatfn(document)
    if isinstance(document, list):
        return chatgpt.conversations(document)
    raise Unreadable("This is neither a chatfn export nor ChatGPT's conversations.json.")


def _document(path: Path) -> Any:
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                member = _conversations_member(archive)
                if member.file_size > MAX_JSON_BYTES:
                    raise Unreadable("Its conversations.json is too large to import.")
                with archive.open(member) as file:
                    return json.load(file)
        with path.open("rb") as file:
            return json.load(file)
    except (zipfile.BadZipFile, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise Unreadable(f"The file could not be read ({type(exc).__name__}).") from exc


def _conversations_member(archive: zipfile.ZipFile) -> zipfile.ZipInfo:
    """conversations.json, at the top or in the zip's one folder."""
    found = [
        info for info in archive.infolist()
        if info.filename.rsplit("/", 1)[-1] == "conversations.json"
    ]  # fmt: skip
    if not found:
        raise Unreadable("The zip holds no conversations.json.")
    return min(found, key=lambda info: info.filename.count("/"))


def _chatfn(document: dict[str, Any]) -> Read:
    if document.get("version") != VERSION:
        raise Unreadable(f"This chatfn export's version ({document.get('version')}) is unknown.")
    try:
        export = Export.model_validate(document)
    except ValidationError as exc:
        raise Unreadable(f"This chatfn export is damaged ({exc.error_count()} errors).") from exc
    conversations = [
        Conversation(
            key=str(conversation.id),
            title=storable(conversation.title, MAX_TITLE),
            created_at=conversation.created_at,
            pinned=conversation.pinned,
            archived=conversation.archived,
            messages=[
                Message(
                    key=str(m.id),
                    parent=str(m.parent_id) if m.parent_id else None,
                    role=m.role,
                    content=storable(m.content, MAX_CONTENT),
                    model=m.model,
                    created_at=m.created_at,
                )
                for m in parents_first(conversation.messages, lambda m: m.id, lambda m: m.parent_id)
            ],
        )
        for conversation in export.conversations
    ]
    return Read(source="chatfn", conversations=conversations, skipped=0)
