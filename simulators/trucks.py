"""Simulated delivery trucks: drive routes stop to stop in straight lines at a constant speed,
dwell at each stop for its service time, and emit noisy GPS fixes every few seconds.
With ``leg_speed_jitter`` each leg is driven at its own speed (roads differ), drawn uniformly
within +-jitter of the truck's speed, so a tracker cannot learn one speed and be done.

When a truck is back at the depot it waits, then takes a new route drawn from the customers,
so a simulation can run indefinitely. The schedule (arrival and departure per stop) is the
ground truth tracking should reproduce. Deterministic for a seed: routes, leg speeds and GPS
noise come from separate ``random.Random`` streams (zero jitter draws nothing, so the routes
and fixes are those of a truck without it).
"""

from __future__ import annotations

import dataclasses
import math
import random
from dataclasses import dataclass
from typing import Literal

EARTH_RADIUS_M = 6_371_008.8


@dataclass(frozen=True)
class Stop:
    stop_id: str
    name: str
    lat: float
    lon: float
    service_s: float = 0.0


@dataclass(frozen=True)
class TruckSpec:
    agent_id: str
    sensor_id: str
    plate: str
    speed_mps: float = 12.0  # ~43 km/h average on city and regional roads
    gps_interval_s: float = 5.0
    noise_m: float = 4.0  # 1-sigma horizontal GPS error
    turnaround_s: float = 1800.0  # at the depot between routes (loading)
    leg_speed_jitter: float = 0.0  # each leg's speed: speed_mps x (1 +- up to this fraction)


@dataclass(frozen=True)
class Visit:
    """Ground truth: when a truck was at a stop."""

    route_no: int
    stop: Stop
    arrive: float
    depart: float


@dataclass(frozen=True)
class TruckState:
    lat: float
    lon: float
    speed: float
    heading: float | None
    phase: Literal["driving", "at_stop"]
    stop_id: str | None  # the stop it is at, or driving to


@dataclass(frozen=True)
class GpsFix:
    t: float
    agent_id: str
    sensor_id: str
    lat: float
    lon: float
    spd: float
    hdg: float | None
    acc: float


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(a))


