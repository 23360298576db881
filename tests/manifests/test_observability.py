"""observability/ checked offline with Debian's promtool: the rule file is valid, its unit
tests pass and give every alert one test that fires it and one that keeps it quiet, every
alert says how bad it is and what to do, every dashboard and rule expression parses as
PromQL, every chatfn_/kafka_ series they name is one that chatfn's instruments or the
Kafka Exporter export, and Terraform deploys these very files. Each check also runs on a
broken copy, which it must refuse."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path
from typing import Any

import hcl2
import pytest
import yaml

from chatfn.local.provision import PROJECT_ROOT

# Strimzi's Kafka Exporter in production; the local broker exports the same series.
KAFKA_SERIES = {"kafka_consumergroup_lag", "kafka_topic_partition_current_offset"}
# Records each of chatfn's instruments once and prints the sample names a process's
# /metrics then serves (OpenTelemetry's Prometheus exporter, as the local stack runs it).
EXPORT = """
from opentelemetry import metrics
from opentelemetry.exporter.prometheus import PrometheusMetricReader
from opentelemetry.metrics import Counter, Histogram, UpDownCounter
from opentelemetry.sdk.metrics import MeterProvider
from prometheus_client import REGISTRY, generate_latest
from prometheus_client.parser import text_string_to_metric_families

metrics.set_meter_provider(MeterProvider(metric_readers=[PrometheusMetricReader()]))
from chatfn.telemetry import instruments

for instrument in vars(instruments).values():
    if isinstance(instrument, Histogram):
        instrument.record(1)
    elif isinstance(instrument, (Counter, UpDownCounter)):
        instrument.add(1)
for family in text_string_to_metric_families(generate_latest(REGISTRY).decode()):
    print(*(sample.name for sample in family.samples))
"""
OWN_PREFIXES = ("chatfn_", "kafka_")
SEVERITIES = {"warning", "critical"}
ANNOTATIONS = {"summary", "description", "runbook"}
# Grafana's interval variables become a duration, any other variable a regex (they only
# stand in label matchers); $1 in label_replace is no variable.
GRAFANA_VARIABLE = re.compile(r"\$(?:\{([A-Za-z_]\w*)\}|([A-Za-z_]\w*))")
INTERVALS = {"__rate_interval", "__interval", "__range"}
LABEL_VALUES = re.compile(r"label_values\((.+),\s*\w+\)")
STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
IDENTIFIER = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")
DATASOURCE = "${datasource}"
PLATFORM = Path("terraform/modules/platform")


def rule_file(root: Path) -> Path:
    return root / "observability" / "rules" / "chatfn.rules.yaml"


def rule_tests(root: Path) -> list[Path]:
    return sorted((root / "observability" / "rules" / "tests").glob("*.yaml"))


def dashboard_files(root: Path) -> list[Path]:
    return sorted((root / "observability" / "dashboards").glob("*.json"))


def promtool(*args: str | Path) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("promtool")
    if binary is None:
        pytest.fail("promtool is missing: ./task setup:prometheus installs Debian's prometheus")
    return subprocess.run(
        [binary, *map(str, args)], capture_output=True, text=True, check=False, timeout=120
    )


def rules(root: Path) -> list[dict[str, Any]]:
    groups = yaml.safe_load(rule_file(root).read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def alerts(root: Path) -> dict[str, dict[str, Any]]:
    return {rule["alert"]: rule for rule in rules(root) if "alert" in rule}


def panels(nodes: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Every panel, those inside collapsed rows too."""
    for panel in nodes:
        yield panel
        yield from panels(panel.get("panels", []))


def variable_queries(dashboard: dict[str, Any]) -> list[str]:
    """The selector inside each query variable's label_values(...)."""
    queries = []
    for variable in dashboard["templating"]["list"]:
        if variable["type"] != "query":
            continue
        query = variable["query"]
        text = query["query"] if isinstance(query, dict) else query
        queries.append(match[1] if (match := LABEL_VALUES.fullmatch(text)) else text)
    return queries


