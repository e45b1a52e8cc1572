"""Cursor pagination: pages of at most :data:`PAGE_SIZE_MAX` items, ordered by id."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from paydesk.core.errors import InvalidRequest

PAGE_SIZE_MAX = 100
PAGE_SIZE_DEFAULT = 50

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class PageResult(Generic[T]):
    items: list[T]
    has_more: bool


def page_size(limit: int) -> int:
    """``limit`` if it is a valid page size; a query asks for one more row to see if more exist."""
    if not 1 <= limit <= PAGE_SIZE_MAX:
        raise InvalidRequest(f"limit must be between 1 and {PAGE_SIZE_MAX}", param="limit")
    return limit


def trim(rows: Sequence[T], limit: int) -> PageResult[T]:
    """The first ``limit`` of ``rows`` (queried with ``limit + 1``) and whether more exist."""
    return PageResult(items=list(rows[:limit]), has_more=len(rows) > limit)
