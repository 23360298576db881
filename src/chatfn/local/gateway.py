"""The dev gateway on `CHATFN_PORT`: the local stand-in for the production ingress.

For now it answers `GET /api/health` with each dependency's state; routing `/api`
to the functions and serving the built web UI come with the functions themselves.
"""

from __future__ import annotations

from dataclasses import asdict

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from chatfn.health import check_all
from chatfn.settings import Settings, get_settings


async def health(request: Request) -> JSONResponse:
    results = await check_all(request.app.state.settings)
    healthy = all(result.ok for result in results.values())
    body = {
        "status": "ok" if healthy else "degraded",
        "dependencies": {name: asdict(result) for name, result in results.items()},
    }
    return JSONResponse(body, status_code=200 if healthy else 503)


def create_app(settings: Settings | None = None) -> Starlette:
    """The ASGI app (`uvicorn --factory chatfn.local.gateway:create_app`)."""
    app = Starlette(routes=[Route("/api/health", health)])
    app.state.settings = settings or get_settings()
    return app
