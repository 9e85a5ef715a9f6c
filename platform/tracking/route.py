"""The planned route a truck is tracked against, and its geometry in the local plane.

Times are one axis throughout tracking: unix seconds, as in GPS fixes; the adapter converts the
plan's windows and times into it. Waypoint 0 is where the truck starts (usually the depot);
the last may be the end depot. Legs may carry a road polyline; without one, tracking falls
back to the straight segment between the two waypoints.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from itertools import pairwise

import shapely

from wayhouse.routing.model import TimeWindow

from .geofence import Fence, FenceConfig
from .projection import LocalProjection, LonLat


@dataclass(frozen=True, slots=True)
class Waypoint:
    id: str  # the stop (delivery) id, or the depot id
    lon: float
    lat: float
    service_s: float = 0.0
    windows: tuple[TimeWindow, ...] = ()  # empty: any time; else sorted and disjoint
    depot: bool = False
    planned_arrival: float | None = None
    fence_enter_m: float | None = None  # per-stop override of FenceConfig
    fence_exit_m: float | None = None
    outline: tuple[LonLat, ...] | None = None  # a yard polygon instead of a circle

    def __post_init__(self) -> None:
        if not (-180.0 <= self.lon <= 180.0 and -90.0 <= self.lat <= 90.0):
            raise ValueError(f"waypoint {self.id}: coordinates out of range")
        if self.service_s < 0:
            raise ValueError(f"waypoint {self.id}: negative service time")
        for a, b in pairwise(self.windows):
            if b.open <= a.close:
                raise ValueError(f"waypoint {self.id}: windows must be sorted and disjoint")

    @property
    def lonlat(self) -> LonLat:
        return (self.lon, self.lat)

    @property
    def close(self) -> float:
        """The end of the last window: arriving after it is late."""
        return self.windows[-1].close if self.windows else math.inf

    def service_start(self, arrival: float) -> float:
        """Service starts at arrival, or when the first window still open opens (waiting);
        after the last window it starts at arrival, late (routing.schedule's rule)."""
        for w in self.windows:
            if arrival <= w.close:
                return max(arrival, w.open)
        return arrival


@dataclass(frozen=True)
class PlannedRoute:
    route_id: str
    truck_id: str
    depart_at: float  # planned departure from waypoint 0
    waypoints: tuple[Waypoint, ...]
    legs: tuple[tuple[LonLat, ...] | None, ...] | None = None  # leg i: waypoint i -> i + 1

    def __post_init__(self) -> None:
        if len(self.waypoints) < 2:
            raise ValueError(f"route {self.route_id}: needs a start and at least one stop")
        if self.legs is not None:
            if len(self.legs) != len(self.waypoints) - 1:
                raise ValueError(f"route {self.route_id}: one polyline (or None) per leg")
            if any(leg is not None and len(leg) < 2 for leg in self.legs):
                raise ValueError(f"route {self.route_id}: a leg polyline needs 2+ points")


class RouteGeometry:
    """Everything metric about a route, derived once: projection, fences, leg lines."""

    def __init__(self, route: PlannedRoute, fence_cfg: FenceConfig) -> None:
        self.route = route
        pts = [w.lonlat for w in route.waypoints]
        for leg in route.legs or ():
            pts += list(leg or ())
        self.proj = LocalProjection.for_points(pts)
        self.xy = self.proj.many_to_xy(w.lonlat for w in route.waypoints)
        self.fences = [
            self._fence(w, xy, fence_cfg) for w, xy in zip(route.waypoints, self.xy, strict=True)
        ]
        self._polylines: list[shapely.LineString | None] = []
        for leg in route.legs or [None] * (len(route.waypoints) - 1):
            if leg is None:
                self._polylines.append(None)
            else:
                line = shapely.LineString(self.proj.many_to_xy(leg))
                shapely.prepare(line)
                self._polylines.append(line)

    def _fence(self, w: Waypoint, xy: tuple[float, float], cfg: FenceConfig) -> Fence:
        enter = cfg.enter_m if w.fence_enter_m is None else w.fence_enter_m
        exit_ = cfg.exit_m if w.fence_exit_m is None else w.fence_exit_m
        if w.outline:
            return Fence.polygon(self.proj.many_to_xy(w.outline), enter, exit_)
        return Fence.circle(*xy, enter, exit_)

    def polyline(self, i: int, j: int) -> shapely.LineString | None:
        """The road polyline from waypoint i to j, if the plan has one (consecutive only)."""
        return self._polylines[i] if j == i + 1 else None

    def leg_line(self, i: int, j: int) -> shapely.LineString:
        line = self.polyline(i, j)
        return line if line is not None else self._segment(i, j)

    def _segment(self, i: int, j: int) -> shapely.LineString:
        return shapely.LineString([self.xy[i], self.xy[j]])

    @cached_property
    def n(self) -> int:
        return len(self.route.waypoints)

    def nearest_fence(self, x: float, y: float, candidates: Sequence[int]) -> int | None:
        """The candidate whose enter zone holds (x, y), closest first; None if none does."""
        best: tuple[float, int] | None = None
        for k in candidates:
            d = self.fences[k].distance(x, y)
            if d <= self.fences[k].enter_m and (best is None or d < best[0]):
                best = (d, k)
        return None if best is None else best[1]

    def in_any_exit_zone(self, x: float, y: float) -> bool:
        return any(f.in_exit(x, y) for f in self.fences)
