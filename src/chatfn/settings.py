"""The one place configuration is read: environment variables and `.env`.

Every service URL and secret lives here. A URL left empty means "the local stack
provides it" (`chatfn up` starts an embedded server and passes its URL to every
process it runs). Secrets have development defaults so `task up` works on a fresh
clone; outside local mode those defaults are refused.
"""

from __future__ import annotations

from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Self

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEV_S3_ACCESS_KEY = "chatfn-dev"
DEV_S3_SECRET_KEY = SecretStr("chatfn-dev-secret")
DEV_LLM_API_KEY = SecretStr("chatfn-dev-llm-key")
DEV_JWT_SECRET = SecretStr("chatfn-dev-jwt-secret-change-me-0123456789")


class Mode(StrEnum):
    local = "local"
    production = "production"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    mode: Mode = Field(Mode.local, alias="CHATFN_MODE")
    home: Path = Field(Path(".local"), alias="CHATFN_HOME", description="local stack state")
    port: int = Field(8080, alias="CHATFN_PORT", ge=0, le=65535, description="0: any free port")

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
    s3_access_key: str = Field(DEV_S3_ACCESS_KEY, alias="S3_ACCESS_KEY")
    s3_secret_key: SecretStr = Field(DEV_S3_SECRET_KEY, alias="S3_SECRET_KEY")
    s3_bucket: str = Field("chatfn-attachments", alias="S3_BUCKET")
    web_bucket: str = Field("chatfn-web", alias="WEB_BUCKET", description="the CDN's origin")

    llm_base_url: str = Field("", alias="LLM_BASE_URL", description="OpenAI-compatible /v1 URL")
    llm_api_key: SecretStr = Field(DEV_LLM_API_KEY, alias="LLM_API_KEY")
    llm_model: str = Field("SmolLM2-135M-Instruct", alias="LLM_MODEL")
    llm_routes: Annotated[dict[str, str], NoDecode] = Field(
        default_factory=dict,
        alias="LLM_ROUTES",
        description="model=base_url,...: models served by other OpenAI-compatible servers",
    )
    llm_context_tokens: int = Field(2048, alias="LLM_CONTEXT_TOKENS", ge=256)
    llm_max_tokens: int = Field(512, alias="LLM_MAX_TOKENS", ge=1, description="per reply")
    llm_timeout_s: float = Field(60.0, alias="LLM_TIMEOUT_S", gt=0)
    system_prompt: str = Field(
        "You are chatfn, a helpful assistant. Answer clearly; use Markdown when it helps.",
        alias="SYSTEM_PROMPT",
    )
    daily_token_budget: int = Field(
        200_000, alias="DAILY_TOKEN_BUDGET", ge=0, description="per user per UTC day; 0: none"
    )

    redis_prefix: str = Field("chatfn", alias="REDIS_PREFIX", description="namespaces every key")

    # Sessions: chatfn's own access tokens (HS256) and rotating refresh tokens.
    jwt_secret: SecretStr = Field(DEV_JWT_SECRET, alias="JWT_SECRET")
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

    # An external OpenID provider (Keycloak, say) whose access tokens are accepted too.
    oidc_issuer: str = Field("", alias="OIDC_ISSUER", description="empty: OIDC off")
    oidc_audience: str = Field("chatfn-api", alias="OIDC_AUDIENCE")
    oidc_jwks_ttl_s: int = Field(300, alias="OIDC_JWKS_TTL_S", ge=10)

    # Rate limits (the `limits` notation), shared by every instance through Redis.
    rate_limit_ip: str = Field("600/minute", alias="RATE_LIMIT_IP")
    rate_limit_user: str = Field("300/minute", alias="RATE_LIMIT_USER")
    rate_limit_login: str = Field("10/15minutes", alias="RATE_LIMIT_LOGIN")
    rate_limit_register: str = Field("20/hour", alias="RATE_LIMIT_REGISTER")
    trusted_proxies: str = Field(
        "127.0.0.1,::1", alias="TRUSTED_PROXIES", description="whose X-Forwarded-For is believed"
    )
    register_timeout_s: float = Field(10.0, alias="REGISTER_TIMEOUT_S", gt=0)

    def as_environment(self) -> dict[str, str]:
        """These settings as the environment variables that produce them, for child processes."""
        environment = {}
        for name, info in type(self).model_fields.items():
            value = getattr(self, name)
            if value is None:
                continue
            if isinstance(value, SecretStr):
                value = value.get_secret_value()
            elif isinstance(value, set):
                value = ",".join(sorted(value))
            elif isinstance(value, dict):
                value = ",".join(f"{k}={v}" for k, v in sorted(value.items()))
            environment[info.alias or name.upper()] = str(value)
        return environment

    @field_validator("admin_emails", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        if isinstance(value, str):
            return {email.strip().lower() for email in value.split(",") if email.strip()}
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
        """Accept the plain libpq form operators paste and use the asyncpg driver."""
        for prefix in ("postgres://", "postgresql://"):
            if url.startswith(prefix):
                return "postgresql+asyncpg://" + url.removeprefix(prefix)
        return url

    @model_validator(mode="after")
    def _no_dev_secrets_outside_local(self) -> Self:
        if self.mode is Mode.local:
            return self
        left_at_default = [
            name
            for name, value, default in (
                ("S3_SECRET_KEY", self.s3_secret_key, DEV_S3_SECRET_KEY),
                ("LLM_API_KEY", self.llm_api_key, DEV_LLM_API_KEY),
                ("JWT_SECRET", self.jwt_secret, DEV_JWT_SECRET),
            )
            if value.get_secret_value() == default.get_secret_value()
        ]
        if left_at_default:
            raise ValueError(
                f"{', '.join(left_at_default)} left at the development default; "
                f"set real values when CHATFN_MODE={self.mode.value}"
            )
        missing = [
            name
            for name, value in (
                ("DATABASE_URL", self.database_url),
                ("REDIS_URL", self.redis_url),
                ("KAFKA_BOOTSTRAP_SERVERS", self.kafka_bootstrap_servers),
                ("S3_ENDPOINT", self.s3_endpoint),
                ("LLM_BASE_URL", self.llm_base_url),
            )
            if not value
        ]
        if missing:
            raise ValueError(f"{', '.join(missing)} required when CHATFN_MODE={self.mode.value}")
        return self


@lru_cache
def get_settings() -> Settings:
    return Settings()
