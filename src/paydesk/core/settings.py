"""Settings, read from ``PAYDESK_*`` environment variables and an optional TOML file.

Precedence: environment variables, then the file named by ``PAYDESK_CONFIG_FILE`` (keys are the
setting names without the prefix, e.g. ``port = 8080``), then the defaults below. A missing or
malformed setting stops start-up with :class:`SettingsError`, whose message names the variable.
"""

from __future__ import annotations

import os
import secrets
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

ENV_PREFIX = "PAYDESK_"
SECRET_KEY_LENGTH_MIN = 32
SANDBOX_PATH = "/sandbox"
"""Where the channel simulators are mounted when the sandbox is enabled (paydesk.sandbox)."""
_WILDCARD_HOSTS = frozenset({"", "0.0.0.0", "::", "[::]"})  # noqa: S104 - names, not a bind


class Environment(StrEnum):
    DEVELOPMENT = "development"
    """Embedded default: a secret key is generated under ``var/`` when none is given."""
    PRODUCTION = "production"
    """Every secret must be given explicitly."""


class LogFormat(StrEnum):
    JSON = "json"
    CONSOLE = "console"


class SettingsError(Exception):
    """A setting is missing or malformed; the message names the variable."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", frozen=True)

    env: Environment = Environment.DEVELOPMENT
    database_url: str = "sqlite:///./var/paydesk.db"
    """SQLAlchemy URL. ``sqlite:///path`` or ``postgresql+psycopg://user@host:port/db``."""
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    public_url: str = Field(default="", validate_default=True)
    """Where payers' browsers and the channels' notifications reach this server (scheme, host,
    port, optional path; no trailing slash). Default ``http://127.0.0.1:<port>``, or the
    host when it is one address rather than a wildcard."""
    sandbox_enabled: bool = Field(default=None, validate_default=True)
    """Mount the channel simulators and the webhook inbox under ``/sandbox`` (paydesk.sandbox).
    Default: on in development, off in production."""
    stripe_sandbox_url: str | None = None
    """Where localstripe, the Stripe API of the sandbox, listens (``http://127.0.0.1:8420``);
    sandbox Stripe accounts reach it through ``/sandbox/stripe``."""
    log_level: str = "INFO"
    log_format: LogFormat = LogFormat.JSON
    secret_key: SecretStr | None = None
    """Encrypts secrets at rest (channel credentials). At least 32 characters."""
    data_dir: Path = Path("./var")
    """Where the embedded default keeps its SQLite file and generated secret key."""
    embedded_worker: bool | None = None
    """Run the job worker inside ``serve``; default: on for SQLite, off for PostgreSQL."""
    request_body_bytes_max: int = Field(default=1_048_576, ge=1024)
    idempotency_ttl_h: int = Field(default=24, ge=1, le=24 * 30)
    job_lease_s: float = Field(default=300.0, gt=0)
    """A claimed job not finished within its lease is claimed again by another worker."""
    job_poll_interval_s: float = Field(default=1.0, gt=0, le=60)
    requests_concurrent_max: int = Field(default=4, ge=1, le=500)
    """API requests one process handles at once; more wait their turn without holding a
    thread or a database connection. Python runs one thread at a time, so a few requests in
    flight (some waiting on the database) keep the cores busy; many only contend."""
    channel_timeout_s: float = Field(default=10.0, gt=0, le=120)
    """How long a call to a channel (create, query, refund) waits for its answer; a payment
    that times out is ``unknown`` until the order centre's query says."""
    job_attempts_max: int = Field(default=12, ge=1, le=100)
    job_batch_size: int = Field(default=10, ge=1, le=1000)
    job_modules: Annotated[list[str], NoDecode] = Field(default_factory=list)
    """Extra modules imported by the worker to register job handlers (comma-separated)."""

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL")
        return level

    @field_validator("database_url")
    @classmethod
    def _supported_database(cls, value: str) -> str:
        if value.startswith("postgresql://") or value.startswith("postgres://"):
            value = "postgresql+psycopg://" + value.split("://", 1)[1]
        if not (value.startswith("sqlite://") or value.startswith("postgresql+psycopg://")):
            raise ValueError("must start with sqlite:// or postgresql:// (psycopg 3)")
        return value

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str, info: ValidationInfo) -> str:
        value = value.strip().rstrip("/")
        if not value:
            if "host" not in info.data or "port" not in info.data:
                return value  # the host or port is malformed: that error is the one reported
            host = str(info.data["host"])
            if host in _WILDCARD_HOSTS:
                host = "127.0.0.1"
            elif ":" in host and not host.startswith("["):
                host = f"[{host}]"
            return f"http://{host}:{info.data['port']}"
        if not (value.startswith("http://") or value.startswith("https://")):
            raise ValueError("must be an http:// or https:// URL")
        if "?" in value or "#" in value or not value.split("://", 1)[1]:
            raise ValueError("must be scheme://host[:port][/path], without query or fragment")
        return value

    @field_validator("sandbox_enabled", mode="before")
    @classmethod
    def _sandbox_default(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None:
            return info.data.get("env", Environment.DEVELOPMENT) is Environment.DEVELOPMENT
        return value

    @field_validator("job_modules", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @model_validator(mode="after")
    def _secret_rules(self) -> Settings:
        if self.secret_key is not None:
            if len(self.secret_key.get_secret_value()) < SECRET_KEY_LENGTH_MIN:
                raise ValueError(f"secret_key: must be at least {SECRET_KEY_LENGTH_MIN} characters")
        elif self.env is Environment.PRODUCTION:
            raise ValueError("secret_key: required when env is production")
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def worker_embedded(self) -> bool:
        return self.is_sqlite if self.embedded_worker is None else self.embedded_worker

    @property
    def sandbox_base_url(self) -> str | None:
        """Where the channel simulators are reached (``<public_url>/sandbox``), or None when
        the sandbox is disabled: what ``load_connector(sandbox_base_url=...)`` takes."""
        return self.public_url + SANDBOX_PATH if self.sandbox_enabled else None

    def secret(self) -> str:
        """The secret key; in development one is generated once under ``data_dir``."""
        if self.secret_key is not None:
            return self.secret_key.get_secret_value()
        path = self.data_dir / "secret.key"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:  # another process wrote it first: use theirs
                pass
            else:
                with os.fdopen(fd, "w") as handle:
                    handle.write(secrets.token_urlsafe(48))
        return path.read_text().strip()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = os.environ.get(f"{ENV_PREFIX}CONFIG_FILE")
        if config_file:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=Path(config_file)))
        return tuple(sources)


def load_settings(**overrides: Any) -> Settings:
    """Read the settings, or raise :class:`SettingsError` naming each bad variable."""
    config_file = os.environ.get(f"{ENV_PREFIX}CONFIG_FILE")
    if config_file and not Path(config_file).is_file():
        raise SettingsError(f"{ENV_PREFIX}CONFIG_FILE: no such file: {config_file}")
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            name = ".".join(str(part) for part in error["loc"])
            message = str(error["msg"]).removeprefix("Value error, ")
            if not name and ":" in message:
                name, message = (part.strip() for part in message.split(":", 1))
            problems.append(f"{ENV_PREFIX}{name.upper()}: {message}")
        raise SettingsError("invalid settings: " + "; ".join(problems)) from None
    except ValueError as exc:  # malformed TOML, or a complex value that is not JSON
        raise SettingsError(f"invalid settings: {exc}") from None