def bearing_deg(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dl = math.radians(lon2 - lon1)
    y = math.sin(dl) * math.cos(p2)
    x = math.cos(p1) * math.sin(p2) - math.sin(p1) * math.cos(p2) * math.cos(dl)
    return math.degrees(math.atan2(y, x)) % 360.0


@dataclass(frozen=True)
class _Leg:
    """Either a drive from ``a`` to ``b`` or (a == b) a dwell at ``a``, over [t0, t1)."""

    t0: float
    t1: float
    a: Stop
    b: Stop
    speed: float = 0.0  # metres per second while driving

    @property
    def dwell(self) -> bool:
        return self.a is self.b


class TruckSim:
    """One truck; ``route`` is the first route (stops to visit from the depot, in order)."""

    def __init__(
        self,
        spec: TruckSpec,
        depot: Stop,
        route: list[Stop],
        *,
        start_time: float,
        seed: int = 0,
        customers: list[Stop] | None = None,
        stops_per_route: tuple[int, int] = (4, 8),
    ) -> None:
        if spec.speed_mps <= 0 or spec.gps_interval_s <= 0:
            raise ValueError(f"{spec.agent_id}: speed and GPS interval must be positive")
        if not 0.0 <= spec.leg_speed_jitter < 1.0:
            raise ValueError(f"{spec.agent_id}: leg speed jitter must be in [0, 1)")
        self.spec = spec
        self.depot = depot
        self.customers = customers or []
        self.stops_per_route = stops_per_route
        self._routes = random.Random(f"{seed}:truck:{spec.agent_id}:routes")
        self._noise = random.Random(f"{seed}:truck:{spec.agent_id}:noise")
        self._speeds = random.Random(f"{seed}:truck:{spec.agent_id}:leg-speeds")
        self._legs: list[_Leg] = []
        self.visits: list[Visit] = []
        self._route_no = 0
        self._plan(route, start_time)
        self._next_fix = start_time

    # ---- schedule -----------------------------------------------------------------------

    def _plan(self, route: list[Stop], t: float, start: Stop | None = None) -> None:
        """Append depot (or ``start``) -> stops -> depot, then the turnaround dwell."""
        self._route_no += 1
        here = start or self.depot
        for stop in [*route, self.depot]:
            speed = self._leg_speed()
            drive = haversine_m(here.lat, here.lon, stop.lat, stop.lon) / speed
            self._legs.append(_Leg(t, t + drive, here, stop, speed))
            t += drive
            dwell = stop.service_s if stop is not self.depot else self.spec.turnaround_s
            self._legs.append(_Leg(t, t + dwell, stop, stop))
            self.visits.append(Visit(self._route_no, stop, t, t + dwell))
            t += dwell
            here = stop

    def follow(self, route: list[Stop], t: float) -> None:
        """A dispatched route replaces whatever the truck would do after ``t``: from where it
        is at ``t`` (mid-leg or at a stop) it drives to the route's stops in order, then back
        to the depot. What happened before ``t`` is kept, so the ground truth stays whole."""
        here = self.state(t)
        # The leg under way stays as it was (positions before ``t`` are unchanged); the new
        # legs start at ``t``, and a position is always read from the last leg begun by then.
        self._legs = [leg for leg in self._legs if leg.t0 < t]
        self.visits = [
            v if v.depart <= t else dataclasses.replace(v, depart=t)
            for v in self.visits
            if v.arrive < t
        ]
        start = Stop(f"{self.spec.agent_id}@{t:.0f}", "here", here.lat, here.lon)
        self._plan(route, t, start=start)

    def _leg_speed(self) -> float:
        jitter = self.spec.leg_speed_jitter
        if jitter == 0.0:
            return self.spec.speed_mps
        return self.spec.speed_mps * (1.0 + self._speeds.uniform(-jitter, jitter))

    def _extend_to(self, t: float) -> None:
        while self._legs[-1].t1 <= t:
            if not self.customers:
                # No more work: park at the depot for good.
                last = self._legs[-1]
                self._legs.append(_Leg(last.t1, math.inf, self.depot, self.depot))
                break
            lo, hi = self.stops_per_route
            k = min(self._routes.randint(lo, hi), len(self.customers))
            self._plan(self._routes.sample(self.customers, k), self._legs[-1].t1)

    def _leg_at(self, t: float) -> _Leg:
        self._extend_to(t)
        lo, hi = 0, len(self._legs) - 1
        while lo < hi:  # the last leg with t0 <= t
            mid = (lo + hi + 1) // 2
            if self._legs[mid].t0 <= t:
                lo = mid
            else:
                hi = mid - 1
        return self._legs[lo]

    def visits_until(self, t: float) -> list[Visit]:
        """Ground truth visits that started by ``t``."""
        self._extend_to(t)
        return [v for v in self.visits if v.arrive <= t]

    # ---- position ---------------------------------------------------------------------

    def state(self, t: float) -> TruckState:
        """The true position at ``t`` (no noise)."""
        leg = self._leg_at(t)
        if leg.dwell:
            return TruckState(leg.a.lat, leg.a.lon, 0.0, None, "at_stop", leg.a.stop_id)
        f = 0.0 if leg.t1 <= leg.t0 else min(max((t - leg.t0) / (leg.t1 - leg.t0), 0.0), 1.0)
        lat = leg.a.lat + (leg.b.lat - leg.a.lat) * f
        lon = leg.a.lon + (leg.b.lon - leg.a.lon) * f
        hdg = bearing_deg(leg.a.lat, leg.a.lon, leg.b.lat, leg.b.lon)
        return TruckState(lat, lon, leg.speed, hdg, "driving", leg.b.stop_id)

    def fixes_until(self, t: float) -> list[GpsFix]:
        """The GPS fixes due up to ``t`` (every ``gps_interval_s``), with noise."""
        out: list[GpsFix] = []
        while self._next_fix <= t:
            out.append(self._fix(self._next_fix))
            self._next_fix += self.spec.gps_interval_s
        return out

    def _fix(self, t: float) -> GpsFix:
        s = self.state(t)
        sigma = self.spec.noise_m
        dn, de = self._noise.gauss(0.0, sigma), self._noise.gauss(0.0, sigma)
        lat = s.lat + math.degrees(dn / EARTH_RADIUS_M)
        lon = s.lon + math.degrees(de / (EARTH_RADIUS_M * math.cos(math.radians(s.lat))))
        spd = max(0.0, s.speed + self._noise.gauss(0.0, 0.3)) if s.speed > 0 else 0.0
        return GpsFix(
            t=t,
            agent_id=self.spec.agent_id,
            sensor_id=self.spec.sensor_id,
            lat=round(lat, 6),
            lon=round(lon, 6),
            spd=round(spd, 2),
            hdg=None if s.heading is None else round(s.heading, 1),
            acc=round(sigma * 2.0, 1),  # ~95 % radius reported by receivers
        )
