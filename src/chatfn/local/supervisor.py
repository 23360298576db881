"""Keeps the local stack's processes running, through supervisord.

supervisord is the field's process supervisor: it daemonises, restarts what
crashes, stops whole process groups with the right signal and a grace period, and
keeps one log per program. `chatfn` only renders its config and talks to it over
its XML-RPC socket under `.local/run/`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shlex
import subprocess
import sys
import time
import xmlrpc.client
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import psutil
from supervisor.xmlrpc import SupervisorTransport

from chatfn.local.servers import Program

START_TIMEOUT_S = 15.0
# supervisord stops the gateway, the broker, the functions, then the servers, each group
# waiting up to its programs' stop wait (15 + 15 + 5 + 15 s at worst): longer, or the
# servers (PostgreSQL) are killed before they were asked to stop, and recover at next start.
STOP_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class ProcessInfo:
    name: str
    state: str
    pid: int
    uptime_s: int
    exit_detail: str


def _escape(value: str) -> str:
    """supervisord expands `%(name)s` in its config; a literal % must be doubled."""
    return value.replace("%", "%%")


def _environment_entry(key: str, value: str) -> str:
    # supervisord's parser strips quotes and knows no escapes: refuse what it would mangle.
    if '"' in value or "\n" in value:
        raise ValueError(f"{key}: a program's own environment cannot hold quotes or newlines")
    return f'{key}="{_escape(value)}"'


def render_config(home: Path, programs: list[Program], environment: dict[str, str]) -> str:
    """The supervisord config; `environment` is what every program inherits from supervisord.

    It is not written into the file (secrets, and values supervisord cannot quote), only
    its digest, so a changed environment reads as a changed config and restarts the stack.
    """
    digest = hashlib.sha256(json.dumps(environment, sort_keys=True).encode()).hexdigest()
    run, logs = home / "run", home / "logs"
    lines = [
        f"; inherited environment sha256: {digest}",
        "[unix_http_server]",
        f"file={run / 'supervisor.sock'}",
        "chmod=0700",
        "",
        "[supervisord]",
        f"logfile={logs / 'supervisord.log'}",
        f"pidfile={run / 'supervisord.pid'}",
        f"childlogdir={logs}",
        f"directory={Path.cwd()}",
        "user=root" if os.geteuid() == 0 else "",
        "",
        "[rpcinterface:supervisor]",
        "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface",
    ]
    for program in programs:
        own_environment = ",".join(
            _environment_entry(key, value) for key, value in sorted(program.environment.items())
        )
        lines += [
            "",
            f"[program:{program.name}]",
            f"command={_escape(shlex.join(program.command))}",
            f"stdout_logfile={logs / (program.name + '.log')}",
            "redirect_stderr=true",
            "stdout_logfile_maxbytes=10MB",
            "stdout_logfile_backups=2",
            f"autostart={str(program.autostart).lower()}",
            f"priority={program.priority}",
            "autorestart=unexpected",
            "startsecs=1",
            f"stopwaitsecs={program.stop_wait_s}",
            f"stopsignal={program.stop_signal}",
            "stopasgroup=true",
            "killasgroup=true",
        ]
        if own_environment:
            lines.append(f"environment={own_environment}")
        if program.user:
            lines.append(f"user={program.user}")
    return "\n".join(lines) + "\n"


class Supervisor:
    def __init__(self, home: Path) -> None:
        self.home = home
        self.config = home / "run" / "supervisord.conf"
        self.socket = home / "run" / "supervisor.sock"
        self.pidfile = home / "run" / "supervisord.pid"

    def _rpc(self) -> Any:
        transport = SupervisorTransport(None, None, f"unix://{self.socket}")
        return xmlrpc.client.ServerProxy("http://127.0.0.1", transport=transport)

    def pid(self) -> int | None:
        """The supervisord pid, if one is running for this home."""
        try:
            pid = int(self.pidfile.read_text())
        except (FileNotFoundError, ValueError):
            return None
        return pid if psutil.pid_exists(pid) else None

    def running(self) -> bool:
        if self.pid() is None:
            return False
        try:
            state = cast(dict[str, Any], self._rpc().supervisor.getState())
        except (OSError, xmlrpc.client.Error):
            return False
        return bool(state["statename"] == "RUNNING")

    def start(self, config_text: str, environment: dict[str, str]) -> None:
        """Start supervisord with `config_text`, restarting it if it runs another config.

        Every program inherits `environment` from supervisord.
        """
        if self.running():
            if self.config.read_text() == config_text:
                self._rpc().supervisor.startAllProcesses(False)
                return
            self.stop()
        for folder in ("run", "logs"):
            (self.home / folder).mkdir(parents=True, exist_ok=True)
        self.config.write_text(config_text)
        subprocess.run(
            [sys.executable, "-m", "supervisor.supervisord", "-c", str(self.config)],
            env=os.environ | environment,
            check=True,
        )
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self.running():
            if time.monotonic() > deadline:
                raise TimeoutError(f"supervisord did not start; see {self.home / 'logs'}")
            time.sleep(0.1)

    def start_program(self, name: str) -> None:
        """Start one program (those with autostart=false wait for this); no-op if it runs."""
        if self.processes()[name].state not in {"RUNNING", "STARTING"}:
            self._rpc().supervisor.startProcess(name, False)

    def stop_program(self, name: str) -> None:
        """Stop one program, waiting until it has exited; supervisord leaves it stopped."""
        self._rpc().supervisor.stopProcess(name, True)

    def restart_program(self, name: str) -> None:
        """Stop one program and start it again, waiting until supervisord sees it running."""
        self._rpc().supervisor.stopProcess(name, True)
        self._rpc().supervisor.startProcess(name, True)

    def processes(self) -> dict[str, ProcessInfo]:
        if not self.running():
            return {}
        infos = cast(list[dict[str, Any]], self._rpc().supervisor.getAllProcessInfo())
        return {
            info["name"]: ProcessInfo(
                name=info["name"],
                state=info["statename"],
                pid=info["pid"],
                uptime_s=max(0, info["now"] - info["start"]) if info["pid"] else 0,
                exit_detail=info["spawnerr"] or info["description"],
            )
            for info in infos
        }

    def stop(self) -> list[int]:
        """Stop every program, then supervisord; returns the pids that were running."""
        pid = self.pid()
        if pid is None:
            return []
        root = psutil.Process(pid)
        tree = [root, *root.children(recursive=True)]
        try:
            self._rpc().supervisor.shutdown()
        except (OSError, xmlrpc.client.Error):
            root.terminate()  # its socket is gone: fall back to the signal it also obeys
        psutil.wait_procs([root], timeout=STOP_TIMEOUT_S)
        # Whatever outlived supervisord's own stop (a program slower than its stop wait)
        # is killed too: an orphaned PostgreSQL would keep its data directory locked and
        # the next `up` would fail.
        _, alive = psutil.wait_procs(tree, timeout=0)
        for process in alive:
            with contextlib.suppress(psutil.NoSuchProcess):
                process.kill()
        psutil.wait_procs(alive, timeout=5)
        return [process.pid for process in tree]
