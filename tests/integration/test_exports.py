"""Export and import through the running stack: an account's export, downloaded through its
presigned link under /storage/ (S3 under the UI's origin), imports into a fresh account as
the same tree; ChatGPT's export imports with its branches, and importing anything twice adds
nothing; another user's export is not found."""

from __future__ import annotations

import asyncio
import io
import json
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from chatfn.settings import Settings
from tests.utils.accounts import SignedIn, browser, sign_up
from tests.utils.chat import conversation_when, new_conversation, read_stream, script, send

CHATGPT = Path(__file__).resolve().parents[1] / "fixtures" / "chatgpt" / "conversations.json"


async def until_done(
    client: httpx.AsyncClient, user: SignedIn, path: str, job_id: str, timeout_s: float = 60
) -> dict[str, Any]:
    """The job as listed at `path`, once it is no longer pending."""
    async with asyncio.timeout(timeout_s):
        while True:
            listed = await client.get(path, headers=user.auth)
            assert listed.status_code == 200, listed.text
            job: dict[str, Any] = next(j for j in listed.json() if j["id"] == job_id)
            if job["status"] != "pending":
                return job
            await asyncio.sleep(0.3)


async def exported(client: httpx.AsyncClient, user: SignedIn) -> tuple[str, httpx.Response]:
    """The user's new export's id and its download."""
    requested = await client.post("/api/exports", headers=user.auth)
    assert requested.status_code == 202, requested.text
    assert requested.json()["status"] == "pending"
    export = await until_done(client, user, "/api/exports", requested.json()["id"])
    assert export["status"] == "ready", export
    link = await client.get(f"/api/exports/{export['id']}/download", headers=user.auth)
    assert link.status_code == 200, link.text
    assert link.json()["url"].startswith("/storage/")  # relative: the UI's own origin
    return export["id"], await client.get(link.json()["url"])


async def imported(
    client: httpx.AsyncClient, user: SignedIn, name: str, body: bytes
) -> dict[str, Any]:
    """Upload `body` as the browser does (to S3 under /storage/, the URL relative to the
    client's base), import it, wait for the outcome."""
    upload = await client.post("/api/imports/upload", headers=user.auth)
    assert upload.status_code == 201, upload.text
    form = upload.json()
    stored = await client.post(form["url"], data=form["fields"], files={"file": (name, body)})
    assert stored.status_code in {200, 204}, stored.text
    started = await client.post("/api/imports", headers=user.auth,
                                json={"object_key": form["object_key"]})  # fmt: skip
    assert started.status_code == 202, started.text
    return await until_done(client, user, "/api/imports", started.json()["id"])


async def conversations(client: httpx.AsyncClient, user: SignedIn) -> list[dict[str, Any]]:
    """Every conversation, archived ones too, each with its messages."""
    found = []
    for archived in ("false", "true"):
        page = await client.get("/api/conversations", headers=user.auth,
                                params={"archived": archived})  # fmt: skip
        assert page.status_code == 200, page.text
        for listed in page.json()["conversations"]:
            whole = await client.get(f"/api/conversations/{listed['id']}", headers=user.auth)
            found.append(whole.json())
    return sorted(found, key=lambda c: c["created_at"])


async def conversations_when(
    client: httpx.AsyncClient,
    user: SignedIn,
    holds: Callable[[list[dict[str, Any]]], bool],
    timeout_s: float = 30,
) -> list[dict[str, Any]]:
    """The conversations once they are projected as `holds` expects (the facts of an
    import, its conversations' pins and archiving after them, reach persist_history after
    the import is done)."""
    async with asyncio.timeout(timeout_s):
        while True:
            found = await conversations(client, user)
            if holds(found):
                return found
            await asyncio.sleep(0.3)


def tree(conversation: dict[str, Any]) -> set[tuple[Any, ...]]:
    """The messages as (role, content, time, model, the parent's content), ids aside."""
    by_id = {m["id"]: m for m in conversation["messages"]}
    return {
        (m["role"], m["content"], m["created_at"], m["model"],
         by_id[m["parent_id"]]["content"] if m["parent_id"] else None)
        for m in conversation["messages"]
    }  # fmt: skip


