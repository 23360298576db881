"""The built web UI as its hosts serve it: the dev gateway, and the CDN's bucket after
`chatfn web publish`, both over the real local stack."""

from __future__ import annotations

import asyncio
import io
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from minio import Minio

from chatfn.local.gateway import create_app
from chatfn.local.provision import PROJECT_ROOT
from chatfn.settings import Settings
from chatfn.storage import s3_client
from chatfn.web import prune, publish

SECURITY_HEADERS: dict[str, str] = json.loads(
    (PROJECT_ROOT / "web" / "security-headers.json").read_text()
)
IMMUTABLE = "public, max-age=31536000, immutable"
INDEX_HTML = '<!doctype html><script type="module" src="/assets/app-abc123.js"></script>'
SECRET = "outside the build"


@pytest.fixture
def dist(tmp_path: Path) -> Path:
    """A small Vite build, and a file beside it that must never be reachable."""
    (tmp_path / "secret.txt").write_text(SECRET)
    dist = tmp_path / "dist"
    (dist / "assets").mkdir(parents=True)
    (dist / ".vite").mkdir()
    (dist / "index.html").write_text(INDEX_HTML)
    (dist / "favicon.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg"/>')
    (dist / "assets" / "app-abc123.js").write_text("console.log('chatfn');\n")
    (dist / "assets" / "app-Xy9_Zw01.css").write_text("body { margin: 0 }\n")
    (dist / ".vite" / "manifest.json").write_text('{"index.html": {"file": "assets/app.js"}}')
    return dist


@pytest.fixture
async def gateway(settings: Settings, dist: Path) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings.model_copy(update={"web_dir": dist}))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
        yield client


def assert_security_headers(response: httpx.Response) -> None:
    for header, value in SECURITY_HEADERS.items():
        assert response.headers.get(header) == value, header


@pytest.mark.parametrize("path", ["/", "/c/0192f1e4-7c1a-7000-8000-000000000001", "/settings"])
async def test_every_ui_route_gets_index_html_revalidated(
    gateway: httpx.AsyncClient, path: str
) -> None:
    response = await gateway.get(path)

    assert response.status_code == 200
    assert response.text == INDEX_HTML
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.headers["cache-control"] == "no-cache"
    policy = SECURITY_HEADERS["Content-Security-Policy"]
    assert response.headers["content-security-policy"] == policy
    assert_security_headers(response)


async def test_a_hashed_asset_is_immutable_and_head_works(gateway: httpx.AsyncClient) -> None:
    get = await gateway.get("/assets/app-abc123.js")
    head = await gateway.head("/assets/app-abc123.js")
    css = await gateway.get("/assets/app-Xy9_Zw01.css")

    assert get.status_code == 200
    assert get.text == "console.log('chatfn');\n"
    assert get.headers["content-type"] == "text/javascript; charset=utf-8"
    assert get.headers["cache-control"] == IMMUTABLE
    assert_security_headers(get)
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["content-length"] == str(len(get.content))
    assert head.headers["cache-control"] == IMMUTABLE
    assert css.headers["content-type"] == "text/css; charset=utf-8"
    assert css.headers["cache-control"] == IMMUTABLE


async def test_a_revalidated_index_html_answers_304_with_its_headers(
    gateway: httpx.AsyncClient,
) -> None:
    first = await gateway.get("/")
    again = await gateway.get("/c/x", headers={"if-none-match": first.headers["etag"]})

    assert again.status_code == 304
    assert again.headers["cache-control"] == "no-cache"
    assert_security_headers(again)


