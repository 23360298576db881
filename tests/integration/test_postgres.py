from __future__ import annotations

from sqlalchemy import text

from chatfn.db import create_engine
from chatfn.settings import Settings


async def test_sql_round_trip_through_sqlalchemy_async_and_asyncpg(
    settings: Settings, name: str
) -> None:
    table = name.replace("-", "_")
    engine = create_engine(settings)
    try:
        async with engine.begin() as conn:
            await conn.execute(text(f"CREATE TABLE {table} (id int PRIMARY KEY, body text)"))
            await conn.execute(
                text(f"INSERT INTO {table} VALUES (:id, :body)"),
                [{"id": 1, "body": "héllo"}, {"id": 2, "body": "wörld"}],
            )
        async with engine.connect() as conn:
            rows = (await conn.execute(text(f"SELECT id, body FROM {table} ORDER BY id"))).all()
            driver = conn.dialect.driver
    finally:
        await engine.dispose()

    assert [tuple(row) for row in rows] == [(1, "héllo"), (2, "wörld")]
    assert driver == "asyncpg"


async def test_each_worker_has_a_database_of_its_own(settings: Settings, worker_id: str) -> None:
    engine = create_engine(settings, pooled=False)
    try:
        async with engine.connect() as conn:
            database = await conn.scalar(text("SELECT current_database()"))
    finally:
        await engine.dispose()
    assert database == f"chatfn_test_{worker_id}"
