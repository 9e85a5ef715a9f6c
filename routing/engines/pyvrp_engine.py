"""PyVRP (0.14) engine: iterated local search on PyVRP's ProblemData.

A stop with several time windows becomes one client per window, all at the same location in
a mutually exclusive client group (required when the stop is mandatory). Optional stops carry
their drop penalty as a prize. Identical vehicles share one vehicle type.
"""

from __future__ import annotations

import time
import warnings
from collections import defaultdict

import numpy as np
from pyvrp import (
    Client,
    ClientGroup,
    Depot,
    Location,
    ProblemData,
    VehicleType,
)
from pyvrp import Solution as PyvrpSolution
from pyvrp import solve as pyvrp_solve
from pyvrp.exceptions import PenaltyBoundWarning
from pyvrp.stop import FirstFeasible, MaxRuntime, MultipleCriteria

from ..model import Objective, Problem, Solution
from .common import IntData, build_int_data, finish, screen

NAME = "pyvrp"


def _vehicle_types(
    problem: Problem, data: IntData, dims: list[str]
) -> tuple[list[VehicleType], list[list[int]]]:
    """Group identical vehicles; returns the types and the vehicle indices of each type."""
    groups: dict[tuple[object, ...], list[int]] = defaultdict(list)
    for k, v in enumerate(problem.vehicles):
        caps = tuple(data.cap_weight[k] if d == "weight" else data.cap_volume[k] for d in dims)
        key = (
            caps,
            v.start_depot,
            v.end_depot,
            data.shifts[k],
            data.fixed_cost[k],
            data.arc_weight[k],
        )
        groups[key].append(k)
    types = []
    members = []
    for (caps, start, end, (early, late), fixed, weight), ks in groups.items():
        types.append(
            VehicleType(
                num_available=len(ks),
                capacity=list(caps),
                start_depot=start,
                end_depot=end,
                fixed_cost=fixed,
                tw_early=early,
                tw_late=late,
                unit_distance_cost=weight,
                name=problem.vehicles[ks[0]].id,
            )
        )
        members.append(ks)
    return types, members


def to_pyvrp(problem: Problem, data: IntData) -> tuple[ProblemData, list[list[int]], list[int]]:
    """PyVRP data, the vehicle indices of each vehicle type, and the stop of each client."""
    dims = [name for name, arr in (("weight", data.weight), ("volume", data.volume)) if arr.any()]
    points = [d.point for d in problem.depots] + [problem.stops[s].point for s in data.stops]
    locations = [Location(x=p.x, y=p.y) for p in points]
    depots = [Depot(location=k, tw_early=0, tw_late=data.horizon) for k in range(data.n_depots)]
    clients: list[Client] = []
    client_stop: list[int] = []
    groups: list[ClientGroup] = []
    for j, stop in enumerate(data.stops):
        node = data.n_depots + j
        delivery = [int(data.weight[node] if d == "weight" else data.volume[node]) for d in dims]
        optional = data.optional[node]
        prize = data.penalty[node] if optional else 0
        windows = data.windows[node]
        group = None
        if len(windows) > 1:
            group = len(groups)
            groups.append(ClientGroup(required=not optional))
        for early, late in windows:
            if group is not None:
                groups[group].add_client(len(clients))
            clients.append(
                Client(
                    location=node,
                    delivery=delivery,
                    service_duration=int(data.service[node]),
                    tw_early=early,
                    tw_late=late,
                    prize=prize,
                    required=not optional and group is None,
                    group=group,
                    name=problem.stops[stop].id,
                )
            )
            client_stop.append(stop)
    types, members = _vehicle_types(problem, data, dims)
    pdata = ProblemData(
        locations,
        clients,
        depots,
        types,
        [np.ascontiguousarray(data.dist)],
        [np.ascontiguousarray(data.dur)],
        groups=groups,
    )
    return pdata, members, client_stop


def _decode(
    best: PyvrpSolution, members: list[list[int]], client_stop: list[int]
) -> list[tuple[int, list[int]]]:
    free = [list(ks) for ks in members]
    routes: list[tuple[int, list[int]]] = []
    for route in best.routes():
        seq = [client_stop[a.idx] for a in route if a.is_client()]
        if seq:
            routes.append((free[route.vehicle_type()].pop(0), seq))
    return routes


def _fewer_vehicles(
    pdata: ProblemData, deadline: float, seed: int
) -> tuple[ProblemData, PyvrpSolution | None]:
    """Hierarchical objective: shrink the fleet while a feasible plan is found quickly.

    PyVRP's own minimise_fleet, but it keeps the feasible solution of the smallest fleet so
    the main search can start from it.
    """
    best: PyvrpSolution | None = None
    vt = pdata.vehicle_type(0)
    while time.monotonic() < deadline and vt.num_available > 1:
        trial = pdata.replace(vehicle_types=[vt.replace(num_available=vt.num_available - 1)])
        left = deadline - time.monotonic()
        res = pyvrp_solve(
            trial,
            MultipleCriteria([FirstFeasible(), MaxRuntime(left)]),
            seed=seed,
            collect_stats=False,
            display=False,
        )
        if not res.best.is_feasible():
            break
        used = res.best.num_routes()
        vt = vt.replace(num_available=used)
        pdata, best = pdata.replace(vehicle_types=[vt]), res.best
    return pdata, best


def solve(
    problem: Problem,
    time_limit: float,
    objective: Objective = Objective.DISTANCE,
    seed: int = 0,
    fleet_share: float = 0.3,
) -> Solution:
    """Solve with PyVRP. For the hierarchical objective on a single vehicle type without
    optional stops, `fleet_share` of the budget first minimises the fleet."""
    started, cpu_started = time.monotonic(), time.process_time()
    servable, screened = screen(problem)
    if not servable or not problem.vehicles:
        return finish(problem, [], servable, screened, NAME, started, cpu_started)
    data = build_int_data(problem, servable, objective)
    pdata, members, client_stop = to_pyvrp(problem, data)
    deadline = started + time_limit - min(0.5, 0.05 * time_limit)

    with warnings.catch_warnings():
        # Over-constrained instances (and fleet trials) hit PyVRP's penalty cap by design;
        # what cannot be served is repaired away and reported per stop instead.
        warnings.simplefilter("ignore", PenaltyBoundWarning)
        best, iterations = _search(pdata, data, objective, deadline, seed, fleet_share)
    routes = _decode(best, members, client_stop)
    served = {s for _, seq in routes for s in seq}
    unserved = [s for s in servable if s not in served]
    stats = {"iterations": float(iterations), "pyvrp_feasible": float(best.is_feasible())}
    return finish(problem, routes, unserved, screened, NAME, started, cpu_started, stats)


def _search(
    pdata: ProblemData,
    data: IntData,
    objective: Objective,
    deadline: float,
    seed: int,
    fleet_share: float,
) -> tuple[PyvrpSolution, int]:
    initial = None
    if (
        objective is Objective.VEHICLES_THEN_DISTANCE
        and pdata.num_vehicle_types == 1
        and not any(data.optional)
    ):
        pdata, initial = _fewer_vehicles(
            pdata, time.monotonic() + fleet_share * (deadline - time.monotonic()), seed
        )
    left = max(0.05, deadline - time.monotonic())
    res = pyvrp_solve(
        pdata,
        MaxRuntime(left),
        seed=seed,
        collect_stats=False,
        display=False,
        initial_solution=initial,
    )
    return res.best, res.num_iterations
