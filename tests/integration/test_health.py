from __future__ import annotations

import httpx

from chatfn.local.gateway import create_app
from chatfn.local.stack import function_names
from chatfn.settings import Settings


async def test_the_running_gateway_reports_every_dependency_and_function_healthy(
    stack_settings: Settings,
) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        response = await client.get(f"http://127.0.0.1:{stack_settings.port}/api/health")

    body = response.json()
    assert response.status_code == 200, body
    assert body["status"] == "ok"
    dependencies = {"postgres", "redis", "kafka", "s3", "llm", "broker"}
    assert set(body["dependencies"]) == dependencies | set(function_names())
    assert {"api", "register_user"} <= set(function_names())
    assert all(dependency["ok"] for dependency in body["dependencies"].values())


async def test_an_unreachable_dependency_makes_health_degraded(settings: Settings) -> None:
    broken = settings.model_copy(update={"redis_url": "redis://127.0.0.1:1/0"})
    transport = httpx.ASGITransport(app=create_app(broken))
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
        response = await client.get("/api/health")

    body = response.json()
    assert response.status_code == 503
    assert body["status"] == "degraded"
    assert body["dependencies"]["redis"]["ok"] is False
    assert "Connect" in body["dependencies"]["redis"]["detail"]
    assert body["dependencies"]["postgres"]["ok"] is True
