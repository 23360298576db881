"""edge/, the production edge (Traefik), against Traefik's CRDs and against the dev gateway.

The manifests are checked against Traefik's own CRD schemas (vendored from Traefik v3.7.9,
descriptions dropped), and the one core Service against Kubernetes' (cloudcoil's models),
with unknown keys refused, as `kubectl apply --validate=strict` would. Then a small
evaluator of Traefik's documented request-path handling (encoded characters,
normalisation, sanitising, rules by priority, middlewares) routes a sample of paths, and
the real dev gateway routes the same raw paths: both must reach the same function (or
the storage), or none. The sample comes from `chatfn.routes`, from the edge's own rules
and from hostile paths, so a route added to only one side fails.
"""

from __future__ import annotations

import ipaddress
import json
import re
import shutil
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import limits
import pytest
import yaml
from cloudcoil.models.kubernetes.core.v1 import Service
from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.types import Message
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from chatfn import routes
from chatfn.api.body_limit import MAX_BODY_BYTES
from chatfn.local.gateway import NOT_TO_STORAGE, STORAGE_HEADERS, create_app, proxy_client
from chatfn.local.provision import PROJECT_ROOT
from chatfn.local.stack import service_name
from chatfn.settings import Settings
from tests.manifests import test_terraform as terraform
from tests.manifests.test_knative_schema import unknown_keys

EDGE = PROJECT_ROOT / "edge"
SCHEMAS: dict[str, Any] = json.loads(
    (Path(__file__).parent / "schemas" / "traefik-v3.7.9.json").read_text()
)
ENTRY_POINT = "chatfn"
# The edge's Service for S3, and what the gateway's 502 calls it.
STORAGE_SERVICE, STORAGE = "object-storage", "storage"
CLIENT = "198.51.100.7"  # a documentation address: the client, as Traefik sees it
# Percent-encodings the encodedCharacters options govern, by option.
ENCODED = {
    "allowEncodedSlash": "%2F",
    "allowEncodedBackSlash": "%5C",
    "allowEncodedNullCharacter": "%00",
    "allowEncodedSemicolon": "%3B",
    "allowEncodedPercent": "%25",
    "allowEncodedQuestionMark": "%3F",
    "allowEncodedHash": "%23",
}
TYPES: dict[str, Callable[[Any], bool]] = {
    "object": lambda value: isinstance(value, dict),
    "array": lambda value: isinstance(value, list),
    "string": lambda value: isinstance(value, str),
    "boolean": lambda value: isinstance(value, bool),
    "integer": lambda value: isinstance(value, int) and not isinstance(value, bool),
    "number": lambda value: isinstance(value, int | float) and not isinstance(value, bool),
}
UNRESERVED = re.compile(r"[A-Za-z0-9\-._~]")
RESERVED = set(":/?#[]@!$&'()*+,;=%\\")  # kept encoded in Traefik's routing path
HOSTILE = [
    "/",
    "/c/0197",
    "/api",
    "/events",
    "/events/register-result",
    "/healthz",
    "/api/healthz",
    "/api/../events/x",
    "/api/..%2fevents/x",
    "/api/%2e%2e/x",
    "/api/%2E%2E/events/x",
    "/api/./conversations",
    "/api/replies/../replies/x/stream",
    "/api//conversations",
    "/api/x%2fy",
    "/api/x%5cy",
    "/api/x\\y",
    "/api/conversations/abc%14/restore",
    "/api/x%00",
    "/api/replies/x%2fy/stream",
    "/api/replies/x/stream/",
    "/api/replies//stream",
    "/api/REPLIES/x/stream",
    "/api/replies/%78/stream",
    "/storage",
    "/storage/../api/x",
    "/storage//x",
    "/storage/b/x%2fy",
    "/storage/b/x%5cy",
    "/storage/b/x%00",
    "/storagex/b",
    "/STORAGE/b/k",
    "/storage/b/k?X-Amz-Credential=a%2F20260101%2Fus-east-1%2Fs3%2Faws4_request",
]


