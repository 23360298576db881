"""Names and databases that keep parallel tests out of each other's way."""

from __future__ import annotations

import re
import uuid

from sqlalchemy.engine import make_url

from chatfn.local.provision import server_connection


def unique_name(hint: str) -> str:
    """Lowercase, hyphenated and short: valid as a Redis prefix, Kafka topic and S3 bucket."""
    slug = re.sub(r"[^a-z0-9]+", "-", hint.lower()).strip("-")[:24].strip("-")
    return f"t-{slug}-{uuid.uuid4().hex[:8]}"


async def fresh_database(server_url: str, database: str) -> str:
    """Drop and create `database` on the server of `server_url`; returns its URL."""
    conn = await server_connection(server_url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{database}"')
    finally:
        await conn.close()
    return make_url(server_url).set(database=database).render_as_string(hide_password=False)
