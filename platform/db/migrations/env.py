"""Alembic environment: online migrations only, one transaction per run."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool

import wayhouse.platform.db.all_models  # noqa: F401 - registers every ORM table
from wayhouse.platform.db.base import Base
from wayhouse.platform.db.migrations_filter import include_object

config = context.config


def run_migrations_online() -> None:
    engine = create_engine(config.get_main_option("sqlalchemy.url"), poolclass=pool.NullPool)
    with engine.connect() as connection:
        # Serialise concurrent `db upgrade` runs (several services starting at once).
        connection.exec_driver_sql("SELECT pg_advisory_lock(hashtext('wayhouse.migrate'))")
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            include_object=include_object,
            transaction_per_migration=True,
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.exec_driver_sql("SELECT pg_advisory_unlock(hashtext('wayhouse.migrate'))")
        connection.commit()


if context.is_offline_mode():
    raise SystemExit("offline (SQL script) migrations are not supported; run `wayhouse db upgrade`")
run_migrations_online()
