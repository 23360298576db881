"""The attachments' objects in S3: where each lives, the upload form, finding, reading,
downloading and deleting one. The minio client blocks: each call here runs in a thread."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import quote, unquote
from uuid import UUID

from minio import Minio
from minio.datatypes import PostPolicy
from minio.error import S3Error

from chatfn.attachments.kinds import IMAGES
from chatfn.settings import Settings

PREFIX = "attachments/"
UPLOAD_TTL = timedelta(minutes=10)  # to start the upload
DOWNLOAD_TTL = timedelta(minutes=5)
# The file's own name, percent-encoded (S3 metadata is ASCII): shown, never part of a key.
NAME_FIELD = "x-amz-meta-name"


@dataclass(frozen=True)
class Upload:
    """A file in S3, as its owner uploaded it."""

    id: UUID
    name: str
    content_type: str
    size_bytes: int


def user_prefix(user_id: UUID) -> str:
    return f"{PREFIX}{user_id}/"


def object_key(user_id: UUID, attachment_id: UUID) -> str:
    return f"{user_prefix(user_id)}{attachment_id}"


async def upload_form(
    client: Minio, settings: Settings, user_id: UUID, upload: Upload
) -> tuple[dict[str, str], datetime]:
    """The fields of a presigned POST that takes exactly this file: its key, its content
    type and at most its declared size (S3 refuses any other), and when it expires."""
    expires_at = datetime.now(UTC) + UPLOAD_TTL
    fields = {
        "key": object_key(user_id, upload.id),
        "Content-Type": upload.content_type,
        NAME_FIELD: quote(upload.name, safe=""),
    }
    policy = PostPolicy(settings.s3_bucket, expires_at)
    for name, value in fields.items():
        policy.add_equals_condition(name, value)
    policy.add_content_length_range_condition(1, upload.size_bytes)
    signed = await asyncio.to_thread(client.presigned_post_policy, policy)
    return signed | fields, expires_at


async def find(
    client: Minio, settings: Settings, user_id: UUID, attachment_id: UUID
) -> Upload | None:
    """The user's upload `attachment_id`, or None if there is none (or it is another's)."""
    try:
        stat = await asyncio.to_thread(
            client.stat_object, settings.s3_bucket, object_key(user_id, attachment_id)
        )
    except S3Error as exc:
        if exc.code in ("NoSuchKey", "NoSuchObject"):
            return None
        raise
    name = unquote((stat.metadata or {}).get(NAME_FIELD, "")) or "file"
    return Upload(attachment_id, name, stat.content_type or "", stat.size or 0)


async def read(client: Minio, settings: Settings, key: str, limit: int | None = None) -> bytes:
    """The object's bytes, or its first `limit` bytes."""

    def fetch() -> bytes:
        answer = client.get_object(settings.s3_bucket, key, length=limit or 0)
        try:
            return answer.read()
        finally:
            answer.close()
            answer.release_conn()

    return await asyncio.to_thread(fetch)


async def download_url(client: Minio, settings: Settings, key: str, upload: Upload) -> str:
    """A presigned GET that always downloads (never shows) the file: an uploaded HTML or
    SVG must not run in the UI's origin. Images keep their type, for thumbnails."""
    ascii_name = upload.name.encode("ascii", "replace").decode().replace('"', "'")
    disposition = f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(upload.name)}"
    shown_as = upload.content_type if upload.content_type in IMAGES else "application/octet-stream"
    return await asyncio.to_thread(
        client.presigned_get_object,
        settings.s3_bucket,
        key,
        expires=DOWNLOAD_TTL,
        response_headers={
            "response-content-disposition": disposition,
            "response-content-type": shown_as,
        },
    )


async def remove(client: Minio, settings: Settings, key: str) -> None:
    await asyncio.to_thread(client.remove_object, settings.s3_bucket, key)
