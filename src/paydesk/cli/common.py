"""What every CLI command shares: settings, the database, the console and error exits."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
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
