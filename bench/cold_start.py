"""Each function's cold start in production mode, as its Knative Service starts it.

Every Service in knative/ is started with its own command and environment, in the image as
tests/image stands it in (the runtime lock only, bytecode compiled, the image's ENV), against
the PostgreSQL and Redis of a stack under `.local/bench`. For each: the time from spawn to its
readiness probe's 200 over several starts (median, min, max), the PSS of its process tree
once idle, and the modules whose import costs over 50 ms (`python -X importtime`, cumulative,
from one more start). Run:

    .venv/bin/python -m bench.cold_start --runs 5

`--command` starts every function with another command too (its manifest's env unchanged;
`$(PORT)` expanded from it as Kubernetes does), to compare it with the manifests' own
(chatfn-function) in the same run, e.g. functions-framework's own, gunicorn's master and
one uvicorn worker:

    .venv/bin/python -m bench.cold_start --command 'functions-framework --asgi'
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import shlex
import signal
import statistics
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psutil
import yaml
from tests.utils.broker import free_port
from tests.utils.knative import (
    SERVICES,
    Image,
    build_runtime_venv,
    cluster_stores,
    install_project,
    knative_environment,
    probe_paths,
)

from chatfn.local.provision import PROJECT_ROOT
from chatfn.local.stack import Stack
from chatfn.settings import Settings

IDLE_S = 3.0  # after the probe, for the worker's start-up garbage to settle
READY_WITHIN_S = 60.0
IMPORT_MS = 50.0
KUBERNETES_VARIABLE = re.compile(r"\$\((\w+)\)")  # $(PORT) in a command or its args
IMPORT_LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \| (\s*)(\S+)")


@dataclass
class Start:
    ready_s: float
    pss_mib: float
    processes: int


@contextlib.contextmanager
def started(
    argv: list[str], environment: dict[str, str], stderr: Path
) -> Iterator[subprocess.Popen[bytes]]:
    expanded = [KUBERNETES_VARIABLE.sub(lambda m: environment[m[1]], word) for word in argv]
    with stderr.open("wb") as output:
        process = subprocess.Popen(
            expanded,
            cwd=PROJECT_ROOT,  # the image's WORKDIR holds functions/ the same way
            env=environment,
            stdout=subprocess.DEVNULL,
            stderr=output,
            start_new_session=True,
        )
    try:
        yield process
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def until_ready(process: subprocess.Popen[bytes], url: str, stderr: Path) -> float:
    """Seconds from now until `url` answers 200, polled every 10 ms."""
    began = time.perf_counter()
    with httpx.Client(timeout=2) as client:
        while time.perf_counter() - began < READY_WITHIN_S:
            if process.poll() is not None:
                raise SystemExit(f"exited {process.returncode}:\n{stderr.read_text()[-3000:]}")
            try:
                status = client.get(url).status_code
            except httpx.TransportError:
                time.sleep(0.01)
                continue
            if status != 200:
                raise SystemExit(f"{url} answered {status}:\n{stderr.read_text()[-3000:]}")
            return time.perf_counter() - began
    raise SystemExit(f"{url} not up within {READY_WITHIN_S} s:\n{stderr.read_text()[-3000:]}")


def pss_mib(root: int) -> tuple[float, int]:
    """Proportional set size of the process and its descendants, and how many they are."""
    tree = [psutil.Process(root), *psutil.Process(root).children(recursive=True)]
    return sum(process.memory_full_info().pss for process in tree) / 2**20, len(tree)


def environment_of(image: Image, service: dict[str, Any], settings: Settings) -> dict[str, str]:
    port = free_port()
    environment = image.environment(service, cluster_stores(settings))
    return environment | knative_environment(service, settings, port)


def cold_start(image: Image, service: dict[str, Any], settings: Settings, argv: list[str]) -> Start:
    environment = environment_of(image, service, settings)
    url = f"http://127.0.0.1:{environment['PORT']}{probe_paths(service)[0]}"
    stderr = image.tmp / "stderr.log"
    began = time.perf_counter()
    with started(argv, environment, stderr) as process:
        spawned = time.perf_counter() - began
        ready_s = spawned + until_ready(process, url, stderr)
        time.sleep(IDLE_S)
        pss, processes = pss_mib(process.pid)
    return Start(ready_s, pss, processes)


def import_offenders(
    image: Image, service: dict[str, Any], settings: Settings, argv: list[str]
) -> list[tuple[int, float, str]]:
    """(depth, cumulative ms, module) of each import over IMPORT_MS, outermost first, from one
    start with -X importtime (PYTHONPROFILEIMPORTTIME). A module imported by one of its own
    package's is left in its importer's figure (`openai` stands for `openai.types...`), but
    chatfn's own are each shown."""
    environment = environment_of(image, service, settings) | {"PYTHONPROFILEIMPORTTIME": "1"}
    url = f"http://127.0.0.1:{environment['PORT']}{probe_paths(service)[0]}"
    stderr = image.tmp / "importtime.log"
    with started(argv, environment, stderr) as process:
        until_ready(process, url, stderr)
    imports = [
        match for line in stderr.read_text().splitlines() if (match := IMPORT_LINE.match(line))
    ]
    offenders, importers = [], list[str]()  # importers: the chain of modules open at this depth
    for match in reversed(imports):  # importtime prints each module after what it imports
        depth, module, cumulative_ms = len(match[3]) // 2, match[4], int(match[2]) / 1000
        del importers[depth:]
        importer = importers[-1] if importers else ""
        package = module.split(".")[0]
        if cumulative_ms > IMPORT_MS and (package == "chatfn" or importer.split(".")[0] != package):
            offenders.append((depth, cumulative_ms, module))
        importers.append(module)
    return offenders


