"""The public path table: which function answers which request path.

One table for the dev gateway (`chatfn.local.gateway` routes by it) and the production
edge (`edge/`, Traefik), which a test holds equal to it. Paths are Starlette templates
(`{name}` is one segment, `{name:path}` the rest), tried in order: the first match wins.
Every other path is not a function's: S3's under `STORAGE_PREFIX`, else the web UI's
(the CDN's in production) or nobody's.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Route:
    function: str  # FUNCTION_TARGET (its Knative Service: the same name in kebab case)
    path: str
    # An SSE stream: never buffered or compressed on its way, and held open for long.
    streamed: bool = False


ROUTES = (
    Route("stream_reply", "/api/replies/{reply_id}/stream", streamed=True),
    Route("api", "/api/{path:path}"),
    # The OpenAI-compatible API: a streamed completion is SSE, held open as long.
    Route("api", "/v1/{path:path}", streamed=True),
)

# S3 (the bucket, path-style) under the UI's origin, which its CSP (`connect-src 'self'`,
# `img-src 'self'`) lets the browser upload to and read from. A presigned GET signs the S3
# host, so the proxy forwards with S3's own Host and the prefix stripped; a POST policy's
# signature does not cover the host.
STORAGE_PREFIX = "/storage"

# The dev gateway answers this itself with every dependency's state: the stack's own
# view, for its operator. In production it would hand that map to anyone, and Knative
# probes and Prometheus watch each function instead, so the edge refuses it.
GATEWAY_HEALTH = "/api/health"

# What the functions serve besides the table: broker deliveries to `api` (`/events/...`,
# which trust the sender to be the broker) and every function's probe. Never public.
NEVER_PUBLIC = ("/events", "/healthz")
