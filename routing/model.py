"""Typed VRPTW problem and solution model shared by every engine.

Units are the caller's: distances in metres for geographic problems (the Euclidean unit for
Solomon instances), times in seconds (Solomon's time unit). `Vehicle.cost_per_km` applies per
1,000 distance units. Matrix rows/columns are ordered depots first, then stops.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from itertools import pairwise

import numpy as np
import numpy.typing as npt

FloatMatrix = npt.NDArray[np.float64]


class Objective(StrEnum):
    """What an engine minimises; dropped optional stops always add their penalty."""

    VEHICLES_THEN_DISTANCE = "vehicles-then-distance"  # hierarchical (SINTEF) convention
    DISTANCE = "distance"  # DIMACS convention
    COST = "cost"  # fixed + per-km vehicle costs


@dataclass(frozen=True, slots=True)
class Point:
    """Planar x/y, or longitude (x) / latitude (y) in degrees for geodesic matrices."""

    x: float
    y: float


@dataclass(frozen=True, slots=True)
class TimeWindow:
    """Service must *start* within [open, close]; arriving early means waiting."""

    open: float = 0.0
    close: float = math.inf

    def __post_init__(self) -> None:
        if not self.open <= self.close:
            raise ValueError(f"time window opens after it closes: {self.open} > {self.close}")


@dataclass(frozen=True, slots=True)
class Depot:
    id: str
    point: Point
    open: float = 0.0
    close: float = math.inf


@dataclass(frozen=True, slots=True)
class Vehicle:
    id: str
    capacity_weight: float = math.inf
    capacity_volume: float = math.inf
    shift_start: float = 0.0
    shift_end: float = math.inf
    start_depot: int = 0  # index into Problem.depots
    end_depot: int = 0
    fixed_cost: float = 0.0
    cost_per_km: float = 0.0


@dataclass(frozen=True, slots=True)
class Stop:
    """A delivery. `windows` are sorted and disjoint; `priority` scales the drop penalty."""

    id: str
    point: Point
    weight: float = 0.0
    volume: float = 0.0
    service_time: float = 0.0
    windows: tuple[TimeWindow, ...] = (TimeWindow(),)
    priority: int = 0
    optional: bool = False
    drop_penalty: float = 0.0

    def __post_init__(self) -> None:
        if not self.windows:
            raise ValueError(f"stop {self.id}: needs at least one time window")
        for a, b in pairwise(self.windows):
            if b.open <= a.close:
                raise ValueError(f"stop {self.id}: time windows must be sorted and disjoint")
        if min(self.weight, self.volume, self.service_time, self.drop_penalty) < 0:
            raise ValueError(f"stop {self.id}: negative demand, service time or penalty")
        if self.priority < 0:
            raise ValueError(f"stop {self.id}: priority must be >= 0")

    @property
    def effective_penalty(self) -> float:
        """Penalty of dropping an optional stop; priority p multiplies it by (1 + p)."""
        return self.drop_penalty * (1 + self.priority)


@dataclass(frozen=True, slots=True)
class TravelMatrix:
    """Static distance and duration between nodes (depots first, then stops)."""

    distance: FloatMatrix
    duration: FloatMatrix

    def __post_init__(self) -> None:
        n = self.distance.shape[0]
        if self.distance.shape != (n, n) or self.duration.shape != (n, n):
            raise ValueError("distance and duration matrices must be square and of equal size")
        if (self.distance < 0).any() or (self.duration < 0).any():
            raise ValueError("negative distance or duration in matrix")

    @property
    def size(self) -> int:
        return int(self.distance.shape[0])


@dataclass(frozen=True)
class Problem:
    depots: tuple[Depot, ...]
    vehicles: tuple[Vehicle, ...]
    stops: tuple[Stop, ...]
    matrix: TravelMatrix
    name: str = ""

    def __post_init__(self) -> None:
        if not self.depots:
            raise ValueError("a problem needs at least one depot")
        if self.matrix.size != len(self.depots) + len(self.stops):
            raise ValueError(
                f"matrix has {self.matrix.size} nodes, expected "
                f"{len(self.depots)} depots + {len(self.stops)} stops"
            )
        for v in self.vehicles:
            for d in (v.start_depot, v.end_depot):
                if not 0 <= d < len(self.depots):
                    raise ValueError(f"vehicle {v.id}: unknown depot index {d}")
            if v.shift_start > v.shift_end:
                raise ValueError(f"vehicle {v.id}: shift starts after it ends")
        ids = [s.id for s in self.stops]
        if len(set(ids)) != len(ids):
            raise ValueError("stop ids must be unique")

    def stop_node(self, stop: int) -> int:
        return len(self.depots) + stop

    def restrict(self, stops: Sequence[int]) -> Problem:
        """The same depots and fleet with only `stops` (e.g. the ones left to re-plan)."""
        nodes = list(range(len(self.depots))) + [self.stop_node(s) for s in stops]
        sub = np.ix_(nodes, nodes)
        matrix = TravelMatrix(self.matrix.distance[sub].copy(), self.matrix.duration[sub].copy())
        return Problem(
            self.depots, self.vehicles, tuple(self.stops[s] for s in stops), matrix, self.name
        )

    def shift(self, vehicle: int) -> tuple[float, float]:
        """Effective shift: the vehicle's own, cut by its depots' opening hours."""
        v = self.vehicles[vehicle]
        start = max(v.shift_start, self.depots[v.start_depot].open)
        end = min(v.shift_end, self.depots[v.end_depot].close)
        return start, end


class UnassignedReason(StrEnum):
    EXCEEDS_CAPACITY = "exceeds-capacity"  # heavier or bulkier than every vehicle
    UNREACHABLE = "unreachable-in-time"  # no vehicle reaches a window and gets back in shift
    DROPPED = "dropped"  # optional: serving it costs more than its penalty
    NO_ROUTE_FOUND = "no-route-found"  # feasible alone, but no room found in the time limit


@dataclass(frozen=True, slots=True)
class Visit:
    stop: int  # index into Problem.stops
    arrival: float
    start: float
    departure: float
    load_weight: float  # on board after this delivery
    load_volume: float
    distance: float  # cumulative route distance at arrival
    lateness: float = 0.0  # start minus the close of the last window, if positive


@dataclass(frozen=True, slots=True)
class Route:
    vehicle: int  # index into Problem.vehicles
    visits: tuple[Visit, ...]
    start: float  # departure from the start depot
    end: float  # arrival at the end depot
    distance: float
    load_weight: float  # loaded at the start depot
    load_volume: float
    cost: float

    @property
    def stops(self) -> list[int]:
        return [v.stop for v in self.visits]


@dataclass(frozen=True, slots=True)
class Unassigned:
    stop: int
    reason: UnassignedReason
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Violation:
    """One broken rule found by the checker."""

    kind: str  # see routing.check for the kinds
    detail: str
    route: int | None = None  # index into Solution.routes
    stop: int | None = None


@dataclass(frozen=True)
class Solution:
    routes: tuple[Route, ...]
    unassigned: tuple[Unassigned, ...] = ()
    engine: str = ""
    violations: tuple[Violation, ...] = ()
    runtime_s: float = 0.0
    stats: dict[str, float] = field(default_factory=dict)

    @property
    def feasible(self) -> bool:
        return not self.violations

    @property
    def num_vehicles(self) -> int:
        return sum(1 for r in self.routes if r.visits)

    @property
    def distance(self) -> float:
        return math.fsum(r.distance for r in self.routes)

    @property
    def cost(self) -> float:
        return math.fsum(r.cost for r in self.routes)

    def penalty(self, problem: Problem) -> float:
        return math.fsum(problem.stops[u.stop].effective_penalty for u in self.unassigned)

    def missing_mandatory(self, problem: Problem) -> int:
        return sum(1 for u in self.unassigned if not problem.stops[u.stop].optional)
