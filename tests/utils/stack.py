"""Start (or find) the local stack the suite runs against."""

from __future__ import annotations

import asyncio
import logging

from chatfn.local.stack import Stack
from chatfn.settings import Settings

log = logging.getLogger("tests.stack")


def ensure_stack(settings: Settings) -> Settings:
    """`chatfn up` for the tests: idempotent, so a stack already up is only checked."""

    def report(name: str, state: str, detail: str) -> None:
        log.info("%-9s %-10s %s", name, state, detail)

    return asyncio.run(Stack(settings).up(report))
