"""The export's schema, zip and Markdown, and the readers of what can be imported (no I/O
beyond the fixture files)."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import RFC_4122

import pytest
from uuid6 import uuid7

from chatfn.exports import archive, reading, schema
from chatfn.exports.jobs import imported_id
from chatfn.exports.sources import Unreadable

CHATGPT = Path(__file__).resolve().parents[1] / "fixtures" / "chatgpt" / "conversations.json"
AT = datetime(2026, 11, 30, 9, 15, tzinfo=UTC)


def a_message(
    parent: schema.ExportedMessage | None, role: str, content: str, minutes: int
) -> schema.ExportedMessage:
    return schema.ExportedMessage.model_validate({
        "id": uuid7(), "parent_id": parent.id if parent else None, "role": role,
        "content": content, "model": "scripted" if role == "assistant" else "",
        "status": "complete", "created_at": AT + timedelta(minutes=minutes),
    })  # fmt: skip


def an_export() -> schema.Export:
    """One conversation whose answer was regenerated: two branches."""
    question = a_message(None, "user", "What is *sourdough*?", 0)
    first = a_message(question, "assistant", "Bread.", 1)
    second = a_message(question, "assistant", "Bread leavened by a wild culture.", 2)
    conversation = schema.ExportedConversation(
        id=uuid7(), title="Sourdough: what is it?", created_at=AT, updated_at=AT, pinned=True,
        archived=False, messages=[question, first, second],
    )  # fmt: skip
    return schema.Export(format="chatfn-export", version=1, exported_at=AT,
                         conversations=[conversation])  # fmt: skip


def test_the_committed_json_schema_is_the_models_own() -> None:
    assert schema.SCHEMA_FILE.read_text() == schema.json_schema(), (
        "run `python -m chatfn.exports.schema` to rewrite it"
    )


def test_the_zip_holds_the_json_a_readme_and_the_latest_branch_as_markdown() -> None:
    export = an_export()
    buffer = io.BytesIO()
    archive.write(export, buffer)

    with zipfile.ZipFile(buffer) as zipped:
        names = sorted(zipped.namelist())
        document = json.loads(zipped.read("conversations.json"))
        readme = zipped.read("README.txt").decode()
        [markdown_name] = [name for name in names if name.startswith("conversations/")]
        markdown = zipped.read(markdown_name).decode()

    conversation = export.conversations[0]
    assert names == ["README.txt", "conversations.json", markdown_name]
    assert (
        markdown_name
        == f"conversations/2026-11-30-sourdough-what-is-it-{conversation.id.hex[:8]}.md"
    )
    assert schema.Export.model_validate(document) == export
    assert 'format "chatfn-export", version 1' in readme
    assert markdown.startswith("# Sourdough: what is it?\n")
    assert "Bread leavened by a wild culture." in markdown
    assert "Bread.\n" not in markdown  # the older answer is another branch
    assert "1 other branch (edits, regenerations) are in conversations.json" in markdown
    assert "## Assistant (scripted) · 2026-11-30 09:17" in markdown


def test_a_chatfn_export_reads_back_with_every_branch(tmp_path: Path) -> None:
    export = an_export()
    path = tmp_path / "export.zip"
    with path.open("wb") as file:
        archive.write(export, file)

    read = reading.read(path)

    [conversation] = read.conversations
    original = export.conversations[0]
    assert (read.source, read.skipped) == ("chatfn", 0)
    assert (conversation.title, conversation.created_at, conversation.pinned) == (
        original.title, original.created_at, True,
    )  # fmt: skip
    assert [(m.key, m.parent, m.role, m.content, m.created_at) for m in conversation.messages] == [
        (str(m.id), str(m.parent_id) if m.parent_id else None, m.role, m.content, m.created_at)
        for m in original.messages
    ]


def test_an_unknown_version_or_file_is_refused_with_a_reason(tmp_path: Path) -> None:
    future = tmp_path / "future.json"
    future.write_text(json.dumps({"format": "chatfn-export", "version": 2, "conversations": []}))
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"hello": "world"}))
    broken = tmp_path / "broken.zip"
    broken.write_bytes(b"PK\x03\x04 not really a zip")

    for path, reason in [(future, r"version \(2\) is unknown"), (other, "neither"),
                         (broken, "could not be read")]:  # fmt: skip
        with pytest.raises(Unreadable, match=reason):
            reading.read(path)


def test_chatgpts_export_keeps_branches_and_leaves_scaffolding_out() -> None:
    read = reading.read(CHATGPT)

    sourdough, tomatoes, japanese = read.conversations
    by_key = {m.key: m for m in sourdough.messages}
    assert read.source == "chatgpt"
    assert sourdough.title == "Sourdough starter smells like acetone"
    assert sourdough.created_at == datetime.fromtimestamp(1734429999.623456, UTC)
    # The edited question is a sibling of the first, both first messages (the hidden system
    # message and custom instructions above them are left out); the regeneration a
    # sibling of the answer it replaced.
    first, edited = [m for m in sourdough.messages if m.role == "user" and m.parent is None]
    assert "after 5 days" in edited.content
    assert "after 5 days" not in first.content
    answers = [m for m in sourdough.messages if m.parent == edited.key]
    assert len(answers) == 2
    follow_up = next(m for m in sourdough.messages if m.content == "Which flour works best?")
    assert by_key[str(follow_up.parent)].content.startswith("It is alive.")
    assert all(m.model == "gpt-4o" for m in sourdough.messages if m.role == "assistant")
    assert len(sourdough.messages) == 7
    # The photo becomes a marker beside the text; the tool call, its output and the
    # reasoning are left out, the answer hangs from the question.
    question, answer = tomatoes.messages
    assert question.content == "[image]\n\nHow many tomatoes are on this plant? Add up the trusses."
    assert (answer.parent, answer.model) == (question.key, "o3")
    assert answer.content.startswith("I count **15**")
    assert japanese.archived
    assert japanese.key == "b8e0c6f2-2f7e-4f1b-9d3c-7a5e4c3b2a19"
    assert [m.content for m in japanese.messages] == [
        "Traduis « bonne nuit » en japonais.", "おやすみなさい (oyasuminasai).",
    ]  # fmt: skip
    # hidden system messages and instructions, an empty system message, the reasoning, the
    # tool call and its output
    assert read.skipped == 3 + 1 + 3


def test_chatgpts_conversations_json_is_found_inside_its_zip(tmp_path: Path) -> None:
    path = tmp_path / "chatgpt-export.zip"
    with zipfile.ZipFile(path, "w") as zipped:
        zipped.writestr("chat.html", "<html></html>")
        zipped.writestr("conversations.json", CHATGPT.read_bytes())
        zipped.writestr("user.json", "{}")

    assert len(reading.read(path).conversations) == 3


def test_imported_ids_are_the_same_every_time_and_sort_by_time() -> None:
    user = uuid7()
    early = imported_id(user, "chatgpt", "c", "m1", AT)
    again = imported_id(user, "chatgpt", "c", "m1", AT)
    later = imported_id(user, "chatgpt", "c", "m0", AT + timedelta(seconds=1))
    someone_elses = imported_id(uuid7(), "chatgpt", "c", "m1", AT)

    assert early == again
    assert early < later
    assert someone_elses != early
    assert early.version == 7
    assert early.variant == RFC_4122
