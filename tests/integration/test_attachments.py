"""Files sent with messages, through the running stack: uploaded from the "browser" with
the presigned POST under the UI's origin, read into the prompt (the scripted model echoes
it), downloaded only by their owner as attachments; S3 itself refuses an upload larger or
of another type than declared; the trash hides them and the sweep deletes what no message
holds."""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest

from chatfn.attachments import files
from chatfn.exports.jobs import _sweep_attachments
from chatfn.runtime import Runtime
from chatfn.settings import Settings
from tests.utils.accounts import SignedIn, browser, sign_up
from tests.utils.chat import (
    conversation_when,
    model_stats,
    new_conversation,
    read_stream,
    script,
    send,
)

PDF = Path(__file__).resolve().parents[1] / "fixtures" / "attachments" / "recipe.pdf"
# A 1x1 PNG.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)


async def upload_form(
    client: httpx.AsyncClient, user: SignedIn, name: str, size: int, content_type: str
) -> dict[str, Any]:
    started = await client.post("/api/attachments", headers=user.auth,
                                json={"name": name, "content_type": content_type,
                                      "size_bytes": size})  # fmt: skip
    assert started.status_code == 201, started.text
    form: dict[str, Any] = started.json()
    assert form["url"].startswith("/storage/")  # under the UI's own origin
    return form


async def uploaded(
    client: httpx.AsyncClient, user: SignedIn, name: str, body: bytes, content_type: str = ""
) -> str:
    """Upload `body` as the browser does, through /storage; the attachment's id."""
    form = await upload_form(client, user, name, len(body), content_type)
    stored = await client.post(form["url"], data=form["fields"],
                               files={"file": (name, body, form["content_type"])})  # fmt: skip
    assert stored.status_code in {200, 204}, stored.text
    return str(form["id"])


async def asked(
    client: httpx.AsyncClient, user: SignedIn, question: str, attachments: list[str]
) -> tuple[str, dict[str, Any]]:
    """Send `question` with the files in a new conversation; its answer and the question."""
    conversation = await new_conversation(client, user)
    accepted = await send(client, user, conversation, question, attachments=attachments)
    answer = await read_stream(client, accepted["reply_id"], accepted["stream_ticket"])
    read = await conversation_when(client, user, conversation, settled=1)
    (sent,) = [m for m in read["messages"] if m["role"] == "user"]
    return answer.text, sent | {"conversation_id": conversation}


async def follow_up(
    client: httpx.AsyncClient, user: SignedIn, question: str, attachments: list[str]
) -> dict[str, Any]:
    """Send `question` with the files in a conversation titled from the start, so the
    model's latest request for the question's script id is the reply's (an untitled one
    has `titles` ask the model with the question too); the message as read back."""
    created = await client.post("/api/conversations", headers=user.auth, json={"title": "Files"})
    assert created.status_code == 201, created.text
    conversation = created.json()["id"]
    accepted = await send(client, user, conversation, question, attachments=attachments)
    await read_stream(client, accepted["reply_id"], accepted["stream_ticket"])
    read = await conversation_when(client, user, conversation, settled=1)
    message: dict[str, Any] = next(m for m in read["messages"] if m["id"] == accepted["message_id"])
    # The 202 already named the files cut to fit, as the message read back says.
    assert accepted["cut_attachments"] == [a["id"] for a in message["attachments"] if a["cut"]]
    return message


async def downloaded(client: httpx.AsyncClient, user: SignedIn, attachment: str) -> httpx.Response:
    link = await client.get(f"/api/attachments/{attachment}/download", headers=user.auth)
    assert link.status_code == 200, link.text
    assert link.json()["url"].startswith("/storage/")
    return await client.get(link.json()["url"])


async def test_a_text_file_is_read_into_the_prompt_and_downloads_as_an_attachment(
    stack_settings: Settings, name: str
) -> None:
    body = b"name,flour\nbaguette,500 g\n"
    async with browser(stack_settings) as client:
        user = await sign_up(client, name)
        attachment = await uploaded(client, user, "bread.csv", body, "text/csv")
        answer, sent = await asked(client, user, f"{script(echo=True)} Read", [attachment])
        assert "baguette,500 g" in answer
        assert '<file name="bread.csv">' in answer
        assert sent["attachments"] == [
            {"id": attachment, "name": "bread.csv", "content_type": "text/csv",
             "size_bytes": len(body), "kind": "text", "cut": False}
        ]  # fmt: skip
        file = await downloaded(client, user, attachment)
    assert file.status_code == 200
    assert file.content == body
    assert file.headers["content-disposition"].startswith("attachment;")
    assert "bread.csv" in file.headers["content-disposition"]
    assert file.headers["x-content-type-options"] == "nosniff"


