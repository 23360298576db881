"""terraform/ read with python-hcl2, no terraform binary: every file parses, the one root
(terraform/live) gives every module exactly the inputs it declares, each environment's
terraform.tfvars sets exactly the root's variables that have no default and its backend.hcl
a state of its own, every setting reaches the cluster once (ConfigMap chatfn-config, Secret
chatfn-secrets or knative/), the CDN sends web/security-headers.json and every public
prefix of chatfn.routes to the edge, never cached, Knative's maximum revision timeout
holds every Service, versions are pinned, and every secret variable is sensitive. Each
check also runs on a broken copy, which it must refuse."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import hcl2
import pytest
import yaml

from chatfn import routes
from chatfn.local.provision import PROJECT_ROOT
from chatfn.settings import SECRET_VARIABLES, Settings, TelemetrySettings

# Settings neither chatfn-config, chatfn-secrets nor a knative/ manifest sets, each with why.
NOT_IN_THE_CLUSTER = {
    "CHATFN_HOME": "the local stack's state folder",
    "CHATFN_PORT": "the dev gateway's port",
    "CHATFN_EVENTING_DIR": "the YAML the local broker obeys",
    "CHATFN_WEB_DIR": "the build the dev gateway serves and an operator publishes",
    "K_SINK": "the SinkBinding sets it in each pod",
    "CHATFN_TELEMETRY": "whether the local stack records spans and serves /metrics",
    "CHATFN_PROMETHEUS": "whether the local stack runs a Prometheus",
    "CHATFN_KAFKA_STORAGE": "where the local Kafka keeps its log",
    "CHATFN_PING_EVERY_S": "how often the local broker fires every PingSource, in tests",
    "CHATFN_MODEL_SETUP": "what installs the local model server (llama.cpp)",
    "TRACES_DIR": "the local stack's traces (production pushes them to the collector)",
    "METRICS_PORT": "the local stack's /metrics (production pushes them to the collector)",
    "OTEL_SERVICE_NAME": "the function's FUNCTION_TARGET unless set",
}
# Root variables no terraform.tfvars sets, each with why: they come from the operator's shell
# (TF_VAR_...), and a secret never goes to Git.
FROM_THE_OPERATOR = {
    "kube_context": "the name of the cluster in the operator's own kubeconfig",
    "keycloak_admin_password": "a secret, read from the store (README, Deploy)",
    "cloudflare_api_token": "a secret, the operator's",
}
# Where an environment's state is: its backend.hcl must say each.
BACKEND_SETTINGS = {"bucket", "key", "region"}
# Arguments of a module block that are Terraform's, not the module's inputs.
META_ARGUMENTS = {"source", "version", "providers", "depends_on", "count", "for_each"}
# Variable names that hold credentials (secret_stores names stores: it holds none).
SECRET_NAME = re.compile(r"(password|token|credentials?|(^|_)secret|(^|_)key)$")
EXACT_VERSION = re.compile(r"v?\d+\.\d+\.\d+")

Blocks = dict[str, list[Any]]


@cache
def parse(text: str) -> Blocks:
    parsed: Blocks = hcl2.loads(text)
    return parsed


def unquote(value: Any) -> Any:
    """hcl2 keeps string literals quoted and block labels too."""
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


def folder(path: Path) -> Blocks:
    """Every top-level block of a Terraform module (one folder of .tf files)."""
    merged: Blocks = {}
    for file in sorted(path.glob("*.tf")):
        for kind, blocks in parse(file.read_text()).items():
            merged.setdefault(kind, []).extend(blocks)
    return merged


def labelled(blocks: Blocks, kind: str) -> dict[str, dict[str, Any]]:
    """`variable "x" {...}` blocks (one label) as {x: body}."""
    return {unquote(label): body for block in blocks.get(kind, []) for label, body in block.items()}


def resources(blocks: Blocks, kind: str) -> dict[str, dict[str, Any]]:
    """`resource "kind" "name" {...}` blocks of one kind as {name: body}."""
    return {
        unquote(name): body
        for block in blocks.get("resource", [])
        for rkind, named in block.items()
        if unquote(rkind) == kind
        for name, body in named.items()
    }


def local_values(blocks: Blocks) -> dict[str, Any]:
    return {
        name: value
        for block in blocks.get("locals", [])
        for name, value in block.items()
        if not name.startswith("__")
    }


def modules(root: Path) -> list[Path]:
    return sorted(path for path in (root / "terraform" / "modules").iterdir() if path.is_dir())


def live(root: Path) -> Path:
    """The one root every environment applies with its own values."""
    return root / "terraform" / "live"


def environments(root: Path) -> list[Path]:
    return sorted(path for path in (root / "terraform" / "environments").iterdir() if path.is_dir())


def attributes(file: Path) -> dict[str, Any]:
    """The assignments of a .tfvars or backend .hcl file ({} when it is missing)."""
    if not file.is_file():
        return {}
    return {
        name: value for name, value in parse(file.read_text()).items() if not name.startswith("__")
    }


def parse_problems(root: Path) -> list[str]:
    problems = []
    files = [*(root / "terraform").rglob("*.tf"), *(root / "terraform").rglob("*.tfvars")]
    for file in sorted([*files, *(root / "terraform" / "environments").rglob("*.hcl")]):
        try:
            parse(file.read_text())
        except Exception as error:  # lark's errors share no base class worth naming
            problems.append(f"{file.relative_to(root)}: {type(error).__name__}")
    return problems


def wiring_problems(root: Path, caller: Path | None = None) -> list[str]:
    """The root (or `caller`, another root) gives each module every input it requires and
    none it lacks, and uses every module."""
    caller = caller or live(root)
    problems = []
    calls = labelled(folder(caller), "module")
    for name, call in calls.items():
        source = (caller / unquote(call["source"])).resolve()
        declared = labelled(folder(source), "variable")
        required = {variable for variable, body in declared.items() if "default" not in body}
        given = {key for key in call if not key.startswith("__")} - META_ARGUMENTS
        problems += [f"{caller.name}: {name} lacks {key}" for key in required - given]
        problems += [f"{caller.name}: {name} has no input {key}" for key in given - set(declared)]
    unused = {path.name for path in modules(root)} - {
        Path(unquote(call["source"])).name for call in calls.values()
    }
    problems += [f"{caller.name}: module {module} not used" for module in unused]
    return problems


def tfvars_problems(root: Path) -> list[str]:
    """Each environment's terraform.tfvars sets every root variable without a default (but
    those FROM_THE_OPERATOR) and nothing the root does not declare."""
    declared = labelled(folder(live(root)), "variable")
    required = {name for name, body in declared.items() if "default" not in body}
    problems = [
        f"{name} is FROM_THE_OPERATOR but no root variable"
        for name in sorted(set(FROM_THE_OPERATOR) - set(declared))
    ]
    if not environments(root):
        problems.append("no environment")
    for environment in environments(root):
        given = set(attributes(environment / "terraform.tfvars"))
        problems += [
            f"{environment.name}: {name} not set"
            for name in sorted(required - given - set(FROM_THE_OPERATOR))
        ]
        problems += [
            f"{environment.name}: {name} is no root variable"
            for name in sorted(given - set(declared))
        ]
        problems += [
            f"{environment.name}: {name} comes from the operator's shell, not Git"
            for name in sorted(given & set(FROM_THE_OPERATOR))
        ]
    return problems


def backend_problems(root: Path) -> list[str]:
    """The root's S3 backend is partial (encrypted and locked, nowhere in particular); each
    environment's backend.hcl says where its state is, and no two share one."""
    backends = [
        body
        for terraform in folder(live(root)).get("terraform", [])
        for backend in terraform.get("backend", [])
        for kind, body in backend.items()
        if unquote(kind) == "s3"
    ]
    if len(backends) != 1:
        return [f"the root has {len(backends)} S3 backends, not one"]
    problems = [
        f"the root's backend sets {name}" for name in sorted(BACKEND_SETTINGS & set(backends[0]))
    ]
    problems += [
        f"the root's backend lacks {name} = true"
        for name in ("encrypt", "use_lockfile")
        if backends[0].get(name) is not True
    ]
    states: dict[tuple[str, str], str] = {}
    for environment in environments(root):
        backend = attributes(environment / "backend.hcl")
        problems += [
            f"{environment.name}: backend.hcl lacks {name}"
            for name in sorted(BACKEND_SETTINGS - set(backend))
        ]
        state = (unquote(backend.get("bucket")), unquote(backend.get("key")))
        if (other := states.setdefault(state, environment.name)) != environment.name:
            problems.append(f"{environment.name}: backend.hcl shares {other}'s state")
    return problems


