"""PostgreSQL through SQLAlchemy 2 async + asyncpg."""

from __future__ import annotations

from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.pool import NullPool

from chatfn.settings import Settings


def create_engine(settings: Settings, *, pooled: bool = True) -> AsyncEngine:
    """An engine for the configured database.

    `pooled=False` is for one-shot work (health checks, migrations) where a pool
    would only hold connections open after the caller is done.
    """
    if pooled:
        return create_async_engine(settings.database_url, pool_pre_ping=True)
    return create_async_engine(settings.database_url, poolclass=NullPool)


class Base(DeclarativeBase):
    """The declarative base of every table; Alembic autogenerates from its metadata."""


def distribute_on_citus(
    connection: Connection, table: str, column: str, colocate_with: str
) -> None:
    """Make `table` a Citus distributed table (a migration step); nothing on plain PostgreSQL."""
    citus = "SELECT count(*) FROM pg_extension WHERE extname = 'citus'"
    if connection.scalar(text(citus)):
        connection.execute(
            text("SELECT create_distributed_table(:table, :column, colocate_with => :with)"),
            {"table": table, "column": column, "with": colocate_with},
        )
