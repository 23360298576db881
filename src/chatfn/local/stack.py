"""The docker-free local stack: embedded servers, provisioning and the product's processes.

A service whose URL is set in the environment is used as it is; every other one is
started from its registry package on a free loopback port, supervised, health
checked over its own protocol, then provisioned. Ports are remembered in
`.local/state.json` and reused while free, so URLs stay stable across restarts.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import sys
import time
from collections.abc import Callable
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import httpx
from sqlalchemy.engine import make_url

from chatfn.local import prometheus, provision, traces
from chatfn.local.broker.config import Eventing, load_eventing
from chatfn.local.health import CHECKS, Health, check
from chatfn.local.servers import KAFKA_BUCKET, SERVERS, EmbeddedServer, Ports, Program
from chatfn.local.supervisor import ProcessInfo, Supervisor, render_config
from chatfn.settings import Settings

HEALTH_TIMEOUT_S = 180.0
GATEWAY = "gateway"
BROKER = "broker"
# A deterministic model beside the real one, as the model `scripted` (tests, benchmarks).
SCRIPTED_MODEL = "scripted_model"
PROMETHEUS = "prometheus"
FUNCTIONS_DIR = provision.PROJECT_ROOT / "functions"
FUNCTION_HEALTH_PATH = "/healthz"  # every function answers a GET; `api` has this route
# A function (or the scripted model) still at work when the stack stops (a reply
# mid-answer, say) gets this long, then is killed: the broker redelivers the event on the
# next `up`, and the shorter the functions' wait, the sooner PostgreSQL gets its turn to
# stop cleanly.
FUNCTION_STOP_WAIT_S = 5
DEAD_LETTER_SINK = "dead-letter"  # the KafkaSink in eventing/200-kafka-sink-dead-letter.yaml


def function_names() -> list[str]:
    """Every module in functions/ is one function, as it is one Knative Service."""
    return sorted(path.stem for path in FUNCTIONS_DIR.glob("*.py") if not path.stem.startswith("_"))


def service_name(function: str) -> str:
    """The Knative Service that runs `function` (what Trigger YAML refers to)."""
    return function.replace("_", "-")


def own_health_paths() -> dict[str, str]:
    """The stack's own processes, in start order, with the path that says they are ready:
    the scripted model and the functions, then the broker that delivers to them, then the
    gateway in front."""
    functions = dict.fromkeys(function_names(), FUNCTION_HEALTH_PATH)
    scripted = {SCRIPTED_MODEL: "/v1/models"}
    return scripted | functions | {BROKER: "/healthz", GATEWAY: "/api/health"}


Reporter = Callable[[str, str, str], None]
"""Called as `report(row, state, detail)` while the stack changes; the CLI draws it."""


@dataclass(frozen=True)
class ServiceStatus:
    name: str
    where: str
    embedded: bool
    process: ProcessInfo | None
    health: Health


def _field_for(env_var: str) -> str:
    return next(name for name, info in Settings.model_fields.items() if info.alias == env_var)


def _server_url(settings: Settings, name: str) -> str:
    server = next(s for s in SERVERS if s.name == name)
    return str(getattr(settings, _field_for(server.env_var)))


def _metrics_targets(ports: dict[str, Ports]) -> dict[str, str]:
    """host:port of each traced program's /metrics, by program name."""
    return {name: f"127.0.0.1:{own['metrics']}" for name, own in ports.items() if "metrics" in own}


def _port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _free_port(avoid: AbstractSet[int] = frozenset()) -> int:
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if port not in avoid:
            return port


def display_url(url: str) -> str:
    """A URL fit for a terminal: any password hidden."""
    if "@" in url and "://" in url:
        return make_url(url).render_as_string(hide_password=True)
    return url


def _log_tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return "(no log)"


