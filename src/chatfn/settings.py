"""The one place configuration is read: environment variables and `.env`.

Every service URL and secret lives here. A URL left empty means "the local stack
provides it" (`chatfn up` starts an embedded server and passes its URL to every
process it runs). Secrets get development values in local mode only, so `task up` works
on a fresh clone; in production a secret nobody set stays empty, a development value is
refused, and a function demands only what it uses (`NEEDS`), so its Knative Service is
given only those secrets.
"""

from __future__ import annotations

from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal, Self

from pydantic import Field, SecretStr, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

# Filled in when local mode leaves them unset; refused in production.
DEV_SECRETS = {
    "S3_ACCESS_KEY": "chatfn-dev",
    "S3_SECRET_KEY": "chatfn-dev-secret",
    "LLM_API_KEY": "chatfn-dev-llm-key",
    "JWT_SECRET": "chatfn-dev-jwt-secret-change-me-0123456789",
    "API_KEY_HASH_SECRET": "chatfn-dev-api-key-hash-secret-0123456789",
}

# The variables that are secrets (a Kubernetes Secret holds them; a ConfigMap the rest).
SECRET_VARIABLES = frozenset(
    {
        "DATABASE_URL",
        "REDIS_URL",
        "JWT_SECRET",
        "JWT_PREVIOUS_SECRET",
        "API_KEY_HASH_SECRET",
        "LLM_API_KEY",
        "S3_ACCESS_KEY",
        "S3_SECRET_KEY",
    }
)

_DATABASE_AND_REDIS = frozenset({"DATABASE_URL", "REDIS_URL"})
_MODEL = frozenset({"LLM_BASE_URL", "LLM_API_KEY"})
_S3 = frozenset({"S3_ENDPOINT", "S3_ACCESS_KEY", "S3_SECRET_KEY"})

# What each function (its FUNCTION_TARGET) reads and must be given in production. Nothing
# in production reads Kafka directly (the broker is Knative's); `api` publishes to K_SINK,
# which its SinkBinding sets. `api` signs S3 URLs (presigned) and reads attachments' text,
# `generate_reply` reads images for the model, `exports` reads and writes S3.
# JWT_PREVIOUS_SECRET is optional (a key rotation).
NEEDS: dict[str, frozenset[str]] = {
    "api": _DATABASE_AND_REDIS
    | _MODEL
    | {"JWT_SECRET", "JWT_PREVIOUS_SECRET", "API_KEY_HASH_SECRET", "K_SINK", "DEAD_LETTER_SINK"}
    | _S3,
    "register_user": _DATABASE_AND_REDIS,
    "send_message": _DATABASE_AND_REDIS,
    "generate_reply": _DATABASE_AND_REDIS | _MODEL | _S3,
    "persist_history": _DATABASE_AND_REDIS,
    "stream_reply": frozenset({"REDIS_URL"}),
    "titles": _DATABASE_AND_REDIS | _MODEL,
    "webhooks": frozenset({"DATABASE_URL"}),
    "exports": _S3 | {"DATABASE_URL", "K_SINK"},
}
OPTIONAL = frozenset({"JWT_PREVIOUS_SECRET"})


class Mode(StrEnum):
    local = "local"
    production = "production"