def literal_env(node: Any) -> set[str]:
    """Names of every `env` entry with a literal value, anywhere in a manifest."""
    if isinstance(node, list):
        return set().union(*(literal_env(item) for item in node))
    if not isinstance(node, dict):
        return set()
    found = {e["name"] for e in node.get("env", []) if "value" in e}
    return found.union(*(literal_env(value) for value in node.values()))


def set_by_manifests(root: Path) -> set[str]:
    """Variables a knative/ manifest sets itself (FUNCTION_TARGET, CHATFN_MODE...)."""
    return set().union(
        *(
            literal_env(document)
            for path in (root / "knative").glob("*.yaml")
            for document in yaml.safe_load_all(path.read_text())
        )
    )


def settings_problems(root: Path) -> list[str]:
    chatfn = local_values(folder(root / "terraform" / "modules" / "chatfn"))
    in_config_map, in_secret = set(chatfn["config"]), set(chatfn["secrets"])
    in_manifests = set_by_manifests(root)
    settings = {
        str(field.alias)
        for model in (Settings, TelemetrySettings)
        for field in model.model_fields.values()
    }
    wanted = settings - set(NOT_IN_THE_CLUSTER)
    return (
        [
            f"{name} is in none of chatfn-config, chatfn-secrets and knative/"
            for name in sorted(wanted - in_config_map - in_secret - in_manifests)
        ]
        + [
            f"{name} is set twice: in chatfn-config and in knative/"
            for name in sorted(in_config_map & in_manifests)
        ]
        + [f"{name} is no setting" for name in sorted((in_config_map | in_secret) - settings)]
        + [
            f"{name} is a secret but in chatfn-config"
            for name in sorted(in_config_map & SECRET_VARIABLES)
        ]
        + [f"chatfn-secrets lacks {name}" for name in sorted(SECRET_VARIABLES - in_secret)]
        + [
            f"{name} is in chatfn-secrets but no secret"
            for name in sorted(in_secret - SECRET_VARIABLES)
        ]
    )


