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
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from alembic.script import ScriptDirectory
from sqlalchemy import text

from chatfn.db import create_engine
from chatfn.local.provision import PROJECT_ROOT, alembic_config
from chatfn.settings import Settings
from tests.utils.broker import free_port
from tests.utils.isolation import fresh_database
from tests.utils.knative import (
    KNATIVE,
    SECRET,
    SERVICES,
    Image,
    build_runtime_venv,
    cluster_stores,
    container,
    install_project,
    knative_environment,
    probe_paths,
)

START_S = 45.0  # a cold start on a busy 2-core machine takes 5-15 s

Started = tuple[subprocess.Popen[bytes], str, Path]  # the process, its URL, its output
Start = Callable[[dict[str, Any]], Started]


@pytest.fixture(scope="session")
def runtime_venv() -> Path:
    return build_runtime_venv()


@pytest.fixture(scope="session")
def project_site(runtime_venv: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return install_project(
        runtime_venv, tmp_path_factory.mktemp("project"), tmp_path_factory.mktemp("site")
    )


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
        environment |= knative_environment(service, stack_settings, port)
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
    for process in started:  # the whole group, should a function start children
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
    paths = probe_paths(service)
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
    "command typo": lambda s: container(s).update(command=["chatfn-functoin"]),
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
    """With a read-only root filesystem, /tmp (an emptyDir) is the only place Python's
    tempfile can write a temporary file."""
    pod = yaml.safe_load(manifest.read_text())["spec"]["template"]["spec"]
    spec = pod["containers"][0]
    if not spec.get("securityContext", {}).get("readOnlyRootFilesystem"):
        pytest.skip("the root filesystem is writable")
    empty_dirs = {volume["name"] for volume in pod.get("volumes", []) if "emptyDir" in volume}
    mounts = {m["mountPath"]: m["name"] for m in spec.get("volumeMounts", [])}

    assert mounts.get("/tmp") in empty_dirs