# --- the manifests --------------------------------------------------------------------


def documents(edge: Path) -> list[dict[str, Any]]:
    kustomization = yaml.safe_load((edge / "kustomization.yaml").read_text())
    return [
        doc
        for name in kustomization["resources"]
        for doc in yaml.safe_load_all((edge / name).read_text())
        if doc
    ]


def schema_errors(value: Any, schema: dict[str, Any], where: str = "") -> Iterator[str]:
    """What in `value` a Kubernetes structural schema refuses, unknown fields included."""
    if "anyOf" in schema:  # only int-or-string in these CRDs
        if not any(not list(schema_errors(value, s, where)) for s in schema["anyOf"]):
            yield f"{where}: {value!r} matches none of {schema['anyOf']}"
        return
    kind = schema.get("type")
    if kind is not None and not TYPES[kind](value):
        yield f"{where}: {value!r} is not of type {kind}"
        return
    if "enum" in schema and value not in schema["enum"]:
        yield f"{where}: {value!r} not one of {schema['enum']}"
    if "pattern" in schema and not re.search(schema["pattern"], value):
        yield f"{where}: {value!r} does not match {schema['pattern']}"
    if "minimum" in schema and value < schema["minimum"]:
        yield f"{where}: {value!r} below {schema['minimum']}"
    if "maximum" in schema and value > schema["maximum"]:
        yield f"{where}: {value!r} above {schema['maximum']}"
    if isinstance(value, list):
        for i, item in enumerate(value):
            yield from schema_errors(item, schema.get("items", {}), f"{where}[{i}]")
    if isinstance(value, dict):
        for key in schema.get("required", []):
            if key not in value:
                yield f"{where}: {key} is required"
        properties = schema.get("properties")
        for key, item in value.items():
            if properties is not None and key in properties:
                yield from schema_errors(item, properties[key], f"{where}.{key}")
            elif isinstance(schema.get("additionalProperties"), dict):
                yield from schema_errors(item, schema["additionalProperties"], f"{where}.{key}")
            elif properties is not None and not schema.get("x-kubernetes-preserve-unknown-fields"):
                yield f"{where}: unknown field {key}"


def manifest_errors(doc: dict[str, Any]) -> list[str]:
    metadata = doc.get("metadata", {})
    errors = [f"metadata: unknown field {key}" for key in set(metadata) - {"name", "namespace"}]
    if metadata.get("namespace") != "chatfn":
        errors.append(f"{metadata.get('name')} is not in the chatfn namespace")
    if (doc.get("apiVersion"), doc.get("kind")) == ("v1", "Service"):
        try:
            return errors + unknown_keys(Service.model_validate(doc, strict=True), doc, "")
        except ValidationError as invalid:
            return errors + [f"{e['loc']}: {e['msg']}" for e in invalid.errors()]
    schema = SCHEMAS.get(f"{doc.get('apiVersion')}/{doc.get('kind')}")
    if schema is None:
        return [f"no Traefik CRD for {doc.get('apiVersion')} {doc.get('kind')}"]
    return errors + list(schema_errors(doc, schema))


# --- Traefik's request-path handling, as documented (security/request-path) ------------


Predicate = Callable[[str], bool]


