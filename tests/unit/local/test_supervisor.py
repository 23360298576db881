"""The supervisord config we render, read back by supervisord's own parser."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from supervisor.options import ServerOptions

from chatfn.local.servers import Program
from chatfn.local.supervisor import render_config


def parsed_programs(home: Path, text: str) -> dict[str, Any]:
    for folder in ("run", "logs"):
        (home / folder).mkdir(exist_ok=True)
    config = home / "supervisord.conf"
    config.write_text(text)
    options = ServerOptions()
    options.configfile = str(config)
    options.process_config(do_usage=False)
    return {group.name: group.process_configs[0] for group in options.process_group_configs}


def test_commands_and_environment_reach_supervisord_as_written(tmp_path: Path) -> None:
    program = Program(
        name="server",
        command=["/opt/bin/server", "--motd", "50% off, 'quoted' words", "--empty", ""],
        environment={"RUST_LOG": "warn,tansu=info", "RATIO": "100%"},
        stop_signal="INT",
    )

    parsed = parsed_programs(tmp_path, render_config(tmp_path, [program], {}))["server"]

    assert parsed.command == (
        "/opt/bin/server --motd '50% off, '\"'\"'quoted'\"'\"' words' --empty ''"
    )
    assert parsed.environment == {"RUST_LOG": "warn,tansu=info", "RATIO": "100%"}
    assert parsed.stopsignal.name == "SIGINT"
    assert parsed.stopasgroup
    assert parsed.killasgroup


def test_a_value_supervisord_would_mangle_is_refused() -> None:
    program = Program(name="p", command=["true"], environment={"TOKEN": 'a"b'})
    with pytest.raises(ValueError, match="TOKEN"):
        render_config(Path("/tmp/home"), [program], {})


def test_a_changed_inherited_environment_changes_the_config_but_stays_out_of_it() -> None:
    programs = [Program(name="p", command=["true"])]
    # Values no path or config keyword could contain by chance.
    before = render_config(Path("/tmp/home"), programs, {"JWT_SECRET": "s3cr3t-b3f0r3"})
    after = render_config(Path("/tmp/home"), programs, {"JWT_SECRET": "s3cr3t-aft3r"})
    assert before != after
    assert "s3cr3t-b3f0r3" not in before
    assert "s3cr3t-aft3r" not in after
