"""Which database objects Alembic autogenerate compares with the ORM metadata."""

from __future__ import annotations


def include_object(obj, name, type_, reflected, compare_to) -> bool:  # type: ignore[no-untyped-def]
    # The telemetry tables are written in SQL (partitioning/hypertables); autogenerate
    # compares only what the ORM metadata knows.
    return not (type_ == "table" and reflected and compare_to is None)
