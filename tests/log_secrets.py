"""A pytest plugin (tests/conftest.py registers it): what the local test stack wrote during
a run, its logs and its spans, holds no secret (issue 16). A finding fails the run.

The stack outlives a run, so each file is read from the size it had when the run began.
The controller (xdist's, or the one process of a run without it) does the reading, after
the last test. Most secrets have a shape; the prompts the tests send do not, so
tests/utils/chat.py's `send` records each in a file beside the logs, for the controller,
as xdist's workers are processes of their own.

PYTEST_DONT_REWRITE: this asserts nothing, and tests/utils/chat.py imports it before
pytest registers it as a plugin (pytest would warn that it cannot rewrite it).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from xdist import is_xdist_worker  # type: ignore[import-untyped]

from chatfn.settings import DEV_SECRETS
from tests.utils.accounts import PASSWORD

# The test stack's home, as tests/conftest.py finds it.
HOME = Path(os.environ.get("CHATFN_HOME", ".local/test")).absolute()
WRITTEN = ("logs/*.log", "traces/*.jsonl")
PROMPTS = HOME / "prompts-sent.jsonl"
# A prompt shorter than this ("hi") is found in words that are no prompt.
PROMPT_MIN_CHARS = 12


def _exactly(value: str) -> str:
    return rf"(?<![\w-]){re.escape(value)}(?![\w-])"


PATTERNS = {
    "a JWT": r"\beyJ[\w-]+\.[\w-]+\.[\w-]+",
    "an API key": r"\bsk-chatfn-[\w-]+",
    "a Bearer credential": r"\bBearer\s+[\w.~+/-]{16,}",
    # <user id>.<secrets.token_urlsafe(32)> (chatfn.identity.sessions)
    "a refresh token": r"\b[0-9a-f-]{36}\.[\w-]{43}(?![\w-])",
    # secrets.token_urlsafe(24) (chatfn.chat.tickets), in a URL's query or a Redis key
    "a stream ticket": r"ticket[\"':=\s]{1,4}[\w-]{32}(?![\w-])",
    "the test users' password": _exactly(PASSWORD),
    **{f"the development {name}": _exactly(value) for name, value in DEV_SECRETS.items()},
}

_sizes = pytest.StashKey[dict[Path, int]]()


def remember_prompt(prompt: str) -> None:
    """A prompt a test sent: the logs must not hold it."""
    PROMPTS.parent.mkdir(parents=True, exist_ok=True)
    with PROMPTS.open("a", encoding="utf-8") as out:
        out.write(json.dumps(prompt) + "\n")


def written() -> list[Path]:
    return sorted(path for pattern in WRITTEN for path in HOME.glob(pattern))


def pytest_sessionstart(session: pytest.Session) -> None:
    if is_xdist_worker(session):
        return
    PROMPTS.unlink(missing_ok=True)
    session.stash[_sizes] = {path: path.stat().st_size for path in written()}


def pytest_sessionfinish(session: pytest.Session) -> None:
    if is_xdist_worker(session):
        return
    patterns = [(what, re.compile(pattern)) for what, pattern in PATTERNS.items()]
    prompts = (
        [json.loads(line) for line in PROMPTS.read_text().splitlines()] if PROMPTS.exists() else []
    )
    # Longest first: where one prompt begins another, the whole of the longer one is masked.
    # As sent, and as inside a JSON string (a line of telemetry.logs, a span's attribute).
    forms = {form for p in prompts for form in (p, json.dumps(p)[1:-1])}
    sent = sorted((f for f in forms if len(f) >= PROMPT_MIN_CHARS), key=len, reverse=True)
    if sent:
        patterns.append(("a prompt a test sent", re.compile("|".join(map(re.escape, sent)))))
    found = []
    for path in written():
        for number, line in _new_lines(path, session.stash[_sizes].get(path, 0)):
            masked = line
            for what, pattern in patterns:
                masked = pattern.sub(f"<{what}>", masked)
            if masked != line:
                found.append(f"{path.relative_to(HOME)}:{number}: {masked[:300]}")
    if found:
        terminal = session.config.get_terminal_writer()
        terminal.line()
        terminal.sep("=", f"secrets in what the test stack wrote ({HOME})", red=True)
        for finding in found:
            terminal.line(finding)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def _new_lines(path: Path, start: int) -> Iterator[tuple[int, str]]:
    """The lines from byte `start` on, numbered as in the whole file."""
    data = path.read_bytes()
    if len(data) < start:  # rotated (supervisord's stdout_logfile_maxbytes) since then
        start = 0
    first = data.count(b"\n", 0, start) + 1
    yield from enumerate(data[start:].decode(errors="replace").splitlines(), first)