def parse_rule(rule: str) -> Predicate:
    """A predicate over the routing path for a rule of Path, PathPrefix and PathRegexp
    matchers joined by `&&`, `||`, `!` and parentheses; any other matcher is an error."""
    tokens = re.findall(r"\s*(\|\||&&|!|\(|\)|,|`[^`]*`|[A-Za-z]+)", rule)
    assert "".join(tokens).replace(" ", "") == rule.replace(" ", ""), f"cannot parse {rule}"
    tokens = [token.strip() for token in tokens]
    matchers: dict[str, Callable[[str], Predicate]] = {
        "Path": lambda arg: lambda path: path == arg,
        "PathPrefix": lambda arg: lambda path: path.startswith(arg),
        "PathRegexp": lambda arg: lambda path: re.search(arg, path) is not None,
    }

    def take(expected: str | None = None) -> str:
        token = tokens.pop(0)
        assert expected is None or token == expected, f"{expected} expected in {rule}"
        return str(token)

    def joined(operator: str, operand: Callable[[], Predicate]) -> Predicate:
        terms = [operand()]
        while tokens and tokens[0] == operator:
            take()
            terms.append(operand())
        combine = any if operator == "||" else all
        return lambda path: combine(term(path) for term in terms)

    def either() -> Predicate:
        return joined("||", both)

    def both() -> Predicate:
        return joined("&&", unary)

    def unary() -> Predicate:
        token = take()
        if token == "!":
            inner = unary()
            return lambda path: not inner(path)
        if token == "(":
            inner = either()
            take(")")
            return inner
        assert token in matchers, f"the evaluator knows no matcher {token} (in {rule})"
        take("(")
        argument = take()[1:-1]
        take(")")
        return matchers[token](argument)

    predicate = either()
    assert not tokens, f"trailing {tokens} in {rule}"
    return predicate


def flags(values: dict[str, Any]) -> dict[str, str]:
    prefix = f"--entryPoints.{ENTRY_POINT}."
    found = (arg.removeprefix(prefix).split("=", 1) for arg in values["additionalArguments"])
    return {name: value for name, value in found if not name.startswith("--")}


@dataclass
class Edge:
    docs: list[dict[str, Any]]
    entry_point: dict[str, str]

    @classmethod
    def load(cls, edge: Path) -> Edge:
        values = yaml.safe_load((edge / "traefik-values.yaml").read_text())
        return cls(documents(edge), flags(values))

    def of(self, kind: str) -> dict[str, dict[str, Any]]:
        return {d["metadata"]["name"]: d["spec"] for d in self.docs if d["kind"] == kind}

    def routes(self) -> list[dict[str, Any]]:
        """Every route of the entry point, the highest priority (Traefik: the explicit one,
        else the rule's length) first."""
        found = [
            route
            for spec in self.of("IngressRoute").values()
            if ENTRY_POINT in spec.get("entryPoints", [])
            for route in spec["routes"]
        ]
        return sorted(found, key=lambda r: -r.get("priority", len(r["match"])))

    def route_for(self, path: str) -> dict[str, Any]:
        """The route a plain `path` (nothing to decode or resolve) takes."""
        return next(route for route in self.routes() if parse_rule(route["match"])(path))

    def refuses(self, middleware: str, raw: str) -> bool:
        spec = self.of("Middleware")[middleware]
        if "encodedCharacters" in spec:  # every option defaults to "refuse" here
            allowed = spec["encodedCharacters"]
            path = raw.partition("?")[0]  # the query is not its business (a presigned URL's)
            return any(code in path.upper() for o, code in ENCODED.items() if not allowed.get(o))
        if "ipAllowList" in spec:
            ranges = spec["ipAllowList"]["sourceRange"]
            return not any(ipaddress.ip_address(CLIENT) in ipaddress.ip_network(r) for r in ranges)
        return False

    def service_for(self, raw: str) -> str | None:
        """The Kubernetes Service a request for `raw` reaches, or None: refused, or no route."""
        path = raw.partition("?")[0]
        # 1. Encoded characters the entry point does not allow (allowed unless set false).
        if any(
            code in path.upper()
            for option, code in ENCODED.items()
            if self.entry_point.get(f"http.encodedCharacters.{option}") == "false"
        ):
            return None
        # 2. Unreserved characters decoded, other escapes upper-cased.
        path = re.sub(
            r"%([0-9A-Fa-f]{2})",
            lambda m: c if UNRESERVED.fullmatch(c := chr(int(m[1], 16))) else m[0].upper(),
            path,
        )
        # 3. `.`, `..` and empty segments resolved, unless the entry point says not to.
        if self.entry_point.get("http.sanitizePath", "true") == "true":
            kept: list[str] = []
            for segment in path.split("/")[1:]:
                if segment == "..":
                    kept = kept[:-1]
                elif segment not in ("", "."):
                    kept.append(segment)
            path = "/" + "/".join(kept) + ("/" if path.endswith("/") and kept else "")
        # 4. Routed on the path with every escape but reserved characters' decoded.
        routing = re.sub(
            r"%([0-9A-F]{2})",
            lambda m: m[0] if (c := chr(int(m[1], 16))) in RESERVED else c,
            path,
        )
        for route in self.routes():
            if parse_rule(route["match"])(routing):
                if any(self.refuses(m["name"], raw) for m in route.get("middlewares", [])):
                    return None
                (service,) = route["services"]
                return str(service["name"]) if service.get("kind", "Service") == "Service" else None
        return None

    def function_for(self, raw: str) -> str | None:
        """The function (or the storage) a request for `raw` reaches, or None."""
        service = self.service_for(raw)
        functions = {service_name(r.function): r.function for r in routes.ROUTES}
        functions[STORAGE_SERVICE] = STORAGE
        return functions.get(service, service) if service else None


