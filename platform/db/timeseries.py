"""Time-series storage in one of two modes, detected at run time.

* ``timescaledb``: hypertables with compression and retention policies, when the extension
  is available to the database.
* ``partitioned``: native PostgreSQL range partitions by day, created ahead of time and
  dropped by retention; a DEFAULT partition catches outliers (late replays, skewed clocks)
  and its rows are moved into a real partition when that day's partition is created.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Literal

import psycopg
from psycopg import sql

log = logging.getLogger(__name__)

StorageMode = Literal["timescaledb", "partitioned"]

# Hypertable / partitioned tables, all keyed on `ts` (the reading time). env_reading came
# later (migration 0016): upkeep skips a table that does not exist yet, so the migration that
# creates the first ones (0001) can already call it.
TIMESERIES_TABLES = ("shelf_reading", "scan_event", "gps_fix", "device_status", "env_reading")
CHUNK = dt.timedelta(days=1)


@dataclass(frozen=True)
class StorageInfo:
    mode: StorageMode
    timescaledb_version: str | None


def timescaledb_available(conn: psycopg.Connection) -> bool:
    row = conn.execute(
        "SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'"
    ).fetchone()
    return row is not None


def detect(conn: psycopg.Connection) -> StorageInfo:
    """Which mode the time-series tables are in (the migration decided it)."""
    row = conn.execute(
        "SELECT c.relkind FROM pg_class c WHERE c.relname = 'shelf_reading' AND c.relnamespace = "
        "'public'::regnamespace"
    ).fetchone()
    if row is not None and row[0] == "p":
        return StorageInfo("partitioned", None)
    ext = conn.execute(
        "SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'"
    ).fetchone()
    if ext is not None:
        return StorageInfo("timescaledb", ext[0])
    return StorageInfo("partitioned", None)


def _day(ts: dt.datetime) -> dt.datetime:
    return ts.astimezone(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def partition_name(table: str, day: dt.datetime) -> str:
    return f"{table}_p{day:%Y%m%d}"


def _existing(conn: psycopg.Connection) -> list[str]:
    return [
        t
        for t in TIMESERIES_TABLES
        if conn.execute("SELECT to_regclass(%s)", (f"public.{t}",)).fetchone() != (None,)
    ]


def ensure_partitions(
    conn: psycopg.Connection,
    now: dt.datetime | None = None,
    days_back: int = 2,
    days_ahead: int = 3,
) -> list[str]:
    """Create the daily partitions around ``now``; move matching DEFAULT rows into them.

    Runs in the caller's transaction. Safe to call repeatedly and concurrently (advisory lock).
    """
    now = now or dt.datetime.now(dt.UTC)
    created: list[str] = []
    conn.execute("SELECT pg_advisory_xact_lock(hashtext('wayhouse.partitions'))")
    for table in _existing(conn):
        existing = {
            r[0]
            for r in conn.execute(
                "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                "WHERE i.inhparent = %s::regclass",
                (table,),
            )
        }
        for offset in range(-days_back, days_ahead + 1):
            day = _day(now) + offset * CHUNK
            name = partition_name(table, day)
            if name in existing:
                continue
            _create_partition(conn, table, name, day, day + CHUNK)
            created.append(name)
    if created:
        log.info("created partitions: %s", ", ".join(created))
    return created


def _create_partition(
    conn: psycopg.Connection, table: str, name: str, lo: dt.datetime, hi: dt.datetime
) -> None:
    default = sql.Identifier(f"{table}_default")
    part = sql.Identifier(name)
    parent = sql.Identifier(table)
    # Attaching fails while the DEFAULT partition holds rows of that range: move them first.
    conn.execute(sql.SQL("CREATE TABLE {} (LIKE {} INCLUDING DEFAULTS)").format(part, parent))
    conn.execute(
        sql.SQL(
            "WITH moved AS (DELETE FROM {d} WHERE ts >= %s AND ts < %s RETURNING *) "
            "INSERT INTO {p} SELECT * FROM moved"
        ).format(d=default, p=part),
        (lo, hi),
    )
    conn.execute(
        # DDL takes no bind parameters: the bounds go in as quoted literals.
        sql.SQL("ALTER TABLE {} ATTACH PARTITION {} FOR VALUES FROM ({}) TO ({})").format(
            parent, part, sql.Literal(lo.isoformat()), sql.Literal(hi.isoformat())
        )
    )


def drop_expired(
    conn: psycopg.Connection, retention_days: int, now: dt.datetime | None = None
) -> list[str]:
    """Drop daily partitions wholly older than the retention window."""
    now = now or dt.datetime.now(dt.UTC)
    cutoff = _day(now) - dt.timedelta(days=retention_days)
    dropped: list[str] = []
    tables = _existing(conn)
    for table in tables:
        for (name,) in conn.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = %s::regclass AND c.relname ~ '_p[0-9]{8}$'",
            (table,),
        ).fetchall():
            day = dt.datetime.strptime(name[-8:], "%Y%m%d").replace(tzinfo=dt.UTC)
            if day + CHUNK <= cutoff:
                conn.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier(name)))
                dropped.append(name)
    # Late rows that never got a partition of their own age out of DEFAULT the same way.
    for table in tables:
        conn.execute(
            sql.SQL("DELETE FROM {} WHERE ts < %s").format(sql.Identifier(f"{table}_default")),
            (cutoff,),
        )
    # The dedupe window only needs to outlive any store-and-forward backlog.
    conn.execute("DELETE FROM ingest_seen WHERE received_at < %s", (cutoff,))
    return dropped


def maintain(conn: psycopg.Connection, retention_days: int) -> StorageInfo:
    """Partition upkeep for the partitioned mode; TimescaleDB runs its own policies."""
    info = detect(conn)
    if info.mode == "partitioned":
        ensure_partitions(conn)
        drop_expired(conn, retention_days)
    else:
        conn.execute(
            "DELETE FROM ingest_seen WHERE received_at < now() - make_interval(days => %s)",
            (retention_days,),
        )
    return info