def numbers_named(node: Any, key: str) -> list[int]:
    """Every integer under `key`, anywhere in a manifest."""
    if isinstance(node, list):
        return [n for item in node for n in numbers_named(item, key)]
    if not isinstance(node, dict):
        return []
    own = [node[key]] if isinstance(node.get(key), int) else []
    return own + [n for value in node.values() for n in numbers_named(value, key)]


def revision_timeout_problems(root: Path) -> list[str]:
    """The cluster's maximum stays Knative's default 600 s, and every Service fits in it."""
    knative_tf = (root / "terraform" / "modules" / "platform" / "knative.tf").read_text()
    maximum = re.findall(r'"max-revision-timeout-seconds"\s*=\s*"(\d+)"', knative_tf)
    if maximum != ["600"]:
        return [f"max-revision-timeout-seconds is {maximum}, not once 600"]
    timeouts = [
        n
        for path in (root / "knative").glob("*.yaml")
        for document in yaml.safe_load_all(path.read_text())
        for n in numbers_named(document, "timeoutSeconds")
    ]
    return [f"a Service asks {n} s, above the cluster's 600" for n in timeouts if n > 600]


def tuning_problems(root: Path, caller: Path | None = None) -> list[str]:
    """The knobs the ConfigMap reads are the ones `tuning` declares and the root (or
    `caller`) sets."""
    chatfn = folder(root / "terraform" / "modules" / "chatfn")
    declared = set(re.findall(r"(\w+) = ", labelled(chatfn, "variable")["tuning"]["type"]))
    read = set(re.findall(r"var\.tuning\.(\w+)", json.dumps(local_values(chatfn)["config"])))
    problems = [f"chatfn-config reads tuning.{name}, not declared" for name in read - declared]
    problems += [f"tuning.{name} is declared, never read" for name in declared - read]
    caller = caller or live(root)
    given = set(labelled(folder(caller), "module")["chatfn"]["tuning"]) - {"__is_block__"}
    problems += [f"{caller.name}: tuning.{name} not set" for name in declared - given]
    problems += [f"{caller.name}: tuning.{name} unknown" for name in given - declared]
    return problems


