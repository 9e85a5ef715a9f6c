"""A truck driving one planned route with an anomaly, and the ground truth tracking should
reproduce from its GPS fixes.

Anomalies (``kind``):

- ``off_route``: on the first leg it turns off at right angles, drives ``detour_m`` out, waits
  there ``detour_hold_s``, and comes back to carry on;
- ``long_stop``: it halts on the first leg (not at a stop) for ``halt_s``;
- ``slow``: it drives the whole route at ``slow_factor`` of its speed (a breakdown, traffic),
  so a tight window on its first stop cannot be met;
- ``none``: it drives the plan.

Every truck also enters and leaves the geofence of each stop it visits. The truth uses
tracking's published rules (``platform/tracking``): a fence is entered at ``enter_m`` and
counts after ``min_dwell_s`` inside, left after ``depart_fixes`` fixes beyond ``exit_m``;
off route is farther than ``off_route_m`` from the leg's chord for ``off_route_min_s``; a
long stop is standing still ``long_stop_s`` away from a stop. ``due`` is the first fix at
which those are met; ``t`` the physical onset. Predicted late has no single rule-free moment:
its ``due`` is when lateness became certain even at the planned speed from where the truck
is (a predictor that extrapolates the slowness may legitimately say it earlier).

Subjects are tracking's: ``truck:<agent>/<route id>`` for the truck, with ``/<index>`` for a
stop (index 1 is the first stop; the final depot is the last index). Deterministic for a seed.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from wayhouse.simulators.anomalies import Truth
from wayhouse.simulators.trucks import EARTH_RADIUS_M, GpsFix, Stop, TruckSpec, haversine_m

TruckAnomalyKind = Literal["none", "off_route", "long_stop", "slow"]


@dataclass(frozen=True)
class TrackingRules:
    """Tracking's thresholds (``TrackingConfig`` and ``FenceConfig`` defaults)."""

    enter_m: float = 75.0
    exit_m: float = 150.0
    min_dwell_s: float = 60.0
    depart_fixes: int = 2
    off_route_m: float = 3000.0  # legs are chords here (no road polylines)
    off_route_min_s: float = 60.0
    still_speed_mps: float = 0.5
    long_stop_s: float = 600.0


@dataclass(frozen=True)
class _Seg:
    t0: float
    t1: float
    a: tuple[float, float]  # (lat, lon)
    b: tuple[float, float]
    stop: int | None = None  # waypoint index while dwelling there


def _offset(lat: float, lon: float, north_m: float, east_m: float) -> tuple[float, float]:
    dlat = math.degrees(north_m / EARTH_RADIUS_M)
    dlon = math.degrees(east_m / (EARTH_RADIUS_M * math.cos(math.radians(lat))))
    return lat + dlat, lon + dlon


def _xy(origin: tuple[float, float], p: tuple[float, float]) -> tuple[float, float]:
    """Local metres east/north of ``origin`` (flat: fine within tens of km)."""
    k = math.radians(1.0) * EARTH_RADIUS_M
    return (p[1] - origin[1]) * k * math.cos(math.radians(origin[0])), (p[0] - origin[0]) * k


def chord_distance_m(
    a: tuple[float, float], b: tuple[float, float], p: tuple[float, float]
) -> float:
    """Metres from ``p`` to the segment a-b."""
    bx, by = _xy(a, b)
    px, py = _xy(a, p)
    length2 = bx * bx + by * by
    f = 0.0 if length2 == 0 else min(max((px * bx + py * by) / length2, 0.0), 1.0)
    return math.hypot(px - f * bx, py - f * by)


