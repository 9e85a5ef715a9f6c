"""ETA accuracy against true arrival times: the figure behind ``wayhouse bench eta``.

Feed a truck's fixes through its routes in order (the next route starts when the previous one
finishes, carrying the truck's pace), record every ETA, and compare with the true arrivals:
errors count for fixes taken while the stop was at most ``horizon_s`` away (the issue's target:
p90 of |error| <= 180 s under an hour out). Pure: the caller supplies routes, fixes and truth
(from the simulator's schedule, or from recorded proof-of-delivery times).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import groupby
from typing import Protocol

from .eta import TravelModel
from .route import PlannedRoute, Waypoint
from .tracker import FixLike, RouteTracker, TrackingConfig

StopKey = tuple[str, int]  # (route id, waypoint index)


@dataclass(frozen=True, slots=True)
class EtaSample:
    t: float  # fix time
    key: StopKey
    eta: float


@dataclass(frozen=True, slots=True)
class EtaError:
    t: float
    key: StopKey
    lead_s: float  # true arrival minus fix time
    error_s: float  # ETA minus true arrival (positive: predicted late)


@dataclass(frozen=True, slots=True)
class EtaStats:
    n: int
    p50_s: float  # of |error|, nearest rank
    p90_s: float
    max_s: float
    bias_s: float  # mean signed error
    within_180s_pct: float

    def to_dict(self) -> dict[str, float | int]:
        return {
            "n": self.n,
            "p50_s": self.p50_s,
            "p90_s": self.p90_s,
            "max_s": self.max_s,
            "bias_s": self.bias_s,
            "within_180s_pct": self.within_180s_pct,
        }


class PlaceLike(Protocol):
    @property
    def stop_id(self) -> str: ...
    @property
    def lat(self) -> float: ...
    @property
    def lon(self) -> float: ...
    @property
    def service_s(self) -> float: ...


class VisitLike(Protocol):
    """A ground-truth visit: ``simulators.trucks.Visit`` fits."""

    @property
    def route_no(self) -> int: ...
    @property
    def stop(self) -> PlaceLike: ...
    @property
    def arrive(self) -> float: ...
    @property
    def depart(self) -> float: ...


def routes_from_schedule(
    truck_id: str, depot: PlaceLike, start_time: float, visits: Iterable[VisitLike]
) -> tuple[list[PlannedRoute], dict[StopKey, float]]:
    """Planned routes and true arrivals from a truck's schedule of visits (each route ends
    with its depot visit, and the next route leaves when that visit ends). The plan knows
    the stops, their order, service times and the departure time, never the true arrivals."""
    routes: list[PlannedRoute] = []
    truth: dict[StopKey, float] = {}
    depart = start_time
    for no, group in groupby(visits, key=lambda v: v.route_no):
        vs = list(group)
        route_id = f"{truck_id}/{no}"
        wps = [Waypoint(depot.stop_id, depot.lon, depot.lat, depot=True)]
        for i, v in enumerate(vs, start=1):
            is_depot = v.stop.stop_id == depot.stop_id and i == len(vs)
            wps.append(
                Waypoint(v.stop.stop_id, v.stop.lon, v.stop.lat, v.stop.service_s, depot=is_depot)
            )
            truth[(route_id, i)] = v.arrive
        routes.append(PlannedRoute(route_id, truck_id, depart, tuple(wps)))
        depart = vs[-1].depart
    return routes, truth


def track_drive(
    routes: Sequence[PlannedRoute],
    fixes: Iterable[FixLike],
    model: TravelModel | None = None,
    config: TrackingConfig | None = None,
) -> list[EtaSample]:
    """Every ETA the tracker gives, fix by fix, over a truck's consecutive routes."""
    samples: list[EtaSample] = []
    if not routes:
        return samples
    k = 0
    tracker = RouteTracker(routes[0], model, config)
    state = tracker.initial_state()
    for fix in fixes:
        if state.finished and k + 1 < len(routes):
            pace = tracker.pace_of(state)
            k += 1
            tracker = RouteTracker(routes[k], model, config)
            state = tracker.initial_state(pace_prior=pace)
        res = tracker.step(state, fix)
        state = res.state
        rid = routes[k].route_id
        samples.extend(EtaSample(fix.t, (rid, e.index), e.arrival) for e in res.etas)
    return samples


def eta_errors(
    samples: Iterable[EtaSample], truth: Mapping[StopKey, float], horizon_s: float = 3600.0
) -> list[EtaError]:
    out: list[EtaError] = []
    for s in samples:
        actual = truth.get(s.key)
        if actual is None:
            continue
        lead = actual - s.t
        if 0.0 < lead <= horizon_s:
            out.append(EtaError(s.t, s.key, lead, s.eta - actual))
    return out


def _nearest_rank(sorted_values: Sequence[float], q: float) -> float:
    return sorted_values[max(math.ceil(q * len(sorted_values)) - 1, 0)]


def summarise(errors: Sequence[EtaError]) -> EtaStats:
    if not errors:
        return EtaStats(0, math.nan, math.nan, math.nan, math.nan, math.nan)
    abs_err = sorted(abs(e.error_s) for e in errors)
    return EtaStats(
        n=len(errors),
        p50_s=_nearest_rank(abs_err, 0.5),
        p90_s=_nearest_rank(abs_err, 0.9),
        max_s=abs_err[-1],
        bias_s=math.fsum(e.error_s for e in errors) / len(errors),
        within_180s_pct=100.0 * sum(1 for a in abs_err if a <= 180.0) / len(abs_err),
    )


def evaluate(
    routes: Sequence[PlannedRoute],
    fixes: Iterable[FixLike],
    truth: Mapping[StopKey, float],
    *,
    model: TravelModel | None = None,
    config: TrackingConfig | None = None,
    horizon_s: float = 3600.0,
) -> EtaStats:
    return summarise(eta_errors(track_drive(routes, fixes, model, config), truth, horizon_s))
