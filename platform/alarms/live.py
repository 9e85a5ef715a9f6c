"""Live push of alarm transitions to a websocket: each connection follows ``alarm_transition``
by id (one writer, the evaluation worker, commits them in id order, so a watermark misses
nothing), scoped to what its user may see, polled every ``POLL_S``.

Protocol (JSON text frames, server to client)::

    {"type": "hello", "watermark": N, "user": "...", "role": "..."}
    {"type": "transition", "id": ..., "alarm_id": ..., "action": ..., ...}   (one per step)

Connect with ``?token=<session token>`` (browsers cannot set headers on a websocket) or an
``Authorization: Bearer`` header; ``?since=<id>`` resumes after a transition id. A bad or
expired token closes with 1008 (policy violation); so does a session that ends while open.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.websockets import WebSocket, WebSocketDisconnect

from wayhouse.platform.auth import service as auth
from wayhouse.platform.auth.principal import Principal
from wayhouse.platform.db.base import session_factory

POLL_S = 0.5
RECHECK_SESSION_S = 30.0
BATCH = 500

FOLLOW_SQL = """
SELECT t.id, t.alarm_id, t.seq, t.action, t.from_state, t.to_state, t.at, t.by, t.severity,
       t.reason, t.message, t.occurrences, a.type AS alarm_type, a.subject, a.site, a.warehouse_id, a.device
FROM alarm_transition t
JOIN alarm a ON a.id = t.alarm_id
LEFT JOIN org_unit o ON o.id = a.org_unit_id
WHERE t.id > %(after)s
  AND (starts_with(o.path, %(path)s) OR (a.org_unit_id IS NULL AND %(hq)s))
ORDER BY t.id
LIMIT %(limit)s
"""


def resolve(url: str, token: str) -> Principal | None:
    with session_factory(url)() as session:
        return _resolve(session, token)


def _resolve(session: Session, token: str) -> Principal | None:
    return auth.resolve(session, token, dt.datetime.now(dt.UTC))


def watermark(pool: ConnectionPool) -> int:
    with pool.connection(timeout=5) as conn:
        row = conn.execute("SELECT coalesce(max(id), 0) FROM alarm_transition").fetchone()
    return int(row[0]) if row else 0


def follow(pool: ConnectionPool, p: Principal, after: int) -> list[dict[str, Any]]:
    with pool.connection(timeout=5) as conn, conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(
            FOLLOW_SQL, {"after": after, "path": p.org_path, "hq": p.is_hq, "limit": BATCH}
        ).fetchall()
    return [_frame(r) for r in rows]


def _frame(r: dict[str, Any]) -> dict[str, Any]:
    at = r["at"]
    return {
        "type": "transition",
        "id": r["id"],
        "alarm_id": r["alarm_id"],
        "seq": r["seq"],
        "action": r["action"],
        "from_state": r["from_state"],
        "to_state": r["to_state"],
        "at": at.isoformat() if isinstance(at, dt.datetime) else at,
        "by": r["by"],
        "severity": r["severity"],
        "reason": r["reason"],
        "message": r["message"],
        "occurrences": r["occurrences"],
        "alarm_type": r["alarm_type"],
        "subject": r["subject"],
        "site": r["site"],
        "warehouse_id": r["warehouse_id"],
        "device": r["device"],
    }


def token_of(ws: WebSocket) -> str | None:
    token = ws.query_params.get("token")
    if token:
        return token
    header = ws.headers.get("authorization", "")
    return header.removeprefix("Bearer ").strip() if header.startswith("Bearer ") else None


async def serve(ws: WebSocket, since: int | None) -> None:
    url: str = ws.app.state.settings.sqlalchemy_url()
    pool: ConnectionPool = ws.app.state.pool
    token = token_of(ws)
    p = await run_in_threadpool(resolve, url, token) if token else None
    if p is None:
        await ws.close(code=1008, reason="sign in first: ?token=<session token>")
        return
    await ws.accept()
    try:
        after = since if since is not None else await run_in_threadpool(watermark, pool)
        await ws.send_json(
            {"type": "hello", "watermark": after, "user": p.username, "role": p.role.value}
        )
        loop = asyncio.get_running_loop()
        recheck = loop.time() + RECHECK_SESSION_S
        while True:
            try:
                frames = await run_in_threadpool(follow, pool, p, after)
            except psycopg.Error:
                frames = []  # the database is away: keep the socket, try again
            for frame in frames:
                await ws.send_json(frame)
                after = frame["id"]
            if loop.time() >= recheck:
                if await run_in_threadpool(resolve, url, token or "") is None:
                    await ws.close(code=1008, reason="session ended")
                    return
                recheck = loop.time() + RECHECK_SESSION_S
            # Wait for the next poll, noticing a client that went away meanwhile.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(ws.receive_text(), timeout=POLL_S)
    except WebSocketDisconnect:
        return