async def test_a_pdfs_text_is_read_and_a_long_file_is_cut_to_fit(
    stack_settings: Settings, name: str
) -> None:
    long = ("lorem ipsum " * 5000).encode()  # far beyond a 2048-token context
    async with browser(stack_settings) as client:
        user = await sign_up(client, name)
        pdf = await uploaded(client, user, "recipe.pdf", PDF.read_bytes(), "application/pdf")
        text = await uploaded(client, user, "notes.md", long)  # no type: by its suffix
        sent = await follow_up(client, user, f"{script(id=name)} Both?", [pdf, text])
    (*_, question) = (await model_stats(stack_settings))["prompts"][name]
    assert "The secret ingredient is cardamom." in question["content"]
    assert question["content"].endswith(
        "[The rest of this file did not fit and was left out.]\n</file>"
    )
    assert [(a["name"], a["content_type"], a["cut"]) for a in sent["attachments"]] == [
        ("recipe.pdf", "application/pdf", False),
        ("notes.md", "text/markdown", True),
    ]
    # The whole prompt fits the context, with room for the reply.
    context_bytes = (stack_settings.llm_context_tokens - stack_settings.llm_max_tokens) * 3
    assert len(question["content"].encode()) < context_bytes


async def test_an_image_goes_to_a_model_that_sees_images_and_is_refused_for_one_that_cannot(
    stack_settings: Settings, name: str
) -> None:
    async with browser(stack_settings) as client:
        user = await sign_up(client, name)
        image = await uploaded(client, user, "dot.png", PNG, "image/png")
        conversation = await new_conversation(client, user)
        refused = await client.post(
            f"/api/conversations/{conversation}/messages", headers=user.auth,
            json={"content": "What is this?", "attachments": [image]},  # the default model
        )  # fmt: skip
        assert refused.status_code == 422, refused.text
        assert "cannot see images (dot.png)" in refused.json()["detail"]
        await follow_up(client, user, f"{script(id=name)} What is this?", [image])
        thumbnail = await downloaded(client, user, image)
    (*_, seen) = (await model_stats(stack_settings))["prompts"][name]
    assert seen["images"] == [f"data:image/png;base64,{base64.b64encode(PNG).decode()}"]
    assert thumbnail.headers["content-type"] == "image/png"  # shown as a thumbnail


async def test_s3_refuses_an_upload_larger_or_of_another_type_than_declared(
    stack_settings: Settings, name: str
) -> None:
    async with browser(stack_settings) as client:
        user = await sign_up(client, name)
        form = await upload_form(client, user, "small.txt", 5, "text/plain")
        larger = await client.post(form["url"], data=form["fields"],
                                   files={"file": ("small.txt", b"more than five")})  # fmt: skip
        assert larger.status_code in {400, 403}, larger.text
        fields = form["fields"] | {"Content-Type": "text/html"}
        html = await client.post(form["url"], data=fields,
                                 files={"file": ("small.txt", b"<b>")})  # fmt: skip
        assert html.status_code in {400, 403}, html.text
        nothing = await client.post(f"/api/conversations/{await new_conversation(client, user)}"
                                    "/messages", headers=user.auth,
                                    json={"content": "x", "attachments": [form["id"]]})  # fmt: skip
        assert nothing.status_code == 404  # nothing was stored
        too_big = await client.post("/api/attachments", headers=user.auth, json={
            "name": "huge.txt", "size_bytes": stack_settings.attachment_max_bytes + 1})  # fmt: skip
        assert too_big.status_code == 413
        binary = await client.post("/api/attachments", headers=user.auth,
                                   json={"name": "tool.exe", "size_bytes": 10})  # fmt: skip
        assert binary.status_code == 415
        assert binary.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(
    ("file_name", "body", "content_type"),
    [("page.html", b"<script>alert(1)</script>", "text/html"),
     ("logo.svg", b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
      "image/svg+xml")],
)  # fmt: skip
async def test_html_and_svg_download_as_attachments_that_never_run(
    stack_settings: Settings, name: str, file_name: str, body: bytes, content_type: str
) -> None:
    async with browser(stack_settings) as client:
        user = await sign_up(client, name)
        attachment = await uploaded(client, user, file_name, body, content_type)
        file = await downloaded(client, user, attachment)
    assert file.content == body
    assert file.headers["content-type"] == "application/octet-stream"
    assert file.headers["content-disposition"].startswith("attachment;")
    assert file.headers["x-content-type-options"] == "nosniff"
    assert "sandbox" in file.headers["content-security-policy"]


