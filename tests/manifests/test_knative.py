"""knative/ must run exactly the functions in functions/, give each what its settings
demand, and Triggers must name them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import yaml

from chatfn import runtime
from chatfn.local.provision import PROJECT_ROOT
from chatfn.local.stack import function_names, service_name
from chatfn.settings import NEEDS, OPTIONAL, SECRET_VARIABLES, Settings, get_settings
from tests.utils.functions import function_app


def documents(folder: str, kind: str) -> list[dict[str, Any]]:
    found = []
    for path in sorted((PROJECT_ROOT / folder).glob("*.yaml")):
        found += [d for d in yaml.safe_load_all(path.read_text()) if d and d["kind"] == kind]
    return found


def container(service: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = service["spec"]["template"]["spec"]["containers"][0]
    return found


def literal_env(service: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e["value"] for e in container(service)["env"] if "value" in e}


def services_by_function() -> dict[str, dict[str, Any]]:
    return {literal_env(s)["FUNCTION_TARGET"]: s for s in documents("knative", "Service")}


def scaling(service: dict[str, Any]) -> dict[str, str]:
    found: dict[str, str] = service["spec"]["template"]["metadata"]["annotations"]
    return found


def test_every_function_has_a_service_running_it_and_no_service_is_orphaned() -> None:
    services = {}
    for service in documents("knative", "Service"):
        env = literal_env(service)
        services[service["metadata"]["name"]] = (env["FUNCTION_TARGET"], env["FUNCTION_SOURCE"])

    assert services == {
        service_name(name): (name, f"functions/{name}.py") for name in function_names()
    }
    assert set(NEEDS) == set(function_names())


def test_every_trigger_delivers_to_a_service_that_exists() -> None:
    services = {service["metadata"]["name"] for service in documents("knative", "Service")}
    subscribers = {
        trigger["spec"]["subscriber"]["ref"]["name"]
        for trigger in documents("eventing", "Trigger")
        if trigger["spec"]["subscriber"]["ref"]["kind"] == "Service"
    }

    assert subscribers
    assert subscribers <= services


def test_the_sinkbinding_gives_k_sink_to_exactly_the_functions_that_publish() -> None:
    [binding] = documents("knative", "SinkBinding")
    selector = binding["spec"]["subject"]["selector"]["matchLabels"]
    selected = {
        function
        for function, service in services_by_function().items()
        if selector.items() <= service["metadata"].get("labels", {}).items()
    }
    assert selected == {function for function, needs in NEEDS.items() if "K_SINK" in needs}
    assert binding["spec"]["sink"]["ref"] == {
        "apiVersion": "eventing.knative.dev/v1",
        "kind": "Broker",
        "name": "default",
    }


def test_stream_reply_stays_warm_and_keeps_the_activator_out_of_its_streams() -> None:
    stream_reply = services_by_function()["stream_reply"]
    assert scaling(stream_reply)["autoscaling.knative.dev/min-scale"] == "1"
    assert scaling(stream_reply)["autoscaling.knative.dev/target-burst-capacity"] == "0"


def test_every_other_function_scales_to_zero_and_api_lingers_first() -> None:
    for function, service in services_by_function().items():
        if function != "stream_reply":
            assert scaling(service)["autoscaling.knative.dev/min-scale"] == "0", function
    assert "autoscaling.knative.dev/scale-down-delay" in scaling(services_by_function()["api"])


# Stand-ins that parse as what they stand for; nothing is ever connected to.
STAND_INS = {
    "DATABASE_URL": "postgresql://stand-in:5432/chatfn",
    "REDIS_URL": "redis://stand-in:6379/0",
}


def production_environment(function: str, leave_out: str = "") -> dict[str, str]:
    """What the cluster gives the function: its manifest's values, a stand-in for each
    secret it references and for what else it needs (the ConfigMap and SinkBinding add it)."""
    service = services_by_function()[function]
    referenced = {e["name"] for e in container(service)["env"] if "valueFrom" in e}
    given = literal_env(service)
    environment = given | {
        name: STAND_INS.get(name, f"http://stand-in-{name.lower()}")
        for name in (referenced | (NEEDS[function] - SECRET_VARIABLES)) - given.keys() - OPTIONAL
    }
    environment.pop(leave_out, None)
    return environment


@pytest.fixture
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """Nothing from the shell, `.env` or another test's settings counts."""
    for info in Settings.model_fields.values():
        monkeypatch.delenv(str(info.alias), raising=False)
    monkeypatch.setitem(Settings.model_config, "env_file", None)
    get_settings.cache_clear()
    runtime.current.cache_clear()
    yield monkeypatch
    get_settings.cache_clear()
    runtime.current.cache_clear()


async def probe(function: str, environment: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> int:
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    [probe_path] = {container(services_by_function()[function])[p]["httpGet"]["path"]
                    for p in ("readinessProbe", "livenessProbe")}  # fmt: skip
    transport = httpx.ASGITransport(app=function_app(function), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://probe") as client:
        return (await client.get(probe_path)).status_code


@pytest.mark.parametrize("function", sorted(NEEDS))
async def test_the_probe_answers_in_production_with_what_the_manifest_gives(
    function: str, clean_environment: pytest.MonkeyPatch
) -> None:
    """No dependency is reachable here: the probe must not need one, only the settings."""
    assert await probe(function, production_environment(function), clean_environment) == 200


@pytest.mark.parametrize("function", ["api", "persist_history", "stream_reply"])
async def test_the_probe_fails_when_a_secret_the_function_needs_is_missing(
    function: str, clean_environment: pytest.MonkeyPatch
) -> None:
    missing = sorted(NEEDS[function] - OPTIONAL)[0]
    environment = production_environment(function, leave_out=missing)
    assert await probe(function, environment, clean_environment) >= 500