def main(runs: int, only: list[str], command: list[str] | None) -> None:
    stack = Stack(Settings(CHATFN_HOME=Path(".local/bench"), CHATFN_PORT=0))
    settings = asyncio.run(stack.up(lambda *_: None))
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder).resolve()
        venv = build_runtime_venv()
        for made in ("project", "site", "tmp/home"):
            (work / made).mkdir(parents=True)
        site = install_project(venv, work / "project", work / "site")
        image = Image(venv, site, work / "tmp")
        print(f"{runs} cold starts per command on {os.cpu_count()} cores, after one discarded")
        print(f"{'function':<16} {'command':<10} {'ready s: median (min-max)':>26} {'PSS MiB':>8}")
        offenders: dict[str, list[tuple[int, float, str]]] = {}
        for manifest in SERVICES:
            service = yaml.safe_load(manifest.read_text())
            name = service["metadata"]["name"]
            if only and name not in only:
                continue
            commands = {"manifest": image.argv(service)}
            if command:
                commands["--command"] = [str(image.venv / "bin" / command[0]), *command[1:]]
            for label, argv in commands.items():
                cold_start(image, service, settings, argv)  # the page cache warm, as a node's
                starts = [cold_start(image, service, settings, argv) for _ in range(runs)]
                ready = sorted(start.ready_s for start in starts)
                pss = statistics.median(start.pss_mib for start in starts)
                print(
                    f"{name:<16} {label:<10} {statistics.median(ready):>12.2f} "
                    f"({ready[0]:.2f}-{ready[-1]:.2f}) {pss:>8.1f} "
                    f"({starts[0].processes} process{'es' if starts[0].processes > 1 else ''})",
                    flush=True,
                )
                offenders[f"{name} ({label})"] = import_offenders(image, service, settings, argv)
        print(f"\nimports over {IMPORT_MS:.0f} ms (cumulative, -X importtime), by function:")
        for name, modules in offenders.items():
            print(name)
            for depth, ms, module in modules:
                print(f"  {ms:6.0f} ms {'  ' * depth}{module}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--only", nargs="*", default=[], help="Knative Service names")
    parser.add_argument("--command", type=shlex.split, help="beside the manifests' own")
    arguments = parser.parse_args()
    main(arguments.runs, arguments.only, arguments.command)