def dashboard_queries(dashboard: dict[str, Any]) -> list[str]:
    targets = [
        target for panel in panels(dashboard["panels"]) for target in panel.get("targets", [])
    ]
    return [target["expr"] for target in targets] + variable_queries(dashboard)


def as_promql(query: str) -> str:
    """A dashboard query as Prometheus would get it from Grafana."""

    def value(match: re.Match[str]) -> str:
        return "5m" if (match[1] or match[2]) in INTERVALS else ".*"

    return GRAFANA_VARIABLE.sub(value, query)


def all_queries(root: Path) -> list[str]:
    from_dashboards = [
        as_promql(query)
        for path in dashboard_files(root)
        for query in dashboard_queries(json.loads(path.read_text()))
    ]
    return [rule["expr"] for rule in rules(root)] + from_dashboards


def rule_problems(root: Path) -> list[str]:
    checked = promtool("check", "rules", rule_file(root))
    return [] if checked.returncode == 0 else [checked.stdout + checked.stderr]


def coverage(test_file: Path) -> Iterator[tuple[str, bool]]:
    """(alert, fires) for each test of a promtool test file: fires when some evaluation
    expects the alert, quiet when every evaluation of it expects none."""
    for test in yaml.safe_load(test_file.read_text())["tests"]:
        expected: dict[str, bool] = {}
        for evaluation in test.get("alert_rule_test", []):
            name = evaluation["alertname"]
            expected[name] = expected.get(name, False) or bool(evaluation.get("exp_alerts"))
        yield from expected.items()


def rule_test_problems(root: Path) -> list[str]:
    files = rule_tests(root)
    if not files:
        return ["no promtool test file"]
    problems = [
        f"{path.name} tests another rule file: {name}"
        for path in files
        for name in yaml.safe_load(path.read_text())["rule_files"]
        if (path.parent / name).resolve() != rule_file(root).resolve()
    ]
    tested = {case for path in files for case in coverage(path)}
    for alert in alerts(root):
        problems += [f"{alert}: no test that fires it"] * ((alert, True) not in tested)
        problems += [f"{alert}: no test that keeps it quiet"] * ((alert, False) not in tested)
    ran = promtool("test", "rules", *files)
    return problems + ([] if ran.returncode == 0 else [ran.stdout + ran.stderr])


def alert_problems(root: Path) -> list[str]:
    problems = []
    for name, alert in alerts(root).items():
        if alert.get("labels", {}).get("severity") not in SEVERITIES:
            problems.append(f"{name}: severity is none of {sorted(SEVERITIES)}")
        if missing := ANNOTATIONS - set(alert.get("annotations", {})):
            problems.append(f"{name}: no {', '.join(sorted(missing))}")
        if "for" not in alert:
            problems.append(f"{name}: fires on one evaluation (no for:)")
    return problems


def parse_problems(queries: list[str]) -> list[str]:
    """promtool parses each query, given as a recording rule."""
    recorded = [{"record": f"query:{n}", "expr": query} for n, query in enumerate(queries)]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "queries.yaml"
        path.write_text(yaml.safe_dump({"groups": [{"name": "queries", "rules": recorded}]}))
        checked = promtool("check", "rules", path)
    return [] if checked.returncode == 0 else [checked.stdout + checked.stderr]


def dashboard_problems(root: Path) -> list[str]:
    if not dashboard_files(root):
        return ["no dashboard"]
    problems = []
    for path in dashboard_files(root):
        dashboard = json.loads(path.read_text())
        name = path.name
        if dashboard.get("schemaVersion", 0) < 39:
            problems.append(f"{name}: schemaVersion below 39")
        variables = {variable["name"]: variable for variable in dashboard["templating"]["list"]}
        source = variables.get("datasource", {})
        if (source.get("type"), source.get("query")) != ("datasource", "prometheus"):
            problems.append(f"{name}: no Prometheus datasource variable")
        every = list(panels(dashboard["panels"]))
        ids = [panel["id"] for panel in every]
        if len(ids) != len(set(ids)):
            problems.append(f"{name}: two panels share an id")
        queried = [
            thing
            for panel in every
            if panel["type"] != "row"
            for thing in [panel, *panel["targets"]]
        ] + [variable for variable in variables.values() if variable["type"] == "query"]
        problems += [
            f"{name}: {thing.get('title', thing.get('refId', thing.get('name')))} "
            f"reads {thing.get('datasource')}, not ${{datasource}}"
            for thing in queried
            if thing.get("datasource", {}).get("uid") != DATASOURCE
        ]
        problems += [
            f"{name}: {p}"
            for p in parse_problems(list(map(as_promql, dashboard_queries(dashboard))))
        ]
    return problems


