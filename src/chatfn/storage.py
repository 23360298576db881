"""S3-compatible object storage (MinIO in production, SeaweedFS locally) via the minio SDK.

Browsers reach it under the UI's own origin, at `routes.STORAGE_PREFIX` (the dev gateway
and the edge pass that path to S3): the URLs the API hands them are made here.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from minio import Minio

from chatfn.routes import STORAGE_PREFIX
from chatfn.settings import Settings


def endpoint_url(settings: Settings) -> str:
    """`S3_ENDPOINT` as a URL: given as one (`http://host:port`) or as `host:port` (TLS)."""
    endpoint = settings.s3_endpoint.rstrip("/")
    return endpoint if "://" in endpoint else f"https://{endpoint}"


def s3_client(settings: Settings) -> Minio:
    """A client for `S3_ENDPOINT`."""
    parts = urlsplit(endpoint_url(settings))
    return Minio(
        parts.netloc,
        access_key=settings.s3_access_key,
        secret_key=settings.s3_secret_key.get_secret_value(),
        secure=parts.scheme == "https",
    )


def public_bucket_url(settings: Settings) -> str:
    """The bucket (path-style) as the browser reaches it: relative, so the browser resolves
    it against the UI's origin; a Python client joins it with its base URL."""
    return f"{STORAGE_PREFIX}/{settings.s3_bucket}"


def public_url(presigned: str, settings: Settings) -> str:
    """A URL the minio client minted for `S3_ENDPOINT` (`scheme://host:port/bucket/key?query`),
    as the browser reaches it (`/storage/bucket/key?query`). The path and the query are kept
    byte for byte: the signature covers them."""
    minted = urlsplit(presigned)
    if minted.hostname != urlsplit(endpoint_url(settings)).hostname:
        raise ValueError("not a URL of S3_ENDPOINT")
    return STORAGE_PREFIX + presigned.removeprefix(f"{minted.scheme}://{minted.netloc}")