async def test_an_export_imports_into_a_fresh_account_as_the_same_tree(
    stack_settings: Settings, name: str
) -> None:
    async with browser(stack_settings) as client:
        author = await sign_up(client, f"{name}-author")
        conversation = await new_conversation(client, author)
        first = await send(client, author, conversation, f"{script(tokens=2)} Knead how long?")
        await read_stream(client, first["reply_id"], first["stream_ticket"])
        await conversation_when(client, author, conversation, settled=1)  # the reply is kept
        again = await client.post(f"/api/messages/{first['reply_id']}/regenerate",
                                  headers=author.auth)  # fmt: skip
        await read_stream(client, again.json()["reply_id"], again.json()["stream_ticket"])
        await conversation_when(client, author, conversation, settled=2)
        renamed = await client.patch(f"/api/conversations/{conversation}", headers=author.auth,
                                     json={"title": "Bread, kneading", "pinned": True})  # fmt: skip
        assert renamed.status_code == 200, renamed.text
        [original] = await conversations(client, author)
        export_id, download = await exported(client, author)

        reader = await sign_up(client, f"{name}-reader")
        outcome = await imported(client, reader, "export.zip", download.content)
        [copy] = await conversations_when(
            client, reader, lambda found: len(found) == 1 and found[0]["pinned"]
        )
        someone_elses = await client.get(f"/api/exports/{export_id}/download",
                                         headers=reader.auth)  # fmt: skip

    assert download.status_code == 200
    assert download.headers["content-disposition"].startswith(
        'attachment; filename="chatfn-export-'
    )
    # Whatever a stored file holds, opened from the UI's origin it runs nothing there.
    assert download.headers["content-security-policy"] == "sandbox; default-src 'none'"
    assert download.headers["x-content-type-options"] == "nosniff"
    with zipfile.ZipFile(io.BytesIO(download.content)) as archive:
        document = json.loads(archive.read("conversations.json"))
    assert (document["format"], document["version"]) == ("chatfn-export", 1)
    assert (outcome["status"], outcome["source"], outcome["conversations"]) == ("done", "chatfn", 1)
    assert outcome["messages"] == 3
    assert (copy["title"], copy["pinned"], copy["created_at"]) == (
        "Bread, kneading", True, original["created_at"],
    )  # fmt: skip
    assert copy["id"] != original["id"]
    assert tree(copy) == tree(original)
    assert someone_elses.status_code == 404


async def test_chatgpts_export_imports_with_its_branches_once_however_often(
    stack_settings: Settings, name: str
) -> None:
    async with browser(stack_settings) as client:
        user = await sign_up(client, name)
        outcomes = [
            await imported(client, user, "conversations.json", CHATGPT.read_bytes())
            for _ in range(2)
        ]
        found = await conversations_when(
            client, user, lambda found: sum(c["archived"] for c in found) == 1
        )

    assert [o["status"] for o in outcomes] == ["done", "done"]
    assert (outcomes[0]["conversations"], outcomes[0]["messages"], outcomes[0]["skipped"]) == (
        3, 11, 7,
    )  # fmt: skip
    assert [c["title"] for c in found] == [
        "Bonne nuit en japonais", "Sourdough starter smells like acetone",
        "Counting tomatoes in a photo",
    ]  # fmt: skip
    japanese, sourdough, tomatoes = found
    assert japanese["archived"]
    assert japanese["created_at"].startswith("2024-03-01T00:00:00")
    roots = [m for m in sourdough["messages"] if m["parent_id"] is None]
    assert len(roots) == 2  # the question and its edit
    assert roots[1]["siblings"] == [roots[0]["id"], roots[1]["id"]]  # oldest first
    regenerated = [m for m in sourdough["messages"] if m["parent_id"] == roots[1]["id"]]
    assert [m["content"][:10] for m in regenerated] == ["No. At 24 ", "It is aliv"]
    assert len(sourdough["messages"]) == 7
    assert tomatoes["messages"][0]["content"].startswith("[image]\n\nHow many tomatoes")
    # Listed among the days they were written, not the day they were imported.
    for conversation in found:
        latest = max(m["created_at"] for m in conversation["messages"])
        assert conversation["updated_at"] == latest, conversation["title"]


async def test_an_upload_of_another_user_cannot_be_imported(
    stack_settings: Settings, name: str
) -> None:
    async with browser(stack_settings) as client:
        owner = await sign_up(client, f"{name}-owner")
        other = await sign_up(client, f"{name}-other")
        upload = (await client.post("/api/imports/upload", headers=owner.auth)).json()
        taken = await client.post("/api/imports", headers=other.auth,
                                  json={"object_key": upload["object_key"]})  # fmt: skip
        nothing = await client.post("/api/imports", headers=owner.auth,
                                    json={"object_key": upload["object_key"]})  # fmt: skip

    assert taken.status_code == 422
    assert nothing.status_code == 422  # nothing was uploaded there
