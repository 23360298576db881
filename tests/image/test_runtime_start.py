"""Every function starts from a runtime-only install, exactly as its Knative Service runs it.

No container engine runs here, so the image is stood in for by what its Dockerfile makes: a
fresh virtualenv with the hashed runtime lock only (the Dockerfile's own install command, its
paths swapped for local ones), the project without its dependencies, bytecode compiled, and
the image's ENV. Each Service's command, env and envFrom are read from knative/ at test time;
the ConfigMap and Secret they name are filled from the running test stack, with test secrets
(production mode refuses development ones). The function counts as started when its readiness
and liveness probe paths answer 200, having written nothing into the image's folders or HOME:
only /tmp (an emptyDir) is writable in the pod.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hcl2
import httpx
import pytest
import yaml
from alembic.script import ScriptDirectory
from filelock import FileLock
from sqlalchemy import text

from chatfn.db import create_engine
from chatfn.local.provision import PROJECT_ROOT, alembic_config
from chatfn.settings import SECRET_VARIABLES, Settings
from tests.image.dockerfile import DOCKERFILE, final_stage, stages
from tests.utils.broker import free_port
from tests.utils.isolation import fresh_database

LOCK = PROJECT_ROOT / "requirements" / "runtime.txt"
KNATIVE = PROJECT_ROOT / "knative"
SERVICES = sorted(KNATIVE.glob("200-*.yaml"))
SINK_BINDING = KNATIVE / "100-sinkbinding.yaml"
START_S = 45.0  # a cold start on a busy 2-core machine takes 5-15 s

# What Terraform's modules/chatfn creates: the ConfigMap from its `local.config`.
TERRAFORM_MODULE = PROJECT_ROOT / "terraform" / "modules" / "chatfn"
CONFIG_MAP = "chatfn-config"
SECRET = "chatfn-secrets"
TEST_SECRETS = {
    "JWT_SECRET": "runtime-start-test-jwt-secret-0123456789abcdef",
    "JWT_PREVIOUS_SECRET": "runtime-start-test-previous-jwt-secret-0123456789",
    "LLM_API_KEY": "runtime-start-test-llm-key",
    "S3_ACCESS_KEY": "runtime-start-test-access-key",
    "S3_SECRET_KEY": "runtime-start-test-secret-key",
}


Started = tuple[subprocess.Popen[bytes], str, Path]  # the process, its URL, its output
Start = Callable[[dict[str, Any]], Started]
Stores = dict[str, dict[str, dict[str, str]]]  # kind (configMap, secret) -> name -> data


def run(command: list[str | Path]) -> None:
    done = subprocess.run(command, capture_output=True, text=True)
    assert done.returncode == 0, f"{shlex.join(map(str, command))}:\n{done.stdout}{done.stderr}"


def local(word: str, paths: dict[str, Path]) -> str | Path:
    """`word` with an image path in it swapped for its local stand-in."""
    for image_path, local_path in paths.items():
        if word == image_path or word.startswith(image_path + "/"):
            return local_path / word[len(image_path) + 1 :]
    return word


def dockerfile_command(fragment: str, paths: dict[str, Path]) -> list[str | Path]:
    """The Dockerfile's build command that mentions `fragment`, its image paths made local."""
    commands = (
        part.strip()
        for stage in stages(DOCKERFILE.read_text())[:-1]
        for run in stage.args_of("RUN")
        for part in run.split("&&")
    )
    command = next(command for command in commands if fragment in command)
    return [local(word, paths) for word in shlex.split(command)]


@pytest.fixture(scope="session")
def runtime_venv() -> Path:
    """The image's /opt/venv: the runtime lock only, installed and compiled as the Dockerfile
    does. Kept outside the clone, keyed on the lock and Python, so a rerun takes no time."""
    key = hashlib.sha256(LOCK.read_bytes() + sys.version.encode()).hexdigest()[:16]
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "chatfn"
    venv = cache / "runtime-venv" / key
    venv.parent.mkdir(parents=True, exist_ok=True)
    paths = {"/opt/venv": venv, "/tmp/requirements": LOCK.parent, "python": venv / "bin/python"}
    with FileLock(f"{venv}.lock"):
        if not (venv / "ready").exists():  # a half-made one (an interrupted run) is redone
            shutil.rmtree(venv, ignore_errors=True)
            run([sys.executable, "-m", "venv", venv])
            run(dockerfile_command("requirements/runtime.txt", paths))
            run(dockerfile_command("compileall", paths))
            (venv / "ready").touch()
    return venv


