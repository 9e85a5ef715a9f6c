"""Operations views of the telemetry pipeline: health, ingest counters, devices, dead letters,
latest positions and weights."""

from __future__ import annotations

import platform as stdlib_platform
from datetime import datetime
from typing import Annotated

import psycopg
from fastapi import APIRouter, Depends, Query, Request
from psycopg.rows import dict_row

from wayhouse.platform.api.deps import (
    Page,
    get_conn,
    like_contains,
    order_by,
    pagination,
    require_operator,
)
from wayhouse.platform.api.schemas import (
    BinWeight,
    DeadLetterOut,
    Device,
    Health,
    IngestStats,
    PageOut,
    TruckPosition,
    WorkerStats,
)
from wayhouse.platform.db import timeseries
from wayhouse.platform.services.procs import port_open

public = APIRouter(tags=["health"])
router = APIRouter(dependencies=[Depends(require_operator)], tags=["telemetry"])

# A worker that has not written its stats for this long is reported as not alive.
STALE_S = 10


@public.get("/health", response_model=Health)
def health(request: Request) -> Health:
    settings = request.app.state.settings
    db_ok, mode, revision = False, None, None
    try:
        with request.app.state.pool.connection(timeout=3) as conn:
            mode = timeseries.detect(conn).mode
            row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
            revision = row[0] if row else None
            db_ok = True
    except psycopg.Error:
        pass
    target = settings.mqtt()
    broker_ok = port_open(target.host, target.port)
    # The repository has a top-level platform/ folder: prove the standard library still wins.
    stdlib_ok = callable(getattr(stdlib_platform, "python_version", None))
    return Health(
        status="ok" if db_ok and broker_ok and stdlib_ok else "degraded",
        database=db_ok,
        broker=broker_ok,
        storage_mode=mode,
        schema_revision=revision,
        stdlib_platform=stdlib_ok,
    )


@router.get("/ingest/stats", response_model=IngestStats)
def ingest_stats(conn: Annotated[psycopg.Connection, Depends(get_conn)]) -> IngestStats:
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(
            "SELECT *, updated_at > now() - make_interval(secs => %s) AS alive "
            "FROM ingest_worker_stats ORDER BY worker_id",
            (STALE_S,),
        ).fetchall()
        dead_rows = cur.execute("SELECT count(*) AS n FROM dead_letter").fetchone()
    workers = [WorkerStats.model_validate(r) for r in rows]
    return IngestStats(
        msgs_in=sum(w.msgs_in for w in workers),
        readings_written=sum(w.readings_written for w in workers),
        duplicates=sum(w.duplicates for w in workers),
        dead_letters=sum(w.dead_letters for w in workers),
        lag_ms=max((w.lag_ms or 0.0 for w in workers if w.alive), default=0.0),
        dead_letter_rows=dead_rows["n"] if dead_rows else 0,
        workers=workers,
    )


DEVICE_SORT = {
    "agent_id": "a.agent_id",
    "kind": "a.kind",
    "created_at": "a.created_at",
    "state": "st.state",
}


@router.get("/devices", response_model=PageOut[Device])
def devices(
    conn: Annotated[psycopg.Connection, Depends(get_conn)],
    page: Annotated[Page, Depends(pagination)],
    kind: Annotated[str | None, Query(pattern="^(shelf|scanner|truck|gateway)$")] = None,
    active: bool | None = True,
    q: Annotated[str | None, Query(max_length=64, description="agent id contains")] = None,
    sort: Annotated[str | None, Query(description="field or -field")] = None,
) -> PageOut[Device]:
    where, params = ["true"], []
    if kind:
        where.append("a.kind = %s")
        params.append(kind)
    if active is not None:
        where.append("a.active = %s")
        params.append(active)
    if q:
        where.append("a.agent_id ILIKE %s")
        params.append(like_contains(q))
    clause = " AND ".join(where)
    with conn.cursor(row_factory=dict_row) as cur:
        total = cur.execute(f"SELECT count(*) AS n FROM agent a WHERE {clause}", params).fetchone()
        rows = cur.execute(
            "SELECT a.agent_id, a.kind, a.site, a.active, a.created_at, st.state, "
            "st.ts AS last_status_at, (SELECT count(*) FROM sensor s WHERE s.agent_key = a.agent_key "
            f"AND s.active) AS sensors FROM agent a LEFT JOIN agent_status_latest st USING (agent_key) "
            f"WHERE {clause} ORDER BY {order_by(sort, DEVICE_SORT, 'agent_id', tiebreak='a.agent_id')} LIMIT %s OFFSET %s",
            [*params, page.size, page.offset],
        ).fetchall()
    return PageOut(
        items=[Device.model_validate(r) for r in rows],
        total=total["n"] if total else 0,
        page=page.page,
        size=page.size,
    )


