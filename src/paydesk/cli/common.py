"""What every CLI command shares: settings, the database, the console and error exits."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from functools import wraps
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import typer
from rich.console import Console

from paydesk.core.errors import PaydeskError
from paydesk.core.settings import Settings, SettingsError, load_settings
from paydesk.db.engine import Database

console = Console(soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)

P = ParamSpec("P")
R = TypeVar("R")


def settings_or_exit(**overrides: Any) -> Settings:
    try:
        return load_settings(**overrides)
    except SettingsError as exc:
        err_console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None


def database() -> Database:
    return Database.from_settings(settings_or_exit())


def fail(message: str, code: int = 1) -> typer.Exit:
    err_console.print(f"[red]error:[/red] {message}")
    return typer.Exit(code)


def clear_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Turn a PaydeskError into one red line and exit status 1, never a traceback."""

    @wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except PaydeskError as exc:
            raise fail(f"{exc.message} ({exc.code})") from None

    return wrapper


def read_json_object(path: Path, bytes_max: int) -> dict[str, Any]:
    """The one JSON object in ``path``; errors name the file, never its content (it may hold
    secrets)."""
    try:
        if path.stat().st_size > bytes_max:
            raise fail(f"{path}: larger than {bytes_max} bytes")
        content = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise fail(f"{path}: cannot be read ({exc.strerror})") from None
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise fail(f"{path}: not a UTF-8 JSON file") from None
    if not isinstance(content, dict):
        raise fail(f"{path}: must hold one JSON object")
    return content


def period(start: str, end: str) -> tuple[datetime, datetime]:
    """``--from`` and ``--to``: ISO 8601 times with a zone."""
    try:
        start_at, end_at = datetime.fromisoformat(start), datetime.fromisoformat(end)
    except ValueError:
        raise fail("--from and --to are ISO 8601 times") from None
    if start_at.utcoffset() is None or end_at.utcoffset() is None:
        raise fail("--from and --to need a time zone (+08:00, Z)")
    return start_at, end_at
