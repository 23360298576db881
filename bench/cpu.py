"""CPU time spent by named processes (each with its children) over a stretch of a benchmark.

On a 2-core machine every process of the pipeline shares the same cores, so a latency
goal under load is really a CPU budget: these figures say who spends it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping

import psutil


class CpuMeter:
    def __init__(self, pids: Mapping[str, int]) -> None:
        self.roots = {name: psutil.Process(pid) for name, pid in pids.items()}
        self.started = self._seconds()

    def _tree(self, root: psutil.Process) -> list[psutil.Process]:
        """`root` and its descendants, leaving out any other named process's tree (the
        bench is the parent of the broker it starts, for one)."""
        others = {process.pid for process in self.roots.values()} - {root.pid}
        tree, unvisited = [], [root]
        while unvisited:
            process = unvisited.pop()
            tree.append(process)
            with contextlib.suppress(psutil.NoSuchProcess):
                unvisited += [child for child in process.children() if child.pid not in others]
        return tree

    def _seconds(self) -> dict[str, float]:
        return {name: sum(map(_cpu_seconds, self._tree(root))) for name, root in self.roots.items()}

    def per_unit_ms(self, units: int) -> dict[str, float]:
        """CPU milliseconds per unit of work (event, chat) since the meter was made,
        highest first, with `total` last."""
        now = self._seconds()
        spent = {name: (now[name] - self.started[name]) * 1000 / units for name in now}
        ranked = dict(sorted(spent.items(), key=lambda item: -item[1]))
        return ranked | {"total": sum(spent.values())}


def _cpu_seconds(process: psutil.Process) -> float:
    """User plus system time; a process gone meanwhile (a short-lived child) counts 0."""
    try:
        return float(sum(process.cpu_times()[:2]))
    except psutil.NoSuchProcess:
        return 0.0


def describe(per_unit_ms: Mapping[str, float], unit: str) -> str:
    parts = ", ".join(f"{name} {ms:.2f}" for name, ms in per_unit_ms.items())
    return f"CPU ms per {unit}: {parts}"
