"""The `api` function's REST API (`/api`) and its OpenAI-compatible one (`/v1`): the one
public door besides the reply streams.

Authenticates, validates, rate-limits, then reads PostgreSQL or publishes a command
event. Its OpenAPI description is served at `/api/openapi.json`.
"""

from __future__ import annotations

from fastapi import Depends, FastAPI
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from chatfn.api import (
    admin_endpoints,
    attachment_endpoints,
    auth_endpoints,
    chat_endpoints,
    event_endpoints,
    export_endpoints,
    inbound_endpoints,
    key_endpoints,
    me_endpoints,
    openai_endpoints,
    problems,
    share_endpoints,
    temporary_endpoints,
    webhook_endpoints,
)
from chatfn.api.body_limit import BodyLimit
from chatfn.api.security import Api, limit_ip
from chatfn.paths import NormalPathsOnly
from chatfn.runtime import Runtime


def create_app(runtime: Runtime) -> FastAPI:
    app = FastAPI(
        title="chatfn",
        openapi_url="/api/openapi.json",
        docs_url="/api/docs",
        redoc_url=None,
        # FastAPI's own spans and metrics are off: chatfn.telemetry.http serves every
        # function alike (one RED series per function, by route or event type), and a
        # second server span per request, plus three per dependency, endpoint and
        # serialisation, would cost the chat path without telling more.
        telemetry={"tracing": False, "metrics": False, "logs": False, "operation_spans": False},
    )
    app.state.api = Api(runtime)
    problems.install(app)
    routers = (
        auth_endpoints, me_endpoints, chat_endpoints, admin_endpoints, webhook_endpoints,
        inbound_endpoints, key_endpoints, openai_endpoints, temporary_endpoints,
        share_endpoints,
        export_endpoints, attachment_endpoints,
    )  # fmt: skip
    for router in (module.router for module in routers):
        app.include_router(router, dependencies=[Depends(limit_ip)])
    app.include_router(event_endpoints.router)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    # Added innermost first: paths are checked, then the body is capped, then the rest.
    app.add_middleware(BodyLimit)
    app.add_middleware(NormalPathsOnly)
    trusted = [host.strip() for host in runtime.settings.trusted_proxies.split(",")]
    app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=trusted)
    return app