def cdn_header_problems(root: Path) -> list[str]:
    cdn_folder = root / "terraform" / "modules" / "cdn"
    cdn = folder(cdn_folder)
    the_one_source = (root / "web" / "security-headers.json").resolve()
    source = re.fullmatch(
        r'\$\{jsondecode\(file\("\$\{path\.module\}/([^"]+)"\)\)\}',
        local_values(cdn)["security_headers"],
    )
    if source is None or (cdn_folder / source[1]).resolve() != the_one_source:
        return ["local.security_headers is not jsondecode(file(web/security-headers.json))"]
    headers = json.loads(the_one_source.read_text())
    if not headers:
        return ["web/security-headers.json names no header"]
    ruleset = resources(cdn, "cloudflare_ruleset")["security_headers"]
    rules = [rule for rule in ruleset["rules"] if unquote(rule["action"]) == "rewrite"]
    dynamic = [
        block[label]
        for rule in rules
        for parameters in rule["action_parameters"]
        for block in parameters.get("dynamic", [])
        for label in block
        if unquote(label) == "headers"
    ]
    literal = [h for rule in rules for p in rule["action_parameters"] for h in p.get("headers", [])]
    if unquote(ruleset["phase"]) != "http_response_headers_transform" or not dynamic:
        return ["no response-header rule sets the headers"]
    return [
        f"headers come from {body['for_each']}, not local.security_headers"
        for body in dynamic
        if body["for_each"] != "${local.security_headers}"
    ] + [f"a header is set outside web/security-headers.json: {header}" for header in literal]


def rewritten_path(rule: dict[str, Any]) -> str:
    path: str = rule["action_parameters"][0]["uri"][0]["path"][0].get("value", "")
    return path


def public_prefixes() -> set[str]:
    """The first segment of every path chatfn.routes makes public: `/api/`, `/v1/`..."""
    paths = [route.path for route in routes.ROUTES] + [routes.STORAGE_PREFIX]
    return {f"/{path.split('/')[1]}/" for path in paths}


def edge_prefixes(expression: str) -> set[str] | None:
    """The prefixes of an expression that is only `starts_with(path, "/x/")` terms joined
    by `or`, or None."""
    term = r'starts_with\(raw\.http\.request\.uri\.path, \\"(/[^"\\]*)\\"\)'
    if not re.fullmatch(rf"{term}( or {term})*", expression):
        return None
    return set(re.findall(term, expression))


