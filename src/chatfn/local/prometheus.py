"""The local Prometheus: Debian's package (Taskfile `setup:prometheus`), scraping every
traced process of the stack and evaluating observability/'s alert rules, so the
dashboards and alerts that production runs can be tried against a laptop's traffic."""

from __future__ import annotations

from pathlib import Path

import yaml

from chatfn.local.provision import PROJECT_ROOT

BINARY = "/usr/bin/prometheus"
RULES = PROJECT_ROOT / "observability" / "rules" / "chatfn.rules.yaml"
# Often enough for `chatfn status` and a test to see a chat within seconds; each scrape
# of a process costs it about a millisecond.
SCRAPE_INTERVAL = "5s"


def config(targets: dict[str, str]) -> str:
    """prometheus.yml: one job per program (`job` is the program's name), its rules."""
    return yaml.safe_dump(
        {
            "global": {"scrape_interval": SCRAPE_INTERVAL, "evaluation_interval": "15s"},
            "rule_files": [str(RULES)],
            "scrape_configs": [
                {"job_name": name, "static_configs": [{"targets": [target]}]}
                for name, target in sorted(targets.items())
            ],
        },
        sort_keys=False,
    )


def command(config_file: Path, data: Path, port: int) -> list[str]:
    return [
        BINARY,
        f"--config.file={config_file}",
        f"--storage.tsdb.path={data}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--storage.tsdb.retention.time=7d",
    ]
