"""How the built web UI is served, by any host: the dev gateway, the CDN and its bucket.

Vite writes `index.html`, content-hashed `assets/<name>-<hash>.<ext>`, the files of
`web/public/` unchanged, and `.vite/manifest.json` (build metadata: never served or
published). Hashed assets are cached for a year; everything else is revalidated on every
visit, so a new build shows at once. Names are paths relative to the build folder, with `/`.
"""

from __future__ import annotations

import json
import mimetypes
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path

from minio import Minio
from minio.deleteobjects import DeleteObject

# The one source of the security headers: the Vite build and the CDN read it too.
SECURITY_HEADERS_FILE = Path(__file__).resolve().parents[2] / "web" / "security-headers.json"
INDEX = "index.html"
BUILD_METADATA = ".vite"

IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
# Vite's hash: 8 base64url characters (`-` among them) after a `-`. A name without one (a
# file put in public/assets/) must not be cached for a year: a lowercase word is no hash.
HASHED_ASSET = re.compile(
    r"assets/(?:[^/]+/)*[^/]+-(?=[\w-]*[A-Z0-9])[\w-]{6,}(?:\.[A-Za-z0-9]+)+", re.ASCII
)
# Explicit where the platform's mimetypes table varies or leaves the charset out.
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
    ".json": "application/json",
    ".map": "application/json",
    ".webmanifest": "application/manifest+json",
    ".svg": "image/svg+xml",
    ".ico": "image/x-icon",
    ".woff2": "font/woff2",
    ".woff": "font/woff",
    ".ttf": "font/ttf",
}


@cache
def security_headers() -> dict[str, str]:
    """Header name to value, for every response that carries the UI."""
    headers: dict[str, str] = json.loads(SECURITY_HEADERS_FILE.read_text())
    return headers


def cache_control(name: str) -> str:
    return IMMUTABLE if HASHED_ASSET.fullmatch(name) else REVALIDATE


def content_type(name: str) -> str:
    suffix = Path(name).suffix.lower()
    return CONTENT_TYPES.get(suffix) or mimetypes.guess_type(name)[0] or "application/octet-stream"


def publishable(name: str) -> bool:
    """Whether a host may hand this file out: all of the build but its own metadata."""
    parts = Path(name).parts
    return bool(parts) and parts[0] != BUILD_METADATA and ".." not in parts


def upload_order(dist: Path) -> list[str]:
    """The build's publishable files, `index.html` last: it names the assets, so a visitor
    must never get a new one before every asset it names is there."""
    names = (path.relative_to(dist).as_posix() for path in dist.rglob("*") if path.is_file())
    return sorted((name for name in names if publishable(name)), key=lambda n: (n == INDEX, n))


@dataclass(frozen=True)
class Upload:
    name: str
    size: int
    content_type: str
    cache_control: str


def publish(client: Minio, bucket: str, dist: Path) -> list[Upload]:
    """Upload the build to `bucket` (the CDN's origin), creating it if missing. Assets of
    older builds stay (see `prune`): a page loaded before this publish still needs them."""
    if not (dist / INDEX).is_file():
        raise FileNotFoundError(f"no {dist / INDEX}: build the UI (npm --prefix web run build)")
    if not client.bucket_exists(bucket):
        client.make_bucket(bucket)
    uploads = []
    for name in upload_order(dist):
        path = dist / name
        upload = Upload(name, path.stat().st_size, content_type(name), cache_control(name))
        client.fput_object(
            bucket,
            name,
            str(path),
            content_type=upload.content_type,
            metadata={"Cache-Control": upload.cache_control},
        )
        uploads.append(upload)
    return uploads


# How long the assets of an older build outlive it: a page opened before a publish still
# loads its lazy chunks, and a CDN edge may serve the old `index.html` until it revalidates.
KEEP_OLD_ASSETS = timedelta(days=7)


class PruneFailed(Exception):
    pass


def prune(client: Minio, bucket: str, dist: Path, keep: timedelta = KEEP_OLD_ASSETS) -> list[str]:
    """Delete the files under `assets/` that the build in `dist` does not have and that were
    last uploaded more than `keep` ago (publishing a file again renews it); their names."""
    current = set(upload_order(dist))
    cutoff = datetime.now(UTC) - keep
    stale = [
        name
        for listed in client.list_objects(bucket, prefix="assets/", recursive=True)
        if (name := listed.object_name) is not None
        and name not in current
        and listed.last_modified is not None
        and listed.last_modified < cutoff
    ]
    failures = list(client.remove_objects(bucket, [DeleteObject(name) for name in stale]))
    if failures:
        raise PruneFailed(", ".join(f"{failure.name}: {failure.message}" for failure in failures))
    return stale
