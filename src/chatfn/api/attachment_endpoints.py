"""Files for messages: `/api/attachments`.

`POST /api/attachments` answers with a presigned POST that takes exactly the declared file
(its key, content type and at most its size: S3 refuses anything else), straight from the
browser; sending a message then names the upload (`attachments` of the message), and
`attach` checks and reads it. A download is a presigned GET of five minutes, minted after
the ownership check, always an attachment, under the UI's origin (`/storage/`, where the
edge adds `nosniff` and a sandboxing CSP).
"""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from uuid6 import uuid7

from chatfn.api.problems import not_found
from chatfn.api.security import ApiDep, PrincipalDep, ViewDep
from chatfn.attachments import files, reading
from chatfn.attachments.kinds import accepted_type, kind_of
from chatfn.events.catalog import SentAttachment
from chatfn.models import Conversation, Message, MessageAttachment
from chatfn.problems import Problem
from chatfn.storage import public_bucket_url, public_url
from chatfn.text import StoredText

router = APIRouter(prefix="/api", tags=["attachments"])


class NewUpload(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: StoredText = Field(min_length=1, max_length=255, description="the file's own name")
    content_type: str = Field("", max_length=255, description="as the browser gives it, if it does")
    size_bytes: int = Field(ge=1, description="the file's size: the upload may not be larger")


class UploadOut(BaseModel):
    id: UUID = Field(description="name it in a message's `attachments` once uploaded")
    url: str = Field(description="POST the file here as multipart/form-data (the UI's origin)")
    fields: dict[str, str] = Field(description="the form's fields, before the file's (`file`)")
    content_type: str = Field(description="what the file is stored and read as")
    kind: str = Field(description="text: read into the prompt; image: shown to the model")
    expires_at: datetime = Field(description="the upload must start before")


class DownloadOut(BaseModel):
    url: str = Field(description="a presigned GET under the UI's origin, as an attachment")
    expires_at: datetime


@router.post("/attachments", status_code=201)
async def start_upload(body: NewUpload, principal: PrincipalDep, api: ApiDep) -> UploadOut:
    """Where to upload a file for a message: text, code, Markdown, CSV, JSON, a PDF or an
    image, up to `ATTACHMENT_MAX_BYTES`."""
    limit = api.settings.attachment_max_bytes
    if body.size_bytes > limit:
        raise Problem(413, f"{body.name} is larger than the {limit // 2**20} MiB a file may be.")
    content_type = accepted_type(body.content_type, body.name)
    if content_type is None:
        raise Problem(
            415,
            f"{body.name}: a message can carry text, code, PDF and image files, not "
            f"{body.content_type or 'this kind of file'}.",
            title="Unsupported file type",
        )
    upload = files.Upload(uuid7(), body.name.strip(), content_type, body.size_bytes)
    fields, expires_at = await files.upload_form(api.runtime.s3, api.settings, principal.user_id,
                                                 upload)  # fmt: skip
    return UploadOut(id=upload.id, url=public_bucket_url(api.settings), fields=fields,
                     content_type=content_type, kind=kind_of(content_type),
                     expires_at=expires_at)  # fmt: skip


@router.get("/attachments/{attachment_id}/download")
async def download(
    attachment_id: UUID, principal: PrincipalDep, api: ApiDep, db: ViewDep
) -> DownloadOut:
    """A short-lived link to one of my files: sent in a conversation that is not in the
    trash, or uploaded and not sent yet."""
    upload = await _mine(api, db, principal.user_id, attachment_id)
    key = files.object_key(principal.user_id, attachment_id)
    signed = await files.download_url(api.runtime.s3, api.settings, key, upload)
    return DownloadOut(url=public_url(signed, api.settings),
                       expires_at=datetime.now(UTC) + files.DOWNLOAD_TTL)  # fmt: skip


@router.delete("/attachments/{attachment_id}", status_code=204)
async def remove_upload(
    attachment_id: UUID, principal: PrincipalDep, api: ApiDep, db: ViewDep
) -> None:
    """Delete an upload not sent yet (removed from the composer). A sent file goes with its
    conversation."""
    sent = select(MessageAttachment.id).where(
        MessageAttachment.user_id == principal.user_id, MessageAttachment.id == attachment_id
    )
    if await db.scalar(sent.limit(1)) is not None:
        raise Problem(409, "This file was sent with a message: delete the conversation instead.")
    if await files.find(api.runtime.s3, api.settings, principal.user_id, attachment_id) is None:
        raise not_found("upload")
    await files.remove(api.runtime.s3, api.settings,
                       files.object_key(principal.user_id, attachment_id))  # fmt: skip


async def attach(
    api: ApiDep, user_id: UUID, ids: list[UUID], question: str, model: str | None
) -> list[SentAttachment]:
    """The uploads `ids` as a message carries them, or the problem with one: not the
    user's (404), an image for a model that cannot see it, text that cannot be read."""
    if len(set(ids)) != len(ids):
        raise Problem(422, "A file is attached twice.")
    uploads = []
    for attachment_id in ids:
        upload = await files.find(api.runtime.s3, api.settings, user_id, attachment_id)
        if upload is None:
            raise not_found(f"upload {attachment_id}")
        uploads.append(upload)
    model = model or api.settings.llm_model
    images = [u.name for u in uploads if kind_of(u.content_type) == "image"]
    if images and model not in api.settings.llm_image_models:
        detail = f"{model} cannot see images ({', '.join(images)}): choose a model that can."
        raise Problem(422, detail, title="Images not supported")
    try:
        return await reading.excerpts(api.runtime.s3, api.settings, user_id, uploads, question)
    except reading.Unreadable as exc:
        raise Problem(422, f"A file's text cannot be read: {exc}") from exc


async def _mine(api: ApiDep, db: ViewDep, user_id: UUID, attachment_id: UUID) -> files.Upload:
    sent = (await db.execute(
        select(MessageAttachment, Conversation.deleted_at)
        .join(Message, (Message.user_id == MessageAttachment.user_id)
              & (Message.id == MessageAttachment.message_id))
        .join(Conversation, (Conversation.user_id == Message.user_id)
              & (Conversation.id == Message.conversation_id))
        .where(MessageAttachment.user_id == user_id, MessageAttachment.id == attachment_id)
        .order_by(Conversation.deleted_at.nulls_first())  # a message not in the trash, if any
    )).first()  # fmt: skip
    if sent is not None:
        row, trashed_at = sent
        if trashed_at is not None:
            raise not_found("file")  # in the trash with its conversation
        return files.Upload(row.id, row.name, row.content_type, row.size_bytes)
    upload = await files.find(api.runtime.s3, api.settings, user_id, attachment_id)
    if upload is None:
        raise not_found("file")
    return upload
