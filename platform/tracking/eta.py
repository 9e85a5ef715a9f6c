"""ETAs for the remaining stops, and late risk.

Travel time uses the routing model itself (``wayhouse.routing.matrix``): geodesic metres times
the road factor (or a leg's road polyline length), driven through the time-of-day speed
profile. On top, the truck's observed pace: the ratio of actual to modelled driving time on
this trip so far, shrunk towards a prior (1.0, or the truck's pace on its previous trip) while
there is little evidence, and clipped so one jam cannot triple every ETA.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from wayhouse.routing.matrix import MatrixBuilder, SpeedProfile, geodesic_distances
from wayhouse.routing.model import Point

from .events import EventKind, TrackingEvent
from .projection import LonLat
from .route import PlannedRoute, RouteGeometry

_DEFAULT_BUILDER = MatrixBuilder()


@dataclass(frozen=True)
class TravelModel:
    """The planner's travel model. ``clock_offset_s`` maps fix time (unix seconds) to the
    profile's time of day: the local UTC offset (e.g. 28800 for China)."""

    road_factor: float = _DEFAULT_BUILDER.road_factor
    profile: SpeedProfile = _DEFAULT_BUILDER.profile
    clock_offset_s: float = 0.0

    @classmethod
    def from_builder(cls, builder: MatrixBuilder, clock_offset_s: float = 0.0) -> TravelModel:
        """The same road factor and speed profile the routes were planned with."""
        return cls(builder.road_factor, builder.profile, clock_offset_s)

    def road_m(self, a: LonLat, b: LonLat) -> float:
        return float(geodesic_distances([Point(*a), Point(*b)])[0, 1]) * self.road_factor

    def drive_s(self, metres: float, depart: float) -> float:
        return self.profile.travel_time(max(metres, 0.0), depart + self.clock_offset_s)


@dataclass(frozen=True, slots=True)
class PaceConfig:
    prior_weight_s: float = 300.0  # the prior counts as this much modelled driving
    leg_weight_s: float = 120.0  # on the leg being driven, the trip's pace counts this much
    memory: float = 0.8  # weight kept by older legs' evidence at each finished leg
    low: float = 0.5
    high: float = 2.5

    def __post_init__(self) -> None:
        if (
            min(self.prior_weight_s, self.leg_weight_s) <= 0
            or not 0 < self.memory <= 1
            or not 0 < self.low <= self.high
        ):
            raise ValueError("invalid pace configuration")


@dataclass(frozen=True, slots=True)
class Pace:
    """Evidence of finished legs: actual and modelled driving seconds (decayed)."""

    actual_s: float = 0.0
    model_s: float = 0.0
    prior: float = 1.0

    def ratio(self, cfg: PaceConfig, leg_actual_s: float = 0.0, leg_model_s: float = 0.0) -> float:
        w = cfg.prior_weight_s
        r = (self.actual_s + leg_actual_s + w * self.prior) / (self.model_s + leg_model_s + w)
        return min(max(r, cfg.low), cfg.high)

    def leg_ratio(self, cfg: PaceConfig, leg_actual_s: float, leg_model_s: float) -> float:
        """Pace for the rest of the leg being driven: this leg's own evidence, shrunk towards
        the trip's pace. Conditions (a slow road, a jam) persist along a leg more than they
        carry over to the next one."""
        trip = self.ratio(cfg, leg_actual_s, leg_model_s)
        w = cfg.leg_weight_s
        r = (leg_actual_s + w * trip) / (leg_model_s + w)
        return min(max(r, cfg.low), cfg.high)

    def fold(self, leg_actual_s: float, leg_model_s: float, cfg: PaceConfig) -> Pace:
        return Pace(
            self.actual_s * cfg.memory + max(leg_actual_s, 0.0),
            self.model_s * cfg.memory + max(leg_model_s, 0.0),
            self.prior,
        )


