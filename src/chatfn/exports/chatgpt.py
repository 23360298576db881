"""ChatGPT's export: `conversations.json`, a list of conversations, each a tree of nodes.

A conversation has `title`, `create_time` and `update_time` (epoch seconds, floats),
`conversation_id` (older exports: only `id`), `is_archived`, `current_node` (the leaf the
user last saw) and `mapping`: node id -> `{id, message, parent, children}`. The root's
`message` is null; below it come scaffolding nodes: an empty system message, hidden
context (custom instructions, `is_visually_hidden_from_conversation`), tool calls (an
assistant message whose `recipient` is a tool, not `all`) and their results (role
`tool`), reasoning (`thoughts`, `reasoning_recap`). Those are left out and their children
hang from the nearest message kept, so an edited question or a regenerated answer stays a
sibling of the one it replaced. A message's `content` is `{content_type, parts}`: text
parts are strings, `multimodal_text` mixes them with dicts (an image's
`image_asset_pointer`, shown here as [image]; a voice message's transcription), `code`
carries `text` and `language`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

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

ROLES = {"system", "user", "assistant"}
HIDDEN_CONTENT = {"thoughts", "reasoning_recap", "user_editable_context", "model_editable_context"}
IMAGE = "[image]"


def conversations(document: list[Any]) -> Read:
    read = Read(source="chatgpt", conversations=[], skipped=0)
    for item in document:
        if not isinstance(item, dict) or not isinstance(item.get("mapping"), dict):
            raise Unreadable(
                "This is not ChatGPT's conversations.json: a conversation lacks its mapping."
            )
        conversation, skipped = _conversation(item)
        read.conversations.append(conversation)
        read.skipped += skipped
    return read


def _conversation(item: Mapping[str, Any]) -> tuple[Conversation, int]:
    mapping: Mapping[str, Any] = item["mapping"]
    nodes = [node for node in mapping.values() if isinstance(node, dict) and node.get("id")]
    started = _time(item.get("create_time")) or _earliest(nodes) or datetime.now(UTC)
    kept: dict[str, str | None] = {}  # a node -> the nearest kept node at or above it
    messages: list[Message] = []
    skipped = 0
    ordered = parents_first(nodes, lambda node: str(node["id"]), lambda node: node.get("parent"))
    for node in ordered:
        node_id, parent = str(node["id"]), node.get("parent")
        above = kept.get(parent) if parent else None
        message = _message(node, above, messages[-1].created_at if messages else started)
        if message is None:
            kept[node_id] = above
            skipped += node.get("message") is not None
            continue
        kept[node_id] = node_id
        messages.append(message)
    title = storable(str(item.get("title") or ""), MAX_TITLE)
    # Older exports name a conversation by `id` only; a root's id is unique too.
    root = ordered[0]["id"] if ordered else title
    key = str(item.get("conversation_id") or item.get("id") or root)
    archived = bool(item.get("is_archived"))
    conversation = Conversation(
        key=key, title=title, created_at=started, pinned=False, archived=archived, messages=messages
    )
    return conversation, skipped


def _message(node: Mapping[str, Any], parent: str | None, before: datetime) -> Message | None:
    """The node's message as chatfn keeps it, or None when it is scaffolding."""
    message = node.get("message")
    if not isinstance(message, dict):
        return None
    role = (message.get("author") or {}).get("role")
    metadata = message.get("metadata") or {}
    content = message.get("content") or {}
    if (
        role not in ROLES
        or metadata.get("is_visually_hidden_from_conversation")
        or message.get("recipient", "all") != "all"
        or content.get("content_type") in HIDDEN_CONTENT
    ):
        return None
    text = storable(_text(content), MAX_CONTENT).strip()
    if not text:
        return None
    model = str(metadata.get("model_slug") or "") if role == "assistant" else ""
    at = _time(message.get("create_time")) or before
    return Message(key=str(node["id"]), parent=parent, role=role, content=text, model=model[:200],
                   created_at=at)  # fmt: skip


def _text(content: Mapping[str, Any]) -> str:
    if content.get("content_type") == "code":
        return f"```{content.get('language') or ''}\n{content.get('text') or ''}\n```"
    parts = content.get("parts")
    if not isinstance(parts, list):
        text = content.get("text")
        return text if isinstance(text, str) else ""
    texts = [_part(part) for part in parts]
    return "\n\n".join(text for text in texts if text)


def _part(part: Any) -> str:
    if isinstance(part, str):
        return part
    if not isinstance(part, dict):
        return ""
    if part.get("content_type") == "image_asset_pointer":
        return IMAGE
    text = part.get("text")
    return text if isinstance(text, str) else ""


def _time(value: Any) -> datetime | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return datetime.fromtimestamp(value, UTC)
    return None


def _earliest(nodes: list[Any]) -> datetime | None:
    times = [
        time
        for node in nodes
        if isinstance(node.get("message"), dict)
        and (time := _time(node["message"].get("create_time")))
    ]
    return min(times, default=None)
