"""knative/ as the cluster would judge it, offline.

Every resource is validated against its upstream schema (cloudcoil's models, generated
from Knative's CRDs and Kubernetes' OpenAPI) strictly: no type coercion, and a key no
schema field reads is an error (pydantic would silently drop it; a structural CRD prunes
it, so `timeoutSecond:` would quietly leave Knative's default in place). Then the rules
Knative's admission webhook applies under its default configuration, and chatfn's own:
hardened containers, the image pinned only by the kustomization, secrets only by
reference, and each function given only the secrets its settings demand.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from cloudcoil.models.knative_eventing.sources.v1 import SinkBinding
from cloudcoil.models.knative_serving.serving.v1 import Service
from cloudcoil.models.kubernetes.batch.v1 import Job
from pydantic import BaseModel, RootModel

from chatfn.local.provision import PROJECT_ROOT
from chatfn.settings import NEEDS, OPTIONAL, SECRET_VARIABLES

KNATIVE = PROJECT_ROOT / "knative"
IMAGE = "ghcr.io/chatfn/functions"
SCHEMAS: dict[tuple[str, str], type[BaseModel]] = {
    ("serving.knative.dev/v1", "Service"): Service,
    ("sources.knative.dev/v1", "SinkBinding"): SinkBinding,
    ("batch/v1", "Job"): Job,
}

# Knative Serving's defaults (config-defaults, config-autoscaler); chatfn changes neither.
MAX_REVISION_TIMEOUT_S = 600
CONTAINER_CONCURRENCY_MAX = 1000

NUMBER = r"\d+(\.\d+)?"
DURATION = r"(\d+(\.\d+)?(ms|s|m|h))+"
# The revision annotations Knative's autoscaler reads (1.15), each with the values it accepts.
AUTOSCALING = {
    "autoscaling.knative.dev/class": r"(kpa|hpa)\.autoscaling\.knative\.dev",
    "autoscaling.knative.dev/metric": r"concurrency|rps|cpu|memory",
    "autoscaling.knative.dev/target": NUMBER,
    "autoscaling.knative.dev/target-utilization-percentage": NUMBER,
    "autoscaling.knative.dev/target-burst-capacity": rf"-1|{NUMBER}",
    "autoscaling.knative.dev/min-scale": r"\d+",
    "autoscaling.knative.dev/max-scale": r"\d+",
    "autoscaling.knative.dev/initial-scale": r"\d+",
    "autoscaling.knative.dev/activation-scale": r"\d+",
    "autoscaling.knative.dev/scale-down-delay": DURATION,
    "autoscaling.knative.dev/window": DURATION,
    "autoscaling.knative.dev/scale-to-zero-pod-retention-period": DURATION,
    "autoscaling.knative.dev/panic-window-percentage": NUMBER,
    "autoscaling.knative.dev/panic-threshold-percentage": NUMBER,
}
HARDENED = {
    "runAsNonRoot": True,
    "runAsUser": 65532,
    "readOnlyRootFilesystem": True,
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"]},
    "seccompProfile": {"type": "RuntimeDefault"},
}


def resources(folder: Path = KNATIVE) -> list[tuple[str, dict[str, Any]]]:
    """(file name, document) of every Kubernetes resource in `folder`."""
    found = []
    for path in sorted(folder.glob("*.yaml")):
        if path.name != "kustomization.yaml":
            found += [(path.name, d) for d in yaml.safe_load_all(path.read_text()) if d]
    return found


def unknown_keys(model: object, data: object, where: str) -> list[str]:
    """Keys of `data` that no field of the model parsed from it reads, by their wire names."""
    if isinstance(model, RootModel):
        return unknown_keys(model.root, data, where)
    if isinstance(model, BaseModel) and isinstance(data, dict):
        fields = {info.alias or name: name for name, info in type(model).model_fields.items()}
        found = []
        for key, value in data.items():
            if key not in fields:
                found.append(f"{where}.{key}")
            else:
                found += unknown_keys(getattr(model, fields[key]), value, f"{where}.{key}")
        return found
    if isinstance(model, list) and isinstance(data, list):
        items = enumerate(zip(model, data, strict=True))
        return [k for i, (m, d) in items for k in unknown_keys(m, d, f"{where}[{i}]")]
    if isinstance(model, dict) and isinstance(data, dict):
        return [k for key in data for k in unknown_keys(model[key], data[key], f"{where}.{key}")]
    return []


def schema_errors(document: dict[str, Any]) -> list[str]:
    schema = SCHEMAS.get((document.get("apiVersion", ""), document.get("kind", "")))
    if schema is None:
        return [f"no schema for {document.get('apiVersion')} {document.get('kind')}"]
    return unknown_keys(schema.model_validate(document, strict=True), document, "")


def admission_errors(document: dict[str, Any]) -> list[str]:
    """What Knative's webhook (default config) or chatfn's rules refuse in a Service."""
    template = document["spec"]["template"]
    spec = template["spec"]
    errors = []
    if not 0 < spec.get("timeoutSeconds", 0) <= MAX_REVISION_TIMEOUT_S:
        errors.append(f"timeoutSeconds not within 1..{MAX_REVISION_TIMEOUT_S}")
    if not 0 <= spec.get("containerConcurrency", -1) <= CONTAINER_CONCURRENCY_MAX:
        errors.append(f"containerConcurrency not within 0..{CONTAINER_CONCURRENCY_MAX}")
    annotations = template.get("metadata", {}).get("annotations", {})
    for key, value in annotations.items():
        if key not in AUTOSCALING:
            errors.append(f"unknown annotation {key}")
        elif not re.fullmatch(AUTOSCALING[key], value):
            errors.append(f"{key}: {value!r}")
    scale = [int(annotations.get(f"autoscaling.knative.dev/{b}-scale", 0)) for b in ("min", "max")]
    if not scale[0] <= scale[1] or scale[1] == 0:
        errors.append(f"min-scale {scale[0]} and max-scale {scale[1]}")
    return errors


def container_errors(container: dict[str, Any]) -> list[str]:
    """A hardened container of the one image, tag-less, with probes and bounded resources."""
    errors = []
    if container["image"] != IMAGE:
        errors.append(f"image {container['image']} (the kustomization pins {IMAGE})")
    if container.get("securityContext") != HARDENED:
        errors.append(f"securityContext {container.get('securityContext')}")
    limits = container.get("resources", {})
    for bound in ("requests", "limits"):
        if set(limits.get(bound, {})) != {"cpu", "memory"}:
            errors.append(f"resources.{bound} must give cpu and memory")
    for env in container.get("env", []):
        reference = env.get("valueFrom", {}).get("secretKeyRef")
        if env["name"] in SECRET_VARIABLES and reference is None:
            errors.append(f"{env['name']} given as a literal")
        if reference and (reference["name"], reference["key"]) != ("chatfn-secrets", env["name"]):
            errors.append(f"{env['name']} from {reference}")
    return errors


def service_errors(document: dict[str, Any]) -> list[str]:
    container = document["spec"]["template"]["spec"]["containers"][0]
    errors = admission_errors(document) + container_errors(container)
    for probe in ("readinessProbe", "livenessProbe"):
        if container.get(probe, {}).get("httpGet", {}).get("path") != "/healthz":
            errors.append(f"no {probe} on /healthz")
    if container.get("envFrom") != [{"configMapRef": {"name": "chatfn-config"}}]:
        errors.append(f"envFrom {container.get('envFrom')} (only the ConfigMap; secrets by key)")
    env = {e["name"]: e for e in container["env"]}
    function = env["FUNCTION_TARGET"]["value"]
    given = {name for name, e in env.items() if "secretKeyRef" in e.get("valueFrom", {})}
    if given != NEEDS.get(function, frozenset()) & SECRET_VARIABLES:
        errors.append(f"{function} given secrets {sorted(given)}, settings need others")
    for name in given:
        optional = env[name]["valueFrom"]["secretKeyRef"].get("optional", False)
        if optional != (name in OPTIONAL):
            errors.append(f"{name} optional: {optional}")
    return errors


def job_errors(document: dict[str, Any]) -> list[str]:
    annotations = document["metadata"].get("annotations", {})
    errors = []
    if annotations.get("argocd.argoproj.io/hook") != "PreSync":
        errors.append("not an ArgoCD PreSync hook")
    if "argocd.argoproj.io/hook-delete-policy" not in annotations:
        errors.append("no hook-delete-policy: the next sync could not create it again")
    containers = document["spec"]["template"]["spec"]["containers"]
    for container in containers:
        errors += container_errors(container)
    if [c["command"] for c in containers] != [["alembic", "upgrade", "head"]]:
        errors.append("the Job must run alembic upgrade head, alone")
    return errors


RULES = {"Service": service_errors, "Job": job_errors}


def errors_in(document: dict[str, Any]) -> list[str]:
    errors = schema_errors(document)
    return errors + RULES.get(document["kind"], lambda _: [])(document)


@pytest.mark.parametrize(
    ("name", "document"), resources(), ids=lambda v: v if isinstance(v, str) else ""
)
def test_every_resource_passes_its_schema_and_the_rules(
    name: str, document: dict[str, Any]
) -> None:
    assert errors_in(document) == []


def test_the_kustomization_lists_every_manifest_and_pins_the_image_by_digest() -> None:
    kustomization = yaml.safe_load((KNATIVE / "kustomization.yaml").read_text())
    assert set(kustomization) <= {"apiVersion", "kind", "namespace", "resources", "images"}
    assert kustomization["apiVersion"] == "kustomize.config.k8s.io/v1beta1"
    assert kustomization["kind"] == "Kustomization"
    assert kustomization["namespace"] == "chatfn"
    assert kustomization["resources"] == sorted({name for name, _ in resources()})
    [image] = kustomization["images"]
    assert set(image) == {"name", "digest"}  # a digest, never a tag
    assert image["name"] == IMAGE
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", image["digest"])


def test_nothing_in_knative_names_a_latest_tag() -> None:
    for path in KNATIVE.glob("*.yaml"):
        assert ":latest" not in path.read_text(), path.name


# Each rule, shown able to fail: one deliberate mistake in a copy of a real manifest.
MISTAKES = [
    (
        "200-api.yaml",
        "timeoutSeconds: 600",
        "timeoutSecond: 600",
        ".spec.template.spec.timeoutSecond",
    ),
    ("200-stream-reply.yaml", "timeoutSeconds: 600", "timeoutSeconds: 3600", "timeoutSeconds not"),
    (
        "200-api.yaml",
        "containerConcurrency: 200",
        "containerConcurrency: 1001",
        "containerConcurrency",
    ),
    (
        "200-api.yaml",
        "min-scale:",
        "min-scal:",
        "unknown annotation autoscaling.knative.dev/min-scal",
    ),
    (
        "200-api.yaml",
        'scale-down-delay: "15m"',
        'scale-down-delay: "15 minutes"',
        "scale-down-delay",
    ),
    ("200-titles.yaml", 'max-scale: "3"', 'max-scale: "0"', "max-scale 0"),
    (
        "200-titles.yaml",
        "readOnlyRootFilesystem: true",
        "readOnlyRootFilesystem: false",
        "securityContext",
    ),
    ("200-titles.yaml", "          livenessProbe:", "          livenesProbe:", "livenesProbe"),
    ("200-titles.yaml", "memory: 384Mi}", "}", "resources.limits"),
    (
        "200-titles.yaml",
        "image: ghcr.io/chatfn/functions",
        "image: ghcr.io/chatfn/functions:latest",
        "image",
    ),
    ("200-persist-history.yaml", "key: DATABASE_URL}", "key: REDIS_URL}", "DATABASE_URL from"),
    ("200-persist-history.yaml", "name: chatfn-secrets", "name: chatfn", "DATABASE_URL from"),
    (
        "200-stream-reply.yaml",
        "- name: REDIS_URL   #",
        "- name: LLM_API_KEY   #",
        "settings need others",
    ),
    ("200-api.yaml", "name: chatfn-config", "name: chatfn-secrets", "envFrom"),
    (
        "200-api.yaml",
        "key: JWT_PREVIOUS_SECRET, optional: true}",
        "key: JWT_PREVIOUS_SECRET}",
        "optional",
    ),
    ("050-migrate-job.yaml", "PreSync", "PostSync", "PreSync"),
    ("050-migrate-job.yaml", "runAsUser: 65532", "runAsUser: 0", "securityContext"),
    (
        "050-migrate-job.yaml",
        "activeDeadlineSeconds",
        "activeDeadlineSecond",
        ".spec.activeDeadlineSecond",
    ),
    ("100-sinkbinding.yaml", "matchLabels:", "matchLabel:", "matchLabel"),
]


@pytest.mark.parametrize(("file", "right", "wrong", "refusal"), MISTAKES)
def test_a_mistake_in_a_copy_is_refused(
    tmp_path: Path, file: str, right: str, wrong: str, refusal: str
) -> None:
    text = (KNATIVE / file).read_text()
    assert right in text
    (tmp_path / file).write_text(text.replace(right, wrong, 1))
    [(_, document)] = resources(tmp_path)
    assert any(refusal in error for error in errors_in(document)), errors_in(document)


def test_a_value_of_the_wrong_type_is_refused_not_coerced(tmp_path: Path) -> None:
    (tmp_path / "s.yaml").write_text(
        (KNATIVE / "200-api.yaml")
        .read_text()
        .replace("timeoutSeconds: 600", 'timeoutSeconds: "600"')
    )
    [(_, document)] = resources(tmp_path)
    with pytest.raises(ValueError, match="timeoutSeconds"):
        errors_in(document)
