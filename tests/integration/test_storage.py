"""S3 under the UI's origin (/storage/) through the running stack: the gateway passes
presigned requests to SeaweedFS with its own Host, so their signatures hold (and a
tampered one is still refused); an upload larger than the API's body cap goes through;
the browser's cookie does not stop a download, and every answer is sandboxed."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator

import pytest
from minio import Minio

from chatfn.api.body_limit import MAX_BODY_BYTES
from chatfn.settings import Settings
from chatfn.storage import public_url, s3_client
from tests.utils.accounts import browser, refresh_cookie, sign_up

PAGE = b"<!doctype html><script>parent.document.title = 'owned'</script>"


@pytest.fixture
async def s3(stack_settings: Settings, name: str) -> AsyncIterator[Minio]:
    """The stack's S3; every object this test stores under `tests/<name>/` deleted after."""
    client = s3_client(stack_settings)
    yield client
    bucket, prefix = stack_settings.s3_bucket, f"tests/{name}/"
    for found in await asyncio.to_thread(
        lambda: list(client.list_objects(bucket, prefix=prefix, recursive=True))
    ):
        await asyncio.to_thread(client.remove_object, bucket, found.object_name)


async def test_an_upload_over_the_apis_body_cap_goes_to_s3_with_its_presigned_post(
    stack_settings: Settings, name: str, s3: Minio
) -> None:
    body = b"{" + b" " * (2 * MAX_BODY_BYTES) + b"}"
    async with browser(stack_settings) as client:
        user = await sign_up(client, name)
        form = (await client.post("/api/imports/upload", headers=user.auth)).json()
        stored = await client.post(form["url"], data=form["fields"],
                                   files={"file": ("conversations.json", body)})  # fmt: skip
        # The same body anywhere else is refused, before it reaches a function.
        refused = await client.post("/api/imports", headers=user.auth, content=body)
    found = await asyncio.to_thread(s3.stat_object, stack_settings.s3_bucket, form["object_key"])
    await asyncio.to_thread(s3.remove_object, stack_settings.s3_bucket, form["object_key"])

    assert form["url"] == f"/storage/{stack_settings.s3_bucket}"
    assert stored.status_code in {200, 204}, stored.text
    assert found.size == len(body)
    assert refused.status_code == 413


async def test_a_presigned_get_through_storage_holds_with_a_cookie_and_is_sandboxed(
    stack_settings: Settings, name: str, s3: Minio
) -> None:
    bucket, key = stack_settings.s3_bucket, f"tests/{name}/page.html"
    await asyncio.to_thread(
        s3.put_object, bucket, key, io.BytesIO(PAGE), len(PAGE), content_type="text/html"
    )
    url = public_url(await asyncio.to_thread(s3.presigned_get_object, bucket, key), stack_settings)
    async with browser(stack_settings) as client:
        user = await sign_up(client, name)
        read = await client.get(url, headers=refresh_cookie(user.refresh_token))
        tampered = await client.get(url.replace("page.html", "page.htm"))

    assert url.startswith(f"/storage/{bucket}/tests/")
    assert read.status_code == 200, read.text
    assert read.content == PAGE
    assert read.headers["content-type"] == "text/html"  # as stored: the sandbox is what holds
    assert read.headers["content-security-policy"] == "sandbox; default-src 'none'"
    assert read.headers["x-content-type-options"] == "nosniff"
    assert tampered.status_code == 403  # the signature is checked, the path byte for byte
    assert tampered.headers["content-security-policy"] == "sandbox; default-src 'none'"