def series_named(query: str) -> set[str]:
    """The chatfn_/kafka_ identifiers of a query, outside its strings."""
    return {
        token
        for token in IDENTIFIER.findall(STRING.sub('""', query))
        if token.startswith(OWN_PREFIXES)
    }


@cache
def chatfn_series() -> frozenset[str]:
    """The series src/chatfn/telemetry/instruments.py gives, read in a process of its own
    (a meter provider can be set once per process)."""
    exported = subprocess.run(
        [sys.executable, "-c", EXPORT], capture_output=True, text=True, check=True, timeout=60
    )
    return frozenset(name for name in exported.stdout.split() if name.startswith("chatfn_"))


def metric_name_problems(root: Path) -> list[str]:
    named = set().union(*map(series_named, all_queries(root)))
    known = chatfn_series() | KAFKA_SERIES
    return [f"{name} is no series chatfn exports" for name in sorted(named - known)]


def resource(blocks: dict[str, Any], kind: str, name: str) -> dict[str, Any]:
    for block in blocks.get("resource", []):
        for rkind, named in block.items():
            if rkind.strip('"') == kind and f'"{name}"' in named:
                body: dict[str, Any] = named[f'"{name}"']
                return body
    return {}


def terraform_problems(root: Path) -> list[str]:
    """The platform module wraps observability/'s rule file in a PrometheusRule and each
    dashboard in a ConfigMap Grafana's sidecar loads, the collector has the name the
    functions push to, and Strimzi exports what the dashboards and alerts read."""
    module = root / PLATFORM
    blocks = hcl2.loads((module / "observability.tf").read_text())
    local = {name: value for block in blocks["locals"] for name, value in block.items()}
    folder = re.fullmatch(r'"\$\{path\.module\}/([^"]+)"', local.get("observability", ""))
    if folder is None or (module / folder[1]).resolve() != (root / "observability").resolve():
        return ["local.observability is not the repository's observability/"]
    problems = []
    rule_body = resource(blocks, "kubectl_manifest", "chatfn_rules").get("yaml_body", "")
    if 'spec = yamldecode(file("${local.observability}/rules/chatfn.rules.yaml"))' not in rule_body:
        problems.append("the PrometheusRule's spec is not observability/rules/chatfn.rules.yaml")
    config_map = resource(blocks, "kubernetes_config_map_v1", "dashboards")
    if config_map.get("for_each") != '${fileset("${local.observability}/dashboards", "*.json")}':
        problems.append("the dashboard ConfigMaps are not one per observability/dashboards/*.json")
    if (
        '${file("${local.observability}/dashboards/${each.key}")}'
        not in config_map.get("data", {}).values()
    ):
        problems.append("a dashboard ConfigMap does not hold its file")
    labels = {
        key: value.strip('"')
        for metadata in config_map.get("metadata", [])
        for key, value in metadata.get("labels", {}).items()
    }
    stack = resource(blocks, "helm_release", "kube_prometheus_stack")["values"][0]
    sidecar = re.search(
        r'dashboards = \{enabled = true, label = "(\w+)", labelValue = "(\w+)"', stack
    )
    if sidecar is None or labels.get(sidecar[1]) != sidecar[2]:
        problems.append("Grafana's dashboard sidecar is off or looks for another label")
    collector = resource(blocks, "helm_release", "otel_collector")["values"][0]
    if local.get("otel_collector") != '"otel-collector"' or (
        "fullnameOverride = local.otel_collector" not in collector
    ):
        problems.append("the collector's Service is not otel-collector")
    kafka = hcl2.loads((module / "kafka.tf").read_text())
    if "kafkaExporter = {" not in resource(kafka, "kubectl_manifest", "kafka").get("yaml_body", ""):
        problems.append("Strimzi's Kafka Exporter is off: no kafka_* series")
    return problems