# --- the dev gateway ------------------------------------------------------------------


async def gateway_function_for(app: Starlette, raw: str) -> str | None:
    """The function (or the storage) the real gateway forwards `raw` to (its URL refuses
    connections, so the gateway's 502 names it), or None: refused, the UI, or the gateway
    itself."""
    path, _, query = raw.partition("?")
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": unquote(path),
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [(b"host", b"chatfn")],
        "client": (CLIENT, 40000),
        "server": ("127.0.0.1", 8080),
    }
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    await app(scope, receive, send)
    if sent[0]["status"] != 502:
        return None
    detail = json.loads(b"".join(m.get("body", b"") for m in sent[1:]))["detail"]
    return re.fullmatch(r"the (\w+)(?: function)? is not answering", detail)[1]  # type: ignore[index]


@asynccontextmanager
async def dev_gateway(home: Path) -> AsyncIterator[Starlette]:
    """The dev gateway as `chatfn up` builds it, from the route table as it is now."""
    app = create_app(Settings(CHATFN_HOME=home, CHATFN_WEB_DIR=home / "dist"))
    # Nothing listens on port 1: a forwarded request fails at once, naming its function.
    app.state.functions = {route.function: "http://127.0.0.1:1" for route in routes.ROUTES}
    app.state.storage = "http://127.0.0.1:1"
    async with proxy_client() as client:
        app.state.client = client
        yield app


@pytest.fixture
async def gateway(tmp_path: Path) -> AsyncIterator[Starlette]:
    async with dev_gateway(tmp_path) as app:
        yield app


def example(template: str) -> str:
    """A concrete path a Starlette template matches."""
    return re.sub(r"\{\w+(:path)?\}", lambda m: "x/y" if m[1] else "0197", template)


def samples(edge: Edge) -> list[str]:
    found = list(HOSTILE)
    found += [example(route.path) for route in routes.ROUTES]
    found += [f"{routes.STORAGE_PREFIX}/", f"{routes.STORAGE_PREFIX}/chatfn-attachments/k.zip"]
    found += [path + "/x" for path in routes.NEVER_PUBLIC]
    for route in edge.routes():
        for matcher, argument in re.findall(r"(Path\w*)\(`([^`]*)`\)", route["match"]):
            if matcher == "PathRegexp":
                argument = argument.replace("[^/]+", "x").removeprefix("^").removesuffix("$")
                if re.escape(argument) != argument:
                    continue  # a refusing pattern: the hostile paths cover it
            found += [argument, argument + "x", argument + "/x"]
    # The gateway answers its health path itself, checking every dependency on the way:
    # not a routing question (the edge's refusal of it is checked on its own).
    return sorted(set(found) - {routes.GATEWAY_HEALTH})


