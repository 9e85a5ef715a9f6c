"""Environment sensors: the ``env`` stream's time series (temperature, humidity) and the
latest value per sensor, created like the other telemetry tables in 0001 (a hypertable when
TimescaleDB is there, daily native partitions otherwise).

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-25
"""

from __future__ import annotations

from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

# Either quantity may be missing from a reading (a sensor that measures only one of them).
COLUMNS = """
    ts          timestamptz NOT NULL,
    sensor_key  integer NOT NULL,
    agent_key   integer NOT NULL,
    seq         bigint NOT NULL,
    temp_c      real,
    rh          real,
    received_at timestamptz NOT NULL
"""


def upgrade() -> None:
    bind = op.get_bind()
    has_tsdb = (
        bind.exec_driver_sql("SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'").fetchone()
        is not None
    )
    if has_tsdb:
        op.execute(f"CREATE TABLE env_reading ({COLUMNS})")
        op.execute(
            "SELECT create_hypertable('env_reading', 'ts', chunk_time_interval => interval '1 day')"
        )
        op.execute(
            "ALTER TABLE env_reading SET (timescaledb.compress, "
            "timescaledb.compress_orderby = 'ts DESC')"
        )
        op.execute("SELECT add_compression_policy('env_reading', interval '2 days')")
        op.execute("SELECT add_retention_policy('env_reading', interval '30 days')")
    else:
        op.execute(f"CREATE TABLE env_reading ({COLUMNS}) PARTITION BY RANGE (ts)")
        op.execute("CREATE TABLE env_reading_default PARTITION OF env_reading DEFAULT")
    op.execute("CREATE INDEX env_reading_idx0 ON env_reading (sensor_key, ts DESC)")
    op.execute(
        """
        CREATE TABLE env_latest (
            sensor_key  integer PRIMARY KEY,
            ts          timestamptz NOT NULL,
            temp_c      real,
            rh          real
        )
        """
    )
    if not has_tsdb:
        from wayhouse.platform.db.timeseries import ensure_partitions

        # Partitions around today, so the first readings never touch the default partition.
        ensure_partitions(bind.connection.driver_connection)


def downgrade() -> None:
    op.execute("DROP TABLE env_latest")
    op.execute("DROP TABLE env_reading")
