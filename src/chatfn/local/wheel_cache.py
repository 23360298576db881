"""Where Taskfile `setup:model` keeps the compiled llama.cpp wheel: outside any clone or venv,
in `${XDG_CACHE_HOME:-~/.cache}/chatfn/wheels/<key>`, the key a hash of what the build depends
on (the llama-cpp-python version, CMAKE_ARGS, the machine and the Python ABI), so a new venv,
a fresh clone or a CI run on the same machine installs it in seconds instead of compiling for
minutes. pip's own wheel cache keys a built wheel on the source alone, not on CMAKE_ARGS, and
would hand back one built with other flags.

    python -m chatfn.local.wheel_cache folder VERSION  # the folder for $CMAKE_ARGS
    python -m chatfn.local.wheel_cache clear           # delete every cached wheel
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import shutil
import sys
import sysconfig
from pathlib import Path

PACKAGE = "llama-cpp-python"


def root() -> Path:
    """The folder of every cached wheel, where the XDG base directories put a user's caches."""
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "chatfn" / "wheels"


def key(version: str, cmake_args: str) -> str:
    """16 hex digits of a hash of the build's inputs, for this machine and this Python.

    The lines are those the Taskfile hashed in shell before: the wheels it cached stay found."""
    inputs = (
        f"{PACKAGE}=={version}",
        cmake_args,
        platform.machine(),
        f"{sys.implementation.cache_tag} {sysconfig.get_platform()}",
    )
    return hashlib.sha256("".join(f"{line}\n" for line in inputs).encode()).hexdigest()[:16]


def folder(version: str, cmake_args: str) -> Path:
    return root() / key(version, cmake_args)


def clear() -> str:
    """Deletes every cached wheel (and any build cut short); says what it did."""
    wheels = root()
    if not wheels.exists():
        return f"no compiled wheels at {wheels}"
    shutil.rmtree(wheels)
    return f"deleted {wheels}: the next ./task up or test compiles llama.cpp again"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m chatfn.local.wheel_cache")
    commands = parser.add_subparsers(dest="command", required=True)
    folder_command = commands.add_parser("folder", help="the wheel's folder for $CMAKE_ARGS")
    folder_command.add_argument("version", help=f"{PACKAGE}'s version")
    commands.add_parser("clear", help="delete every cached wheel")
    args = parser.parse_args(argv)
    if args.command == "folder":
        sys.stdout.write(f"{folder(args.version, os.environ.get('CMAKE_ARGS', ''))}\n")
    else:
        sys.stdout.write(f"{clear()}\n")


if __name__ == "__main__":
    main()