class TruckDrive:
    """One route ``depot -> stops -> depot`` from ``start``, with ``kind`` on the first leg."""

    def __init__(
        self,
        spec: TruckSpec,
        depot: Stop,
        stops: Sequence[Stop],
        start: float,
        kind: TruckAnomalyKind = "none",
        *,
        route_id: str = "route",
        seed: int = 0,
        at_fraction: float = 0.4,
        detour_m: float = 3600.0,
        detour_speed_mps: float = 25.0,
        detour_hold_s: float = 90.0,
        halt_s: float = 720.0,
        slow_factor: float = 0.35,
        rules: TrackingRules | None = None,
    ) -> None:
        if not stops:
            raise ValueError("a route needs at least one stop")
        self.spec = spec
        self.kind = kind
        self.route_id = route_id
        self.rules = rules or TrackingRules()
        self.waypoints = [depot, *stops, depot]
        self.start = start
        self.speed = spec.speed_mps * (slow_factor if kind == "slow" else 1.0)
        self._noise = random.Random(f"{seed}:truck-anomaly:{spec.agent_id}:noise")
        self._segs: list[_Seg] = []
        self.arrivals: dict[int, float] = {}
        self.departures: dict[int, float] = {}
        self.anomaly_t: float | None = None  # when the anomaly began
        self._build(at_fraction, detour_m, detour_speed_mps, detour_hold_s, halt_s)
        self._next_fix = start

    # ---- the path -------------------------------------------------------------------------

    def _drive(self, t: float, a: tuple[float, float], b: tuple[float, float], v: float) -> float:
        d = haversine_m(a[0], a[1], b[0], b[1])
        t1 = t + d / v
        self._segs.append(_Seg(t, t1, a, b))
        return t1

    def _dwell(self, t: float, p: tuple[float, float], s: float, stop: int | None) -> float:
        self._segs.append(_Seg(t, t + s, p, p, stop))
        return t + s

    def _build(
        self, f: float, detour_m: float, detour_v: float, hold_s: float, halt_s: float
    ) -> None:
        t = self.start
        wps = self.waypoints
        self.departures[0] = t  # it leaves the depot at the start (tracking fences it too)
        for i in range(len(wps) - 1):
            a, b = (wps[i].lat, wps[i].lon), (wps[i + 1].lat, wps[i + 1].lon)
            if i == 0 and self.kind in ("off_route", "long_stop"):
                mid = (a[0] + (b[0] - a[0]) * f, a[1] + (b[1] - a[1]) * f)
                t = self._drive(t, a, mid, self.speed)
                self.anomaly_t = t
                if self.kind == "long_stop":
                    t = self._dwell(t, mid, halt_s, None)
                else:
                    bx, by = _xy(a, b)
                    norm = math.hypot(bx, by) or 1.0
                    # Right angles to the leg: (east, north) = (by, -bx) / |b|.
                    far = _offset(mid[0], mid[1], -bx / norm * detour_m, by / norm * detour_m)
                    t = self._drive(t, mid, far, detour_v)
                    t = self._dwell(t, far, hold_s, None)
                    t = self._drive(t, far, mid, detour_v)
                a = mid
            t = self._drive(t, a, b, self.speed)
            last = i + 1 == len(wps) - 1
            self.arrivals[i + 1] = t
            if last:
                self._dwell(t, b, math.inf, i + 1)
            else:
                t = self._dwell(t, b, wps[i + 1].service_s, i + 1)
                self.departures[i + 1] = t

    def position(self, t: float) -> tuple[float, float, float]:
        """True (lat, lon, speed m/s) at ``t``."""
        seg = self._segs[0]
        for s in self._segs:
            if s.t0 <= t:
                seg = s
            else:
                break
        if seg.a == seg.b or seg.t1 <= seg.t0:
            return seg.a[0], seg.a[1], 0.0
        f = min(max((t - seg.t0) / (seg.t1 - seg.t0), 0.0), 1.0)
        lat = seg.a[0] + (seg.b[0] - seg.a[0]) * f
        lon = seg.a[1] + (seg.b[1] - seg.a[1]) * f
        d = haversine_m(seg.a[0], seg.a[1], seg.b[0], seg.b[1])
        return lat, lon, d / (seg.t1 - seg.t0)

    def fixes_until(self, t: float) -> list[GpsFix]:
        out = []
        while self._next_fix <= t:
            out.append(self._fix(self._next_fix))
            self._next_fix += self.spec.gps_interval_s
        return out

    def _fix(self, t: float) -> GpsFix:
        lat, lon, v = self.position(t)
        sigma = self.spec.noise_m
        lat, lon = _offset(lat, lon, self._noise.gauss(0.0, sigma), self._noise.gauss(0.0, sigma))
        spd = max(0.0, v + self._noise.gauss(0.0, 0.3)) if v > 0 else 0.0
        return GpsFix(
            t,
            self.spec.agent_id,
            self.spec.sensor_id,
            round(lat, 6),
            round(lon, 6),
            round(spd, 2),
            None,
            round(sigma * 2.0, 1),
        )

    # ---- ground truth -----------------------------------------------------------------------

    def fix_times(self, until: float) -> list[float]:
        n = math.floor((until - self.start) / self.spec.gps_interval_s)
        return [self.start + k * self.spec.gps_interval_s for k in range(n + 1)]

    def truths(self, until: float, window_close: dict[int, float] | None = None) -> list[Truth]:
        """Truth due by ``until``; ``window_close``: stop index -> the end of its window (for
        ``slow``: the window its first stop cannot make)."""
        r = self.rules
        base = f"truck:{self.spec.agent_id}/{self.route_id}"
        times = self.fix_times(until)
        out: list[Truth] = []
        for k, arrive in self.arrivals.items():
            p = (self.waypoints[k].lat, self.waypoints[k].lon)
            inside = [t for t in times if t >= arrive - 60 and self._dist(t, p) <= r.enter_m]
            if inside:
                due = next((t for t in times if t >= inside[0] + r.min_dwell_s), None)
                if due is not None:
                    out.append(Truth("geofence_enter", f"{base}/{k}", arrive, due))
        for k, leave in self.departures.items():
            p = (self.waypoints[k].lat, self.waypoints[k].lon)
            beyond = [t for t in times if t >= leave and self._dist(t, p) > r.exit_m]
            if len(beyond) >= r.depart_fixes:
                out.append(Truth("geofence_exit", f"{base}/{k}", leave, beyond[r.depart_fixes - 1]))
        if self.kind == "off_route":
            a = (self.waypoints[0].lat, self.waypoints[0].lon)
            b = (self.waypoints[1].lat, self.waypoints[1].lon)
            far = [t for t in times if chord_distance_m(a, b, self.position(t)[:2]) > r.off_route_m]
            if far:
                due = next((t for t in times if t >= far[0] + r.off_route_min_s), None)
                if due is not None and due in far:
                    out.append(
                        Truth("off_route", base, far[0], due, {"detour_from": self.anomaly_t})
                    )
        if self.kind == "long_stop" and self.anomaly_t is not None:
            still = next(t for t in times if t >= self.anomaly_t)
            due = next((t for t in times if t >= still + r.long_stop_s), None)
            if due is not None and due < self.arrivals[1]:
                out.append(Truth("stopped_too_long", base, self.anomaly_t, due))
        if self.kind == "slow" and window_close and 1 in window_close:
            close = window_close[1]
            p = (self.waypoints[1].lat, self.waypoints[1].lon)
            nominal = self.spec.speed_mps
            late_at = next(
                (
                    t
                    for t in times
                    if t + self._dist(t, p) / nominal > close and t < self.arrivals[1]
                ),
                None,
            )
            if late_at is not None:
                out.append(
                    Truth("predicted_late", f"{base}/1", self.start, late_at, {"close": close})
                )
        return [x for x in out if x.due <= until]

    def _dist(self, t: float, p: tuple[float, float]) -> float:
        lat, lon, _ = self.position(t)
        return haversine_m(lat, lon, p[0], p[1])
