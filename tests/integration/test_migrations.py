from __future__ import annotations

import asyncio

from alembic import command
from sqlalchemy import inspect

from chatfn.db import create_engine
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
