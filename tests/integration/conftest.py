"""The stack for tests that stop, restart or kill parts of a stack."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from chatfn.settings import Settings
from tests.utils.stack import own_stack


@pytest.fixture(scope="session")
def destructive_stack(worker_id: str) -> Iterator[Settings]:
    """A whole stack beside the shared one, for tests that stop, restart or kill its
    servers or functions: the other worker's chats in flight on the shared stack never
    see it. Started when a test of this worker first asks for it, stopped at the end of
    the worker's session; such a test leaves it healthy again."""
    home = Path(f"{os.environ.get('CHATFN_HOME', '.local/test')}-destructive-{worker_id}")
    with own_stack(home) as settings:
        yield settings
