"""Where a truck is on its planned route, and two watchers of how it is going.

``locate`` projects a position onto the current leg (road polyline, else the straight segment
between the two waypoints): fraction along it and distance off it in metres. ``OffRouteWatch``
and ``StopWatch`` turn per-fix measurements into sustained conditions with hysteresis, so
one bad fix neither raises nor clears an alarm.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from enum import StrEnum

import shapely

from .route import RouteGeometry


class Phase(StrEnum):
    AT_STOP = "at-stop"  # inside a waypoint's fence (arriving, serving, or before departure)
    DRIVING = "driving"
    FINISHED = "finished"  # every waypoint reached


@dataclass(frozen=True, slots=True)
class Progress:
    phase: Phase
    at: int | None = None  # waypoint index while AT_STOP
    leg_from: int | None = None  # while DRIVING: last waypoint left ...
    leg_to: int | None = None  # ... and the next one due
    fraction: float = 0.0  # along the leg, 0..1
    along_m: float = 0.0
    leg_m: float = 0.0
    off_route_m: float = 0.0  # distance from the leg's line
    on_polyline: bool = False  # measured against a road polyline (else the chord)

    @property
    def route_distance_m(self) -> float | None:
        """Metres from the planned road for an alarm rule with a fixed limit: 0 at a stop,
        None on legs without a road polyline (the chord is no road; use ``off_route_m``
        with its own wider limit there)."""
        if self.phase is not Phase.DRIVING:
            return 0.0
        return self.off_route_m if self.on_polyline else None

    def to_dict(self) -> dict[str, object]:
        return {
            "phase": self.phase.value,
            "at": self.at,
            "leg_from": self.leg_from,
            "leg_to": self.leg_to,
            "fraction": self.fraction,
            "along_m": self.along_m,
            "leg_m": self.leg_m,
            "off_route_m": self.off_route_m,
            "on_polyline": self.on_polyline,
        }


def locate(geom: RouteGeometry, x: float, y: float, leg_from: int, leg_to: int) -> Progress:
    """Progress of a driving truck at (x, y) on the leg from waypoint ``leg_from`` to ``leg_to``."""
    line = geom.leg_line(leg_from, leg_to)
    pt = shapely.Point(x, y)
    length = float(line.length)
    along = float(shapely.line_locate_point(line, pt)) if length > 0 else 0.0
    return Progress(
        Phase.DRIVING,
        leg_from=leg_from,
        leg_to=leg_to,
        fraction=along / length if length > 0 else 1.0,
        along_m=along,
        leg_m=length,
        off_route_m=float(shapely.distance(line, pt)),
        on_polyline=geom.polyline(leg_from, leg_to) is not None,
    )


def remaining_on_polyline(geom: RouteGeometry, x: float, y: float, i: int, j: int) -> float | None:
    """Metres left along the leg's road polyline, or None when the leg has none."""
    line = geom.polyline(i, j)
    if line is None:
        return None
    return float(line.length - shapely.line_locate_point(line, shapely.Point(x, y)))


# ---- sustained conditions --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OffRouteWatch:
    """Raised after ``min_s`` continuously beyond the limit; cleared below ``clear`` x limit."""

    since: float | None = None  # first fix of the current run beyond the limit
    active: bool = False

    def step(
        self, t: float, off_m: float, limit_m: float, min_s: float, clear_ratio: float
    ) -> tuple[OffRouteWatch, str | None]:
        if self.active:
            if off_m <= limit_m * clear_ratio:
                return OffRouteWatch(), "cleared"
            return self, None
        if off_m <= limit_m:
            return OffRouteWatch(), None
        since = self.since if self.since is not None else t
        if t - since >= min_s:
            return OffRouteWatch(since, True), "raised"
        return OffRouteWatch(since, False), None


@dataclass(frozen=True, slots=True)
class StopWatch:
    """A truck standing still (speed ~0 and within ``radius_m`` of where it stopped).

    Only fed fixes outside every fence of the route: standing at a stop is the job.
    """

    x: float | None = None  # anchor: where it came to a standstill
    y: float | None = None
    since: float | None = None
    active: bool = False

    def still_for(self, t: float) -> float:
        return 0.0 if self.since is None else t - self.since

    def step(
        self,
        t: float,
        x: float,
        y: float,
        speed: float | None,
        speed_max: float,
        radius_m: float,
        min_s: float,
    ) -> tuple[StopWatch, str | None]:
        slow = speed is None or speed <= speed_max
        if self.since is None or self.x is None or self.y is None:
            return (StopWatch(x, y, t) if slow else StopWatch()), None
        if not slow or math.hypot(x - self.x, y - self.y) > radius_m:
            event = "cleared" if self.active else None
            return (StopWatch(x, y, t) if slow else StopWatch()), event
        if not self.active and t - self.since >= min_s:
            return replace(self, active=True), "raised"
        return self, None

    def reset(self) -> tuple[StopWatch, str | None]:
        """Entering a fence (or a new route) ends any standstill."""
        return StopWatch(), ("cleared" if self.active else None)
