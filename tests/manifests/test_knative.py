"""knative/ must run exactly the functions in functions/, and Triggers must name them."""

from __future__ import annotations

from typing import Any

import yaml

from chatfn.local.provision import PROJECT_ROOT
from chatfn.local.stack import function_names, service_name


def documents(folder: str, kind: str) -> list[dict[str, Any]]:
    found = []
    for path in sorted((PROJECT_ROOT / folder).glob("*.yaml")):
        found += [d for d in yaml.safe_load_all(path.read_text()) if d and d["kind"] == kind]
    return found


def test_every_function_has_a_service_running_it_and_no_service_is_orphaned() -> None:
    services = {}
    for service in documents("knative", "Service"):
        env = {
            e["name"]: e.get("value")
            for e in service["spec"]["template"]["spec"]["containers"][0]["env"]
        }
        services[service["metadata"]["name"]] = (env["FUNCTION_TARGET"], env["FUNCTION_SOURCE"])

    assert services == {
        service_name(name): (name, f"functions/{name}.py") for name in function_names()
    }


def test_every_trigger_delivers_to_a_service_that_exists() -> None:
    services = {service["metadata"]["name"] for service in documents("knative", "Service")}
    subscribers = {
        trigger["spec"]["subscriber"]["ref"]["name"]
        for trigger in documents("eventing", "Trigger")
        if trigger["spec"]["subscriber"]["ref"]["kind"] == "Service"
    }

    assert subscribers
    assert subscribers <= services
