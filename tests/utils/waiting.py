"""Waiting for a condition the running stack makes true, with a deadline (never a sleep
that hopes)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def until(condition: Callable[[], Awaitable[bool]], within: float = 30.0) -> None:
    """Poll `condition` until it holds; TimeoutError after `within` seconds."""
    async with asyncio.timeout(within):
        while True:
            if await condition():
                return
            await asyncio.sleep(0.02)


async def once(fetch: Callable[[], Awaitable[T]], holds: Callable[[T], bool],
               within: float = 30.0) -> T:  # fmt: skip
    """Fetch until what comes back `holds`, and return it; TimeoutError after `within` s."""
    async with asyncio.timeout(within):
        while True:
            if holds(value := await fetch()):
                return value
            await asyncio.sleep(0.05)
