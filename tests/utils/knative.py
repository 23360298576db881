"""A Knative Service's container, as Kubernetes and Knative would start it: its command, and the
environment its manifest gives from the ConfigMap and Secret Terraform fills, in the image
stood in for by what its Dockerfile makes (no container engine runs here). The image tests and
bench.cold_start both start functions this way."""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hcl2
import yaml
from filelock import FileLock

from chatfn.local.provision import PROJECT_ROOT
from chatfn.settings import SECRET_VARIABLES, Settings
from tests.image.dockerfile import DOCKERFILE, final_stage, stages

KNATIVE = PROJECT_ROOT / "knative"
SERVICES = sorted(KNATIVE.glob("200-*.yaml"))
SINK_BINDING = KNATIVE / "100-sinkbinding.yaml"

LOCK = PROJECT_ROOT / "requirements" / "runtime.txt"

# What Terraform's modules/chatfn creates: the ConfigMap from its `local.config`.
TERRAFORM_MODULE = PROJECT_ROOT / "terraform" / "modules" / "chatfn"
CONFIG_MAP = "chatfn-config"
SECRET = "chatfn-secrets"
TEST_SECRETS = {
    "JWT_SECRET": "runtime-start-test-jwt-secret-0123456789abcdef",
    "JWT_PREVIOUS_SECRET": "runtime-start-test-previous-jwt-secret-0123456789",
    "API_KEY_HASH_SECRET": "runtime-start-test-api-key-hash-secret-0123456789",
    "LLM_API_KEY": "runtime-start-test-llm-key",
    "S3_ACCESS_KEY": "runtime-start-test-access-key",
    "S3_SECRET_KEY": "runtime-start-test-secret-key",
}

Stores = dict[str, dict[str, dict[str, str]]]  # kind (configMap, secret) -> name -> data


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


def knative_environment(service: dict[str, Any], settings: Settings, port: int) -> dict[str, str]:
    """What Knative adds: K_SINK where the SinkBinding selects the Service, and its own
    variables; PORT is the one the server must listen on."""
    name = service["metadata"]["name"]
    sink = {"K_SINK": settings.k_sink} if sink_binding_selects(service) else {}
    return sink | {
        "PORT": str(port),
        "K_SERVICE": name,
        "K_CONFIGURATION": name,
        "K_REVISION": f"{name}-00001",
    }


def probe_paths(service: dict[str, Any]) -> list[str]:
    """The paths of its HTTP readiness and liveness probes, readiness first."""
    probes = [container(service).get(p, {}) for p in ("readinessProbe", "livenessProbe")]
    return [probe["httpGet"].get("path", "/") for probe in probes if "httpGet" in probe]


def local(word: str, paths: dict[str, Path]) -> str | Path:
    """`word` with an image path in it swapped for its local stand-in."""
    for image_path, local_path in paths.items():
        if word == image_path or word.startswith(image_path + "/"):
            return local_path / word[len(image_path) + 1 :]
    return word


def run(command: list[str | Path]) -> None:
    done = subprocess.run(command, capture_output=True, text=True)
    assert done.returncode == 0, f"{shlex.join(map(str, command))}:\n{done.stdout}{done.stderr}"


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


def build_runtime_venv() -> Path:
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


def install_project(runtime_venv: Path, source: Path, site: Path) -> Path:
    """chatfn itself into `site`, without dependencies, from the files the Dockerfile copies
    (into `source`). Made anew by each user, beside the cached venv, so the code is today's."""
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(PROJECT_ROOT / name, source)
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
    shutil.copytree(PROJECT_ROOT / "src", source / "src", ignore=ignore)
    python = runtime_venv / "bin/python"
    pip: list[str | Path] = [python, "-m", "pip", "install", "--quiet", "--no-compile"]
    run([*pip, "--no-deps", "--target", site, source])
    run(dockerfile_command("compileall", {"/opt/venv": site, "python": python}))
    return site


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
        """The manifest's command and args, else the image's CMD, found on the image's PATH:
        its /opt/venv/bin holds the locked packages' scripts and chatfn's own (chatfn-function),
        which here are installed apart, in the site's bin."""
        spec = container(workload)
        command = spec.get("command") or json.loads(final_stage().args_of("CMD")[-1])
        argv = [*command, *spec.get("args", [])]
        path = os.pathsep.join(str(folder / "bin") for folder in (self.venv, self.site))
        executable = shutil.which(argv[0], path=path)
        assert executable, f"{argv[0]} is not in the image"
        return [executable, *argv[1:]]