@router.get("/dead-letters", response_model=PageOut[DeadLetterOut])
def dead_letters(
    conn: Annotated[psycopg.Connection, Depends(get_conn)],
    page: Annotated[Page, Depends(pagination)],
    agent_id: Annotated[str | None, Query(max_length=64)] = None,
    since: datetime | None = None,
    reason: Annotated[str | None, Query(max_length=64, description="reason contains")] = None,
) -> PageOut[DeadLetterOut]:
    where, params = ["true"], []
    if agent_id:
        where.append("agent_id = %s")
        params.append(agent_id)
    if since:
        where.append("received_at >= %s")
        params.append(since)
    if reason:
        where.append("reason ILIKE %s")
        params.append(like_contains(reason))
    clause = " AND ".join(where)
    with conn.cursor(row_factory=dict_row) as cur:
        total = cur.execute(
            f"SELECT count(*) AS n FROM dead_letter WHERE {clause}", params
        ).fetchone()
        rows = cur.execute(
            "SELECT id, received_at, worker_id, topic, agent_id, reason, "
            "substring(payload from 1 for 200) AS preview, length(payload) AS payload_bytes "
            f"FROM dead_letter WHERE {clause} ORDER BY id DESC LIMIT %s OFFSET %s",
            [*params, page.size, page.offset],
        ).fetchall()
    items = [
        DeadLetterOut(
            **{k: v for k, v in r.items() if k != "preview"},
            payload_preview=bytes(r["preview"]).decode("utf-8", errors="replace"),
        )
        for r in rows
    ]
    return PageOut(items=items, total=total["n"] if total else 0, page=page.page, size=page.size)


@router.get("/telemetry/trucks", response_model=list[TruckPosition])
def truck_positions(conn: Annotated[psycopg.Connection, Depends(get_conn)]) -> list[TruckPosition]:
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(
            "SELECT s.sensor_id, a.agent_id, g.ts, g.lat, g.lon, g.speed, g.heading FROM gps_latest g "
            "JOIN sensor s USING (sensor_key) JOIN agent a ON a.agent_key = s.agent_key "
            "ORDER BY a.agent_id"
        ).fetchall()
    return [TruckPosition.model_validate(r) for r in rows]


@router.get("/telemetry/bins", response_model=PageOut[BinWeight])
def bin_weights(
    conn: Annotated[psycopg.Connection, Depends(get_conn)],
    page: Annotated[Page, Depends(pagination)],
) -> PageOut[BinWeight]:
    with conn.cursor(row_factory=dict_row) as cur:
        total = cur.execute("SELECT count(*) AS n FROM shelf_latest").fetchone()
        rows = cur.execute(
            "SELECT s.sensor_id, a.agent_id, s.meta->>'bin' AS bin, l.ts, l.weight_g FROM shelf_latest l "
            "JOIN sensor s USING (sensor_key) JOIN agent a ON a.agent_key = s.agent_key "
            "ORDER BY s.sensor_id LIMIT %s OFFSET %s",
            (page.size, page.offset),
        ).fetchall()
    return PageOut(
        items=[BinWeight.model_validate(r) for r in rows],
        total=total["n"] if total else 0,
        page=page.page,
        size=page.size,
    )
