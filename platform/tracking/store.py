"""SQL for the tracking evaluator (psycopg, inside the evaluation worker's transaction): the
routes to track, the trucks' GPS sensors, tracker states, and what tracking writes on the
plan's stops. Status only moves forward here: ``planned -> arrived -> departed``; a stop the
driver already confirmed (``delivered``) or that was taken off (``skipped``) keeps its status,
and a time once recorded is never overwritten (the first word stands)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from .plans import RouteRow, StopRow

ROUTES_SQL = """
SELECT p.id, p.revision, p.status, p.day, p.published_at, r.id, r.vehicle_id, v.agent_id,
       w.code, w.lat, w.lon, r.start_at
FROM delivery_plan p
JOIN plan_route r ON r.plan_id = p.id
JOIN vehicle v ON v.id = r.vehicle_id
JOIN warehouse w ON w.id = p.warehouse_id
WHERE p.day = ANY(%s) AND p.published_at IS NOT NULL AND v.agent_id IS NOT NULL
  AND w.lat IS NOT NULL AND w.lon IS NOT NULL
"""

STOPS_SQL = """
SELECT route_id, id, order_id, seq, lat, lon, service_s, window_open_s, window_close_s,
       planned_arrival, status, actual_arrival, actual_departure
FROM plan_stop WHERE route_id = ANY(%s)
"""


def plan_versions(conn: psycopg.Connection, days: Sequence[dt.date]) -> dict[int, tuple[int, str]]:
    """Plan id -> (revision, status) of the days' plans that were ever published."""
    rows = conn.execute(
        "SELECT id, revision, status FROM delivery_plan "
        "WHERE day = ANY(%s) AND published_at IS NOT NULL",
        (list(days),),
    ).fetchall()
    return {int(pid): (int(rev), str(status)) for pid, rev, status in rows}


def route_rows(
    conn: psycopg.Connection, days: Sequence[dt.date], plan_ids: Iterable[int] | None = None
) -> list[tuple[dt.datetime | None, RouteRow]]:
    """The routes of the days' published plans (optionally only some plans), with their
    stops, each with the time its plan was published."""
    sql, params = ROUTES_SQL, [list(days)]
    if plan_ids is not None:
        sql += " AND p.id = ANY(%s)"
        params.append(list(plan_ids))
    routes = conn.execute(sql, params).fetchall()
    stops: dict[int, list[StopRow]] = {}
    if routes:
        for row in conn.execute(STOPS_SQL, ([r[5] for r in routes],)).fetchall():
            stops.setdefault(int(row[0]), []).append(StopRow(*row[1:]))
    out = []
    for pid, rev, status, day, published, rid, vid, agent, code, lat, lon, start in routes:
        out.append(
            (
                published,
                RouteRow(
                    int(pid),
                    int(rev),
                    str(status),
                    day,
                    int(vid),
                    str(agent),
                    str(code),
                    float(lat),
                    float(lon),
                    start,
                    tuple(stops.get(int(rid), ())),
                ),
            )
        )
    return out


def gps_sensors(conn: psycopg.Connection, agents: Iterable[str]) -> dict[str, int]:
    """Each truck agent's GPS sensor (the first registered, if it has several)."""
    rows = conn.execute(
        "SELECT a.agent_id, min(s.sensor_key) FROM agent a "
        "JOIN sensor s ON s.agent_key = a.agent_key AND s.kind = 'gps' "
        "WHERE a.agent_id = ANY(%s) GROUP BY a.agent_id",
        (list(agents),),
    ).fetchall()
    return {str(a): int(k) for a, k in rows}


def load_states(
    conn: psycopg.Connection, keys: Iterable[tuple[int, int]]
) -> dict[tuple[int, int], tuple[int, list[str], dict[str, Any]]]:
    """(plan, vehicle) -> (revision, waypoint ids, state dict) as last saved."""
    keys = list(keys)
    if not keys:
        return {}
    rows = conn.execute(
        "SELECT t.plan_id, t.vehicle_id, t.revision, t.waypoints, t.state FROM tracker_state t "
        "JOIN unnest(%s::int[], %s::int[]) AS k(plan_id, vehicle_id) USING (plan_id, vehicle_id)",
        ([k[0] for k in keys], [k[1] for k in keys]),
    ).fetchall()
    return {(int(p), int(v)): (int(rev), list(wps), dict(st)) for p, v, rev, wps, st in rows}


def save_states(
    conn: psycopg.Connection,
    states: Sequence[tuple[int, int, int, Sequence[str], Mapping[str, Any]]],
) -> None:
    if not states:
        return
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO tracker_state (plan_id, vehicle_id, revision, waypoints, state) "
            "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (plan_id, vehicle_id) DO UPDATE SET "
            "revision = EXCLUDED.revision, waypoints = EXCLUDED.waypoints, "
            "state = EXCLUDED.state, updated_at = now()",
            [(p, v, rev, Jsonb(list(w)), Jsonb(dict(s))) for p, v, rev, w, s in states],
        )


def _ts(values: Mapping[int, float]) -> tuple[list[int], list[dt.datetime]]:
    ids = sorted(values)
    return ids, [dt.datetime.fromtimestamp(values[i], dt.UTC) for i in ids]


def write_etas(conn: psycopg.Connection, etas: Mapping[int, float]) -> None:
    if etas:
        conn.execute(
            "UPDATE plan_stop s SET eta = u.eta FROM unnest(%s::int[], %s::timestamptz[]) "
            "AS u(id, eta) WHERE s.id = u.id AND s.status IN ('planned', 'arrived')",
            _ts(etas),
        )


def write_arrivals(conn: psycopg.Connection, arrivals: Mapping[int, float]) -> None:
    if arrivals:
        conn.execute(
            "UPDATE plan_stop s SET actual_arrival = coalesce(s.actual_arrival, u.at), "
            "status = CASE WHEN s.status = 'planned' THEN 'arrived' ELSE s.status END "
            "FROM unnest(%s::int[], %s::timestamptz[]) AS u(id, at) WHERE s.id = u.id",
            _ts(arrivals),
        )


def write_departures(conn: psycopg.Connection, departures: Mapping[int, float]) -> None:
    if departures:
        conn.execute(
            "UPDATE plan_stop s SET actual_departure = coalesce(s.actual_departure, u.at), "
            "status = CASE WHEN s.status IN ('planned', 'arrived') THEN 'departed' "
            "ELSE s.status END "
            "FROM unnest(%s::int[], %s::timestamptz[]) AS u(id, at) WHERE s.id = u.id",
            _ts(departures),
        )


def confirmed_arrivals(conn: psycopg.Connection, stop_ids: Iterable[int]) -> dict[int, float]:
    """Arrivals recorded by someone else (a driver's proof of delivery) among these stops."""
    ids = list(stop_ids)
    if not ids:
        return {}
    rows = conn.execute(
        "SELECT id, actual_arrival FROM plan_stop "
        "WHERE id = ANY(%s) AND actual_arrival IS NOT NULL",
        (ids,),
    ).fetchall()
    return {int(i): at.timestamp() for i, at in rows}
