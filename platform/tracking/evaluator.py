"""Tracking on the live stream: one ``RouteTracker`` per truck on today's published plans.

``load`` builds a tracker for each vehicle's route in the plan published last today (the
vehicle's ``agent_id`` is the truck unit, its ``gps`` sensor the one tracked) and resumes the
state saved with the last committed batch. ``feed`` steps the truck's tracker with each GPS
reading. ``flush`` writes, in the worker's transaction, every stop's newest ETA, arrivals and
departures seen by the geofences, and the changed states; the tracking events stay in memory
for the alarm evaluator, which runs after this one on the same batch (``drain_events``).

Every few seconds (``REFRESH_S``, from ``tick``) it looks for plans published, re-planned
(revision changed) or withdrawn, and for deliveries a driver confirmed: a changed route takes
the truck's progress over (``handover.carry_over``) and clears what was open on the old one.
A truck that stopped reporting still turns late once a stop's window closes (``eta.overdue``).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, replace
from typing import Any
from zoneinfo import ZoneInfo

import psycopg

from wayhouse.config import Settings
from wayhouse.edge.schema import GpsMessage, Stream
from wayhouse.platform.ingest.batch import Accepted

from . import store
from .eta import overdue
from .events import TrackingEvent
from .handover import carry_over, closing_events
from .plans import LiveRoute, RouteRow, facts, latest_per_vehicle, to_route, travel_model
from .state import TrackerState
from .tracker import RouteTracker, TrackingConfig

log = logging.getLogger("wayhouse.tracking")
REFRESH_S = 3.0  # how often plans are re-read (publish, re-plan, proof of delivery)
SILENT_S = 120.0  # a truck without a fix for this long is judged by the clock alone


@dataclass
class _Truck:
    live: LiveRoute
    tracker: RouteTracker
    state: TrackerState
    sensor_key: int | None
    dirty: bool = True

    @property
    def key(self) -> tuple[int, int]:
        return self.live.row.key


class TrackingEvaluator:
    name = "tracking"

    def __init__(self, settings: Settings, config: TrackingConfig | None = None) -> None:
        self.settings = settings
        self.tz = ZoneInfo(settings.timezone)
        self.config = config or TrackingConfig()
        self._trucks: dict[str, _Truck] = {}  # by agent id
        self._versions: dict[int, tuple[int, str]] = {}  # plan -> (revision, status) seen
        self._reset_pending()
        self._now = 0.0
        self._next_refresh = 0.0

    def _reset_pending(self) -> None:
        self._etas: dict[int, float] = {}  # plan_stop id -> predicted arrival (unix s)
        self._arrivals: dict[int, float] = {}
        self._departures: dict[int, float] = {}
        self._events: list[TrackingEvent] = []

    # ---- the evaluator protocol ------------------------------------------------------------

    def load(self, conn: psycopg.Connection) -> None:
        self._trucks.clear()
        self._versions.clear()
        self._reset_pending()
        self._refresh(conn, saved=True)

    def feed(self, message: Accepted, received_at: float) -> None:
        if message.stream is not Stream.GPS or not isinstance(message.message, GpsMessage):
            return
        truck = self._trucks.get(message.agent_id)
        if truck is None:
            return
        for reading, key in zip(message.message.r, message.sensor_keys, strict=False):
            if truck.sensor_key is None or key == truck.sensor_key:
                self._step(truck, reading)

    def tick(self, now: float) -> None:
        self._now = now
        for truck in self._trucks.values():
            s = truck.state
            if s.finished or (s.last_t is not None and now - s.last_t < SILENT_S):
                continue
            at_risk, events = overdue(
                truck.tracker.route, truck.tracker.remaining(s), s.at_risk, now
            )
            if events:
                truck.state = replace(s, at_risk=at_risk)
                truck.dirty = True
                self._events += events

    def flush(self, conn: psycopg.Connection) -> None:
        store.write_etas(conn, self._etas)
        store.write_arrivals(conn, self._arrivals)
        store.write_departures(conn, self._departures)
        self._etas.clear()
        self._arrivals.clear()
        self._departures.clear()
        if self._now >= self._next_refresh:
            self._refresh(conn, saved=False)
            self._next_refresh = self._now + REFRESH_S
        self._save(conn)

    def drain_events(self) -> list[TrackingEvent]:
        """Tracking events since the last call (arrivals, late risk, off route...), for the
        alarm evaluator, which runs after this one on every batch."""
        out, self._events = self._events, []
        return out

    # ---- what the live views may ask -------------------------------------------------------

    def tracked(self) -> dict[str, tuple[int, int]]:
        """Agent id -> (plan, vehicle) of every truck being tracked."""
        return {agent: t.key for agent, t in self._trucks.items()}

    def state_of(self, agent_id: str) -> TrackerState | None:
        truck = self._trucks.get(agent_id)
        return truck.state if truck else None

    def route_of(self, agent_id: str) -> LiveRoute | None:
        truck = self._trucks.get(agent_id)
        return truck.live if truck else None

    # ---- internals -------------------------------------------------------------------------

    def _step(self, truck: _Truck, fix: Any) -> None:
        before = truck.state
        res = truck.tracker.step(before, fix)
        if not res.accepted:
            return
        after = truck.state = res.state
        truck.dirty = True
        self._events += res.events
        ids = truck.live.stop_ids
        # Until a re-plan is published the truck drives the route it has: its ETAs stand.
        for e in res.etas:
            sid = ids[e.index]
            if sid is not None:
                self._etas[sid] = e.arrival
        for i, sid in enumerate(ids):
            if sid is None:
                continue
            a = after.arrived[i]
            if a is not None and before.arrived[i] is None:
                self._arrivals[sid] = a
            d = after.departed[i]
            if d is not None and before.departed[i] is None:
                self._departures[sid] = d

    def _days(self) -> list[dt.date]:
        return [dt.datetime.now(self.tz).date()]

    def _refresh(self, conn: psycopg.Connection, saved: bool) -> None:
        """Track what today's plans say now; ``saved``: resume from the stored states."""
        days = self._days()
        versions = store.plan_versions(conn, days)
        # A plan being re-solved keeps being tracked as it was until it is published again.
        published = {pid for pid, (_, status) in versions.items() if status == "published"}
        new = set(versions) - set(self._versions)
        gone = set(self._versions) - set(versions)
        changed = {pid for pid in published if self._versions.get(pid) != versions[pid]}
        revised = {
            t.key[0]
            for t in self._trucks.values()
            if t.key[0] in published and versions[t.key[0]][0] != t.live.row.revision
        }
        if saved or new or gone or changed or revised:
            self._rebuild(conn, days)
        self._versions = versions
        self._confirm_deliveries(conn)

    def _rebuild(self, conn: psycopg.Connection, days: list[dt.date]) -> None:
        rows = latest_per_vehicle(store.route_rows(conn, days))
        keep: dict[str, _Truck] = {}
        fresh: list[RouteRow] = []
        for row in rows:
            cur = self._trucks.get(row.agent_id)
            unchanged = (
                cur is not None
                and cur.key == row.key
                and (cur.live.row.revision == row.revision or row.plan_status != "published")
            )
            if unchanged and cur is not None:
                # Published again without a change, or still being re-solved: same route.
                cur.live = LiveRoute(
                    replace(cur.live.row, plan_status=row.plan_status),
                    cur.live.route,
                    cur.live.stop_ids,
                )
                keep[row.agent_id] = cur
            else:
                fresh.append(row)
        stored = store.load_states(conn, [r.key for r in fresh]) if fresh else {}
        sensors = store.gps_sensors(conn, [r.agent_id for r in fresh])
        for row in fresh:
            try:
                live = to_route(row, self.tz)
                if live is None:
                    continue
                tracker = RouteTracker(live.route, travel_model(row.day, self.tz), self.config)
            except ValueError as exc:  # a plan tracking cannot follow must not stop the worker
                log.warning("plan %s, vehicle %s not tracked: %s", *row.key, exc)
                continue
            old = self._trucks.get(row.agent_id)
            state = self._resume(tracker, live, old, stored.get(row.key))
            keep[row.agent_id] = _Truck(live, tracker, state, sensors.get(row.agent_id))
        for agent, old in self._trucks.items():
            if keep.get(agent) is not old:
                self._events += closing_events(old.tracker, old.state, self._now)
        self._trucks = keep

    def _resume(
        self,
        tracker: RouteTracker,
        live: LiveRoute,
        old: _Truck | None,
        stored: tuple[int, list[str], dict[str, Any]] | None,
    ) -> TrackerState:
        arrived, departed = facts(live)
        if old is not None and old.key == live.row.key:
            # The same plan, re-planned: the progress so far carries over by stop id.
            return carry_over(
                tracker,
                old=old.state,
                old_ids=old.live.waypoint_ids,
                arrived=arrived,
                departed=departed,
            )
        if stored is not None:
            revision, ids, data = stored
            try:
                state = TrackerState.from_dict(data)
            except (KeyError, TypeError, ValueError) as exc:
                log.warning("tracker state of %s unreadable (%s); starting over", live.row, exc)
            else:
                if revision == live.row.revision and tuple(ids) == live.waypoint_ids:
                    return state
                return carry_over(
                    tracker, old=state, old_ids=ids, arrived=arrived, departed=departed
                )
        pace = old.tracker.pace_of(old.state) if old is not None else 1.0
        return carry_over(tracker, arrived=arrived, departed=departed, pace_prior=pace)

    def _confirm_deliveries(self, conn: psycopg.Connection) -> None:
        """Stops a driver confirmed that the geofence has not seen: visited all the same."""
        waiting = {
            sid: (agent, i)
            for agent, t in self._trucks.items()
            for i, sid in enumerate(t.live.stop_ids)
            if sid is not None and t.state.arrived[i] is None
        }
        for sid, at in store.confirmed_arrivals(conn, waiting).items():
            agent, i = waiting[sid]
            truck = self._trucks[agent]
            truck.state = truck.tracker.mark_arrived(truck.state, i, at)
            truck.dirty = True

    def _save(self, conn: psycopg.Connection) -> None:
        dirty = [t for t in self._trucks.values() if t.dirty]
        store.save_states(
            conn,
            [
                (t.key[0], t.key[1], t.live.row.revision, t.live.waypoint_ids, t.state.to_dict())
                for t in dirty
            ],
        )
        for t in dirty:
            t.dirty = False