def cdn_route_problems(root: Path) -> list[str]:
    cdn = folder(root / "terraform" / "modules" / "cdn")
    expressions = local_values(cdn)
    rulesets = resources(cdn, "cloudflare_ruleset")
    problems = []
    prefixes = edge_prefixes(unquote(expressions["edge_paths"]))
    if prefixes != public_prefixes():
        problems.append(f"local.edge_paths names {prefixes}, not {public_prefixes()}")
    if unquote(expressions["edge"]) != "${local.host} and (${local.edge_paths})":
        problems.append("local.edge is not the host's edge_paths")
    if unquote(expressions["ui"]) != "${local.host} and not (${local.edge_paths})":
        problems.append("local.ui is not every other path of the host")
    edge_cache = [
        rule for rule in rulesets["cache"]["rules"] if rule["expression"] == "${local.edge}"
    ]
    if [rule["action_parameters"][0].get("cache") for rule in edge_cache] != [False]:
        problems.append("the edge's paths are not exactly once set never to be cached")
    to_edge = [
        rule for rule in rulesets["origin"]["rules"] if rule["expression"] == "${local.edge}"
    ]
    if [rule["action_parameters"][0]["origin"][0].get("port") for rule in to_edge] != [
        "${local.edge_origin_port}"
    ]:
        problems.append("the edge's paths do not go to Traefik's entry point exactly once")
    if '\\"/assets/\\"' not in expressions["object"]:
        problems.append("assets are not objects: the SPA fallback would answer for them")
    fallback = [
        rule
        for rule in rulesets["rewrite"]["rules"]
        if "not (${local.object})" in rule["expression"]
        and rewritten_path(rule).endswith('/index.html"')
    ]
    if len(fallback) != 1:
        problems.append("no single SPA fallback to index.html outside objects")
    return problems


def pin_problems(root: Path) -> list[str]:
    problems: list[str] = []
    pinned: dict[str, str] = {}
    for path in [*modules(root), live(root)]:
        blocks = folder(path)
        for terraform in blocks.get("terraform", []):
            for required in terraform.get("required_providers", []):
                for name, spec in required.items():
                    if name.startswith("__"):
                        continue
                    version = unquote(spec.get("version", ""))
                    if not EXACT_VERSION.fullmatch(version):
                        problems.append(f"{path.name}: provider {name} not pinned ({version!r})")
                    if pinned.setdefault(unquote(spec["source"]), version) != version:
                        problems.append(f"{path.name}: provider {name} pinned to two versions")
        for name, release in resources(blocks, "helm_release").items():
            version = unquote(release.get("version", ""))
            if not EXACT_VERSION.fullmatch(version):
                problems.append(f"{path.name}: chart of {name} not pinned ({version!r})")
    return problems


def sensitive_problems(root: Path) -> list[str]:
    problems = []
    for path in [*modules(root), live(root)]:
        for name, body in labelled(folder(path), "variable").items():
            if SECRET_NAME.search(name) and body.get("sensitive") is not True:
                problems.append(f"{path.name}: variable {name} holds a secret but is not sensitive")
            if body.get("sensitive") is True and "default" in body:
                problems.append(f"{path.name}: sensitive variable {name} has a default in Git")
    return problems


CHECKS: list[Callable[[Path], list[str]]] = [
    parse_problems,
    wiring_problems,
    tfvars_problems,
    backend_problems,
    settings_problems,
    revision_timeout_problems,
    tuning_problems,
    cdn_header_problems,
    cdn_route_problems,
    pin_problems,
    sensitive_problems,
]


@pytest.mark.parametrize("check", CHECKS, ids=lambda check: check.__name__)
def test_terraform_holds(check: Callable[[Path], list[str]]) -> None:
    assert check(PROJECT_ROOT) == []