async def mismatches(edge: Edge, app: Starlette) -> dict[str, tuple[str | None, str | None]]:
    """Every sample path the edge and the gateway send to different functions."""
    found = {}
    for raw in samples(edge):
        at_edge, at_gateway = edge.function_for(raw), await gateway_function_for(app, raw)
        if at_edge != at_gateway:
            found[raw] = (at_edge, at_gateway)
    return found


# --- the tests ------------------------------------------------------------------------


def test_every_edge_manifest_is_valid_for_traefiks_crds() -> None:
    docs = documents(EDGE)
    listed = yaml.safe_load((EDGE / "kustomization.yaml").read_text())["resources"]
    assert sorted(listed) == sorted(p.name for p in EDGE.glob("[0-9]*.yaml"))
    assert {name: manifest_errors(doc) for name, doc in zip(listed, docs, strict=True)} == {
        name: [] for name in listed
    }


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("maxRequestBodyBytes:", "maxRequestBodyByte:"),  # a typo
        ("flushInterval:", "flushIntervall:"),
        ("average: 1200", "average: fast"),  # a wrong type
        ("kind: Rule", "kind: Route"),  # not in the enum
        ("namespace: chatfn", "namespace: default"),
        ("externalName:", "externalHost:"),  # the core Service's schema
        ("port: 9000", "port: s3"),
    ],
)
def test_a_broken_copy_is_refused(tmp_path: Path, old: str, new: str) -> None:
    edge = shutil.copytree(EDGE, tmp_path / "edge")
    for path in edge.glob("[0-9]*.yaml"):
        path.write_text(path.read_text().replace(old, new))
    assert any(manifest_errors(doc) for doc in documents(edge))


async def test_the_edge_and_the_gateway_send_every_path_to_the_same_function(
    gateway: Starlette,
) -> None:
    edge = Edge.load(EDGE)
    assert await mismatches(edge, gateway) == {}
    # The comparison has teeth: each function is reached, and hostile paths are refused.
    reached = {edge.function_for(raw) for raw in samples(edge)}
    assert reached == {None, STORAGE, *(route.function for route in routes.ROUTES)}


async def test_a_route_only_the_edge_has_is_a_mismatch(gateway: Starlette, tmp_path: Path) -> None:
    edge_dir = shutil.copytree(EDGE, tmp_path / "edge")
    ingress = edge_dir / "200-ingressroute.yaml"
    doc = yaml.safe_load(ingress.read_text())
    doc["spec"]["routes"].append(
        {"kind": "Rule", "match": "PathPrefix(`/v2/`)", "services": [{"name": "api", "port": 80}]}
    )
    ingress.write_text(yaml.safe_dump(doc))
    assert "/v2/x" in await mismatches(Edge.load(edge_dir), gateway)


async def test_a_route_only_the_table_has_is_a_mismatch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    added = routes.Route("titles", "/api/titles/{conversation_id}")
    monkeypatch.setattr(routes, "ROUTES", (added, *routes.ROUTES))
    async with dev_gateway(tmp_path) as app:
        found = await mismatches(Edge.load(EDGE), app)
    assert found["/api/titles/0197"] == ("api", "titles")


def test_never_public_paths_are_refused_by_a_rule_of_their_own() -> None:
    edge = Edge.load(EDGE)
    prefixed = [raw for path in routes.NEVER_PUBLIC for raw in (path, path + "/x")]
    for raw in [routes.GATEWAY_HEALTH, *prefixed]:  # the health path alone: /api/health/x is api's
        route = next(r for r in edge.routes() if parse_rule(r["match"])(raw))
        assert any(edge.refuses(m["name"], raw) for m in route["middlewares"]), raw


