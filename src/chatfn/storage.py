"""S3-compatible object storage (MinIO in production, SeaweedFS locally) via the minio SDK."""

from __future__ import annotations

from urllib.parse import urlsplit

from minio import Minio

from chatfn.settings import Settings


def s3_client(settings: Settings) -> Minio:
    """A client for `S3_ENDPOINT`, given as a URL (`http://host:port`) or as `host:port` (TLS)."""
    endpoint = settings.s3_endpoint
    secure = True
    if "://" in endpoint:
        parts = urlsplit(endpoint)
        endpoint, secure = parts.netloc, parts.scheme == "https"
    return Minio(
        endpoint,
        access_key=settings.s3_access_key,
        secret_key=settings.s3_secret_key.get_secret_value(),
        secure=secure,
    )
