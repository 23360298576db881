"""eventing/ as a cluster would take it: every document against its upstream schema with
unknown keys refused, and the wiring no schema checks (the log kept forever, Kafka over
TLS with SASL from a Secret, who may deliver to whom, the sign-up's time budget).

Each rule is a function of a folder, so the mutation test below can show it failing on
a broken copy of eventing/.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Literal

import hcl2
import pytest
import yaml
from cloudcoil.apimachinery import ObjectMeta
from cloudcoil.models.knative_eventing.eventing.v1 import Broker, Trigger
from cloudcoil.models.knative_eventing.eventing.v1alpha1 import EventPolicy
from cloudcoil.models.knative_eventing.sources.v1 import PingSource
from cloudcoil.models.kubernetes.core.v1 import ConfigMap, Namespace
from cloudcoil.models.kubernetes.networking.v1 import NetworkPolicy
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from chatfn.identity.accounts import HANDOFF_TTL_S
from chatfn.local.broker.config import Delivery, load_eventing
from chatfn.local.provision import PROJECT_ROOT
from chatfn.settings import Settings

EVENTING = PROJECT_ROOT / "eventing"
NAMESPACE = "chatfn"
BROKER_CONFIG = "kafka-broker-config"
SASL_SECRET = "chatfn-kafka-sasl"
KAFKA_TLS_PORT = 9093  # Strimzi's TLS listener
PUBLISHERS = "functions-publish-to-broker"  # the SinkBinding in knative/
# The pods that connect to a function's pod: Knative's activator and autoscaler, and its
# ingress gateway (Kourier, run by the Knative Operator in knative-serving), through
# which the Kafka dispatcher's deliveries come too.
DATA_PLANE = {"knative-serving": {"activator", "autoscaler", "3scale-kourier-gateway"}}
REGISTER_COMMAND = "register-user-on-user-register-requested"
REGISTER_RESULT = "api-on-user-register-result"

Document = dict[str, Any]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class _SecretRef(_Strict):
    name: str = Field(min_length=1)


class _AuthSecret(_Strict):
    ref: _SecretRef


class _KafkaSinkAuth(_Strict):
    secret: _AuthSecret | None = None


class _KafkaSinkSpec(_Strict):
    topic: str = Field(min_length=1)
    num_partitions: int | None = Field(None, alias="numPartitions", ge=1, le=2**31 - 1)
    replication_factor: int | None = Field(None, alias="replicationFactor", ge=1, le=2**31 - 1)
    bootstrap_servers: list[str] = Field(alias="bootstrapServers", min_length=1)
    content_mode: Literal["binary", "structured"] = Field("binary", alias="contentMode")
    auth: _KafkaSinkAuth | None = None


class KafkaSink(_Strict):
    """The spec of eventing-kafka-broker's KafkaSink CRD (control-plane/config/
    eventing-kafka-broker/100-sink/100-kafka-sink.yaml); cloudcoil has no model of it."""

    api_version: Literal["eventing.knative.dev/v1alpha1"] = Field(alias="apiVersion")
    kind: Literal["KafkaSink"]
    metadata: ObjectMeta
    spec: _KafkaSinkSpec


SCHEMAS: dict[tuple[str, str], type[BaseModel]] = {
    ("v1", "Namespace"): Namespace,
    ("v1", "ConfigMap"): ConfigMap,
    ("eventing.knative.dev/v1", "Broker"): Broker,
    ("eventing.knative.dev/v1", "Trigger"): Trigger,
    ("eventing.knative.dev/v1alpha1", "KafkaSink"): KafkaSink,
    ("eventing.knative.dev/v1alpha1", "EventPolicy"): EventPolicy,
    ("sources.knative.dev/v1", "PingSource"): PingSource,
    ("networking.k8s.io/v1", "NetworkPolicy"): NetworkPolicy,
}
# DeliverySpec fields the Knative webhook takes (knative.dev/eventing pkg/apis/duck/v1
# delivery_types.go) that the CRD leaves schemaless and cloudcoil's model lacks.
DELIVERY_FIELDS = {"timeout", "retryAfterMax", "format"}


def documents(folder: Path) -> list[Document]:
    """Every document under `folder`, eventing/oidc/ included."""
    return [
        document
        for path in sorted(folder.rglob("*.yaml"))
        for document in yaml.safe_load_all(path.read_text())
        if document
    ]


def of_kind(docs: list[Document], kind: str) -> list[Document]:
    return [document for document in docs if document.get("kind") == kind]


def unknown_keys(given: Any, kept: Any, path: str = "") -> list[str]:
    """Keys of `given` that the schema dropped: `kept` is what validating it kept."""
    if isinstance(given, dict) and isinstance(kept, dict):
        found = []
        for key, value in given.items():
            where = f"{path}.{key}" if path else str(key)
            if key in kept:
                found += unknown_keys(value, kept[key], where)
            elif not (path.endswith("delivery") and key in DELIVERY_FIELDS):
                found.append(where)
        return found
    if isinstance(given, list) and isinstance(kept, list):
        return [
            key
            for index, (item, kept_item) in enumerate(zip(given, kept, strict=True))
            for key in unknown_keys(item, kept_item, f"{path}[{index}]")
        ]
    return []


def schema_problems(folder: Path) -> list[str]:
    problems = []
    for document in documents(folder):
        name = f"{document.get('kind')} {document.get('metadata', {}).get('name')}"
        schema = SCHEMAS.get((document.get("apiVersion", ""), document.get("kind", "")))
        if schema is None:
            problems.append(f"{name}: no schema for {document.get('apiVersion')}")
            continue
        try:
            parsed = schema.model_validate(document)
        except ValidationError as exc:
            locations = [".".join(map(str, error["loc"])) for error in exc.errors()]
            problems.append(f"{name}: invalid {locations}")
            continue
        kept = parsed.model_dump(by_alias=True, exclude_unset=True, mode="json")
        problems += [f"{name}: unknown key {key}" for key in unknown_keys(document, kept)]
    return problems


def broker_config(docs: list[Document]) -> dict[str, str]:
    configs = [c for c in of_kind(docs, "ConfigMap") if c["metadata"]["name"] == BROKER_CONFIG]
    assert len(configs) == 1, f"one ConfigMap {BROKER_CONFIG}"
    data: dict[str, str] = configs[0]["data"]
    return data


def retention_problems(folder: Path) -> list[str]:
    """The broker's topic is the log of record: kept forever, and no acknowledged event
    lost while one Kafka broker is down."""
    config = broker_config(documents(folder))
    problems = []
    if config.get("default.topic.config.retention.ms") != "-1":
        problems.append("the broker's topic must be kept forever (retention.ms -1)")
    insync = int(config.get("default.topic.config.min.insync.replicas", "1"))
    replicas = int(config["default.topic.replication.factor"])
    if insync < 2 or replicas <= insync:
        problems.append(f"min.insync.replicas {insync} of {replicas}: needs 2 of 3 or more")
    return problems


def kafka_security_problems(folder: Path) -> list[str]:
    """The broker and the dead-letter KafkaSink reach the same Kafka over TLS, with the
    SASL credentials of one Secret, and the sink makes its topic as durable as the log."""
    docs = documents(folder)
    config = broker_config(docs)
    servers = config["bootstrap.servers"].split(",")
    problems = []
    if config.get("auth.secret.ref.name") != SASL_SECRET:
        problems.append(f"the broker's config must name the Secret {SASL_SECRET}")
    for sink in of_kind(docs, "KafkaSink"):
        spec, name = sink["spec"], sink["metadata"]["name"]
        if spec.get("auth", {}).get("secret", {}).get("ref", {}).get("name") != SASL_SECRET:
            problems.append(f"KafkaSink {name} must name the Secret {SASL_SECRET}")
        if spec["bootstrapServers"] != servers:
            problems.append(f"KafkaSink {name} reaches other Kafka servers than the broker")
        if spec.get("replicationFactor") != int(config["default.topic.replication.factor"]):
            problems.append(f"KafkaSink {name}: replicationFactor unlike the broker's topic")
        if not spec.get("numPartitions"):
            problems.append(f"KafkaSink {name}: without numPartitions its topic is not made")
    problems += [
        f"{server} is not Kafka's TLS listener"
        for server in servers
        if not server.endswith(f":{KAFKA_TLS_PORT}")
    ]
    return problems


def senders(docs: list[Document]) -> dict[str, set[str]]:
    """Knative Service -> the Triggers that deliver to it (as subscriber or dead letter)."""
    found: dict[str, set[str]] = {}
    for trigger in of_kind(docs, "Trigger"):
        spec = trigger["spec"]
        dead_letter = spec.get("delivery", {}).get("deadLetterSink", {})
        for destination in (spec["subscriber"], dead_letter):
            ref = destination.get("ref", {})
            if ref.get("kind") == "Service":
                found.setdefault(ref["name"], set()).add(trigger["metadata"]["name"])
    return found


def allowed(docs: list[Document], to_kind: str, from_kind: str) -> dict[str, set[str]]:
    """Target name -> the senders of `from_kind` that EventPolicies let deliver to it."""
    found: dict[str, set[str]] = {}
    for policy in of_kind(docs, "EventPolicy"):
        spec = policy["spec"]
        targets = [t["ref"]["name"] for t in spec.get("to", []) if t["ref"]["kind"] == to_kind]
        names = {f["ref"]["name"] for f in spec.get("from", []) if f["ref"]["kind"] == from_kind}
        for target in targets:
            found.setdefault(target, set()).update(names)
    return found


def event_policy_problems(folder: Path) -> list[str]:
    """Each function hears exactly the Triggers that deliver to it; the Broker hears
    only the functions the SinkBinding makes publishers."""
    docs = documents(folder)
    problems = []
    expected, granted = senders(docs), allowed(docs, "Service", "Trigger")
    for service in sorted(expected.keys() | granted.keys()):
        if expected.get(service) != granted.get(service):
            problems.append(
                f"{service}: Triggers {sorted(expected.get(service, []))} deliver, "
                f"EventPolicies allow {sorted(granted.get(service, []))}"
            )
    bindings = {
        b["metadata"]["name"] for b in of_kind(documents(PROJECT_ROOT / "knative"), "SinkBinding")
    }
    brokers = {b["metadata"]["name"] for b in of_kind(docs, "Broker")}
    publishers = allowed(docs, "Broker", "SinkBinding")
    if set(publishers) != brokers or any(names != {PUBLISHERS} for names in publishers.values()):
        problems.append(f"the Broker must hear the SinkBinding {PUBLISHERS} only: {publishers}")
    if PUBLISHERS not in bindings:
        problems.append(f"knative/ has no SinkBinding {PUBLISHERS}")
    return problems


def network_policy_problems(folder: Path) -> list[str]:
    """Every pod in chatfn refuses connections but those from Knative's data plane."""
    policies = of_kind(documents(folder), "NetworkPolicy")
    problems = []
    deny_all = [
        p
        for p in policies
        if p["spec"]["podSelector"] == {}
        and "Ingress" in p["spec"].get("policyTypes", [])
        and not p["spec"].get("ingress")
    ]
    if not deny_all:
        problems.append("no policy refuses every connection to every pod by default")
    for policy in policies:
        name = policy["metadata"]["name"]
        if policy["metadata"].get("namespace") != NAMESPACE:
            problems.append(f"{name} is not in namespace {NAMESPACE}")
        for rule in policy["spec"].get("ingress", []):
            peers = rule.get("from")
            if not peers:
                problems.append(f"{name} lets in every pod and address")
            for peer in peers or []:
                namespace = peer.get("namespaceSelector", {}).get("matchLabels", {})
                apps = peer_apps(peer.get("podSelector"))
                known = DATA_PLANE.get(namespace.get("kubernetes.io/metadata.name", ""), set())
                if "ipBlock" in peer or apps is None or not apps <= known:
                    problems.append(f"{name} lets in a peer outside Knative's data plane: {peer}")
    return problems


