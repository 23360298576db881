"""Port allocation for `chatfn up`: every port of every server is distinct."""

from __future__ import annotations

from collections.abc import Set as AbstractSet
from pathlib import Path

import pytest

from chatfn.local import stack
from chatfn.local.servers import SERVERS
from chatfn.settings import Settings


def test_ports_differ_even_when_the_kernel_hands_back_the_same_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Right after a probe socket closes, the kernel may offer its port again: model that
    # worst case by always offering the lowest port not explicitly avoided.
    def lowest_free_port(avoid: AbstractSet[int] = frozenset()) -> int:
        return next(port for port in range(40000, 50000) if port not in avoid)

    monkeypatch.setattr(stack, "_free_port", lowest_free_port)
    embedded = {server.env_var: "" for server in SERVERS}
    settings = Settings.model_validate({"CHATFN_HOME": tmp_path, "CHATFN_PORT": 0} | embedded)

    ports = stack.Stack(settings)._allocate_ports()

    every_port = [port for server in ports.values() for port in server.values()]
    assert len(every_port) == len(set(every_port)), ports
    assert len(ports["s3"]) > 1  # the case that collided: one server with several ports