STAGING, PRODUCTION = "environments/staging/", "environments/production/"
# One deliberate mistake per check, made in a copy: (check, file, text, replacement).
BREAKAGES = [
    (parse_problems, "modules/platform/kafka.tf", '"strimzi" {', '"strimzi" {{'),
    (wiring_problems, "live/main.tf", "  kafka_replicas ", "  # kafka_replicas "),
    (wiring_problems, "live/main.tf", "kafka_replicas  ", "kafka_replica   "),
    (tfvars_problems, STAGING + "terraform.tfvars", "\nkafka_replicas ", "\n# kafka_replicas "),
    (tfvars_problems, PRODUCTION + "terraform.tfvars", "\nkafka_replicas  ", "\nkafka_replica   "),
    (tfvars_problems, "live/variables.tf", '"domain" {', '"region" {}\nvariable "domain" {'),
    (tfvars_problems, STAGING + "terraform.tfvars", "\ndomain ", '\nkube_context = "x"\ndomain '),
    (backend_problems, PRODUCTION + "backend.hcl", "production/terraform", "staging/terraform"),
    (backend_problems, STAGING + "backend.hcl", "region", "# region"),
    (backend_problems, "live/versions.tf", "    use_lockfile = true\n", ""),
    (backend_problems, "live/versions.tf", "    encrypt ", '    key          = "x"\n    encrypt '),
    (settings_problems, "modules/chatfn/main.tf", "RATE_LIMIT_LOGIN ", "RATE_LIMIT_LOGON "),
    (
        settings_problems,
        "modules/chatfn/secrets.tf",
        "JWT_PREVIOUS_SECRET =",
        "JWT_PREVIOUS =       ",
    ),
    (settings_problems, "modules/chatfn/main.tf", "    SYSTEM_PROMPT ", "    LLM_API_KEY   "),
    (settings_problems, "modules/chatfn/main.tf", "    S3_BUCKET ", "    CHATFN_MODE "),
    (revision_timeout_problems, "modules/platform/knative.tf", '= "600"', '= "300"'),
    (revision_timeout_problems, "../knative/200-stream-reply.yaml", "Seconds: 600", "Seconds: 900"),
    (
        tuning_problems,
        "modules/chatfn/main.tf",
        "var.tuning.rate_limit_ip",
        "var.tuning.rate_limit",
    ),
    (
        tuning_problems,
        "live/main.tf",
        "    oidc_jwks_ttl_s ",
        "    # oidc_jwks_ttl_s ",
    ),
    (cdn_header_problems, "modules/cdn/main.tf", "security-headers.json", "security-header.json"),
    (
        cdn_header_problems,
        "modules/cdn/main.tf",
        "= local.security_headers",
        '= { X-Frame-Options = "DENY" }',
    ),
    (cdn_route_problems, "modules/cdn/main.tf", "cache = false", "cache = true"),
    (
        cdn_route_problems,
        "modules/cdn/main.tf",
        ' or starts_with(raw.http.request.uri.path, \\"/storage/\\")',
        "",
    ),
    (cdn_route_problems, "modules/cdn/main.tf", '\\"/v1/\\"', '\\"/v2/\\"'),
    (
        cdn_route_problems,
        "modules/cdn/main.tf",
        'expression  = local.edge\n    action      = "route"',
        'expression  = local.ui\n    action      = "route"',
    ),
    (cdn_route_problems, "modules/cdn/main.tf", '\\"/assets/\\"', '\\"/static/\\"'),
    (pin_problems, "modules/platform/kafka.tf", '"0.45.0"', '">= 0.45.0"'),
    (pin_problems, "live/versions.tf", '"2.35.1"', '"2.35.0"'),
    (sensitive_problems, "live/variables.tf", "  sensitive   = true\n", ""),
]


@pytest.mark.parametrize(
    ("check", "file", "text", "replacement"),
    BREAKAGES,
    ids=[f"{check.__name__}:{file}:{text.strip()}" for check, file, text, _ in BREAKAGES],
)
def test_a_broken_copy_is_refused(
    check: Callable[[Path], list[str]], file: str, text: str, replacement: str, tmp_path: Path
) -> None:
    for tree in ("terraform", "knative"):
        shutil.copytree(PROJECT_ROOT / tree, tmp_path / tree)
    (tmp_path / "web").mkdir()
    shutil.copy(PROJECT_ROOT / "web" / "security-headers.json", tmp_path / "web")
    broken = tmp_path / "terraform" / file
    original = broken.read_text()
    assert text in original
    broken.write_text(original.replace(text, replacement, 1))

    assert check(tmp_path) != []