def peer_apps(selector: dict[str, Any] | None) -> set[str] | None:
    """The `app` labels a pod selector is limited to; None when it is not limited."""
    if not selector:
        return None
    apps = {selector["matchLabels"]["app"]} if "app" in selector.get("matchLabels", {}) else None
    for expression in selector.get("matchExpressions", []):
        if expression["key"] == "app" and expression["operator"] == "In":
            apps = set(expression["values"])
    return apps


def worst_case_s(delivery: Delivery) -> float:
    """From the first attempt to the last one's end, when every attempt times out."""
    backoffs = sum(delivery.backoff_s(n) for n in range(1, delivery.retry + 1))
    return (delivery.retry + 1) * delivery.timeout_s + backoffs


def found_under(node: Any, key: str) -> Iterator[Any]:
    """Every value of `key` at any depth of parsed HCL or YAML."""
    if isinstance(node, dict):
        for name, value in node.items():
            if name == key:
                yield value
            yield from found_under(value, key)
    elif isinstance(node, list):
        for item in node:
            yield from found_under(item, key)


def register_waits_s(terraform: Path) -> float:
    """How long `api` waits for a sign-up, at the shortest: the Settings default, what the
    root gives tuning.register_timeout_s, or what an environment's tfvars sets (should it
    become a variable)."""
    waits: list[float] = [Settings.model_fields["register_timeout_s"].default]
    paths = [*(terraform / "live").glob("*.tf"), *(terraform / "environments").rglob("*.tfvars")]
    for path in sorted(paths):
        waits += found_under(hcl2.loads(path.read_text()), "register_timeout_s")
    return min(waits)