@dataclass(frozen=True, slots=True)
class Eta:
    index: int  # waypoint index
    stop_id: str
    arrival: float
    start: float  # service start (after waiting for the window to open)
    departure: float
    close: float  # end of the last window (inf: none)

    @property
    def at_risk(self) -> bool:
        return self.arrival > self.close

    @property
    def late_by_s(self) -> float:
        return max(0.0, self.arrival - self.close)

    def to_dict(self) -> dict[str, object]:
        return {
            "index": self.index,
            "stop_id": self.stop_id,
            "arrival": self.arrival,
            "start": self.start,
            "departure": self.departure,
            "close": None if math.isinf(self.close) else self.close,
        }


class RouteEta:
    """Travel times on one route; stop-to-stop metres are computed once."""

    def __init__(self, geom: RouteGeometry, model: TravelModel) -> None:
        self.geom = geom
        self.model = model
        wps = geom.route.waypoints
        self._chord = geodesic_distances([Point(w.lon, w.lat) for w in wps])

    def leg_m(self, i: int, j: int) -> float:
        """Road metres from waypoint i to j: the leg's polyline, else geodesic x road factor."""
        line = self.geom.polyline(i, j)
        if line is not None:
            return float(line.length)
        return float(self._chord[i, j]) * self.model.road_factor

    def schedule(
        self,
        t0: float,
        first_m: float,
        remaining: Sequence[int],
        pace: float,
        first_pace: float | None = None,
    ) -> list[Eta]:
        """Leave at ``t0`` with ``first_m`` road metres to ``remaining[0]`` (at ``first_pace``,
        default ``pace``), then visit the rest in order at ``pace``, each after its window
        opens and its service time."""
        out: list[Eta] = []
        t, here = t0, -1
        wps = self.geom.route.waypoints
        for n, j in enumerate(remaining):
            metres = first_m if n == 0 else self.leg_m(here, j)
            p = first_pace if n == 0 and first_pace is not None else pace
            arrival = t + self.model.drive_s(metres, t) * p
            w = wps[j]
            start = w.service_start(arrival)
            departure = start + w.service_s
            out.append(Eta(j, w.id, arrival, start, departure, w.close))
            t, here = departure, j
        return out


def late_risk(
    etas: Iterable[Eta], was_at_risk: frozenset[int], at: float, route: PlannedRoute
) -> tuple[frozenset[int], list[TrackingEvent]]:
    """Raise when a stop's ETA first passes its window end (strictly later), clear when it no
    longer does or the stop drops out of the ETAs (reached: the arrival event carries the
    actual lateness)."""
    etas = list(etas)
    now_at_risk = frozenset(e.index for e in etas if e.at_risk)
    rid, tid = route.route_id, route.truck_id
    events = [
        TrackingEvent(EventKind.LATE_RISK, at, tid, rid, e.index, e.stop_id, e.arrival, e.close)
        for e in etas
        if e.at_risk and e.index not in was_at_risk
    ]
    by_index = {e.index: e for e in etas}
    for k in sorted(was_at_risk - now_at_risk):
        e = by_index.get(k)
        events.append(
            TrackingEvent(
                EventKind.LATE_RISK_CLEARED,
                at,
                tid,
                rid,
                k,
                route.waypoints[k].id,
                e.arrival if e else None,
                route.waypoints[k].close,
            )
        )
    return now_at_risk, events


def overdue(
    route: PlannedRoute, remaining: Iterable[int], was_at_risk: frozenset[int], now: float
) -> tuple[frozenset[int], list[TrackingEvent]]:
    """Late by the clock alone: a stop not reached whose window has closed. The way late risk
    is seen for a truck that stopped reporting (no fix, so no new ETA); the next fix's
    ``late_risk`` clears it again if the stop turns out reached."""
    events = []
    at_risk = set(was_at_risk)
    for k in remaining:
        w = route.waypoints[k]
        if k not in at_risk and w.close < now:
            at_risk.add(k)
            events.append(
                TrackingEvent(
                    EventKind.LATE_RISK, now, route.truck_id, route.route_id, k, w.id, now, w.close
                )
            )
    return frozenset(at_risk), events
