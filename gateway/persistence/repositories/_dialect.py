"""Dialect-aware statement builders shared by the repositories."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

__all__ = ["insert_for", "is_postgresql", "prebuilt"]


def is_postgresql(session: AsyncSession) -> bool:
    """True when the session talks to PostgreSQL."""
    return session.get_bind().dialect.name == "postgresql"


def insert_for(session: AsyncSession, table: Any) -> Any:
    """An INSERT that supports ON CONFLICT DO NOTHING on the session's dialect."""
    if is_postgresql(session):
        return postgresql.insert(table)
    return sqlite.insert(table)


def prebuilt(build: Callable[[Any], Any]) -> Callable[[AsyncSession], Any]:
    """A statement built once per dialect and reused.

    Hot-path statements are built with `bindparam`s and kept: SQLAlchemy then
    memoises their cache key and compiled form instead of rebuilding both for
    every delivery. `build` receives the dialect's `insert` function.
    """
    built: dict[bool, Any] = {}

    def get(session: AsyncSession) -> Any:
        pg = is_postgresql(session)
        if pg not in built:
            built[pg] = build(postgresql.insert if pg else sqlite.insert)
        return built[pg]

    return get