def sign_up_budget_problems(folder: Path) -> list[str]:
    """`api` waits REGISTER_TIMEOUT_S for a sign-up: a first attempt that times out must
    leave a whole second one within it, every attempt must still find the hash in Redis
    (HANDOFF_TTL_S), and the result's delivery is only wanted while someone waits."""
    waits_s = register_waits_s(folder.parent / "terraform")  # the checkout's, beside eventing/
    triggers = {trigger.name: trigger.delivery for trigger in load_eventing(folder).triggers}
    command, result = triggers[REGISTER_COMMAND], triggers[REGISTER_RESULT]
    problems = []
    if 2 * command.timeout_s + command.backoff_s(1) >= waits_s:
        problems.append(f"{REGISTER_COMMAND}: no second attempt within {waits_s} s")
    if worst_case_s(command) >= HANDOFF_TTL_S:
        problems.append(f"{REGISTER_COMMAND}: attempts go on after the hash is gone")
    if worst_case_s(result) > waits_s:
        problems.append(f"{REGISTER_RESULT}: retries after the sign-up gave up")
    return problems


RULES: dict[str, Callable[[Path], list[str]]] = {
    "schema": schema_problems,
    "retention": retention_problems,
    "kafka security": kafka_security_problems,
    "event policies": event_policy_problems,
    "network policies": network_policy_problems,
    "sign-up budget": sign_up_budget_problems,
}


