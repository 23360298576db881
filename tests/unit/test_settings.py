from __future__ import annotations

import pytest
from pydantic import ValidationError

from chatfn.settings import DEV_SECRETS, NEEDS, OPTIONAL, SECRET_VARIABLES, Settings


@pytest.fixture(autouse=True)
def _no_outside_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only what a test passes counts: no variables from the shell, no `.env`."""
    for info in Settings.model_fields.values():
        monkeypatch.delenv(str(info.alias), raising=False)
    monkeypatch.setitem(Settings.model_config, "env_file", None)


# Everything `api`, the function that needs the most, is given in production.
API_IN_PRODUCTION = {
    "CHATFN_MODE": "production",
    "FUNCTION_TARGET": "api",
    "DATABASE_URL": "postgresql://chatfn:pw@db:5432/chatfn",
    "REDIS_URL": "redis://redis:6379/0",
    "K_SINK": "http://broker-ingress/chatfn/default",
    "DEAD_LETTER_SINK": "http://kafka-sink-ingress/chatfn/dead-letter",
    "LLM_BASE_URL": "https://models/v1",
    "LLM_API_KEY": "llm-real",
    "JWT_SECRET": "jwt-real",
    "API_KEY_HASH_SECRET": "keyhash-real",
    "S3_ENDPOINT": "https://s3.example",
    "S3_ACCESS_KEY": "chatfn",
    "S3_SECRET_KEY": "s3-real",
}


def test_local_mode_runs_with_development_defaults() -> None:
    settings = Settings()
    assert settings.mode == "local"
    assert settings.database_url == ""  # the local stack fills it in
    assert settings.jwt_secret.get_secret_value() == DEV_SECRETS["JWT_SECRET"]
    assert settings.s3_access_key == DEV_SECRETS["S3_ACCESS_KEY"]


def test_local_mode_keeps_secrets_it_is_given() -> None:
    settings = Settings.model_validate({"JWT_SECRET": "mine", "S3_ACCESS_KEY": "me"})
    assert settings.jwt_secret.get_secret_value() == "mine"
    assert settings.s3_access_key == "me"


def test_production_refuses_development_values_even_of_secrets_it_does_not_need() -> None:
    given = API_IN_PRODUCTION | {"S3_SECRET_KEY": DEV_SECRETS["S3_SECRET_KEY"]}
    with pytest.raises(ValidationError, match="S3_SECRET_KEY set to the development") as refused:
        Settings.model_validate(given)
    assert "JWT_SECRET" not in str(refused.value)
    assert "jwt-real" not in str(refused.value)  # nor any input: errors get logged


def test_production_leaves_secrets_nobody_set_empty() -> None:
    # stream_reply needs Redis alone: every other secret stays unset.
    settings = Settings.model_validate(
        {"CHATFN_MODE": "production", "FUNCTION_TARGET": "stream_reply",
         "REDIS_URL": "redis://redis:6379/0"}
    )  # fmt: skip
    assert settings.s3_secret_key.get_secret_value() == ""
    assert settings.s3_access_key == ""
    assert settings.jwt_secret.get_secret_value() == ""
    assert settings.jwt_previous_secret is None


@pytest.mark.parametrize("variable", sorted(NEEDS["api"] - OPTIONAL))
def test_production_requires_what_the_function_needs(variable: str) -> None:
    with pytest.raises(ValidationError, match=f"{variable} required by api"):
        Settings.model_validate(API_IN_PRODUCTION | {variable: ""})


@pytest.mark.parametrize("function", sorted(NEEDS))
def test_each_function_starts_in_production_with_only_what_it_needs(function: str) -> None:
    needed = {v: API_IN_PRODUCTION.get(v, "real") for v in NEEDS[function] - OPTIONAL}
    settings = Settings.model_validate(
        {"CHATFN_MODE": "production", "FUNCTION_TARGET": function, **needed}
    )
    assert settings.function == function
    given = {variable for variable, value in settings.as_environment().items() if value}
    assert given & SECRET_VARIABLES <= NEEDS[function]


def test_a_function_that_never_signs_tokens_starts_without_jwt_secret() -> None:
    settings = Settings.model_validate(
        {
            "CHATFN_MODE": "production",
            "FUNCTION_TARGET": "persist_history",
            "DATABASE_URL": "postgresql://db/chatfn",
            "REDIS_URL": "redis://redis:6379/0",
        }
    )
    assert settings.jwt_secret.get_secret_value() == ""


def test_production_refuses_an_unknown_function() -> None:
    with pytest.raises(ValidationError, match="FUNCTION_TARGET=apii is no chatfn function"):
        Settings.model_validate(API_IN_PRODUCTION | {"FUNCTION_TARGET": "apii"})


def test_a_process_that_runs_no_function_checks_what_it_uses_itself() -> None:
    """The migration Job and the CLI: nothing is demanded up front."""
    settings = Settings.model_validate({"CHATFN_MODE": "production"})
    assert settings.database_url == ""


def test_every_needed_variable_is_a_setting() -> None:
    variables = {str(info.alias) for info in Settings.model_fields.values()}
    assert set().union(*NEEDS.values()) <= variables
    assert variables >= SECRET_VARIABLES >= set(DEV_SECRETS)


def test_a_libpq_database_url_gets_the_asyncpg_driver() -> None:
    settings = Settings(DATABASE_URL="postgres://u:p@h:5432/d")
    assert settings.database_url == "postgresql+asyncpg://u:p@h:5432/d"


def test_settings_survive_the_trip_through_a_child_process_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    original = Settings.model_validate(API_IN_PRODUCTION)
    for key, value in original.as_environment().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("FUNCTION_TARGET", "api")  # functions-framework's, never passed on
    assert "FUNCTION_TARGET" not in original.as_environment()
    assert Settings() == original


def test_secrets_do_not_show_in_repr() -> None:
    settings = Settings.model_validate(API_IN_PRODUCTION)
    assert "jwt-real" not in repr(settings)
    assert "llm-real" not in repr(settings)
    assert "keyhash-real" not in repr(settings)
    assert "s3-real" not in repr(settings)
