"""The export's `conversations.json`, version 1: these models are its definition, and
`schema-v1.json` beside this file is their JSON Schema, committed for readers outside
Python (a test holds the two equal; `python -m chatfn.exports.schema` rewrites it).

A conversation's messages form a tree through `parent_id` (an edit or a regeneration is a
sibling: a second child of the same parent), oldest first, every parent before its
children. A newer version of the format gets a new `version` and a new schema file; a
reader refuses a version it does not know rather than guess.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

FORMAT = "chatfn-export"
VERSION = 1
SCHEMA_FILE = Path(__file__).with_name(f"schema-v{VERSION}.json")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ExportedMessage(_Strict):
    id: UUID
    parent_id: UUID | None = Field(description="none: a first message of the conversation")
    role: Literal["system", "user", "assistant"]
    content: str = Field(description="Markdown, as written or answered")
    model: str = Field(description="the model that answered; empty for the user's messages")
    status: Literal["complete", "streaming", "stopped", "failed"] = Field(
        description="how the reply ended (streaming: still being written when exported)"
    )
    created_at: datetime


class ExportedConversation(_Strict):
    id: UUID
    title: str
    created_at: datetime
    updated_at: datetime
    pinned: bool
    archived: bool
    messages: list[ExportedMessage] = Field(description="oldest first; parents before children")


class Export(_Strict):
    """A chatfn export: every conversation the user keeps (the trash's are left out)."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        json_schema_extra={"$id": f"urn:chatfn:export:v{VERSION}", "title": "chatfn export"},
    )

    format: Literal["chatfn-export"]
    version: Literal[1]
    exported_at: datetime
    conversations: list[ExportedConversation]


def json_schema() -> str:
    """The committed schema file's text."""
    return json.dumps(Export.model_json_schema(), indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    SCHEMA_FILE.write_text(json_schema())
