"""The list envelope of the API."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

from pydantic import BaseModel

from paydesk.core.pagination import PageResult

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    """One page of a list, ordered by id; pass ``next_after`` as ``after`` for the next."""

    data: list[T]
    has_more: bool
    next_after: str | None


def to_page(result: PageResult[Any], convert: Callable[[Any], T]) -> Page[T]:
    data = [convert(item) for item in result.items]
    last = result.items[-1].id if result.items and result.has_more else None
    return Page[T](data=data, has_more=result.has_more, next_after=last)
