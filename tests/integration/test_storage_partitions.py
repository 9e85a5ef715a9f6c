"""Native daily partitions on the real PostgreSQL (no TimescaleDB on this machine).

Everything here lives in March 2003, far from the partitions the migration and the ingest
workers keep around today, and is removed at the end.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import psycopg
import pytest
from conftest import Stack
from psycopg import sql

from wayhouse.platform.db import timeseries as ts

pytestmark = pytest.mark.integration

UTC = dt.UTC
DAY = dt.datetime(2003, 3, 15, tzinfo=UTC)  # partitions around it: 2003-03-13 .. 2003-03-18
SEQ0 = 7_003_000_000  # only the rows we insert carry seqs from here


def _row(table: str, when: dt.datetime, seq: int) -> tuple[str, tuple[object, ...]]:
    common = (when, 1, seq)
    if table == "shelf_reading":
        return "INSERT INTO shelf_reading VALUES (%s, %s, 1, %s, 1234.5, now())", common
    if table == "scan_event":
        return (
            "INSERT INTO scan_event VALUES (%s, %s, 1, %s, 'rfid', 'C-1', 'pick', 2, 'B1', NULL, now())",
            common,
        )
    if table == "env_reading":
        return "INSERT INTO env_reading VALUES (%s, %s, 1, %s, 21.5, 40, now())", common
    if table == "gps_fix":
        return "INSERT INTO gps_fix VALUES (%s, %s, 1, %s, 48.1, 11.5, 3, 90, 5, now())", common
    return (
        "INSERT INTO device_status VALUES (%s, 1, %s, 'online', 'x', now())",
        (when, seq),
    )


def _insert(conn: psycopg.Connection, table: str, when: dt.datetime, seq: int) -> None:
    query, params = _row(table, when, seq)
    conn.execute(query, params)


def _where(conn: psycopg.Connection, table: str, seq: int) -> list[str]:
    """The partitions holding our row of this seq (tableoid), normally exactly one."""
    return [
        r[0]
        for r in conn.execute(
            sql.SQL("SELECT tableoid::regclass::text FROM {} WHERE seq = %s").format(
                sql.Identifier(table)
            ),
            (seq,),
        )
    ]


def _partitions(conn: psycopg.Connection, table: str) -> set[str]:
    return {
        r[0]
        for r in conn.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = %s::regclass",
            (table,),
        )
    }


def _cleanup(conn: psycopg.Connection) -> None:
    for table in ts.TIMESERIES_TABLES:
        for name in sorted(_partitions(conn, table)):
            if name.startswith(f"{table}_p2003"):
                conn.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier(name)))
        conn.execute(
            sql.SQL("DELETE FROM {} WHERE seq >= %s AND ts < '2004-01-01'").format(
                sql.Identifier(table)
            ),
            (SEQ0,),
        )


@pytest.fixture
def db(stack: Stack) -> Iterator[psycopg.Connection]:
    with stack.db() as conn:
        _cleanup(conn)
        try:
            yield conn
        finally:
            _cleanup(conn)


def _ensure(conn: psycopg.Connection, now: dt.datetime) -> list[str]:
    # ensure_partitions runs in the caller's transaction (its advisory lock lives as long).
    with conn.transaction():
        return ts.ensure_partitions(conn, now=now)


def test_storage_mode_is_partitioned_here(db: psycopg.Connection) -> None:
    assert not ts.timescaledb_available(db)  # the premise of this module
    info = ts.detect(db)
    assert info == ts.StorageInfo("partitioned", None)
    for table in ts.TIMESERIES_TABLES:
        kind = db.execute(
            "SELECT relkind FROM pg_class WHERE oid = %s::regclass", (table,)
        ).fetchone()
        assert kind == ("p",)
        assert f"{table}_default" in _partitions(db, table)


def test_the_migration_created_partitions_around_today(db: psycopg.Connection) -> None:
    today = ts._day(dt.datetime.now(UTC))
    for table in ts.TIMESERIES_TABLES:
        assert ts.partition_name(table, today) in _partitions(db, table)


def test_rows_move_from_default_into_the_new_day_partition(db: psycopg.Connection) -> None:
    inside = DAY.replace(hour=12, minute=34)
    edge = DAY - dt.timedelta(days=2)  # first instant of the first partition created
    outside = DAY + dt.timedelta(days=10)  # not covered: stays in DEFAULT
    for table in ts.TIMESERIES_TABLES:
        _insert(db, table, inside, SEQ0 + 1)
        _insert(db, table, edge, SEQ0 + 2)
        _insert(db, table, outside, SEQ0 + 3)
        for seq in (SEQ0 + 1, SEQ0 + 2, SEQ0 + 3):
            assert _where(db, table, seq) == [f"{table}_default"]
    before = {
        t: db.execute(
            sql.SQL("SELECT * FROM {} WHERE seq = %s").format(sql.Identifier(t)), (SEQ0 + 1,)
        ).fetchall()
        for t in ts.TIMESERIES_TABLES
    }

    created = _ensure(db, DAY)

    days = [DAY + dt.timedelta(days=d) for d in range(-2, 4)]
    assert sorted(created) == sorted(
        ts.partition_name(t, d) for t in ts.TIMESERIES_TABLES for d in days
    )
    for table in ts.TIMESERIES_TABLES:
        assert _where(db, table, SEQ0 + 1) == [f"{table}_p20030315"]
        assert _where(db, table, SEQ0 + 2) == [f"{table}_p20030313"]
        assert _where(db, table, SEQ0 + 3) == [f"{table}_default"]
        # Moved whole: every column intact, nothing left behind or doubled.
        after = db.execute(
            sql.SQL("SELECT * FROM {} WHERE seq = %s").format(sql.Identifier(table)),
            (SEQ0 + 1,),
        ).fetchall()
        assert after == before[table]
        left = db.execute(
            sql.SQL("SELECT count(*) FROM {} WHERE ts >= %s AND ts < %s").format(
                sql.Identifier(f"{table}_default")
            ),
            (days[0], days[-1] + ts.CHUNK),
        ).fetchone()
        assert left == (0,)

    # New rows of a covered day go straight to their partition.
    _insert(db, "gps_fix", DAY + dt.timedelta(days=1, hours=23, minutes=59), SEQ0 + 4)
    assert _where(db, "gps_fix", SEQ0 + 4) == ["gps_fix_p20030316"]


def test_ensure_partitions_is_idempotent(db: psycopg.Connection) -> None:
    first = _ensure(db, DAY)
    assert len(first) == 6 * len(ts.TIMESERIES_TABLES)
    snapshot = {t: _partitions(db, t) for t in ts.TIMESERIES_TABLES}
    assert _ensure(db, DAY) == []
    assert _ensure(db, DAY + dt.timedelta(hours=23)) == []  # same day, other hour
    assert {t: _partitions(db, t) for t in ts.TIMESERIES_TABLES} == snapshot
    # One day later: only the one new day ahead appears.
    assert sorted(_ensure(db, DAY + dt.timedelta(days=1))) == sorted(
        f"{t}_p20030319" for t in ts.TIMESERIES_TABLES
    )


def test_drop_expired_drops_old_partitions_and_keeps_recent_ones(db: psycopg.Connection) -> None:
    _ensure(db, DAY)  # 2003-03-13 .. 2003-03-18
    for day in range(13, 19):
        _insert(db, "shelf_reading", dt.datetime(2003, 3, day, 6, tzinfo=UTC), SEQ0 + day)
    today_parts = {t: _partitions(db, t) - {f"{t}_default"} for t in ts.TIMESERIES_TABLES}

    # Keep 3 days before 2003-03-18: the cut-off is 2003-03-15, so 13 and 14 go.
    with db.transaction():
        dropped = ts.drop_expired(db, retention_days=3, now=dt.datetime(2003, 3, 18, 9, tzinfo=UTC))

    assert sorted(dropped) == sorted(
        f"{t}_p{d}" for t in ts.TIMESERIES_TABLES for d in ("20030313", "20030314")
    )
    for table in ts.TIMESERIES_TABLES:
        left = _partitions(db, table)
        expected = today_parts[table] - {f"{table}_p20030313", f"{table}_p20030314"}
        assert left == expected | {f"{table}_default"}
        for d in ("20030315", "20030316", "20030317", "20030318"):
            assert f"{table}_p{d}" in left
    # The rows went with their partitions; the others stayed.
    assert _where(db, "shelf_reading", SEQ0 + 13) == []
    assert _where(db, "shelf_reading", SEQ0 + 14) == []
    assert _where(db, "shelf_reading", SEQ0 + 15) == ["shelf_reading_p20030315"]
    assert _where(db, "shelf_reading", SEQ0 + 18) == ["shelf_reading_p20030318"]
    # Nothing around the real today was touched.
    today = ts._day(dt.datetime.now(UTC))
    assert ts.partition_name("shelf_reading", today) in _partitions(db, "shelf_reading")

    # Running it again drops nothing more.
    with db.transaction():
        again = ts.drop_expired(db, retention_days=3, now=dt.datetime(2003, 3, 18, 9, tzinfo=UTC))
    assert again == []