async def test_a_file_of_the_build_that_is_not_an_asset_is_revalidated(
    gateway: httpx.AsyncClient,
) -> None:
    response = await gateway.get("/favicon.svg")

    assert response.status_code == 200
    assert response.headers["content-type"] == "image/svg+xml"
    assert response.headers["cache-control"] == "no-cache"


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/assets/missing-abc123.js", 404),  # a missing asset: never index.html as script
        ("/.vite/manifest.json", 404),
        # A path not in its normal form is refused before any routing (chatfn.paths).
        ("/assets/%2e%2e/.vite/manifest.json", 400),
        ("/assets/%2e%2e/%2e%2e/secret.txt", 400),
        ("/%2e%2e/secret.txt", 400),
        ("/assets/..%2f..%2fsecret.txt", 400),
        ("/assets/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd", 400),
    ],
)
async def test_nothing_outside_the_published_build_is_served(
    gateway: httpx.AsyncClient, path: str, status: int
) -> None:
    response = await gateway.get(path)

    assert response.status_code == status
    assert SECRET not in response.text
    assert "index.html" not in response.text
    assert "root:" not in response.text
    assert_security_headers(response)


async def test_raw_dot_segments_do_not_escape_the_running_gateway(
    stack_settings: Settings,
) -> None:
    """Sent as written (an HTTP client would resolve the `..` itself): README.md is two
    folders above the running gateway's web/dist."""
    reader, writer = await asyncio.open_connection("127.0.0.1", stack_settings.port)
    answers = []
    for path in ("/assets/../../README.md", "/../../README.md", "/.vite/../../../README.md"):
        writer.write(f"GET {path} HTTP/1.1\r\nHost: gateway\r\n\r\n".encode())
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(
            int(line.split(b":")[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        )
        answers.append((head.split(b"\r\n")[0], await reader.readexactly(length)))
    writer.close()
    await writer.wait_closed()

    for status_line, body in answers:
        assert status_line == b"HTTP/1.1 400 Bad Request"
        assert b"chatfn" not in body


async def test_the_running_gateway_answers_the_ui_with_its_headers(
    stack_settings: Settings,
) -> None:
    """`./task test` builds the UI first, so the running gateway serves the build's own
    index.html. Without a build (`pytest` alone, before any `npm run build`), its page
    says how to make one; the in-process tests above cover both."""
    index = stack_settings.web_dir / "index.html"
    async with httpx.AsyncClient(timeout=10) as client:
        response = await client.get(f"http://127.0.0.1:{stack_settings.port}/c/any-id")

    if index.exists():
        assert response.status_code == 200, response.text
        assert response.text == index.read_text()
    else:
        assert response.status_code == 404, response.text
        assert "npm run build" in response.text
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.headers["cache-control"] == "no-cache"
    assert_security_headers(response)


async def test_the_api_keeps_its_routes_and_gets_nosniff(gateway: httpx.AsyncClient) -> None:
    response = await gateway.get("/api/health")

    assert response.headers["content-type"] == "application/json"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "content-security-policy" not in response.headers


async def test_without_a_build_the_gateway_says_how_to_make_one(
    settings: Settings, tmp_path: Path
) -> None:
    app = create_app(settings.model_copy(update={"web_dir": tmp_path / "not-built"}))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
        page = await client.get("/")
        asset = await client.get("/assets/app-abc123.js")

    assert page.status_code == 404
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert "npm run build" in page.text
    assert_security_headers(page)
    assert asset.status_code == 404


@pytest.fixture
def web_bucket(settings: Settings, name: str) -> Iterator[str]:
    """A bucket name of this test's own, not created yet; emptied and removed afterwards."""
    yield name
    client = s3_client(settings)
    if client.bucket_exists(name):
        for obj in client.list_objects(name, recursive=True):
            client.remove_object(name, obj.object_name)
        client.remove_bucket(name)


def stored(client: Minio, bucket: str) -> dict[str | None, tuple[str | None, str | None]]:
    """Each object's Content-Type and Cache-Control, as S3 reports them."""
    objects = client.list_objects(bucket, recursive=True)
    stats = (client.stat_object(bucket, obj.object_name) for obj in objects)
    return {s.object_name: (s.content_type, (s.metadata or {}).get("Cache-Control")) for s in stats}


EXPECTED = {
    "assets/app-Xy9_Zw01.css": ("text/css; charset=utf-8", IMMUTABLE),
    "assets/app-abc123.js": ("text/javascript; charset=utf-8", IMMUTABLE),
    "favicon.svg": ("image/svg+xml", "no-cache"),
    "index.html": ("text/html; charset=utf-8", "no-cache"),
}


async def test_publish_uploads_the_build_with_its_headers_index_html_last(
    settings: Settings, dist: Path, web_bucket: str
) -> None:
    client = s3_client(settings)

    uploads = await asyncio.to_thread(publish, client, web_bucket, dist)

    assert [upload.name for upload in uploads][-1] == "index.html"
    assert {upload.name for upload in uploads} == set(EXPECTED)
    assert await asyncio.to_thread(stored, client, web_bucket) == EXPECTED
    # What the CDN sees when it fetches from its origin.
    url = await asyncio.to_thread(
        client.presigned_get_object, web_bucket, "assets/app-abc123.js", timedelta(minutes=1)
    )
    async with httpx.AsyncClient() as http:
        origin = await http.get(url)
    assert origin.headers["cache-control"] == IMMUTABLE
    assert origin.headers["content-type"] == "text/javascript; charset=utf-8"
    assert origin.text == "console.log('chatfn');\n"


async def test_prune_removes_older_builds_assets_once_unpublished_for_a_while(
    settings: Settings, dist: Path, web_bucket: str
) -> None:
    client = s3_client(settings)
    await asyncio.to_thread(publish, client, web_bucket, dist)
    older_build = ["assets/app-0ld111.js", "assets/lazy-0ld222.js"]
    for name in older_build:
        await asyncio.to_thread(client.put_object, web_bucket, name, io.BytesIO(b"old"), 3)

    # Just published: a page opened before this build may still load them.
    assert await asyncio.to_thread(prune, client, web_bucket, dist, timedelta(hours=1)) == []
    removed = await asyncio.to_thread(prune, client, web_bucket, dist, timedelta(0))

    assert sorted(removed) == older_build
    assert set(await asyncio.to_thread(stored, client, web_bucket)) == set(EXPECTED)


def chatfn_web_publish(
    stack_settings: Settings, *args: str | Path
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "chatfn.local", "web", "publish", *map(str, args)],
        env=os.environ | {"CHATFN_HOME": str(stack_settings.home)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def test_chatfn_web_publish_prints_each_upload_and_can_publish_again(
    settings: Settings, stack_settings: Settings, dist: Path, web_bucket: str
) -> None:
    first = await asyncio.to_thread(
        chatfn_web_publish, stack_settings, "--bucket", web_bucket, "--dist", dist
    )
    (dist / "assets" / "app-def456.js").write_text("console.log('next build');\n")
    second = await asyncio.to_thread(
        chatfn_web_publish, stack_settings, "--bucket", web_bucket, "--dist", dist
    )

    assert first.returncode == 0, first.stdout + first.stderr
    lines = first.stdout.splitlines()
    assert lines[-1] == f"published 4 files to s3://{web_bucket}/"
    assert lines[-2] == "removed 0 assets last published over 7 days ago"
    assert lines[-3].endswith(" index.html")
    assert "no-cache" in lines[-3]
    assert sorted(line.split()[-1] for line in lines[:-2]) == sorted(EXPECTED)
    assert second.returncode == 0, second.stdout + second.stderr
    stored_objects = await asyncio.to_thread(stored, s3_client(settings), web_bucket)
    assert stored_objects["assets/app-def456.js"] == ("text/javascript; charset=utf-8", IMMUTABLE)
    assert "assets/app-abc123.js" in stored_objects  # a page of the last build still loads


async def test_chatfn_web_publish_refuses_a_folder_without_a_build(
    stack_settings: Settings, tmp_path: Path, web_bucket: str
) -> None:
    refused = await asyncio.to_thread(
        chatfn_web_publish, stack_settings, "--bucket", web_bucket, "--dist", tmp_path
    )

    assert refused.returncode == 1
    assert "npm --prefix web run build" in refused.stdout
