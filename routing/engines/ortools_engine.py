"""OR-Tools routing engine.

Matrices are registered as C++ transit matrices (no Python callbacks in the search loop).
Every stop sits in a disjunction: optional ones with their drop penalty, mandatory ones with a
penalty larger than any plan's cost, so the engine always returns a plan and a stop it cannot
fit is reported, not silently lost.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from itertools import pairwise

from ortools.constraint_solver import pywrapcp, routing_enums_pb2, routing_ils_pb2

from ..model import Objective, Problem, Solution
from .common import IntData, build_int_data, finish, screen

NAME = "ortools"
_FSS = routing_enums_pb2.FirstSolutionStrategy.Value
_LSM = routing_enums_pb2.LocalSearchMetaheuristic.Value


@dataclass(frozen=True)
class OrToolsParams:
    """Search settings. Defaults chosen on Solomon R1/R2/RC1/RC2/C1 instances at 3-8 s:
    PATH_CHEAPEST_ARC beat PARALLEL_CHEAPEST_INSERTION on 4 of 6; GLS beat tabu search and
    the SISR iterated local search (`ils`); lambda 0.05-0.2 and resetting GLS penalties were
    within noise of 0.1. Neighbour filtering (ratio < 1) made R101 28% worse at 3 s: with time
    windows the geometrically nearest nodes are often poor move partners, so it is off.
    """

    first_solution: str = "PATH_CHEAPEST_ARC"
    metaheuristic: str = "GUIDED_LOCAL_SEARCH"
    gls_lambda: float = 0.1
    gls_reset_penalties: bool = False
    neighbors_ratio: float = 1.0
    min_neighbors: int = 1
    # Iterated local search with SISR ruin-and-recreate (OR-Tools >= 9.12).
    ils: bool = False
    sisr_avg_removed: int = 10
    sisr_max_sequence: int = 10
    enable: tuple[str, ...] = ()  # extra local_search_operators fields to switch on
    disable: tuple[str, ...] = ()
    # Mandatory stops in a disjunction with a penalty above any plan's cost: without it the
    # first-solution heuristic fails outright on tight instances (R101, RC105).
    drop_mandatory: bool = True


_OPERATORS_ON = (
    "use_relocate",
    "use_exchange",
    "use_cross",
    "use_two_opt",
    "use_or_opt",
    "use_relocate_expensive_chain",
    "use_make_active",
    "use_make_inactive",
    "use_swap_active",
    "use_extended_swap_active",
    "use_relocate_neighbors",
    "use_cross_exchange",
)
# No pickup-delivery pairs here, and the LNS operators that re-solve whole paths cost more
# time on VRPTW than they return within a budget of seconds.
_OPERATORS_OFF = (
    "use_relocate_pair",
    "use_exchange_pair",
    "use_light_relocate_pair",
    "use_lin_kernighan",
    "use_tsp_opt",
    "use_path_lns",
    "use_full_path_lns",
    "use_tsp_lns",
    "use_inactive_lns",
    "use_node_pair_swap_active",
    "use_relocate_subtrip",
    "use_exchange_subtrip",
)


def _search_parameters(params: OrToolsParams, seconds: float) -> pywrapcp.RoutingSearchParameters:
    sp = pywrapcp.DefaultRoutingSearchParameters()
    sp.first_solution_strategy = _FSS.Value(params.first_solution)
    sp.local_search_metaheuristic = _LSM.Value(params.metaheuristic)
    sp.guided_local_search_lambda_coefficient = params.gls_lambda
    sp.guided_local_search_reset_penalties_on_new_best_solution = params.gls_reset_penalties
    sp.ls_operator_neighbors_ratio = params.neighbors_ratio
    sp.ls_operator_min_neighbors = params.min_neighbors
    ops = sp.local_search_operators
    for names, value in (
        (_OPERATORS_ON, 3),
        (_OPERATORS_OFF, 2),  # BOOL_TRUE, BOOL_FALSE
        (params.enable, 3),
        (params.disable, 2),
    ):
        for name in names:
            setattr(ops, name, value)
    if params.ils:
        sp.use_iterated_local_search = True
        ils = sp.iterated_local_search_parameters
        ils.perturbation_strategy = routing_ils_pb2.PerturbationStrategy.RUIN_AND_RECREATE
        rr = ils.ruin_recreate_parameters
        del rr.ruin_strategies[:]
        sisr = rr.ruin_strategies.add().sisr
        sisr.avg_num_removed_visits = params.sisr_avg_removed
        sisr.max_removed_sequence_size = params.sisr_max_sequence
        sisr.bypass_factor = 0.01
        sa = ils.reference_solution_acceptance_strategy.simulated_annealing
        sa.automatic_temperatures = True
    sp.time_limit.FromMilliseconds(max(100, int(seconds * 1000)))
    return sp


def _build(
    problem: Problem, data: IntData, params: OrToolsParams
) -> tuple[pywrapcp.RoutingIndexManager, pywrapcp.RoutingModel]:
    vehicles = problem.vehicles
    manager = pywrapcp.RoutingIndexManager(
        data.n_nodes,
        len(vehicles),
        [v.start_depot for v in vehicles],
        [v.end_depot for v in vehicles],
    )
    routing = pywrapcp.RoutingModel(manager)

    dist = data.dist
    by_weight: dict[int, int] = {}
    for k, w in enumerate(data.arc_weight):
        if w not in by_weight:
            by_weight[w] = routing.RegisterTransitMatrix((dist * w).tolist())
        routing.SetArcCostEvaluatorOfVehicle(by_weight[w], k)
        routing.SetFixedCostOfVehicle(data.fixed_cost[k], k)

    for name, demand, caps in (
        ("weight", data.weight, data.cap_weight),
        ("volume", data.volume, data.cap_volume),
    ):
        if demand.any():
            cb = routing.RegisterUnaryTransitVector(demand.tolist())
            routing.AddDimensionWithVehicleCapacity(cb, 0, caps, True, name)

    transit = data.dur + data.service[:, None]  # service happens at the origin of an arc
    time_cb = routing.RegisterTransitMatrix(transit.tolist())
    routing.AddDimension(time_cb, data.horizon, data.horizon, False, "time")
    time_dim = routing.GetDimensionOrDie("time")
    for node in range(data.n_depots, data.n_nodes):
        idx = manager.NodeToIndex(node)
        windows = data.windows[node]
        cumul = time_dim.CumulVar(idx)
        cumul.SetRange(windows[0][0], windows[-1][1])
        for (_, close), (open_, _) in pairwise(windows):
            cumul.RemoveInterval(close + 1, open_ - 1)
        if data.optional[node]:
            routing.AddDisjunction([idx], data.penalty[node])
        elif params.drop_mandatory:
            routing.AddDisjunction([idx], data.mandatory_penalty)
    for k, (start, end) in enumerate(data.shifts):
        time_dim.CumulVar(routing.Start(k)).SetRange(start, end)
        time_dim.CumulVar(routing.End(k)).SetRange(start, end)
    return manager, routing


def solve(
    problem: Problem,
    time_limit: float,
    objective: Objective = Objective.DISTANCE,
    seed: int = 0,
    params: OrToolsParams | None = None,
) -> Solution:
    """Solve with OR-Tools. The search is deterministic; `seed` is accepted for symmetry."""
    del seed
    started, cpu_started = time.monotonic(), time.process_time()
    params = params or OrToolsParams()
    servable, screened = screen(problem)
    if not servable or not problem.vehicles:
        return finish(problem, [], servable, screened, NAME, started, cpu_started)
    data = build_int_data(problem, servable, objective)
    manager, routing = _build(problem, data, params)
    # Keep a small margin for decoding, scheduling and the checker.
    budget = time_limit - (time.monotonic() - started) - min(0.5, 0.05 * time_limit)
    assignment = routing.SolveWithParameters(_search_parameters(params, budget))
    if assignment is None:
        return finish(
            problem,
            [],
            servable,
            screened,
            NAME,
            started,
            cpu_started,
            {"status": float(routing.status())},
        )

    routes: list[tuple[int, list[int]]] = []
    served: set[int] = set()
    for k in range(len(problem.vehicles)):
        seq: list[int] = []
        idx = routing.NextVar(routing.Start(k))
        idx = assignment.Value(idx)
        while not routing.IsEnd(idx):
            stop = data.stops[manager.IndexToNode(idx) - data.n_depots]
            seq.append(stop)
            served.add(stop)
            idx = assignment.Value(routing.NextVar(idx))
        if seq:
            routes.append((k, seq))
    unserved = [s for s in servable if s not in served]
    return finish(
        problem,
        routes,
        unserved,
        screened,
        NAME,
        started,
        cpu_started,
        {"objective": float(assignment.ObjectiveValue())},
    )