@pytest.mark.parametrize("rule", RULES)
def test_eventing_keeps_the_rule(rule: str) -> None:
    assert RULES[rule](EVENTING) == []


# A broken copy of eventing/ per rule: (file, text, replacement).
BREAKAGES: dict[str, list[tuple[str, str, str]]] = {
    "schema": [
        ("300-trigger-titles.yaml", "backoffDelay", "backofDelay"),
        ("300-trigger-titles.yaml", "timeout:", "timout:"),
        ("200-kafka-sink-dead-letter.yaml", "numPartitions", "numPartition"),
        ("200-kafka-sink-dead-letter.yaml", "contentMode: binary", "contentMode: json"),
        ("200-broker.yaml", "deadLetterSink", "deadLetterSnk"),
        ("300-pingsource-webhooks-sweep.yaml", "contentType", "contenType"),
        ("oidc/400-eventpolicy-titles.yaml", "  from:", "  form:"),
        ("500-networkpolicy-functions.yaml", "policyTypes", "policyType"),
        ("100-namespace.yaml", "kind: Namespace", "kind: Namespaces"),
    ],
    "retention": [
        ("100-config-kafka-broker.yaml", 'retention.ms: "-1"', 'retention.ms: "604800000"'),
        ("100-config-kafka-broker.yaml", 'min.insync.replicas: "2"', 'min.insync.replicas: "1"'),
    ],
    "kafka security": [
        ("100-config-kafka-broker.yaml", "auth.secret.ref.name", "# auth.secret.ref.name"),
        ("200-kafka-sink-dead-letter.yaml", "name: chatfn-kafka-sasl", "name: kafka"),
        ("200-kafka-sink-dead-letter.yaml", "kafka:9093", "kafka:9092"),
        ("200-kafka-sink-dead-letter.yaml", "replicationFactor: 3", "replicationFactor: 1"),
    ],
    "event policies": [
        ("oidc/400-eventpolicy-titles.yaml", "name: titles-on-reply-completed", "name: other"),
        ("oidc/400-eventpolicy-broker.yaml", "name: functions-publish-to-broker", "name: x"),
    ],
    "network policies": [
        (
            "500-networkpolicy-deny-all.yaml",
            "podSelector: {}",
            "podSelector: {matchLabels: {a: b}}",
        ),
        (
            "500-networkpolicy-functions.yaml",
            "metadata.name: knative-serving",
            "metadata.name: chatfn",
        ),
        ("500-networkpolicy-functions.yaml", "autoscaler, 3scale", "autoscaler, x, 3scale"),
    ],
    "sign-up budget": [
        ("300-trigger-register-user.yaml", "timeout: PT4S", "timeout: PT5S"),
        ("300-trigger-register-user.yaml", "retry: 8", "retry: 30"),
        ("300-trigger-api-register-result.yaml", "timeout: PT2S", "timeout: PT5S"),
    ],
}


