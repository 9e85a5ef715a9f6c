"""Alembic, driven from code (no alembic.ini): ``wayhouse db upgrade`` calls ``upgrade()``."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from wayhouse.config import Settings

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(settings: Settings) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    # '%' is ConfigParser interpolation syntax: escape it in URL-encoded passwords.
    cfg.set_main_option("sqlalchemy.url", settings.sqlalchemy_url().replace("%", "%%"))
    return cfg


def upgrade(settings: Settings, revision: str = "head") -> None:
    command.upgrade(alembic_config(settings), revision)


def current(settings: Settings) -> str | None:
    from sqlalchemy import create_engine, text

    engine = create_engine(settings.sqlalchemy_url())
    try:
        with engine.connect() as conn:
            row = conn.execute(text("SELECT version_num FROM alembic_version")).fetchone()
            return row[0] if row else None
    except Exception:
        return None
    finally:
        engine.dispose()
