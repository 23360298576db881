"""No credential material where it would outlive its use or reach the wrong readers:
not in any event (the broker's topic is kept forever), not as a literal in the
manifests and Terraform that are committed (knative/, eventing/, terraform/, edge/).

Each scan is a function, so the tests below can plant a secret and watch it fail.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal, get_args, get_origin
from uuid import UUID

import hcl2
import yaml
from pydantic import BaseModel

from chatfn.events.catalog import CATALOG, Payload
from chatfn.local.cli import SECRET_FIELD
from chatfn.local.provision import PROJECT_ROOT

SCANNED = ("knative", "eventing", "terraform", "edge")

# Types that cannot carry a secret, however their field is named (`prompt_tokens` counts).
NOT_TEXT: tuple[type, ...] = (int, float, bool, UUID, datetime, type(None))


def leaf_types(annotation: Any) -> Iterator[Any]:
    """The types an annotation allows, through Optional, unions, containers, Annotated."""
    origin = get_origin(annotation)
    if origin is Annotated:
        yield from leaf_types(get_args(annotation)[0])
    elif origin is Literal:
        yield Literal
    elif get_args(annotation):  # unions and containers: list[X], dict[K, V], X | None
        for argument in get_args(annotation):
            yield from leaf_types(argument)
    else:
        yield annotation


def secret_like_fields(model: type[BaseModel], path: str = "") -> list[str]:
    """Fields, at any depth, named like a credential and able to hold text."""
    found = []
    for name, field in model.model_fields.items():
        where = f"{path}.{name}" if path else name
        leaves = list(leaf_types(field.annotation))
        text = [leaf for leaf in leaves if leaf is not Literal and leaf not in NOT_TEXT]
        if SECRET_FIELD.search(name) and text:
            found.append(where)
        for leaf in leaves:
            if isinstance(leaf, type) and issubclass(leaf, BaseModel):
                found += secret_like_fields(leaf, where)
    return found


def catalog_problems(catalog: Mapping[str, type[BaseModel]]) -> dict[str, list[str]]:
    found = {event_type: secret_like_fields(model) for event_type, model in catalog.items()}
    return {event_type: fields for event_type, fields in found.items() if fields}


def test_no_event_type_carries_a_secret_like_field() -> None:
    assert catalog_problems(CATALOG) == {}


class _Device(BaseModel):
    name: str
    api_key: str


class _Planted(Payload):
    event_type = "io.chatfn.test.planted"
    partition_field = "user_id"

    user_id: UUID
    prompt_tokens: int  # a count: no secret fits in it
    devices: list[_Device] | None = None
    password_hash: Annotated[str, "argon2"]


def test_a_planted_secret_field_is_found_at_any_depth() -> None:
    assert catalog_problems({**CATALOG, _Planted.event_type: _Planted}) == {
        _Planted.event_type: ["devices.api_key", "password_hash"]
    }


# Shapes a real credential has wherever it is written.
SECRET_SHAPES = {
    "a PEM block": re.compile(r"-----BEGIN [A-Z0-9 ]+-----"),
    "a JWT": re.compile(r"\beyJ[\w-]{8,}\.eyJ[\w-]{8,}\.[\w-]*"),
    "a URL with a password": re.compile(r"\b[a-z][a-z0-9+.-]*://[^\s:/@\"']+:[^\s@\"'$/{]+@"),
    "an API key": re.compile(
        r"\b(sk-[\w-]{20,}|AKIA[0-9A-Z]{16}|gh[pousr]_\w{30,}|xox[abpr]-[\w-]{10,})"
    ),
}
# Keys (or env var names) that hold a credential's value itself. Bare `secret` is left
# out: in Kubernetes YAML it usually names a Secret object.
CREDENTIAL_KEY = re.compile(
    r"(password|passwd|token|credentials?|(api|access|private|secret)[_-]?key|client[_-]?secret"
    r"|(jwt|sasl|s3|llm)[_-]?(previous[_-]?)?secret)$",
    re.IGNORECASE,
)
SECRET_RESOURCES = {"kubernetes_secret", "kubernetes_secret_v1"}


# A value built from references is no literal: ${...} (Terraform, shell) or {{ ... }}
# (templates External Secrets or Helm fill in from a secret store).
REFERENCE = re.compile(r"\$\{|\{\{|^\$")


def holds_a_value(value: str) -> bool:
    """Not empty, no reference, and not just a credential's name (`pg_password =
    "password"` names the key of another Secret)."""
    return bool(value) and not REFERENCE.search(value) and not CREDENTIAL_KEY.fullmatch(value)


def yaml_literal(value: object) -> bool:
    return isinstance(value, str) and holds_a_value(value.strip())


def hcl_literal(value: object) -> bool:
    """python-hcl2 keeps the quotes of a string literal; expressions come as ${...}."""
    return isinstance(value, str) and value.startswith('"') and holds_a_value(value.strip('"'))


def credential_literals(
    node: Any, literal: Callable[[object], bool], path: str = ""
) -> Iterator[str]:
    """`key: literal` under a credential's name, and `{name: CREDENTIAL, value: literal}`."""
    if isinstance(node, dict):
        name = node.get("name")
        if isinstance(name, str) and CREDENTIAL_KEY.search(name) and literal(node.get("value")):
            yield f"{path}: {name} has a literal value"
        for key, value in node.items():
            where = f"{path}.{key}"
            if CREDENTIAL_KEY.search(str(key).strip('"')) and literal(value):
                yield f"{where} is a literal"
            yield from credential_literals(value, literal, where)
    elif isinstance(node, list):
        for index, item in enumerate(node):
            yield from credential_literals(item, literal, f"{path}[{index}]")


def yaml_problems(text: str) -> Iterator[str]:
    for document in yaml.safe_load_all(text):
        if not isinstance(document, dict):
            continue
        if document.get("kind") == "Secret" and (
            document.get("data") or document.get("stringData")
        ):
            yield "a Secret with its data in the repository"
        yield from credential_literals(document, yaml_literal)


def hcl_problems(text: str) -> Iterator[str]:
    try:
        parsed = hcl2.loads(text)
    except Exception as exc:  # lark's errors share no base class worth naming
        yield f"cannot be read, so cannot be scanned ({type(exc).__name__})"
        return
    for block in parsed.get("resource", []):
        for kind, resources in block.items():
            if kind.strip('"') not in SECRET_RESOURCES:
                continue
            for name, resource in resources.items():
                for field in ("data", "binary_data"):
                    literal = [k for k, v in resource.get(field, {}).items() if hcl_literal(v)]
                    if literal:
                        yield f"{kind}.{name} has literal {field} {literal}"
    for block in parsed.get("variable", []):
        for name, variable in block.items():
            if CREDENTIAL_KEY.search(name.strip('"')) and hcl_literal(variable.get("default")):
                yield f"variable {name} has a literal default"
    yield from credential_literals(parsed, hcl_literal)


def literal_problems(root: Path) -> dict[str, list[str]]:
    """Secret literals in the committed manifests and Terraform under `root`, by file."""
    problems = {}
    for folder in SCANNED:
        for path in sorted((root / folder).rglob("*")):
            if not path.is_file() or ".terraform" in path.parts:
                continue
            text = path.read_text(errors="replace")
            found = [
                f"a {shape}" for shape, pattern in SECRET_SHAPES.items() if pattern.search(text)
            ]
            if path.suffix in (".yaml", ".yml"):
                found += yaml_problems(text)
            elif path.suffix in (".tf", ".tfvars"):
                found += hcl_problems(text)
            if found:
                problems[str(path.relative_to(root))] = found
    return problems


def test_no_secret_literal_is_committed() -> None:
    assert literal_problems(PROJECT_ROOT) == {}


JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJlLXNpZ25hdHVyZQ"
# Planted into a copy of the scanned folders, each in a file of its own.
PLANTED = {
    "eventing/900-secret-data.yaml": (
        "apiVersion: v1\nkind: Secret\nmetadata: {name: x}\ndata: {password: aHVudGVyMg==}\n"
    ),
    "knative/900-secret-string-data.yaml": (
        "apiVersion: v1\nkind: Secret\nmetadata: {name: x}\nstringData: {user: chatfn}\n"
    ),
    "knative/900-env-literal.yaml": (
        "spec:\n  env:\n    - name: JWT_SECRET\n      value: not-so-secret\n"
    ),
    "edge/900-password.yaml": "auth:\n  password: hunter2\n",
    "edge/900-pem.yaml": (
        "tls: |\n  -----BEGIN PRIVATE KEY-----\n  MIIB\n  -----END PRIVATE KEY-----\n"
    ),
    "eventing/900-jwt.yaml": f"data:\n  note: {JWT}\n",
    "knative/900-openai-key.yaml": "x: sk-proj-0123456789abcdefghijKLMN\n",
    "terraform/modules/planted/secret.tf": (
        'resource "kubernetes_secret_v1" "s" {\n  data = {\n'
        '    JWT_SECRET = var.jwt_secret\n    LLM_MODEL = "not-a-secret-but-literal"\n'
        "  }\n}\n"
    ),
    "terraform/modules/planted/variables.tf": (
        'variable "jwt_secret" {\n  type = string\n  default = "dev-secret"\n}\n'
    ),
    "terraform/modules/planted/locals.tf": (
        'locals {\n  url = "postgresql://chatfn:hunter2@db:5432/chatfn"\n}\n'
    ),
    "terraform/environments/planted/terraform.tfvars": 'llm_api_key = "0123456789abcdef"\n',
}


def test_every_planted_secret_literal_is_found(tmp_path: Path) -> None:
    for folder in SCANNED:
        if (PROJECT_ROOT / folder).is_dir():
            shutil.copytree(PROJECT_ROOT / folder, tmp_path / folder)
    for file, text in PLANTED.items():
        (tmp_path / file).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / file).write_text(text)

    assert set(literal_problems(tmp_path)) == set(PLANTED)


def test_references_to_secrets_are_no_secrets(tmp_path: Path) -> None:
    (tmp_path / "knative").mkdir()
    (tmp_path / "knative" / "x.yaml").write_text(
        "env:\n  - name: JWT_SECRET\n    valueFrom:\n"
        "      secretKeyRef: {name: chatfn-secrets, key: JWT_SECRET}\n"
        "auth.secret.ref.name: chatfn-kafka-sasl\n"
    )
    (tmp_path / "terraform").mkdir()
    (tmp_path / "terraform" / "x.tf").write_text(
        'resource "kubernetes_secret_v1" "s" {\n  data = {\n    JWT_SECRET = var.jwt_secret\n'
        '    DATABASE_URL = "postgresql://${var.user}:${var.password}@db/chatfn"\n  }\n}\n'
        'variable "jwt_secret" {\n  sensitive = true\n}\n'
        'locals {\n  pg_password = "password"\n}\n'
        'locals {\n  JWT_SECRET = "{{ .jwt_secret }}"\n'
        '  url = "redis://:{{ .redis_password | urlquery }}@${var.redis_host}/0"\n}\n'
    )
    assert literal_problems(tmp_path) == {}