class Settings(BaseSettings):
    # A refusal must not print what it refused: the input holds every secret.
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", hide_input_in_errors=True)

    mode: Mode = Field(Mode.local, alias="CHATFN_MODE")
    # Which function this process runs (functions-framework's own variable); never passed on.
    function: str = Field("", alias="FUNCTION_TARGET", exclude=True)
    home: Path = Field(Path(".local"), alias="CHATFN_HOME", description="local stack state")
    port: int = Field(8080, alias="CHATFN_PORT", ge=0, le=65535, description="0: any free port")
    # Local: every process of the stack records its spans (`chatfn trace`) and serves
    # /metrics; `CHATFN_PROMETHEUS` also runs a Prometheus scraping them (`chatfn status`).
    local_telemetry: bool = Field(True, alias="CHATFN_TELEMETRY")
    local_prometheus: bool = Field(False, alias="CHATFN_PROMETHEUS")
    # Where the local Kafka (Tansu) keeps its log: `s3`, in the stack's S3 (bucket
    # chatfn-kafka), so topics, offsets and groups outlive `chatfn down`, as the log of
    # record must; `memory` forgets them at every stop, and writes faster.
    kafka_storage: Literal["s3", "memory"] = Field("s3", alias="CHATFN_KAFKA_STORAGE")
    # The command that installs the local model server (`./task up` sets it to
    # `task setup:model`): the stack's `llm` program runs it, and serves the model once done.
    model_setup: str = Field("", alias="CHATFN_MODEL_SETUP")
    # Every local PingSource fires this often instead of on its schedule (tests of what a
    # tick does); 0: on its schedule, as in production.
    ping_every_s: float = Field(0.0, alias="CHATFN_PING_EVERY_S", ge=0)

    database_url: str = Field("", alias="DATABASE_URL")
    redis_url: str = Field("", alias="REDIS_URL")
    kafka_bootstrap_servers: str = Field("", alias="KAFKA_BOOTSTRAP_SERVERS")
    k_sink: str = Field("", alias="K_SINK", description="the broker ingress (SinkBinding)")
    dead_letter_sink: str = Field(
        "", alias="DEAD_LETTER_SINK", description="the dead-letter KafkaSink's address"
    )
    eventing_dir: Path = Field(Path("eventing"), alias="CHATFN_EVENTING_DIR")
    web_dir: Path = Field(Path("web/dist"), alias="CHATFN_WEB_DIR", description="the built UI")

    s3_endpoint: str = Field("", alias="S3_ENDPOINT", description="host:port or URL")
    s3_access_key: str = Field("", alias="S3_ACCESS_KEY")
    s3_secret_key: SecretStr = Field(SecretStr(""), alias="S3_SECRET_KEY")
    s3_bucket: str = Field("chatfn-attachments", alias="S3_BUCKET")
    web_bucket: str = Field("chatfn-web", alias="WEB_BUCKET", description="the CDN's origin")

    llm_base_url: str = Field("", alias="LLM_BASE_URL", description="OpenAI-compatible /v1 URL")
    llm_api_key: SecretStr = Field(SecretStr(""), alias="LLM_API_KEY")
    llm_model: str = Field("SmolLM2-135M-Instruct", alias="LLM_MODEL")
    llm_routes: Annotated[dict[str, str], NoDecode] = Field(
        default_factory=dict,
        alias="LLM_ROUTES",
        description="model=base_url,...: models served by other OpenAI-compatible servers",
    )
    llm_image_models: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        alias="LLM_IMAGE_MODELS",
        description="model,...: the models that read images (OpenAI's image content parts)",
    )
    llm_context_tokens: int = Field(2048, alias="LLM_CONTEXT_TOKENS", ge=256)
    llm_max_tokens: int = Field(512, alias="LLM_MAX_TOKENS", ge=1, description="per reply")
    llm_timeout_s: float = Field(60.0, alias="LLM_TIMEOUT_S", gt=0)
    system_prompt: str = Field(
        "You are chatfn, a helpful assistant. Answer clearly; use Markdown when it helps.",
        alias="SYSTEM_PROMPT",
    )
    attachment_max_bytes: int = Field(
        20 * 1024 * 1024, alias="ATTACHMENT_MAX_BYTES", ge=1, description="per file"
    )
    daily_token_budget: int = Field(
        200_000, alias="DAILY_TOKEN_BUDGET", ge=0, description="per user per UTC day; 0: none"
    )

    redis_prefix: str = Field("chatfn", alias="REDIS_PREFIX", description="namespaces every key")

    # Sessions: chatfn's own access tokens (HS256) and rotating refresh tokens.
    jwt_secret: SecretStr = Field(SecretStr(""), alias="JWT_SECRET")
    jwt_previous_secret: SecretStr | None = Field(
        None, alias="JWT_PREVIOUS_SECRET", description="still verified during a key rotation"
    )
    jwt_issuer: str = Field("chatfn", alias="JWT_ISSUER")
    jwt_audience: str = Field("chatfn-api", alias="JWT_AUDIENCE")
    access_token_ttl_s: int = Field(900, alias="ACCESS_TOKEN_TTL_S", ge=60, le=3600)
    refresh_token_ttl_days: int = Field(30, alias="REFRESH_TOKEN_TTL_DAYS", ge=1, le=365)
    admin_emails: Annotated[set[str], NoDecode] = Field(
        default_factory=set, alias="ADMIN_EMAILS", description="accounts created as admins"
    )

    # Personal API keys (chatfn.identity.api_keys): their hashes are keyed with this.
    # Changing it invalidates every key, so it is never rotated in place.
    api_key_hash_secret: SecretStr = Field(SecretStr(""), alias="API_KEY_HASH_SECRET")
    api_key_store_default: bool = Field(
        False, alias="API_KEY_STORE_DEFAULT",
        description="whether a new key's completions become conversations unless it says",
    )  # fmt: skip

    # An external OpenID provider (Keycloak, say) whose access tokens are accepted too.
    oidc_issuer: str = Field("", alias="OIDC_ISSUER", description="empty: OIDC off")
    oidc_audience: str = Field("chatfn-api", alias="OIDC_AUDIENCE")
    oidc_jwks_ttl_s: int = Field(300, alias="OIDC_JWKS_TTL_S", ge=10)

    # Rate limits (the `limits` notation), shared by every instance through Redis.
    rate_limit_ip: str = Field("600/minute", alias="RATE_LIMIT_IP")
    rate_limit_user: str = Field("300/minute", alias="RATE_LIMIT_USER")
    rate_limit_login: str = Field("10/15minutes", alias="RATE_LIMIT_LOGIN")
    rate_limit_register: str = Field("20/hour", alias="RATE_LIMIT_REGISTER")
    rate_limit_per_key: str = Field(
        "60/minute", alias="RATE_LIMIT_PER_KEY", description="per API key, beside its owner's"
    )
    trusted_proxies: str = Field(
        "127.0.0.1,::1", alias="TRUSTED_PROXIES", description="whose X-Forwarded-For is believed"
    )
    register_timeout_s: float = Field(10.0, alias="REGISTER_TIMEOUT_S", gt=0)
    projection_wait_s: float = Field(
        5.0, alias="PROJECTION_WAIT_S", gt=0,
        description="how long a read waits for the user's own changes to be projected",
    )  # fmt: skip

    # Outbound webhooks (chatfn.webhooks): every address a receiver resolves to must be
    # public, save the CIDRs listed here on purpose (the test stack's receivers).
    webhook_allowed_networks: Annotated[list[str], NoDecode] = Field(
        default_factory=list, alias="WEBHOOK_ALLOWED_NETWORKS",
        description="CIDRs a webhook may reach although they are not public",
    )  # fmt: skip
    webhook_timeout_s: float = Field(15.0, alias="WEBHOOK_TIMEOUT_S", gt=0, le=60)
    webhook_inline_retry_s: float = Field(
        10.0, alias="WEBHOOK_INLINE_RETRY_S", ge=0,
        description="a retry due sooner than this waits in the same request, not for the sweep",
    )  # fmt: skip
    webhook_disable_after_failures: int = Field(
        20, alias="WEBHOOK_DISABLE_AFTER_FAILURES", ge=1,
        description="failed attempts in a row (over several events) that disable an endpoint",
    )  # fmt: skip

    def as_environment(self) -> dict[str, str]:
        """These settings as the environment variables that produce them, for child processes."""
        environment = {}
        for name, info in type(self).model_fields.items():
            value = getattr(self, name)
            if value is None or info.exclude:
                continue
            if isinstance(value, SecretStr):
                value = value.get_secret_value()
            elif isinstance(value, set):
                value = ",".join(sorted(value))
            elif isinstance(value, list):
                value = ",".join(value)
            elif isinstance(value, dict):
                value = ",".join(f"{k}={v}" for k, v in sorted(value.items()))
            environment[info.alias or name.upper()] = str(value)
        return environment

    @field_validator("admin_emails", mode="before")
    @classmethod
    def _email_set(cls, value: object) -> object:
        if isinstance(value, str):
            return {email.strip().lower() for email in value.split(",") if email.strip()}
        return value

    @field_validator("webhook_allowed_networks", "llm_image_models", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @field_validator("llm_routes", mode="before")
    @classmethod
    def _model_routes(cls, value: object) -> object:
        if isinstance(value, str):
            pairs = (pair.partition("=") for pair in value.split(",") if pair.strip())
            return {model.strip(): url.strip() for model, _, url in pairs}
        return value

    @field_validator("database_url")
    @classmethod
    def _asyncpg_driver(cls, url: str) -> str:
        return asyncpg_url(url)

    @field_validator(
        "s3_access_key", "s3_secret_key", "llm_api_key", "jwt_secret", "api_key_hash_secret"
    )
    @classmethod
    def _development_value_locally(cls, value: str | SecretStr, info: ValidationInfo) -> object:
        """A secret left unset gets its development value, in local mode only (`mode` is
        declared first, so it is validated by now)."""
        plain = value.get_secret_value() if isinstance(value, SecretStr) else value
        if plain or info.data.get("mode") is not Mode.local:
            return value
        development = DEV_SECRETS[str(cls.model_fields[str(info.field_name)].alias)]
        return SecretStr(development) if isinstance(value, SecretStr) else development

    @model_validator(mode="after")
    def _what_this_function_needs_in_production(self) -> Self:
        if self.mode is Mode.local:
            return self
        given = self.as_environment()
        at_development_value = sorted(
            variable for variable, value in DEV_SECRETS.items() if given.get(variable) == value
        )
        if at_development_value:
            raise ValueError(
                f"{', '.join(at_development_value)} set to the development value; "
                f"set real values when CHATFN_MODE={self.mode.value}"
            )
        if self.function and self.function not in NEEDS:
            raise ValueError(f"FUNCTION_TARGET={self.function} is no chatfn function")
        needed = NEEDS.get(self.function, frozenset()) - OPTIONAL
        missing = sorted(variable for variable in needed if not given.get(variable))
        if missing:
            raise ValueError(
                f"{', '.join(missing)} required by {self.function} "
                f"when CHATFN_MODE={self.mode.value}"
            )
        return self


def asyncpg_url(url: str) -> str:
    """Accept the plain libpq form operators paste and use the asyncpg driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url.removeprefix(prefix)
    return url


@lru_cache
def get_settings() -> Settings:
    return Settings()


class TelemetrySettings(BaseSettings):
    """Where a process's traces and metrics go (chatfn.telemetry). Apart from `Settings`,
    whose checks a function missing a secret fails at its first request: such a process
    still starts, reports itself on its probe, and is seen in the telemetry doing so."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    # OTLP/HTTP base URL of the collector (OpenTelemetry's own variable); empty: no push.
    otlp_endpoint: str = Field("", alias="OTEL_EXPORTER_OTLP_ENDPOINT")
    # The OTel resource's service.name; empty: the function's FUNCTION_TARGET.
    service_name: str = Field("", alias="OTEL_SERVICE_NAME")
    metric_export_interval_ms: int = Field(15_000, alias="OTEL_METRIC_EXPORT_INTERVAL", ge=1000)
    # Of traces that start here (a request from outside); a continued trace keeps its
    # caller's decision, so a chat is traced whole or not at all.
    trace_sample_ratio: float = Field(1.0, alias="OTEL_TRACES_SAMPLER_ARG", ge=0, le=1)
    traces_dir: Path | None = Field(
        None, alias="TRACES_DIR", description="local: spans as JSON lines"
    )
    metrics_port: int = Field(0, alias="METRICS_PORT", ge=0, le=65535, description="local /metrics")

    @property
    def enabled(self) -> bool:
        return bool(self.otlp_endpoint or self.traces_dir or self.metrics_port)
