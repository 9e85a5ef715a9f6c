"""Dispatch plans as tracking routes (pure: rows in, routes out).

Dispatch keeps a plan's times as timestamps and its windows as seconds of the plan's day in
the sites' time zone; tracking works in unix seconds, like GPS fixes. The conversion is
``dispatch.service.Clock``'s, so a window here is exactly the window the planner used.

Not to be confused: ``dispatch.planning.PlannedRoute`` is the solver's answer for one vehicle;
``tracking.route.PlannedRoute`` (here ``TrackRoute``) is what a truck is tracked against.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from wayhouse.platform.dispatch.planning import default_builder
from wayhouse.platform.dispatch.service import Clock
from wayhouse.routing.model import TimeWindow

from .eta import TravelModel
from .route import PlannedRoute as TrackRoute
from .route import Waypoint

SKIPPED = "skipped"
DEFAULT_START_S = 7 * 3600.0  # a route without a start time leaves at the usual shift start


@dataclass(frozen=True, slots=True)
class StopRow:
    """One ``plan_stop`` on a route."""

    id: int
    order_id: int
    seq: int
    lat: float
    lon: float
    service_s: float
    window_open_s: float
    window_close_s: float
    planned_arrival: dt.datetime | None = None
    status: str = "planned"
    actual_arrival: dt.datetime | None = None
    actual_departure: dt.datetime | None = None


@dataclass(frozen=True, slots=True)
class RouteRow:
    """One ``plan_route`` of a published plan, with its vehicle, warehouse and stops."""

    plan_id: int
    revision: int
    plan_status: str
    day: dt.date
    vehicle_id: int
    agent_id: str
    depot_code: str
    depot_lat: float
    depot_lon: float
    start_at: dt.datetime | None
    stops: tuple[StopRow, ...]

    @property
    def key(self) -> tuple[int, int]:
        return (self.plan_id, self.vehicle_id)


@dataclass(frozen=True)
class LiveRoute:
    """A route to track: the tracking route, and the ``plan_stop`` id of each waypoint
    (None for the depot at either end)."""

    row: RouteRow
    route: TrackRoute
    stop_ids: tuple[int | None, ...]

    @property
    def waypoint_ids(self) -> tuple[str, ...]:
        return tuple(w.id for w in self.route.waypoints)


def waypoint_id(order_id: int) -> str:
    """A stop's id in tracking events: the order it delivers (``planning.Delivery.key``)."""
    return f"o{order_id}"


def route_id(plan_id: int) -> str:
    return f"plan-{plan_id}"


def clock_offset_s(day: dt.date, tz: ZoneInfo) -> float:
    """The sites' UTC offset on ``day``: maps fix time onto the speed profile's time of day."""
    offset = dt.datetime.combine(day, dt.time(12), tzinfo=tz).utcoffset()
    return offset.total_seconds() if offset else 0.0


def travel_model(day: dt.date | None = None, tz: ZoneInfo | None = None) -> TravelModel:
    """The planner's own travel model (road factor, speed profile) for the live tracker."""
    offset = clock_offset_s(day, tz) if day is not None and tz is not None else 0.0
    return TravelModel.from_builder(default_builder(), offset)


def to_route(row: RouteRow, tz: ZoneInfo) -> LiveRoute | None:
    """The tracking route of a plan route: warehouse, the stops in order (skipped ones left
    out), back to the warehouse. None when no stop is left to visit."""
    stops = sorted((s for s in row.stops if s.status != SKIPPED), key=lambda s: (s.seq, s.id))
    if not stops:
        return None
    clock = Clock(row.day, tz)
    depot = Waypoint(f"wh:{row.depot_code}", row.depot_lon, row.depot_lat, depot=True)
    waypoints = [depot]
    for s in stops:
        open_, close = clock.at(s.window_open_s).timestamp(), clock.at(s.window_close_s).timestamp()
        waypoints.append(
            Waypoint(
                waypoint_id(s.order_id),
                s.lon,
                s.lat,
                service_s=s.service_s,
                windows=(TimeWindow(open_, max(open_, close)),),
                planned_arrival=s.planned_arrival.timestamp() if s.planned_arrival else None,
            )
        )
    waypoints.append(depot)
    start = row.start_at.timestamp() if row.start_at else clock.at(DEFAULT_START_S).timestamp()
    route = TrackRoute(route_id(row.plan_id), row.agent_id, start, tuple(waypoints))
    return LiveRoute(row, route, (None, *(s.id for s in stops), None))


def facts(live: LiveRoute) -> tuple[dict[int, float], dict[int, float]]:
    """What the database already knows per waypoint index: arrivals (from the geofence or a
    driver's proof of delivery) and departures."""
    by_id = {s.id: s for s in live.row.stops}
    arrived: dict[int, float] = {}
    departed: dict[int, float] = {}
    for i, sid in enumerate(live.stop_ids):
        s = by_id.get(sid) if sid is not None else None
        if s is None:
            continue
        if s.actual_arrival is not None:
            arrived[i] = s.actual_arrival.timestamp()
        if s.actual_departure is not None:
            departed[i] = s.actual_departure.timestamp()
    return arrived, departed


def latest_per_vehicle(rows: Sequence[tuple[dt.datetime | None, RouteRow]]) -> list[RouteRow]:
    """One route per vehicle: the one of the plan published last (a later plan for the same
    truck supersedes an earlier one)."""
    best: dict[int, tuple[float, int, RouteRow]] = {}
    for published_at, row in rows:
        rank = (published_at.timestamp() if published_at else 0.0, row.plan_id)
        cur = best.get(row.vehicle_id)
        if cur is None or rank > cur[:2]:
            best[row.vehicle_id] = (*rank, row)
    return [best[v][2] for v in sorted(best)]
