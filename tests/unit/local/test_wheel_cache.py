"""The compiled llama.cpp wheel's cache: its folder changes with every input of the build
(a flag of CMAKE_ARGS, the version) and with nothing else, as Taskfile `setup:model` asks for
it; `./task cache:clear` deletes it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from chatfn.local.provision import PROJECT_ROOT

VERSION = "0.3.36"
FLAGS = "-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON"


def folder(cache: Path, version: str, cmake_args: str, cwd: Path = PROJECT_ROOT) -> Path:
    """The folder `python -m chatfn.local.wheel_cache folder` prints, as setup:model runs it."""
    done = subprocess.run(
        [sys.executable, "-m", "chatfn.local.wheel_cache", "folder", version],
        env=os.environ | {"XDG_CACHE_HOME": str(cache), "CMAKE_ARGS": cmake_args},
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
    )
    return Path(done.stdout.strip())


def test_the_folder_is_a_key_under_the_users_cache(tmp_path: Path) -> None:
    wheels = folder(tmp_path, VERSION, FLAGS)
    assert wheels.parent == tmp_path / "chatfn" / "wheels"
    assert re.fullmatch("[0-9a-f]{16}", wheels.name)


@pytest.mark.parametrize(
    ("version", "cmake_args"),
    [
        (VERSION, FLAGS.replace("-DGGML_AVX2=ON", "-DGGML_AVX2=OFF")),
        (VERSION, f"{FLAGS} -DGGML_BLAS=ON"),
        (VERSION, ""),  # not x86_64: a native build
        ("0.3.37", FLAGS),
    ],
)
def test_another_build_flag_or_version_is_another_folder(
    tmp_path: Path, version: str, cmake_args: str
) -> None:
    assert folder(tmp_path, version, cmake_args) != folder(tmp_path, VERSION, FLAGS)


def test_the_same_build_asked_again_from_elsewhere_is_the_same_folder(tmp_path: Path) -> None:
    """Another process in another folder (a fresh clone) finds the wheel the first one cached."""
    elsewhere = tmp_path / "clone"
    elsewhere.mkdir()
    assert folder(tmp_path, VERSION, FLAGS, cwd=elsewhere) == folder(tmp_path, VERSION, FLAGS)


def test_task_cache_clear_deletes_every_cached_wheel(tmp_path: Path) -> None:
    wheels = folder(tmp_path, VERSION, FLAGS)
    wheels.mkdir(parents=True)
    (wheels / f"llama_cpp_python-{VERSION}-py3-none-linux_x86_64.whl").write_bytes(b"PK")
    (wheels.parent / f"{wheels.name}.building.x1y2z3").mkdir()  # a build cut short
    done = subprocess.run(
        [str(Path(sys.executable).parent / "task"), "cache:clear"],
        env=os.environ | {"XDG_CACHE_HOME": str(tmp_path)},
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert not wheels.parent.exists()
    assert (tmp_path / "chatfn").is_dir()  # only the wheels: nothing else of the user's cache
