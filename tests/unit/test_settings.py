"""Settings: environment, optional TOML file, and errors that name the setting."""

from __future__ import annotations

from pathlib import Path

import pytest

from paydesk.core.settings import Environment, SettingsError, load_settings


def test_defaults_are_the_embedded_sqlite(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("PAYDESK_DATABASE_URL", "PAYDESK_PORT", "PAYDESK_CONFIG_FILE", "PAYDESK_ENV"):
        monkeypatch.delenv(name, raising=False)
    settings = load_settings()
    assert settings.database_url == "sqlite:///./var/paydesk.db"
    assert settings.port == 8000
    assert settings.worker_embedded


@pytest.mark.parametrize(
    ("name", "value", "named"),
    [
        ("PAYDESK_PORT", "eighty", "PAYDESK_PORT"),
        ("PAYDESK_PORT", "70000", "PAYDESK_PORT"),
        ("PAYDESK_DATABASE_URL", "mysql://x", "PAYDESK_DATABASE_URL"),
        ("PAYDESK_LOG_LEVEL", "LOUD", "PAYDESK_LOG_LEVEL"),
        ("PAYDESK_SECRET_KEY", "short", "PAYDESK_SECRET_KEY"),
    ],
)
def test_malformed_settings_name_the_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, named: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as info:
        load_settings()
    assert named in str(info.value)


def test_production_requires_a_secret_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAYDESK_ENV", "production")
    monkeypatch.delenv("PAYDESK_SECRET_KEY", raising=False)
    with pytest.raises(SettingsError) as info:
        load_settings()
    assert "PAYDESK_SECRET_KEY" in str(info.value)
    monkeypatch.setenv("PAYDESK_SECRET_KEY", "k" * 40)
    assert load_settings().env is Environment.PRODUCTION


def test_toml_file_and_environment_precedence(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = tmp_path / "paydesk.toml"
    config.write_text('port = 9100\nlog_level = "debug"\ndatabase_url = "postgresql://u@h/db"\n')
    monkeypatch.setenv("PAYDESK_CONFIG_FILE", str(config))
    monkeypatch.setenv("PAYDESK_PORT", "9200")
    settings = load_settings()
    assert settings.port == 9200  # the environment wins over the file
    assert settings.log_level == "DEBUG"
    assert settings.database_url == "postgresql+psycopg://u@h/db"


def test_missing_config_file_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAYDESK_CONFIG_FILE", "/nonexistent/paydesk.toml")
    with pytest.raises(SettingsError) as info:
        load_settings()
    assert "PAYDESK_CONFIG_FILE" in str(info.value)


def test_development_secret_is_generated_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PAYDESK_SECRET_KEY", raising=False)
    settings = load_settings(data_dir=tmp_path)
    first = settings.secret()
    assert len(first) >= 32
    assert settings.secret() == first
    assert (tmp_path / "secret.key").stat().st_mode & 0o077 == 0


def test_public_url_and_sandbox_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("PUBLIC_URL", "SANDBOX_ENABLED", "ENV", "HOST", "PORT", "CONFIG_FILE"):
        monkeypatch.delenv(f"PAYDESK_{name}", raising=False)
    settings = load_settings(port=9100)
    assert settings.public_url == "http://127.0.0.1:9100"
    assert settings.sandbox_enabled
    assert settings.sandbox_base_url == "http://127.0.0.1:9100/sandbox"
    assert load_settings(host="0.0.0.0").public_url == "http://127.0.0.1:8000"
    assert load_settings(host="10.0.0.5").public_url == "http://10.0.0.5:8000"
    explicit = load_settings(public_url="https://pay.example.com/")
    assert explicit.public_url == "https://pay.example.com"
    assert explicit.sandbox_base_url == "https://pay.example.com/sandbox"

    monkeypatch.setenv("PAYDESK_ENV", "production")
    monkeypatch.setenv("PAYDESK_SECRET_KEY", "k" * 40)
    assert not load_settings().sandbox_enabled
    assert load_settings().sandbox_base_url is None
    monkeypatch.setenv("PAYDESK_SANDBOX_ENABLED", "true")
    assert load_settings().sandbox_enabled
    monkeypatch.setenv("PAYDESK_PUBLIC_URL", "pay.example.com")
    with pytest.raises(SettingsError) as info:
        load_settings()
    assert "PAYDESK_PUBLIC_URL" in str(info.value)