@pytest.mark.parametrize(
    ("rule", "file", "text", "replacement"),
    [(rule, *breakage) for rule, breakages in BREAKAGES.items() for breakage in breakages],
)
def test_a_broken_copy_breaks_the_rule(
    tmp_path: Path, rule: str, file: str, text: str, replacement: str
) -> None:
    copy = Path(shutil.copytree(EVENTING, tmp_path / "eventing"))
    original = (copy / file).read_text()
    assert text in original, f"the breakage no longer applies to {file}"
    (copy / file).write_text(original.replace(text, replacement))

    assert RULES[rule](copy) != []


def test_a_root_that_waits_less_for_a_sign_up_is_held_to_it(tmp_path: Path) -> None:
    copy = Path(shutil.copytree(EVENTING, tmp_path / "eventing"))
    root = tmp_path / "terraform" / "live"
    root.mkdir(parents=True)
    (root / "main.tf").write_text('module "chatfn" {\n  tuning = { register_timeout_s = 5 }\n}\n')

    assert register_waits_s(tmp_path / "terraform") == 5
    assert sign_up_budget_problems(copy) != []


def test_an_environment_that_waits_less_for_a_sign_up_is_held_to_it(tmp_path: Path) -> None:
    copy = Path(shutil.copytree(EVENTING, tmp_path / "eventing"))
    environment = tmp_path / "terraform" / "environments" / "impatient"
    environment.mkdir(parents=True)
    (environment / "terraform.tfvars").write_text("register_timeout_s = 5\n")

    assert register_waits_s(tmp_path / "terraform") == 5
    assert sign_up_budget_problems(copy) != []


def test_every_rule_is_shown_failing() -> None:
    assert set(BREAKAGES) == set(RULES)