async def test_another_users_file_is_not_found_at_attach_and_at_download(
    stack_settings: Settings, name: str
) -> None:
    async with browser(stack_settings) as client:
        owner = await sign_up(client, f"{name}-owner")
        other = await sign_up(client, f"{name}-other")
        attachment = await uploaded(client, owner, "mine.txt", b"private")
        conversation = await new_conversation(client, other)
        attached = await client.post(
            f"/api/conversations/{conversation}/messages",
            headers=other.auth,
            json={"content": "x", "attachments": [attachment]},
        )
        download = await client.get(f"/api/attachments/{attachment}/download", headers=other.auth)
        removal = await client.delete(f"/api/attachments/{attachment}", headers=other.auth)
    assert (attached.status_code, download.status_code, removal.status_code) == (404, 404, 404)


async def test_files_follow_their_conversation_into_the_trash_and_the_sweep_deletes_the_unheld(
    stack_settings: Settings, name: str
) -> None:
    runtime = Runtime(stack_settings)
    async with browser(stack_settings) as client:
        user = await sign_up(client, name)
        kept = await uploaded(client, user, "kept.txt", b"kept")
        purged = await uploaded(client, user, "purged.txt", b"purged")
        unsent = await uploaded(client, user, "unsent.txt", b"unsent")
        removed = await uploaded(client, user, "removed.txt", b"removed")
        await asked(client, user, "Keep this", [kept])
        _, sent = await asked(client, user, "Purge this", [purged])
        conversation = sent["conversation_id"]
        removal = await client.delete(f"/api/attachments/{removed}", headers=user.auth)
        assert removal.status_code == 204
        sent_removal = await client.delete(f"/api/attachments/{kept}", headers=user.auth)
        assert sent_removal.status_code == 409
        await client.delete(f"/api/conversations/{conversation}", headers=user.auth)
        in_trash = await client.get(f"/api/attachments/{purged}/download", headers=user.auth)
        assert in_trash.status_code == 404
        await client.post(f"/api/conversations/{conversation}/restore", headers=user.auth)
        assert (await downloaded(client, user, purged)).content == b"purged"
        await client.delete(f"/api/conversations/{conversation}", headers=user.auth)
        purge = await client.delete(f"/api/conversations/trash/{conversation}", headers=user.auth)
        assert purge.status_code == 204
        await conversation_gone(client, user, conversation)
        owner = UUID(user.user_id)
        held = [UUID(a) for a in (kept, purged, unsent)]
        # As the daily sweep finds them once they are a day old.
        await _sweep_attachments(runtime, [files.object_key(owner, a) for a in held])
        left = [a for a in held if await files.find(runtime.s3, stack_settings, owner, a)]
    assert left == [UUID(kept)]


async def conversation_gone(client: httpx.AsyncClient, user: SignedIn, conversation: str) -> None:
    """Once the purge is projected: the trash no longer lists it."""
    async with asyncio.timeout(20):
        while True:
            trash = (await client.get("/api/conversations/trash", headers=user.auth)).json()
            if all(c["id"] != conversation for c in trash):
                return
            await asyncio.sleep(0.2)


async def test_an_edit_resends_the_same_file_and_both_messages_hold_it(
    stack_settings: Settings, name: str
) -> None:
    async with browser(stack_settings) as client:
        user = await sign_up(client, name)
        attachment = await uploaded(client, user, "plan.txt", b"step one")
        _, first = await asked(client, user, f"{script(echo=True)} Read", [attachment])
        conversation = first["conversation_id"]
        edit = await send(client, user, conversation, f"{script(echo=True)} Again",
                          attachments=[attachment])  # fmt: skip
        answer = await read_stream(client, edit["reply_id"], edit["stream_ticket"])
        read = await conversation_when(client, user, conversation, settled=2)
    assert "step one" in answer.text
    questions = [m for m in read["messages"] if m["role"] == "user"]
    assert [[a["id"] for a in m["attachments"]] for m in questions] == [[attachment]] * 2
    assert questions[1]["siblings"] == [questions[0]["id"], questions[1]["id"]]
