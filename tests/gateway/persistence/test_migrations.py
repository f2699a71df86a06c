"""Migrations: the schema they build matches the tables the code declares."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.persistence.migrate import current_revision, head_revision, upgrade
from gateway.persistence.tables import Base


class TestMigrations:
    async def test_database_is_at_head(self, engine: AsyncEngine) -> None:
        assert await current_revision(engine) == head_revision()

    async def test_upgrade_twice_is_a_no_op(self, engine: AsyncEngine) -> None:
        await upgrade(engine)
        assert await current_revision(engine) == head_revision()

    async def test_migrated_schema_matches_declared_tables(self, engine: AsyncEngine) -> None:
        def diff(connection: Connection) -> list[object]:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            return list(compare_metadata(context, Base.metadata))

        async with engine.connect() as connection:
            differences = await connection.run_sync(diff)
        assert differences == []
