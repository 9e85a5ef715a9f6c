"""A truck that drives a planned route exactly as the travel model says (times a pace).

For tests and benchmarks of tracking: with ``pace=1`` every ETA should equal the model's
time; other paces show calibration at work. Drives follow the geodesic between waypoints,
so the model's distance from any position to the next stop is exact; optional Gaussian
noise makes the fixes GPS-like. Deterministic for a seed.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from pyproj import Geod

from .eta import TravelModel
from .route import PlannedRoute
from .tracker import Fix

_GEOD = Geod(ellps="WGS84")


@dataclass(frozen=True)
class SyntheticDrive:
    fixes: tuple[Fix, ...]
    arrivals: dict[int, float]  # waypoint index -> true arrival time
    departures: dict[int, float]


@dataclass(frozen=True, slots=True)
class _Leg:
    t0: float
    t1: float
    a: int  # waypoint index
    b: int  # == a: standing at a


def drive(
    route: PlannedRoute,
    model: TravelModel,
    *,
    pace: float = 1.0,
    dt: float = 5.0,
    start: float | None = None,
    linger_s: float = 600.0,
    noise_m: float = 0.0,
    seed: int = 0,
) -> SyntheticDrive:
    """Fixes every ``dt`` from ``start`` (default: the planned departure) until ``linger_s``
    after the last arrival. The truck leaves waypoint 0 at ``route.depart_at``, waits for
    windows to open, and stays each stop's service time."""
    wps = route.waypoints
    legs: list[_Leg] = []
    t = route.depart_at
    arrivals: dict[int, float] = {}
    departures: dict[int, float] = {0: t}
    first = start if start is not None else t
    if first < t:
        legs.append(_Leg(first, t, 0, 0))
    for i in range(len(wps) - 1):
        metres = model.road_m(wps[i].lonlat, wps[i + 1].lonlat)
        t1 = t + model.drive_s(metres, t) * pace
        legs.append(_Leg(t, t1, i, i + 1))
        arrivals[i + 1] = t1
        w = wps[i + 1]
        t = w.service_start(t1) + w.service_s
        if i + 2 < len(wps):
            departures[i + 1] = t
        legs.append(_Leg(t1, t if i + 2 < len(wps) else t1 + linger_s, i + 1, i + 1))
    rng = random.Random(f"synthetic:{route.route_id}:{seed}")
    fixes: list[Fix] = []
    k, now, end = 0, first, legs[-1].t1
    while now <= end:
        while k + 1 < len(legs) and legs[k].t1 <= now:
            k += 1
        lon, lat, spd = _position(legs[k], now, route, model, pace)
        if noise_m > 0:
            lon, lat, _ = _GEOD.fwd(lon, lat, rng.uniform(0, 360), abs(rng.gauss(0, noise_m)))
        fixes.append(Fix(now, lat, lon, spd))
        now += dt
    return SyntheticDrive(tuple(fixes), arrivals, departures)


def _position(
    leg: _Leg, t: float, route: PlannedRoute, model: TravelModel, pace: float
) -> tuple[float, float, float]:
    a = route.waypoints[leg.a]
    if leg.a == leg.b or leg.t1 <= leg.t0:
        return a.lon, a.lat, 0.0
    b = route.waypoints[leg.b]
    az, _, dist = _GEOD.inv(a.lon, a.lat, b.lon, b.lat)
    road = dist * model.road_factor
    # Road metres covered by t: invert the model's (monotone) time-of-day travel time.
    target = (min(t, leg.t1) - leg.t0) / pace
    lo, hi = 0.0, road
    for _ in range(60):
        mid = (lo + hi) / 2
        if model.drive_s(mid, leg.t0) < target:
            lo = mid
        else:
            hi = mid
    covered = (lo + hi) / 2
    lon, lat, _ = _GEOD.fwd(a.lon, a.lat, az, covered / model.road_factor)
    speed = model.profile.speed_at(t + model.clock_offset_s) / 3.6 / pace
    return float(lon), float(lat), speed if not math.isclose(covered, road) else 0.0
