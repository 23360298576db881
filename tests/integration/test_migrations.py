from __future__ import annotations

import asyncio
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, inspect

from chatfn import models  # noqa: F401  (registers the tables on Base.metadata)
from chatfn.db import Base, create_engine
from chatfn.local.provision import alembic_config
from chatfn.settings import Settings
from tests.utils.isolation import fresh_database


async def tables(settings: Settings) -> set[str]:
    engine = create_engine(settings, pooled=False)
    async with engine.connect() as conn:
        names = await conn.run_sync(lambda sync: set(inspect(sync).get_table_names()))
    await engine.dispose()
    return names


async def test_migrations_upgrade_downgrade_and_upgrade_again(
    settings: Settings, name: str
) -> None:
    url = await fresh_database(settings.database_url, name.replace("-", "_"))
    scratch = settings.model_copy(update={"database_url": url})
    config = alembic_config(url)

    await asyncio.to_thread(command.upgrade, config, "head")
    assert "processed_events" in await tables(scratch)
    await asyncio.to_thread(command.downgrade, config, "base")
    assert await tables(scratch) == {"alembic_version"}
    await asyncio.to_thread(command.upgrade, config, "head")
    assert "processed_events" in await tables(scratch)


def differences(connection: Connection) -> list[Any]:
    """What `alembic revision --autogenerate` would write: the models against the database."""
    context = MigrationContext.configure(
        connection, opts={"compare_type": True, "compare_server_default": True}
    )
    return list(compare_metadata(context, Base.metadata))


async def test_the_migrations_make_exactly_the_schema_the_models_describe(
    settings: Settings, name: str
) -> None:
    url = await fresh_database(settings.database_url, name.replace("-", "_"))
    await asyncio.to_thread(command.upgrade, alembic_config(url), "head")

    engine = create_engine(settings.model_copy(update={"database_url": url}), pooled=False)
    async with engine.connect() as conn:
        found = await conn.run_sync(differences)
    await engine.dispose()

    assert found == []