CHECKS: list[Callable[[Path], list[str]]] = [
    rule_problems,
    rule_test_problems,
    alert_problems,
    dashboard_problems,
    metric_name_problems,
    terraform_problems,
]


@pytest.mark.parametrize("check", CHECKS, ids=lambda check: check.__name__)
def test_observability_holds(check: Callable[[Path], list[str]]) -> None:
    assert check(PROJECT_ROOT) == []


RULES, DASHBOARD = "rules/chatfn.rules.yaml", "dashboards/chat-path.json"
UNTESTED = """  - name: chatfn-functions
    rules:
      - alert: ChatfnUntested
        expr: vector(1)
        for: 1m
        labels: {severity: warning}
        annotations: {summary: s, description: d, runbook: r}
"""
# One deliberate mistake per check, made in a copy: (check, file under observability/ or
# terraform/modules/platform/, text, replacement).
BREAKAGES = [
    (rule_problems, RULES, "> 0.05", "> > 0.05"),
    (rule_test_problems, RULES, ") > 2\n", ") > 5\n"),
    (rule_test_problems, RULES, "for: 10m", "for: 4m"),
    (rule_test_problems, RULES, "  - name: chatfn-functions\n    rules:\n", UNTESTED),
    (rule_test_problems, "rules/tests/consumer_lag_high.yaml", "../chatfn", "chatfn"),
    (alert_problems, RULES, "severity: critical", "severity: page"),
    (alert_problems, RULES, "        for: 1m\n", ""),
    (alert_problems, RULES, "          runbook:", "          hint:"),
    (dashboard_problems, DASHBOARD, '"schemaVersion": 39', '"schemaVersion": 36'),
    (dashboard_problems, DASHBOARD, '"uid": "${datasource}"', '"uid": "prometheus"'),
    (dashboard_problems, DASHBOARD, "sum(chatfn_sse_open_streams)", "sum(chatfn_sse_open_streams"),
    (metric_name_problems, DASHBOARD, "chatfn_sse_open_streams", "chatfn_sse_streams_open"),
    (metric_name_problems, RULES, "kafka_consumergroup_lag)", "kafka_consumer_group_lag)"),
    (terraform_problems, "observability.tf", "rules/chatfn.rules.yaml", "rules/chatfn.yaml"),
    (terraform_problems, "observability.tf", '"*.json"', '"*.yaml"'),
    (
        terraform_problems,
        "observability.tf",
        'grafana_dashboard = "1"',
        'grafana_dashboard = "true"',
    ),
    (
        terraform_problems,
        "observability.tf",
        'otel_collector = "otel-collector"',
        'otel_collector = "otel"',
    ),
    (terraform_problems, "kafka.tf", "kafkaExporter = {", "cruiseControl = {"),
]


@pytest.mark.parametrize(
    ("check", "file", "text", "replacement"),
    BREAKAGES,
    ids=[f"{check.__name__}:{file}:{text.strip()[:30]}" for check, file, text, _ in BREAKAGES],
)
def test_a_broken_copy_is_refused(
    check: Callable[[Path], list[str]], file: str, text: str, replacement: str, tmp_path: Path
) -> None:
    shutil.copytree(PROJECT_ROOT / "observability", tmp_path / "observability")
    shutil.copytree(PROJECT_ROOT / PLATFORM, tmp_path / PLATFORM)
    folder = PLATFORM if file.endswith(".tf") else Path("observability")
    broken = tmp_path / folder / file
    original = broken.read_text()
    assert text in original
    broken.write_text(original.replace(text, replacement, 1))

    assert check(tmp_path) != []
