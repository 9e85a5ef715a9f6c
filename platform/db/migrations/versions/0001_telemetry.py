"""Device registry, telemetry time series, latest values, dead letters, ingest counters.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

REGISTRY = """
CREATE TABLE agent (
    agent_key     serial PRIMARY KEY,
    agent_id      text NOT NULL UNIQUE,
    kind          text NOT NULL CHECK (kind IN ('shelf', 'scanner', 'truck', 'gateway')),
    site          text,
    password_hash text NOT NULL,
    active        boolean NOT NULL DEFAULT true,
    created_at    timestamptz NOT NULL DEFAULT now(),
    revoked_at    timestamptz
);
CREATE TABLE sensor (
    sensor_key  serial PRIMARY KEY,
    sensor_id   text NOT NULL UNIQUE,
    agent_key   integer NOT NULL REFERENCES agent (agent_key),
    kind        text NOT NULL CHECK (kind IN ('scale', 'rfid', 'barcode', 'gps', 'env')),
    meta        jsonb NOT NULL DEFAULT '{}'::jsonb,
    active      boolean NOT NULL DEFAULT true,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sensor_agent_idx ON sensor (agent_key);
"""

# Column lists shared by both storage modes. `seq` is the agent's message sequence number;
# `(agent_key, seq)` is made unique through ingest_seen, not per row, so COPY stays cheap.
TIMESERIES = {
    "shelf_reading": """
        ts          timestamptz NOT NULL,
        sensor_key  integer NOT NULL,
        agent_key   integer NOT NULL,
        seq         bigint NOT NULL,
        weight_g    double precision NOT NULL,
        received_at timestamptz NOT NULL
    """,
    "scan_event": """
        ts          timestamptz NOT NULL,
        sensor_key  integer NOT NULL,
        agent_key   integer NOT NULL,
        seq         bigint NOT NULL,
        kind        text NOT NULL,
        code        text NOT NULL,
        action      text NOT NULL,
        qty         integer NOT NULL,
        bin         text,
        zone        text,
        received_at timestamptz NOT NULL
    """,
    "gps_fix": """
        ts          timestamptz NOT NULL,
        sensor_key  integer NOT NULL,
        agent_key   integer NOT NULL,
        seq         bigint NOT NULL,
        lat         double precision NOT NULL,
        lon         double precision NOT NULL,
        speed       real,
        heading     real,
        accuracy    real,
        received_at timestamptz NOT NULL
    """,
    "device_status": """
        ts          timestamptz NOT NULL,
        agent_key   integer NOT NULL,
        seq         bigint NOT NULL,
        state       text NOT NULL,
        info        text,
        received_at timestamptz NOT NULL
    """,
}
INDEXES = {
    "shelf_reading": ["(sensor_key, ts DESC)"],
    "scan_event": ["(sensor_key, ts DESC)", "(code, ts DESC)"],
    "gps_fix": ["(sensor_key, ts DESC)"],
    "device_status": ["(agent_key, ts DESC)"],
}

SUPPORT = """
CREATE TABLE ingest_seen (
    agent_key   integer NOT NULL,
    seq         bigint NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (agent_key, seq)
);
CREATE INDEX ingest_seen_received_idx ON ingest_seen USING brin (received_at);

CREATE TABLE dead_letter (
    id          bigserial PRIMARY KEY,
    received_at timestamptz NOT NULL DEFAULT now(),
    worker_id   text,
    topic       text NOT NULL,
    agent_id    text,
    reason      text NOT NULL,
    payload     bytea NOT NULL
);
CREATE INDEX dead_letter_received_idx ON dead_letter (received_at DESC);

CREATE TABLE shelf_latest (
    sensor_key  integer PRIMARY KEY,
    ts          timestamptz NOT NULL,
    weight_g    double precision NOT NULL
);
CREATE TABLE gps_latest (
    sensor_key  integer PRIMARY KEY,
    ts          timestamptz NOT NULL,
    lat         double precision NOT NULL,
    lon         double precision NOT NULL,
    speed       real,
    heading     real,
    accuracy    real
);
CREATE TABLE agent_status_latest (
    agent_key   integer PRIMARY KEY,
    state       text NOT NULL,
    ts          timestamptz NOT NULL,
    last_seq    bigint NOT NULL
);

CREATE TABLE ingest_worker_stats (
    worker_id         text PRIMARY KEY,
    pid               integer,
    storage_mode      text NOT NULL,
    started_at        timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL,
    msgs_in           bigint NOT NULL DEFAULT 0,
    readings_written  bigint NOT NULL DEFAULT 0,
    duplicates        bigint NOT NULL DEFAULT 0,
    dead_letters      bigint NOT NULL DEFAULT 0,
    batches           bigint NOT NULL DEFAULT 0,
    lag_ms            double precision,
    latency_p50_ms    double precision,
    latency_p99_ms    double precision,
    latency_max_ms    double precision,
    latency_count     bigint NOT NULL DEFAULT 0
);
"""


def upgrade() -> None:
    bind = op.get_bind()
    op.execute(REGISTRY)
    op.execute(SUPPORT)
    has_tsdb = (
        bind.exec_driver_sql(
            "SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'"
        ).fetchone()
        is not None
    )
    if has_tsdb:
        op.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
    for table, cols in TIMESERIES.items():
        if has_tsdb:
            op.execute(f"CREATE TABLE {table} ({cols})")
            op.execute(
                f"SELECT create_hypertable('{table}', 'ts', chunk_time_interval => interval '1 day')"
            )
            op.execute(
                f"ALTER TABLE {table} SET (timescaledb.compress, "
                "timescaledb.compress_orderby = 'ts DESC')"
            )
            op.execute(f"SELECT add_compression_policy('{table}', interval '2 days')")
            op.execute(f"SELECT add_retention_policy('{table}', interval '30 days')")
        else:
            op.execute(f"CREATE TABLE {table} ({cols}) PARTITION BY RANGE (ts)")
            op.execute(f"CREATE TABLE {table}_default PARTITION OF {table} DEFAULT")
        for i, idx in enumerate(INDEXES[table]):
            op.execute(f"CREATE INDEX {table}_idx{i} ON {table} {idx}")
    if not has_tsdb:
        from wayhouse.platform.db.timeseries import ensure_partitions

        # Partitions around today, so the first readings never touch the default partition.
        raw = bind.connection.driver_connection
        ensure_partitions(raw)


def downgrade() -> None:
    for table in (
        *TIMESERIES,
        "ingest_worker_stats",
        "agent_status_latest",
        "gps_latest",
        "shelf_latest",
        "dead_letter",
        "ingest_seen",
        "sensor",
        "agent",
    ):
        op.execute(f"DROP TABLE IF EXISTS {table} CASCADE")
