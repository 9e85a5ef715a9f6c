"""The tracking evaluator on the real database, driven by hand (no broker): a driver's proof of
delivery counts as the visit the geofence did not see, a truck that stopped reporting turns
late when a window closes, and a withdrawn plan stops being tracked with its conditions
cleared."""

from __future__ import annotations

import time

import psycopg
import pytest
from conftest import Stack
from fastapi.testclient import TestClient
from test_tracking_world import WH, Day, build_day, client  # noqa: F401

from wayhouse.edge import schema as S
from wayhouse.platform.ingest.batch import Accepted
from wayhouse.platform.tracking.evaluator import TrackingEvaluator
from wayhouse.platform.tracking.events import EventKind

pytestmark = pytest.mark.integration


def _gps(day: Day, keys: tuple[int, int], seq: int, t: float, lat: float, lon: float) -> Accepted:
    reading = S.GpsReading(s=day.sensor, t=t, lat=lat, lon=lon, spd=0.0, acc=5.0)
    return Accepted(
        day.agent, keys[0], S.Stream.GPS, S.GpsMessage(v=1, seq=seq, r=[reading]), (keys[1],)
    )


def _batch(
    ev: TrackingEvaluator, conn: psycopg.Connection, agent: str, *messages: Accepted
) -> list:  # type: ignore[type-arg]
    """One batch as the worker runs it: feed, tick, flush, in one transaction."""
    with conn.transaction():
        for m in messages:
            ev.feed(m, time.time())
        ev.tick(time.time())
        ev._next_refresh = 0.0  # no waiting for the refresh interval in a test
        ev.flush(conn)
    # Other tests' trucks may be tracked too: only this one's events count here.
    return [e for e in ev.drain_events() if e.truck_id == agent]


def test_proof_of_delivery_lateness_and_withdrawal(
    stack: Stack,
    client: TestClient,  # noqa: F811
) -> None:
    day = build_day(stack, client)
    first = day.sequence[0]
    with psycopg.connect(stack.settings.database_url()) as conn:
        agent_key, sensor_key = conn.execute(
            "SELECT a.agent_key, s.sensor_key FROM agent a JOIN sensor s USING (agent_key) "
            "WHERE a.agent_id = %s",
            (day.agent,),
        ).fetchone()  # type: ignore[misc]
        keys = (int(agent_key), int(sensor_key))
        ev = TrackingEvaluator(stack.settings)
        with conn.transaction():
            ev.load(conn)
        assert ev.tracked()[day.agent] == (day.plan, day.vehicle)

        # The driver proves the first delivery; the geofence never saw the truck there.
        r = client.post(
            f"/dispatch/plans/{day.plan}/stops/{first}/proof",
            json={"kind": "scan", "reference": "QR-1"},
            headers=day.h("driver"),
        )
        assert r.status_code == 200, r.text
        stale = time.time() - 1000.0
        _batch(ev, conn, day.agent, _gps(day, keys, 0, stale, WH[0], WH[1]))
        state = ev.state_of(day.agent)
        assert state is not None and state.arrived[1] is not None
        etas = dict(
            conn.execute(
                "SELECT order_id, eta FROM plan_stop WHERE plan_id = %s", (day.plan,)
            ).fetchall()
        )
        planned = dict(
            conn.execute(
                "SELECT order_id, planned_arrival FROM plan_stop WHERE plan_id = %s", (day.plan,)
            ).fetchall()
        )
        # The remaining stops got ETAs from the fix; the delivered one kept what it had.
        assert etas[first] == planned[first]
        assert all(etas[o] != planned[o] for o in day.sequence[1:])

        # The windows closed at 00:00:01 (a re-plan that is published: a new revision); the
        # truck has been silent since: both stops left turn late by the clock.
        with conn.transaction():
            conn.execute("UPDATE plan_stop SET window_close_s = 1 WHERE plan_id = %s", (day.plan,))
            conn.execute(
                "UPDATE delivery_plan SET revision = revision + 1 WHERE id = %s", (day.plan,)
            )
        _batch(ev, conn, day.agent)  # takes the new revision
        events = _batch(ev, conn, day.agent)
        late = [(e.kind, e.stop_id) for e in events if e.kind is EventKind.LATE_RISK]
        assert sorted(late) == sorted((EventKind.LATE_RISK, f"o{o}") for o in day.sequence[1:])
        state = ev.state_of(day.agent)
        assert state is not None and state.arrived[1] is not None  # carried over
        assert not [e for e in _batch(ev, conn, day.agent) if e.kind is EventKind.LATE_RISK]  # once

        # Withdrawn: no longer tracked, and what was open on it is cleared.
        with conn.transaction():
            conn.execute("UPDATE delivery_plan SET published_at = NULL WHERE id = %s", (day.plan,))
        events = _batch(ev, conn, day.agent)
        assert day.agent not in ev.tracked()
        cleared = [(e.kind, e.stop_id) for e in events]
        assert sorted(cleared) == sorted(
            (EventKind.LATE_RISK_CLEARED, f"o{o}") for o in day.sequence[1:]
        )
        ev.drain_events()
        ev.feed(_gps(day, keys, 1, time.time(), WH[0], WH[1]), time.time())  # ignored
        assert ev.drain_events() == []