class Stack:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.home = settings.home.resolve()
        self.supervisor = Supervisor(self.home)
        self.state_file = self.home / "state.json"

    @cached_property
    def eventing(self) -> Eventing:
        """The Knative YAML the local broker obeys, read once per stack."""
        return load_eventing(self.settings.eventing_dir)

    def embedded(self) -> list[EmbeddedServer]:
        """The servers this stack runs itself: those whose URL the environment leaves empty."""
        return [s for s in SERVERS if not getattr(self.settings, _field_for(s.env_var))]

    def _saved_ports(self) -> dict[str, Ports]:
        try:
            saved: dict[str, Ports] = json.loads(self.state_file.read_text())["ports"]
        except (FileNotFoundError, KeyError, ValueError):
            return {}
        return saved

    def _allocate_ports(self) -> dict[str, Ports]:
        """Last run's ports while they are free (or still ours), fresh free ones otherwise."""
        ours = self.supervisor.running()
        saved = self._saved_ports()
        own: dict[str, tuple[str, ...]] = {name: ("http",) for name in self._own_paths()}
        if self.settings.local_telemetry:
            own |= {name: ("http", "metrics") for name in self._traced()}
        wanted = {s.name: s.port_names for s in self.embedded()} | own
        ports: dict[str, Ports] = {}
        for name, port_names in wanted.items():
            previous = saved.get(name, {})
            reusable = set(previous) == set(port_names) and (
                ours or all(_port_is_free(p) for p in previous.values())
            )
            if not reusable:
                # A port free now may be another service's saved one, not started yet.
                taken = {
                    p for chosen in (*saved.values(), *ports.values()) for p in chosen.values()
                }
                previous = {}
                for port_name in port_names:  # one by one: a server's ports must differ too
                    previous[port_name] = _free_port(avoid=taken)
                    taken.add(previous[port_name])
            ports[name] = previous
        if self.settings.port:
            if not ours and not _port_is_free(self.settings.port):
                raise RuntimeError(
                    f"port {self.settings.port} is taken by another program: "
                    "set CHATFN_PORT to another port (0 picks a free one)"
                )
            ports[GATEWAY] = {"http": self.settings.port}
        self.home.mkdir(parents=True, exist_ok=True)
        self.state_file.write_text(json.dumps({"ports": ports}, indent=2))
        return ports

    def resolved(self, ports: dict[str, Ports] | None = None) -> Settings:
        """The settings every process of this stack runs with: embedded servers' URLs filled in."""
        ports = self._saved_ports() if ports is None else ports
        update: dict[str, object] = {
            _field_for(s.env_var): s.url(ports[s.name]) for s in self.embedded() if s.name in ports
        }
        update["home"] = self.home
        if GATEWAY in ports:
            update["port"] = ports[GATEWAY]["http"]
        if BROKER in ports:
            broker = f"{self.eventing.namespace}/{self.eventing.broker}"
            update["k_sink"] = f"http://127.0.0.1:{ports[BROKER]['http']}/{broker}"
            dead_letter = f"{self.eventing.namespace}/{DEAD_LETTER_SINK}"
            update["dead_letter_sink"] = (
                f"http://127.0.0.1:{ports[BROKER]['http']}/sinks/{dead_letter}"
            )
        if SCRIPTED_MODEL in ports:
            scripted = f"http://127.0.0.1:{ports[SCRIPTED_MODEL]['http']}/v1"
            update["llm_routes"] = {"scripted": scripted} | self.settings.llm_routes
            # It reads images as it reads text: a test sees what it was sent (/stats).
            update["llm_image_models"] = ["scripted", *self.settings.llm_image_models]
        return self.settings.model_copy(update=update)

    async def up(self, report: Reporter) -> Settings:
        ports = self._allocate_ports()
        settings = self.resolved(ports)
        programs: list[Program] = []
        for server in self.embedded():
            report(server.name, "preparing", display_url(server.url(ports[server.name])))
            data = self.home / server.name
            data.mkdir(parents=True, exist_ok=True)
            programs.append(server.prepare(data, ports[server.name], settings))
        programs += self._own_programs(settings, ports)

        started = time.monotonic()
        environment = settings.as_environment()
        self.supervisor.start(render_config(self.home, programs, environment), environment)
        # The product's processes start with the servers: each spends a second or two of CPU
        # importing, and none touches a server before a request asks it to. Only the broker
        # waits for what it uses (the topics), below.
        urls = self._own_urls(ports)
        served = [SCRIPTED_MODEL, *function_names()]
        for name in [*served, GATEWAY]:
            self.supervisor.start_program(name)
        embedded = {s.name for s in self.embedded()}
        for name in CHECKS:
            if name not in embedded:
                report(name, "external", display_url(_server_url(settings, name)))
            else:
                report(name, "starting", "")
        if "kafka" in embedded and settings.kafka_storage == "s3":
            # Tansu keeps its log in S3: it starts once S3 answers and its bucket exists.
            await self._wait_healthy(settings, started, report, names={"s3"})
            await provision.create_bucket(settings, KAFKA_BUCKET)
            self.supervisor.start_program("kafka")
        if "postgres" in embedded:
            await provision.create_database(settings.database_url)
        await self._wait_healthy(settings, started, report)

        report("schema", "migrating", "alembic upgrade head")
        await provision.migrate(settings)
        report("schema", "ready", "alembic head")
        topics = await provision.create_topics(settings.kafka_bootstrap_servers, self.eventing)
        partitions = self.eventing.partitions
        report("topics", "ready", f"{', '.join(topics)} ({partitions} partitions)")
        await provision.create_bucket(settings, settings.s3_bucket)
        report("bucket", "ready", settings.s3_bucket)

        # The broker delivers once the topics exist; the gateway answers once all is ready.
        self.supervisor.start_program(BROKER)
        watch = [PROMETHEUS] if self.settings.local_prometheus else []
        for name in watch:
            self.supervisor.start_program(name)
        await asyncio.gather(*(self._wait_http(name, urls[name], started, report)
                               for name in [*served, BROKER, *watch]))  # fmt: skip
        await self._wait_http(GATEWAY, urls[GATEWAY], started, report)
        return settings

    async def restart(self, name: str) -> None:
        """Restart one supervised program, an embedded server or one of the product's own
        processes; return once it answers again."""
        self.supervisor.restart_program(name)
        await self._wait_answering(name)

    def stop(self, name: str) -> None:
        """Stop one supervised program until `start` (say, to see the stack without it)."""
        self.supervisor.stop_program(name)

    async def start(self, name: str) -> None:
        """Start one stopped program; return once it answers again."""
        self.supervisor.start_program(name)
        await self._wait_answering(name)

    async def _wait_answering(self, name: str) -> None:
        started, quiet = time.monotonic(), lambda *_: None
        if name in CHECKS:
            await self._wait_healthy(self.resolved(), started, quiet, names={name})
        else:
            url = self._own_urls(self._saved_ports())[name]
            await self._wait_http(name, url, started, quiet)

    def function_urls(self) -> dict[str, str]:
        """Each function's local URL, by function name."""
        urls = self._own_urls(self._saved_ports())
        return {name: urls[name] for name in function_names() if name in urls}

    def broker_url(self) -> str | None:
        """The local broker's URL (its `/healthz` says whether events are delivered)."""
        return self._own_urls(self._saved_ports()).get(BROKER)

    def prometheus_url(self) -> str | None:
        """The local Prometheus's URL, when this stack was started with one
        (`CHATFN_PROMETHEUS`), whatever the caller's own environment says."""
        ports = self._saved_ports().get(PROMETHEUS)
        return f"http://127.0.0.1:{ports['http']}" if ports else None

    def metrics_urls(self) -> dict[str, str]:
        """Each traced process's /metrics, by program name (empty: telemetry is off)."""
        targets = _metrics_targets(self._saved_ports())
        return {name: f"http://{target}/metrics" for name, target in targets.items()}

    def _own_paths(self) -> dict[str, str]:
        """`own_health_paths`, and the local Prometheus's when it runs."""
        prometheus = {PROMETHEUS: "/-/ready"} if self.settings.local_prometheus else {}
        return own_health_paths() | prometheus

    @staticmethod
    def _traced() -> list[str]:
        """The programs that record spans and serve metrics: what production has too."""
        return [*function_names(), BROKER]

    def _telemetry(self, name: str, ports: dict[str, Ports]) -> dict[str, str]:
        """A traced program's telemetry settings (chatfn.settings.TelemetrySettings)."""
        if "metrics" not in ports.get(name, {}):
            return {}
        return {
            "OTEL_SERVICE_NAME": name,
            "TRACES_DIR": str(self.home / traces.FOLDER),
            "METRICS_PORT": str(ports[name]["metrics"]),
        }

    def _own_programs(self, settings: Settings, ports: dict[str, Ports]) -> list[Program]:
        gateway = [
            sys.executable, "-m", "chatfn.serve", "--factory", "chatfn.local.gateway:create_app",
            "--host", "127.0.0.1", "--port", str(ports[GATEWAY]["http"]),
            "--no-default-headers",  # the api function sends its own
            # Under uvloop 0.23 it died of SIGSEGV inside the loop (no Python frame) 3 times in
            # 8 runs of bench.chat_latency at 50 chats; in none of 6 on asyncio's own loop.
            "--loop", "asyncio",
        ]  # fmt: skip
        broker = [
            sys.executable, "-m", "chatfn.local", "broker",
            "--port", str(ports[BROKER]["http"]), "--eventing", str(settings.eventing_dir),
        ]  # fmt: skip
        functions = [
            Program(name=name, command=self._function_command(name, ports[name]["http"]),
                    environment=self._telemetry(name, ports),
                    autostart=False, priority=150, stop_wait_s=FUNCTION_STOP_WAIT_S)
            for name in function_names()
        ]  # fmt: skip
        scripted = [
            sys.executable, "-m", "chatfn.local", "scripted-model",
            "--port", str(ports[SCRIPTED_MODEL]["http"]),
        ]  # fmt: skip
        return [
            Program(
                name=SCRIPTED_MODEL,
                command=scripted,
                autostart=False,
                priority=150,
                stop_wait_s=FUNCTION_STOP_WAIT_S,
            ),
            *functions,
            Program(
                name=BROKER,
                command=broker,
                environment=self._telemetry(BROKER, ports),
                autostart=False,
                priority=200,
            ),
            Program(
                name=GATEWAY,
                command=gateway,
                environment={"OTEL_SERVICE_NAME": GATEWAY},  # its log lines' service
                autostart=False,
                priority=300,
            ),
            *self._prometheus(ports),
        ]

    def _prometheus(self, ports: dict[str, Ports]) -> list[Program]:
        """Debian's Prometheus scraping every traced process, with observability/'s rules."""
        if PROMETHEUS not in ports:
            return []
        home = self.home / PROMETHEUS
        home.mkdir(parents=True, exist_ok=True)
        config = home / "prometheus.yml"
        config.write_text(prometheus.config(_metrics_targets(ports)))
        command = prometheus.command(config, home / "data", ports[PROMETHEUS]["http"])
        return [Program(name=PROMETHEUS, command=command, autostart=False, priority=300)]

    @staticmethod
    def _function_command(name: str, port: int) -> list[str]:
        """The function as Knative runs it (chatfn-function), one target."""
        return [
            sys.executable, "-m", "chatfn.serve",
            "--target", name, "--source", str(FUNCTIONS_DIR / f"{name}.py"),
            "--host", "127.0.0.1", "--port", str(port),
        ]  # fmt: skip

    def _own_urls(self, ports: dict[str, Ports]) -> dict[str, str]:
        return {
            name: f"http://127.0.0.1:{ports[name]['http']}"
            for name in self._own_paths()
            if name in ports
        }

    async def _wait_healthy(
        self,
        settings: Settings,
        started: float,
        report: Reporter,
        names: AbstractSet[str] = frozenset(CHECKS),
    ) -> None:
        pending = set(names)

        async def wait_for(name: str) -> None:
            while not (health := await check(name, settings)).ok and not health.preparing:
                self._fail_on_crashed({name})
                await asyncio.sleep(0.25)
            pending.discard(name)
            state = "preparing" if health.preparing else "healthy"
            report(name, state, f"{health.detail} · {time.monotonic() - started:.1f}s")

        waiters = [asyncio.create_task(wait_for(name)) for name in names]
        try:
            async with asyncio.timeout(HEALTH_TIMEOUT_S):
                await asyncio.gather(*waiters)
        except TimeoutError:
            raise RuntimeError(self._explain(pending, "not healthy in time")) from None
        finally:
            for waiter in waiters:
                waiter.cancel()

    async def _wait_http(self, name: str, url: str, started: float, report: Reporter) -> None:
        report(name, "starting", url)
        deadline = time.monotonic() + 60
        while not (health := await http_health(url + self._own_paths()[name])).ok:
            self._fail_on_crashed({name})
            if time.monotonic() > deadline:
                raise RuntimeError(self._explain({name}, f"not answering: {health.detail}"))
            await asyncio.sleep(0.2)
        report(name, "healthy", f"{url} · {time.monotonic() - started:.1f}s")

    def _fail_on_crashed(self, names: set[str]) -> None:
        processes = self.supervisor.processes()
        crashed = {n for n in names if n in processes and processes[n].state in {"FATAL", "EXITED"}}
        if crashed:
            raise RuntimeError(self._explain(crashed, "exited"))

    def _explain(self, names: set[str], problem: str) -> str:
        parts = [f"{', '.join(sorted(names))}: {problem}."]
        for name in sorted(names):
            log = self.home / "logs" / f"{name}.log"
            if log.exists():
                parts.append(f"--- last lines of {log} ---\n{_log_tail(log)}")
        return "\n".join(parts)

    def down(self) -> list[int]:
        return self.supervisor.stop()

    async def status(self) -> list[ServiceStatus]:
        settings = self.resolved()
        embedded = {server.name for server in self.embedded()}
        processes = self.supervisor.processes()
        healths = await asyncio.gather(*(check(name, settings) for name in CHECKS))
        rows = [
            ServiceStatus(
                name=name,
                where=display_url(_server_url(settings, name)) or "(never started)",
                embedded=name in embedded,
                process=processes.get(name),
                health=health,
            )
            for name, health in zip(CHECKS, healths, strict=True)
        ]
        for name, url in self._own_urls(self._saved_ports()).items():
            rows.append(
                ServiceStatus(
                    name=name,
                    where=url,
                    embedded=True,
                    process=processes.get(name),
                    health=await http_health(url + self._own_paths()[name]),
                )
            )
        return rows


async def http_health(url: str) -> Health:
    """GET `url`: healthy on a 2xx; a problem body's `detail` says why not."""
    started = time.perf_counter()
    try:
        async with httpx.AsyncClient(timeout=5) as client:
            response = await client.get(url)
        ok, detail = response.is_success, f"GET {httpx.URL(url).path} {response.status_code}"
        if response.headers.get("content-type", "").startswith("application/problem+json"):
            with contextlib.suppress(ValueError, KeyError, TypeError):
                detail += f": {response.json()['detail']}"
    except httpx.HTTPError as exc:
        ok, detail = False, f"{type(exc).__name__}: {exc}"
    return Health(ok=ok, detail=detail, latency_ms=(time.perf_counter() - started) * 1000)
