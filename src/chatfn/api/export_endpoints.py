"""Your data, out and in: `/api/exports` and `/api/imports`.

An export is a command (`io.chatfn.export.requested`) that the `exports` function turns
into a zip in S3; its download is a presigned GET of ten minutes, minted here after the
ownership check, naming itself an attachment. An import starts with a presigned POST
(the file goes from the browser straight to S3: ChatGPT's exports reach hundreds of MB,
far over the API's body limit), then `POST /api/imports` names the upload and
`exports` brings its conversations in. Both URLs are under `/storage/`, the UI's own
origin (`chatfn.storage`), the only one its CSP lets the browser reach.

`exports` writes the jobs' rows when it takes the command; until then this answers for a
job from Redis, where it notes each one it asked for (a day). A job still pending after
`STALE` was given up on by the broker (dead-lettered) and is shown as failed.
"""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta
from typing import Literal, TypeVar, cast
from uuid import UUID

from fastapi import APIRouter
from minio.datatypes import PostPolicy
from minio.error import S3Error
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from uuid6 import uuid7

from chatfn.api.problems import not_found
from chatfn.api.security import SOURCE, ApiDep, DbDep, UserDep
from chatfn.events.catalog import ExportRequested, ImportRequested, new_event
from chatfn.exports.jobs import import_prefix
from chatfn.models import Export, Import
from chatfn.problems import Problem
from chatfn.redis_client import key
from chatfn.storage import public_bucket_url, public_url

router = APIRouter(prefix="/api", tags=["your data"])

DOWNLOAD_TTL = timedelta(minutes=10)
UPLOAD_TTL = timedelta(minutes=15)  # to start the upload; S3 takes the file however long it takes
MAX_UPLOAD_BYTES = 512 * 1024 * 1024
STALE = timedelta(minutes=30)  # longer than the exports Trigger's retries of 5-minute attempts
REQUESTED_TTL_S = 24 * 3600
LISTED = 20
Job = TypeVar("Job", "ExportOut", "ImportOut")
_UPLOAD_KEY = re.compile(r"imports/(?P<user>[0-9a-f-]{36})/(?P<id>[0-9a-f-]{36})")


class ExportOut(BaseModel):
    id: UUID
    status: Literal["pending", "ready", "failed", "expired"]
    created_at: datetime
    ready_at: datetime | None = None
    expires_at: datetime | None = Field(None, description="the download is refused after it")
    conversations: int = 0
    size_bytes: int = 0


class DownloadOut(BaseModel):
    url: str = Field(
        description="a presigned GET of the zip under /storage/ (the UI's origin), for the "
        "export's owner only"
    )
    expires_at: datetime = Field(description="when the URL stops working (ten minutes)")


class UploadOut(BaseModel):
    url: str = Field(
        description="POST the file here as multipart/form-data: the bucket under /storage/, "
        "relative to the UI's origin"
    )
    fields: dict[str, str] = Field(description="the form's fields, before the file's (`file`)")
    object_key: str = Field(description="what to name in POST /api/imports once uploaded")
    max_bytes: int
    expires_at: datetime = Field(description="the upload must start before")


class ImportIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    object_key: str = Field(max_length=300, description="from POST /api/imports/upload")


class ImportOut(BaseModel):
    id: UUID
    status: Literal["pending", "done", "failed"]
    source: str = Field("", description="chatfn or chatgpt, once read")
    conversations: int = 0
    messages: int = 0
    skipped: int = Field(0, description="messages left out: hidden, empty, tools' scaffolding")
    error: str | None = None
    created_at: datetime
    finished_at: datetime | None = None


@router.post("/exports", status_code=202)
async def request_export(user: UserDep, api: ApiDep, db: DbDep) -> ExportOut:
    """Build a zip of every conversation kept (not the trash's): JSON (schema
    urn:chatfn:export:v1, every branch) and Markdown. One at a time."""
    if any(export.status == "pending" for export in await _exports(api, db, user.id)):
        raise Problem(409, "An export is already being made.")
    export_id, now = uuid7(), datetime.now(UTC)
    await _note(api, "exports", user.id, export_id, now)
    command = ExportRequested(user_id=user.id, export_id=export_id)
    await api.publish(new_event(command, source=SOURCE), "the export")
    return ExportOut(id=export_id, status="pending", created_at=now)


@router.get("/exports")
async def list_exports(user: UserDep, api: ApiDep, db: DbDep) -> list[ExportOut]:
    """The latest exports, newest first."""
    return await _exports(api, db, user.id)


@router.get("/exports/{export_id}/download")
async def download_export(export_id: UUID, user: UserDep, api: ApiDep, db: DbDep) -> DownloadOut:
    """A short-lived link to the export's zip."""
    export = await db.get(Export, (user.id, export_id))
    if export is None or export.status not in {"ready", "expired"}:
        raise not_found("export ready")
    now = datetime.now(UTC)
    if export.status == "expired" or (export.expires_at and export.expires_at <= now):
        raise Problem(410, "This export has expired; make a new one.", title="Gone")
    name = f"chatfn-export-{export.created_at:%Y-%m-%d}.zip"
    url = await asyncio.to_thread(
        api.runtime.s3.presigned_get_object,
        api.settings.s3_bucket,
        export.object_key,
        expires=DOWNLOAD_TTL,
        response_headers={
            "response-content-disposition": f'attachment; filename="{name}"',
            "response-content-type": "application/zip",
        },
    )
    return DownloadOut(url=public_url(url, api.settings), expires_at=now + DOWNLOAD_TTL)