def test_streams_flow_unbuffered_and_other_routes_cap_the_body_as_api_does() -> None:
    edge = Edge.load(EDGE)
    for route in routes.ROUTES:
        service = service_name(route.function)
        edge_route = edge.route_for(example(route.path))
        specs = [edge.of("Middleware")[m["name"]] for m in edge_route["middlewares"]]
        assert {"encodedCharacters", "rateLimit"} <= {kind for spec in specs for kind in spec}
        buffering = [spec["buffering"] for spec in specs if "buffering" in spec]
        flush = edge_route["services"][0].get("responseForwarding", {}).get("flushInterval", "")
        if route.streamed:
            assert buffering == [], route  # it would buffer the response too
            assert not any("compress" in spec for spec in specs), route
            assert flush.startswith("-"), "each event flushed as it comes"
        else:
            assert [limit["maxRequestBodyBytes"] for limit in buffering] == [MAX_BODY_BYTES]
            assert buffering[0]["memRequestBodyBytes"] >= MAX_BODY_BYTES  # never on disk
        # Kourier routes by the Service's cluster-local name.
        hosts = [spec["headers"]["customRequestHeaders"] for spec in specs if "headers" in spec]
        assert hosts == [{"Host": f"{service}.chatfn.svc.cluster.local"}]


def seconds(duration: str) -> float:
    """A Traefik duration such as `75s` or `1m`, in seconds."""
    number, unit = re.fullmatch(r"(\d+)(s|m|h)", duration).groups()  # type: ignore[union-attr]
    return int(number) * {"s": 1, "m": 60, "h": 3600}[unit]


def knative_timeout(service: str) -> int:
    doc = yaml.safe_load((PROJECT_ROOT / "knative" / f"200-{service}.yaml").read_text())
    return int(doc["spec"]["template"]["spec"].get("timeoutSeconds", 300))


def test_timeouts_let_knative_answer_first_and_streams_run_to_knatives_end() -> None:
    edge = Edge.load(EDGE)
    transports = edge.of("ServersTransport")
    read = seconds(edge.entry_point["transport.respondingTimeouts.readTimeout"])
    for route in routes.ROUTES:
        service = service_name(route.function)
        edge_route = edge.route_for(example(route.path))
        transport = transports[edge_route["services"][0]["serversTransport"]]
        waits = seconds(transport["forwardingTimeouts"]["responseHeaderTimeout"])
        if route.streamed:
            assert read >= knative_timeout(service), "the edge cuts a stream Knative still holds"
        if route.streamed and route.function == "stream_reply":  # its headers come at once
            continue
        assert waits > knative_timeout(service), "the edge gives up before Knative answers"


def test_the_edge_rate_limit_sits_above_apis_own() -> None:
    middlewares = Edge.load(EDGE).of("Middleware").values()
    (spec,) = [m["rateLimit"] for m in middlewares if "rateLimit" in m]
    api = limits.parse(Settings().rate_limit_ip)
    assert spec["average"] / seconds(spec["period"]) > api.amount / api.get_expiry()
    assert spec["sourceCriterion"]["ipStrategy"] == {"depth": 1}  # the client, not the CDN


def test_encoded_characters_are_refused_before_routing_and_again_on_every_route() -> None:
    edge = Edge.load(EDGE)
    (refused,) = [
        m["encodedCharacters"] for m in edge.of("Middleware").values() if "encodedCharacters" in m
    ]
    for option in ENCODED:
        assert edge.entry_point[f"http.encodedCharacters.{option}"] == "false", option
        assert refused.get(option, False) is False, option
    # Odd paths are left for the bad-path rule to refuse, not resolved into other paths.
    assert edge.entry_point["http.sanitizePath"] == "false"


