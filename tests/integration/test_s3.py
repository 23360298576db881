from __future__ import annotations

import asyncio
import io
from datetime import timedelta

import httpx

from chatfn.settings import Settings
from chatfn.storage import s3_client


async def test_put_get_and_presigned_get_with_the_minio_sdk(
    settings: Settings, bucket: str
) -> None:
    client = s3_client(settings)
    body = "an attachment ✓".encode()

    await asyncio.to_thread(
        client.put_object,
        bucket,
        "notes/a.txt",
        io.BytesIO(body),
        len(body),
        content_type="text/plain; charset=utf-8",
    )
    response = await asyncio.to_thread(client.get_object, bucket, "notes/a.txt")
    try:
        fetched = response.read()
    finally:
        response.close()
        response.release_conn()
    url = await asyncio.to_thread(
        client.presigned_get_object, bucket, "notes/a.txt", expires=timedelta(minutes=5)
    )
    async with httpx.AsyncClient() as http:
        presigned = await http.get(url)
        unsigned = await http.get(url.split("?")[0])

    assert fetched == body
    assert presigned.status_code == 200
    assert presigned.content == body
    assert presigned.headers["content-type"].startswith("text/plain")
    assert unsigned.status_code == 403