@router.post("/imports/upload", status_code=201)
async def start_upload(user: UserDep, api: ApiDep) -> UploadOut:
    """Where to upload a file to import: chatfn's export zip, or ChatGPT's export (its zip,
    or its conversations.json)."""
    object_key = f"{import_prefix(user.id)}{uuid7()}"
    expires_at = datetime.now(UTC) + UPLOAD_TTL
    policy = PostPolicy(api.settings.s3_bucket, expires_at)
    policy.add_equals_condition("key", object_key)
    policy.add_content_length_range_condition(1, MAX_UPLOAD_BYTES)
    fields = await asyncio.to_thread(api.runtime.s3.presigned_post_policy, policy)
    return UploadOut(url=public_bucket_url(api.settings), fields=fields | {"key": object_key},
                     object_key=object_key, max_bytes=MAX_UPLOAD_BYTES,
                     expires_at=expires_at)  # fmt: skip


@router.post("/imports", status_code=202)
async def request_import(body: ImportIn, user: UserDep, api: ApiDep) -> ImportOut:
    """Import the uploaded file. Importing the same conversations again adds nothing."""
    found = _UPLOAD_KEY.fullmatch(body.object_key)
    if found is None or found["user"] != str(user.id):
        raise Problem(422, "Name an upload of yours, from POST /api/imports/upload.")
    try:
        await asyncio.to_thread(api.runtime.s3.stat_object, api.settings.s3_bucket, body.object_key)
    except S3Error as exc:
        if exc.code != "NoSuchKey":
            raise
        raise Problem(422, "Nothing was uploaded there (or it was imported already).") from exc
    import_id, now = UUID(found["id"]), datetime.now(UTC)
    await _note(api, "imports", user.id, import_id, now)
    command = ImportRequested(user_id=user.id, import_id=import_id, object_name=body.object_key)
    await api.publish(new_event(command, source=SOURCE), "the import")
    return ImportOut(id=import_id, status="pending", created_at=now)


@router.get("/imports")
async def list_imports(user: UserDep, api: ApiDep, db: DbDep) -> list[ImportOut]:
    """The latest imports and what they brought in, newest first."""
    rows = (await db.scalars(
        select(Import).where(Import.user_id == user.id).order_by(Import.created_at.desc())
        .limit(LISTED)
    )).all()  # fmt: skip
    now = datetime.now(UTC)
    listed = [
        ImportOut.model_validate(row, from_attributes=True).model_copy(
            update={"status": "failed", "error": "The import was given up on; try again."}
        )
        if row.status == "pending" and row.created_at < now - STALE
        else ImportOut.model_validate(row, from_attributes=True)
        for row in rows
    ]
    asked = await _noted(api, "imports", user.id, {row.id for row in rows})
    return _newest_first([*listed, *(ImportOut(id=i, status="pending", created_at=at)
                                     for i, at in asked)])  # fmt: skip


async def _exports(api: ApiDep, db: DbDep, user_id: UUID) -> list[ExportOut]:
    rows = (await db.scalars(
        select(Export).where(Export.user_id == user_id).order_by(Export.created_at.desc())
        .limit(LISTED)
    )).all()  # fmt: skip
    now = datetime.now(UTC)
    listed = []
    for row in rows:
        export = ExportOut.model_validate(row, from_attributes=True)
        if row.status == "pending" and row.created_at < now - STALE:
            export = export.model_copy(update={"status": "failed"})
        elif row.status == "ready" and row.expires_at and row.expires_at <= now:
            export = export.model_copy(update={"status": "expired"})
        listed.append(export)
    asked = await _noted(api, "exports", user_id, {row.id for row in rows})
    return _newest_first([*listed, *(ExportOut(id=i, status="pending", created_at=at)
                                     for i, at in asked)])  # fmt: skip


def _newest_first(jobs: list[Job]) -> list[Job]:
    return sorted(jobs, key=lambda job: job.created_at, reverse=True)[:LISTED]


async def _note(api: ApiDep, kind: str, user_id: UUID, job_id: UUID, at: datetime) -> None:
    """Remember that `api` asked for the job, until `exports` has its row."""
    name = key(api.settings, f"{kind}-requested", str(user_id))
    async with api.runtime.redis.pipeline(transaction=True) as pipe:
        pipe.hset(name, str(job_id), at.isoformat())
        pipe.expire(name, REQUESTED_TTL_S)
        await pipe.execute()


async def _noted(
    api: ApiDep, kind: str, user_id: UUID, known: set[UUID]
) -> list[tuple[UUID, datetime]]:
    """The jobs asked for in the last `STALE` that `exports` has not written yet."""
    # The client decodes responses, so these are str (redis-py types them more loosely).
    noted = cast(
        dict[str, str],
        await api.runtime.redis.hgetall(key(api.settings, f"{kind}-requested", str(user_id))),
    )
    since = datetime.now(UTC) - STALE
    jobs = [(UUID(job_id), datetime.fromisoformat(at)) for job_id, at in noted.items()]
    return [(job_id, at) for job_id, at in jobs if job_id not in known and at > since]