async def test_trusted_proxies_let_api_see_the_client_through_every_hop() -> None:
    """TRUSTED_PROXIES from edge/trusted-proxies.yaml (plus a CDN range, as Terraform adds
    it), fed to the middleware api uses: the client is found behind the CDN, Traefik,
    Kourier, the activator and queue-proxy, whatever X-Forwarded-For it sent itself."""
    cdn = "203.0.113.0/24"
    trusted = [str(entry) for entry in yaml.safe_load((EDGE / "trusted-proxies.yaml").read_text())]
    # Traefik, Kourier's gateway and the activator: pods of a kind cluster (the e2e's).
    hops = f"{CLIENT}, 203.0.113.9, 10.244.1.5, 10.244.2.7, 10.244.0.9"
    seen: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope["client"][0])

    middleware = ProxyHeadersMiddleware(app, trusted_hosts=[*trusted, cdn])
    for forwarded in (hops, f"192.0.2.66, {hops}"):
        scope = {"type": "http", "client": ("127.0.0.1", 5000), "scheme": "http",
                 "headers": [(b"x-forwarded-for", forwarded.encode())]}  # fmt: skip
        await middleware(scope, None, None)  # type: ignore[arg-type]
    assert seen == [CLIENT, CLIENT]


def production_s3_endpoint(root: Path = PROJECT_ROOT) -> str:
    """S3_ENDPOINT in the cluster: modules/platform's output, which the root hands to
    modules/chatfn for chatfn-config (checked here too: the edge must sign nothing else)."""
    modules = root / "terraform" / "modules"
    chatfn = terraform.local_values(terraform.folder(modules / "chatfn"))
    assert chatfn["config"]["S3_ENDPOINT"] == "${var.s3_endpoint}"
    calls = terraform.labelled(terraform.folder(root / "terraform" / "live"), "module")
    assert calls["chatfn"]["s3_endpoint"] == "${module.platform.s3_endpoint}"
    outputs = terraform.labelled(terraform.folder(modules / "platform"), "output")
    return str(terraform.unquote(outputs["s3_endpoint"]["value"]))


def storage_route(edge: Edge) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The route of an object's path, and its middlewares' specs."""
    route = edge.route_for(f"{routes.STORAGE_PREFIX}/chatfn-attachments/exports/k.zip")
    return route, [edge.of("Middleware")[m["name"]] for m in route["middlewares"]]


def test_the_storage_route_strips_its_prefix_drops_the_cookie_and_sandboxes_answers() -> None:
    _, specs = storage_route(Edge.load(EDGE))
    kinds = [kind for spec in specs for kind in spec]
    # Uploads reach 512 MiB: no buffering (body-limit), which would hold them whole.
    assert sorted(kinds) == ["encodedCharacters", "headers", "rateLimit", "stripPrefix"]
    (strip,) = [spec["stripPrefix"] for spec in specs if "stripPrefix" in spec]
    assert strip == {"prefixes": [routes.STORAGE_PREFIX]}
    (headers,) = [spec["headers"] for spec in specs if "headers" in spec]
    removed = {name.lower() for name, value in headers["customRequestHeaders"].items() if not value}
    assert removed >= NOT_TO_STORAGE  # the session (Cookie), as the dev gateway does
    assert headers["customResponseHeaders"] == STORAGE_HEADERS  # as the dev gateway's


def test_the_storage_route_reaches_s3_by_the_host_its_urls_are_signed_for() -> None:
    edge = Edge.load(EDGE)
    route, specs = storage_route(edge)
    endpoint = urlsplit(production_s3_endpoint())
    (headers,) = [spec["headers"] for spec in specs if "headers" in spec]
    assert headers["customRequestHeaders"]["Host"] == endpoint.netloc
    (service,) = route["services"]
    spec = edge.of("Service")[service["name"]]
    assert spec["type"] == "ExternalName"
    assert spec["externalName"] in {endpoint.hostname, f"{endpoint.hostname}.cluster.local"}
    assert service["port"] == endpoint.port
    assert [port["port"] for port in spec["ports"]] == [endpoint.port]
