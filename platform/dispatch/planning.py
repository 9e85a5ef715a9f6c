"""Planning a delivery day, without I/O: deliveries and trucks in, routes out.

Times are seconds since midnight of the plan's day (the routing library's clock). A re-plan
during the day gives each truck a start of its own (where it is now, from when it is free):
the problem then has one depot per such start, which the routing model supports, and every
truck still ends at the warehouse. Manual changes (a stop moved, a route locked) are scheduled
with the routing library's own ``build_route`` and judged by its independent checker, so a
dispatcher sees exactly what would break before publishing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from wayhouse.routing.api import solve
from wayhouse.routing.check import check
from wayhouse.routing.matrix import MatrixBuilder, SpeedProfile
from wayhouse.routing.model import (
    Depot,
    Objective,
    Point,
    Problem,
    Solution,
    Stop,
    TimeWindow,
    Unassigned,
    UnassignedReason,
    Vehicle,
)
from wayhouse.routing.schedule import build_solution

DAY = 24 * 3600.0


@dataclass(frozen=True)
class Delivery:
    """One order to bring to its destination."""

    order_id: int
    lat: float
    lon: float
    weight_kg: float
    volume_m3: float
    service_s: float = 600.0
    window: tuple[float, float] = (8 * 3600.0, 18 * 3600.0)
    priority: int = 0

    @property
    def key(self) -> str:
        return f"o{self.order_id}"


@dataclass(frozen=True)
class Truck:
    vehicle_id: int
    code: str
    capacity_kg: float
    capacity_m3: float
    shift_start_s: float = 7 * 3600.0
    shift_end_s: float = 19 * 3600.0
    fixed_cost: float = 0.0
    cost_per_km: float = 0.0
    # Re-planning: where the truck is and from when it is free (else: the warehouse, shift start).
    start_at: tuple[float, float] | None = None
    free_from_s: float | None = None


@dataclass(frozen=True)
class PlannedStop:
    order_id: int
    seq: int
    arrival_s: float
    start_s: float
    departure_s: float
    lateness_s: float


@dataclass(frozen=True)
class PlannedRoute:
    vehicle_id: int
    stops: tuple[PlannedStop, ...]
    distance_m: float
    start_s: float
    end_s: float


@dataclass(frozen=True)
class DayPlan:
    routes: tuple[PlannedRoute, ...]
    unassigned: tuple[tuple[int, str], ...]  # (order id, reason)
    engine: str
    violations: tuple[str, ...] = ()
    stats: dict[str, float] = field(default_factory=dict)

    @property
    def distance_m(self) -> float:
        return sum(r.distance_m for r in self.routes)


@dataclass(frozen=True)
class Depot0:
    """The warehouse the plan starts from."""

    lat: float
    lon: float


def default_builder() -> MatrixBuilder:
    # Regional roads: 1.3 x the geodesic distance at 45 km/h, the simulator's truck pace.
    return MatrixBuilder(road_factor=1.3, profile=SpeedProfile.constant(45))


def build_problem(
    depot: Depot0,
    trucks: Sequence[Truck],
    deliveries: Sequence[Delivery],
    builder: MatrixBuilder | None = None,
) -> Problem:
    if not trucks:
        raise ValueError("no trucks available")
    depots = [Depot("warehouse", Point(depot.lon, depot.lat))]
    vehicles = []
    for t in trucks:
        start = 0
        if t.start_at is not None:
            depots.append(Depot(f"at-{t.code}", Point(t.start_at[1], t.start_at[0])))
            start = len(depots) - 1
        shift_start = max(t.shift_start_s, t.free_from_s or 0.0)
        vehicles.append(
            Vehicle(
                t.code,
                capacity_weight=t.capacity_kg,
                capacity_volume=t.capacity_m3,
                shift_start=shift_start,
                shift_end=max(shift_start, t.shift_end_s),
                start_depot=start,
                end_depot=0,
                fixed_cost=t.fixed_cost,
                cost_per_km=t.cost_per_km,
            )
        )
    stops = tuple(
        Stop(
            d.key,
            Point(d.lon, d.lat),
            weight=d.weight_kg,
            volume=d.volume_m3,
            service_time=d.service_s,
            windows=(TimeWindow(*d.window),),
            priority=d.priority,
        )
        for d in deliveries
    )
    points = [dp.point for dp in depots] + [s.point for s in stops]
    starts = [v.shift_start for v in vehicles] or [0.0]
    ends = [v.shift_end for v in vehicles] or [DAY]
    matrix = (builder or default_builder()).build(points, window=(min(starts), max(ends)))
    return Problem(tuple(depots), tuple(vehicles), stops, matrix, name="day")


def _to_plan(
    problem: Problem, solution: Solution, trucks: Sequence[Truck], deliveries: Sequence[Delivery]
) -> DayPlan:
    routes = []
    for route in solution.routes:
        if not route.visits:
            continue
        stops = tuple(
            PlannedStop(deliveries[v.stop].order_id, i, v.arrival, v.start, v.departure, v.lateness)
            for i, v in enumerate(route.visits)
        )
        routes.append(
            PlannedRoute(
                trucks[route.vehicle].vehicle_id, stops, route.distance, route.start, route.end
            )
        )
    unassigned = tuple(
        (deliveries[u.stop].order_id, f"{u.reason.value}{': ' + u.detail if u.detail else ''}")
        for u in solution.unassigned
    )
    violations = tuple(f"{v.kind}: {v.detail}" for v in check(problem, solution))
    return DayPlan(tuple(routes), unassigned, solution.engine, violations, dict(solution.stats))


def plan_day(
    depot: Depot0,
    trucks: Sequence[Truck],
    deliveries: Sequence[Delivery],
    *,
    engine: str = "portfolio",
    time_limit: float = 10.0,
    objective: Objective | str = Objective.COST,
    builder: MatrixBuilder | None = None,
) -> DayPlan:
    """Assign and sequence the deliveries; anything that cannot be served comes back
    unassigned with the reason."""
    if not deliveries:
        return DayPlan((), (), engine)
    problem = build_problem(depot, trucks, deliveries, builder)
    solution = solve(problem, engine=engine, time_limit=time_limit, objective=objective)
    return _to_plan(problem, solution, trucks, deliveries)


def schedule(
    depot: Depot0,
    trucks: Sequence[Truck],
    deliveries: Sequence[Delivery],
    sequences: dict[int, Sequence[int]],
    builder: MatrixBuilder | None = None,
) -> DayPlan:
    """Time a hand-made assignment (vehicle id -> order ids in visiting order), e.g. after the
    dispatcher moved a stop; ``violations`` lists what it breaks (capacity, windows, shift)."""
    problem = build_problem(depot, trucks, deliveries, builder)
    index = {d.order_id: i for i, d in enumerate(deliveries)}
    vehicle_of = {t.vehicle_id: i for i, t in enumerate(trucks)}
    routes = [(vehicle_of[vid], [index[o] for o in orders]) for vid, orders in sequences.items()]
    assigned = {o for orders in sequences.values() for o in orders}
    missing = [
        Unassigned(i, UnassignedReason.DROPPED, "left out by the dispatcher")
        for i, d in enumerate(deliveries)
        if d.order_id not in assigned
    ]
    solution = build_solution(problem, routes, missing, engine="manual")
    return _to_plan(problem, solution, trucks, deliveries)