@pytest.fixture(scope="session")
def project_site(runtime_venv: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """chatfn itself, without dependencies, from the files the Dockerfile copies. Per
    session, beside the cached venv, so the code under test is always today's."""
    source = tmp_path_factory.mktemp("project")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(PROJECT_ROOT / name, source)
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
    shutil.copytree(PROJECT_ROOT / "src", source / "src", ignore=ignore)
    site = tmp_path_factory.mktemp("site")
    python = runtime_venv / "bin/python"
    pip: list[str | Path] = [python, "-m", "pip", "install", "--quiet", "--no-compile"]
    run([*pip, "--no-deps", "--target", site, source])
    run(dockerfile_command("compileall", {"/opt/venv": site, "python": python}))
    return site


def container(service: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = service["spec"]["template"]["spec"]["containers"][0]
    return spec


def sink_binding_selects(service: dict[str, Any]) -> bool:
    subject = yaml.safe_load(SINK_BINDING.read_text())["spec"]["subject"]
    if "name" in subject:
        return bool(subject["name"] == service["metadata"]["name"])
    labels = service["metadata"].get("labels", {})
    return all(labels.get(k) == v for k, v in subject["selector"]["matchLabels"].items())


def config_map_keys() -> set[str]:
    """The variables modules/chatfn puts in chatfn-config."""
    blocks = [hcl2.loads(path.read_text()) for path in sorted(TERRAFORM_MODULE.glob("*.tf"))]
    return {
        key
        for parsed in blocks
        for local_values in parsed.get("locals", [])
        for key in local_values.get("config", {})
    }


def cluster_stores(settings: Settings) -> Stores:
    """The ConfigMap and Secret as Terraform would fill them, with this stack's values."""
    variables = settings.as_environment()
    config = {name: variables[name] for name in config_map_keys() & variables.keys()}
    secrets = {name: variables.get(name, "") for name in SECRET_VARIABLES} | TEST_SECRETS
    return {"configMap": {CONFIG_MAP: config}, "secret": {SECRET: secrets}}


def container_environment(service: dict[str, Any], stores: Stores) -> dict[str, str]:
    """The variables Kubernetes gives the container: envFrom first, env over it."""
    spec = container(service)
    name = service["metadata"]["name"]
    environment: dict[str, str] = {}
    for source in spec.get("envFrom", []):
        kind = "configMap" if "configMapRef" in source else "secret"
        ref = source[f"{kind}Ref"]
        if ref["name"] in stores[kind]:
            prefix = source.get("prefix", "")
            environment |= {prefix + k: v for k, v in stores[kind][ref["name"]].items()}
        else:
            assert ref.get("optional"), f"{name} names a {kind} {ref['name']} nobody creates"
    for variable in spec.get("env", []):
        if "value" in variable:
            environment[variable["name"]] = str(variable["value"])
            continue
        kind = "configMap" if "configMapKeyRef" in variable["valueFrom"] else "secret"
        ref = variable["valueFrom"][f"{kind}KeyRef"]
        value = stores[kind].get(ref["name"], {}).get(ref["key"])
        assert value is not None or ref.get("optional"), f"{name}: no {ref['name']}/{ref['key']}"
        if value is not None:
            environment[variable["name"]] = value
    return environment


def files_under(*folders: Path) -> set[Path]:
    return {path for folder in folders for path in folder.rglob("*")}


@dataclass(frozen=True)
class Image:
    """The image, stood in for: its virtualenv, chatfn itself, and the pod's /tmp."""

    venv: Path
    site: Path
    tmp: Path

    @property
    def home(self) -> Path:
        """The image's HOME (uid 65532 has no passwd entry) is an unwritable /."""
        return self.tmp / "home"

    def files(self) -> set[Path]:
        return files_under(self.venv, self.site)

    def environment(self, workload: dict[str, Any], stores: Stores) -> dict[str, str]:
        """The image's ENV (its /tmp being the emptyDir), then what the manifest gives."""
        image_env = final_stage().env().items()
        environment = {k: str(local(v, {"/tmp": self.tmp})) for k, v in image_env if k != "PATH"}
        environment |= container_environment(workload, stores)
        return environment | {
            "PATH": f"{self.venv / 'bin'}:/usr/bin:/bin",
            "PYTHONPATH": str(self.site),
            "HOME": str(self.home),
            "TMPDIR": str(self.tmp),
        }

    def argv(self, workload: dict[str, Any]) -> list[str]:
        """The manifest's command and args, else the image's CMD, found on the image's PATH."""
        spec = container(workload)
        command = spec.get("command") or json.loads(final_stage().args_of("CMD")[-1])
        argv = [*command, *spec.get("args", [])]
        executable = shutil.which(argv[0], path=str(self.venv / "bin"))
        assert executable, f"{argv[0]} is not in the image"
        return [executable, *argv[1:]]


@pytest.fixture
def image(runtime_venv: Path, project_site: Path, tmp_path: Path) -> Image:
    image = Image(runtime_venv, project_site, tmp_path.resolve())
    image.home.mkdir()
    return image


@pytest.fixture
def start(image: Image, stack_settings: Settings) -> Iterator[Start]:
    """Start a Service's container as Knative would, on a free port."""
    started: list[subprocess.Popen[bytes]] = []

    def start_service(service: dict[str, Any]) -> Started:
        name = service["metadata"]["name"]
        port = free_port()
        environment = image.environment(service, cluster_stores(stack_settings))
        if sink_binding_selects(service):
            environment["K_SINK"] = stack_settings.k_sink
        # Knative's own; PORT is the one the server must listen on.
        environment |= {
            "PORT": str(port),
            "K_SERVICE": name,
            "K_CONFIGURATION": name,
            "K_REVISION": f"{name}-00001",
        }
        assert environment.get("CHATFN_MODE") == "production", f"{name} not in production mode"
        log = image.tmp / "function.log"
        with log.open("wb") as output:
            process = subprocess.Popen(
                image.argv(service),
                cwd=PROJECT_ROOT,  # the image's WORKDIR holds functions/ the same way
                env=environment,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        started.append(process)
        return process, f"http://127.0.0.1:{port}", log

    yield start_service
    for process in started:  # the whole group: gunicorn's worker too
        with contextlib.suppress(ProcessLookupError):  # a broken one may be gone already
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def until_ready(process: subprocess.Popen[bytes], url: str, log: Path) -> None:
    """Until `url` answers 200. Any other answer fails at once: no function here answers its
    probe before it is up, so a 5xx means a revision that would never become Ready."""
    deadline = time.monotonic() + START_S
    while time.monotonic() < deadline:
        assert process.poll() is None, f"exited {process.returncode}:\n{log.read_text()[-3000:]}"
        try:
            status = httpx.get(url, timeout=2).status_code
        except httpx.TransportError:
            time.sleep(0.2)
            continue
        assert status == 200, f"{url} answered {status}:\n{log.read_text()[-3000:]}"
        return
    pytest.fail(f"{url} not up within {START_S} s:\n{log.read_text()[-3000:]}")


def assert_starts(service: dict[str, Any], start: Start, image: Image) -> None:
    """Started as its Service says, it answers its probes having written nothing into the
    image's folders or HOME (both read-only in a pod)."""
    probes = [container(service).get(p, {}) for p in ("readinessProbe", "livenessProbe")]
    paths = [probe["httpGet"].get("path", "/") for probe in probes if "httpGet" in probe]
    assert paths, "no HTTP readiness probe: Knative would call any open port ready"
    before = image.files()

    process, url, log = start(service)
    for path in paths:
        until_ready(process, url + path, log)

    assert image.files() == before, "wrote into the image"
    assert not any(image.home.iterdir()), "wrote into HOME"


@pytest.mark.parametrize("manifest", SERVICES, ids=[path.stem for path in SERVICES])
def test_the_function_starts_from_the_runtime_only_install(
    manifest: Path, start: Start, image: Image
) -> None:
    assert_starts(yaml.safe_load(manifest.read_text()), start, image)


def env_var(name: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    def find(service: dict[str, Any]) -> dict[str, Any]:
        return next(e for e in container(service)["env"] if e["name"] == name)

    return find


def withhold_secrets(service: dict[str, Any]) -> None:
    spec = container(service)
    spec["env"] = [e for e in spec["env"] if "valueFrom" not in e]
    spec["envFrom"] = [s for s in spec.get("envFrom", []) if "secretRef" not in s]


def rename_secrets(service: dict[str, Any]) -> None:
    spec = container(service)
    for ref in [e["valueFrom"]["secretKeyRef"] for e in spec["env"] if "valueFrom" in e] + [
        s["secretRef"] for s in spec.get("envFrom", []) if "secretRef" in s
    ]:
        ref["name"] = "chatfn-secret"


BREAKAGES: dict[str, Callable[[dict[str, Any]], None]] = {
    "source typo": lambda s: env_var("FUNCTION_SOURCE")(s).update(value="functions/persist.py"),
    "target typo": lambda s: env_var("FUNCTION_TARGET")(s).update(value="persist_histories"),
    "local mode": lambda s: env_var("CHATFN_MODE")(s).update(value="local"),
    "command typo": lambda s: container(s).update(command=["functions-framwork", "--asgi"]),
    "secret withheld": withhold_secrets,
    "secret misnamed": rename_secrets,
}


@pytest.mark.parametrize("breakage", BREAKAGES)
def test_a_broken_copy_does_not_start(
    breakage: str, start: Start, image: Image, tmp_path: Path
) -> None:
    copy = tmp_path / "200-persist-history.yaml"
    service = yaml.safe_load((KNATIVE / copy.name).read_text())
    BREAKAGES[breakage](service)
    copy.write_text(yaml.safe_dump(service))

    with pytest.raises((AssertionError, pytest.fail.Exception)):
        assert_starts(yaml.safe_load(copy.read_text()), start, image)


async def test_the_migration_job_runs_from_the_runtime_only_install(
    image: Image, settings: Settings, stack_settings: Settings, name: str
) -> None:
    """knative/'s Job (the PreSync migration) brings an empty database to Alembic's head with
    its own command and env, from the same image."""
    jobs = [
        document
        for path in sorted(KNATIVE.glob("*.yaml"))
        for document in yaml.safe_load_all(path.read_text())
        if document and document["kind"] == "Job"
    ]
    assert jobs, "no migration Job in knative/"
    url = await fresh_database(settings.database_url, name.replace("-", "_"))
    stores = cluster_stores(stack_settings)
    stores["secret"][SECRET]["DATABASE_URL"] = url
    before = image.files()

    for job in jobs:
        done = await asyncio.to_thread(
            subprocess.run,
            image.argv(job),
            cwd=PROJECT_ROOT,  # the image's WORKDIR holds alembic.ini and migrations/
            env=image.environment(job, stores),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stdout + done.stderr

    engine = create_engine(settings.model_copy(update={"database_url": url}), pooled=False)
    async with engine.connect() as connection:
        revision = await connection.scalar(text("SELECT version_num FROM alembic_version"))
    await engine.dispose()
    assert revision == ScriptDirectory.from_config(alembic_config(url)).get_current_head()
    assert image.files() == before, "wrote into the image"
    assert not any(image.home.iterdir()), "wrote into HOME"


@pytest.mark.parametrize("manifest", SERVICES, ids=[path.stem for path in SERVICES])
def test_a_read_only_root_gets_a_writable_tmp(manifest: Path) -> None:
    """gunicorn (functions-framework's server) makes its worker heartbeat file in the temp
    folder, so with a read-only root filesystem a Service with no emptyDir on /tmp never
    starts a worker."""
    pod = yaml.safe_load(manifest.read_text())["spec"]["template"]["spec"]
    spec = pod["containers"][0]
    if not spec.get("securityContext", {}).get("readOnlyRootFilesystem"):
        pytest.skip("the root filesystem is writable")
    empty_dirs = {volume["name"] for volume in pod.get("volumes", []) if "emptyDir" in volume}
    mounts = {m["mountPath"]: m["name"] for m in spec.get("volumeMounts", [])}

    assert mounts.get("/tmp") in empty_dirs
