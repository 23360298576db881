"""One writer per table: the chat tables are written by chatfn.chat.projection alone (run by
`persist_history` and `chatfn replay`). Read from the code: every SQL write names its
table's model, every ORM write adds, deletes or changes an object loaded as one."""

from __future__ import annotations

import ast
from pathlib import Path

from chatfn.chat import projection
from chatfn.models import Conversation, DailyUsage, ErasedUser, Feedback, Message, Preferences

ROOT = Path(__file__).resolve().parents[2]
PROJECTED_MODELS = (Conversation, DailyUsage, ErasedUser, Feedback, Message, Preferences)
CHAT_MODELS = {model.__name__ for model in PROJECTED_MODELS}
CHAT_COLUMNS = {column.key for model in PROJECTED_MODELS for column in model.__table__.columns} - {
    "user_id",
    "id",
}
WRITER = Path(projection.__file__).resolve()
STATEMENTS = {"insert", "update", "delete"}


def _writes(tree: ast.AST) -> list[str]:
    """The chat-table writes in a module: `insert(Message)`, `db.add(Conversation(...))`,
    `db.delete(conversation)` or `conversation.title = ...` on an object of a chat model."""
    found: list[str] = []
    loaded: set[str] = set()  # names bound to chat-model objects: `x = await db.get(Message, ...)`
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and _mentions_chat_model(node.value):
            loaded |= {t.id for t in node.targets if isinstance(t, ast.Name)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = _called(node)
            first = node.args[0] if node.args else None
            if name in STATEMENTS and isinstance(first, ast.Name) and first.id in CHAT_MODELS:
                found.append(f"{name}({first.id}) line {node.lineno}")
            if name in {"add", "add_all", "merge"} and first and _mentions_chat_model(first):
                found.append(f"{name}(...) line {node.lineno}")
            if name == "delete" and isinstance(first, ast.Name) and first.id in loaded:
                found.append(f"delete({first.id}) line {node.lineno}")
        if not isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign):
            continue
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        for target in targets:
            if (
                isinstance(target, ast.Attribute)
                and isinstance(target.value, ast.Name)
                and target.value.id in loaded
                and target.attr in CHAT_COLUMNS
            ):
                found.append(f"{target.value.id}.{target.attr} = line {node.lineno}")
    return found


def _called(call: ast.Call) -> str:
    function = call.func
    return function.attr if isinstance(function, ast.Attribute) else getattr(function, "id", "")


def _mentions_chat_model(node: ast.AST) -> bool:
    return any(isinstance(n, ast.Name) and n.id in CHAT_MODELS for n in ast.walk(node))


def _modules() -> list[Path]:
    return sorted([*(ROOT / "src" / "chatfn").rglob("*.py"), *(ROOT / "functions").glob("*.py")])


def test_only_the_projection_writes_the_chat_tables() -> None:
    writers = {
        str(path.relative_to(ROOT)): writes
        for path in _modules()
        if (writes := _writes(ast.parse(path.read_text(), str(path))))
    }
    assert set(writers) == {str(WRITER.relative_to(ROOT))}, writers


def test_the_inspection_sees_each_kind_of_write() -> None:
    """It finds what it is looking for: each way the api used to write, before the chat
    tables became a projection."""
    module = ast.parse(
        "conversation = await db.get(Conversation, key)\n"
        "conversation.deleted_at = now\n"
        "db.add(Conversation(user_id=u, id=i))\n"
        "await db.execute(insert(Feedback).values(rating='up'))\n"
        "await db.execute(update(Message).values(status='x'))\n"
        "await db.delete(conversation)\n"
        "user = await db.get(User, key)\n"
        "user.disabled_at = now\n"  # an account: not a chat table
    )
    assert sorted(_writes(module)) == [
        "add(...) line 3",
        "conversation.deleted_at = line 2",
        "delete(conversation) line 6",
        "insert(Feedback) line 4",
        "update(Message) line 5",
    ]
