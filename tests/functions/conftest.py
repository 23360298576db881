"""Functions under test are built from their own files, as functions-framework builds them,
and configured as Knative configures them: through the environment."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from chatfn import runtime
from chatfn.settings import Settings, get_settings


@pytest.fixture
def function_env(
    settings: Settings, name: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Settings]:
    """This worker's database and a Redis prefix of this test's own, in the environment."""
    configured = settings.model_copy(update={"redis_prefix": name})
    for variable, value in configured.as_environment().items():
        monkeypatch.setenv(variable, value)
    get_settings.cache_clear()
    runtime.current.cache_clear()
    yield configured
    get_settings.cache_clear()
    runtime.current.cache_clear()
