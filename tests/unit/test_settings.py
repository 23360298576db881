from __future__ import annotations

import pytest
from pydantic import ValidationError

from chatfn.settings import Settings


@pytest.fixture(autouse=True)
def _no_outside_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only what a test passes counts: no variables from the shell, no `.env`."""
    for info in Settings.model_fields.values():
        monkeypatch.delenv(str(info.alias), raising=False)
    monkeypatch.setitem(Settings.model_config, "env_file", None)


PRODUCTION_URLS = {
    "DATABASE_URL": "postgresql://chatfn:pw@db:5432/chatfn",
    "REDIS_URL": "redis://redis:6379/0",
    "KAFKA_BOOTSTRAP_SERVERS": "kafka:9092",
    "S3_ENDPOINT": "https://minio:9000",
    "LLM_BASE_URL": "https://models/v1",
}
PRODUCTION_SECRETS = {
    "S3_SECRET_KEY": "s3-real",
    "LLM_API_KEY": "llm-real",
    "JWT_SECRET": "jwt-real",
}


def test_local_mode_runs_with_development_defaults() -> None:
    settings = Settings()
    assert settings.mode == "local"
    assert settings.database_url == ""  # the local stack fills it in


def test_production_refuses_secrets_left_at_their_development_default() -> None:
    with pytest.raises(ValidationError, match="JWT_SECRET") as refused:
        Settings.model_validate(
            {
                "CHATFN_MODE": "production",
                **PRODUCTION_URLS,
                "S3_SECRET_KEY": "s3",
                "LLM_API_KEY": "x",
            }
        )
    assert "S3_SECRET_KEY" not in str(refused.value)


def test_production_requires_every_service_url() -> None:
    with pytest.raises(ValidationError, match="REDIS_URL"):
        Settings.model_validate(
            {"CHATFN_MODE": "production", **PRODUCTION_URLS, "REDIS_URL": "", **PRODUCTION_SECRETS}
        )


def test_production_accepts_real_secrets() -> None:
    settings = Settings.model_validate(
        {"CHATFN_MODE": "production", **PRODUCTION_URLS, **PRODUCTION_SECRETS}
    )
    assert settings.jwt_secret.get_secret_value() == "jwt-real"


def test_a_libpq_database_url_gets_the_asyncpg_driver() -> None:
    settings = Settings(DATABASE_URL="postgres://u:p@h:5432/d")
    assert settings.database_url == "postgresql+asyncpg://u:p@h:5432/d"


def test_settings_survive_the_trip_through_a_child_process_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    original = Settings.model_validate(
        {"CHATFN_MODE": "production", **PRODUCTION_URLS, **PRODUCTION_SECRETS}
    )
    for key, value in original.as_environment().items():
        monkeypatch.setenv(key, value)
    assert Settings() == original


def test_secrets_do_not_show_in_repr() -> None:
    settings = Settings.model_validate(PRODUCTION_SECRETS)
    assert "jwt-real" not in repr(settings)
