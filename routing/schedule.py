"""Turn stop sequences into timed routes (earliest-start schedule) and score them.

Engines only decide sequences; the times, loads and distances every caller sees are computed
here from the problem's own float matrix, so all engines report in the same arithmetic.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from .model import Objective, Problem, Route, Solution, Unassigned, Visit


def _pick_start(windows: Sequence[tuple[float, float]], arrival: float) -> tuple[float, float]:
    """Start of service and lateness: the first window still open at arrival, else late."""
    for open_, close in windows:
        if arrival <= close:
            return max(arrival, open_), 0.0
    return arrival, arrival - windows[-1][1]


def build_route(problem: Problem, vehicle: int, stops: Sequence[int]) -> Route:
    v = problem.vehicles[vehicle]
    dist, dur = problem.matrix.distance, problem.matrix.duration
    shift_start, _ = problem.shift(vehicle)
    start_node = v.start_depot
    total_w = math.fsum(problem.stops[s].weight for s in stops)
    total_v = math.fsum(problem.stops[s].volume for s in stops)

    # Leave the depot as late as the first stop allows, so no one waits at the first door.
    departure = shift_start
    if stops:
        first = problem.stops[stops[0]]
        first_arrival = shift_start + dur[start_node, problem.stop_node(stops[0])]
        first_start, _ = _pick_start([(w.open, w.close) for w in first.windows], first_arrival)
        departure = max(shift_start, first_start - dur[start_node, problem.stop_node(stops[0])])

    visits: list[Visit] = []
    t, prev, travelled = departure, start_node, 0.0
    load_w, load_v = total_w, total_v
    for s in stops:
        stop = problem.stops[s]
        node = problem.stop_node(s)
        arrival = t + dur[prev, node]
        travelled += dist[prev, node]
        begin, late = _pick_start([(w.open, w.close) for w in stop.windows], arrival)
        load_w -= stop.weight
        load_v -= stop.volume
        t = begin + stop.service_time
        visits.append(
            Visit(s, arrival, begin, t, max(load_w, 0.0), max(load_v, 0.0), travelled, late)
        )
        prev = node
    end = t + dur[prev, v.end_depot]
    travelled += dist[prev, v.end_depot]
    cost = (v.fixed_cost + v.cost_per_km * travelled / 1000.0) if stops else 0.0
    return Route(vehicle, tuple(visits), departure, end, travelled, total_w, total_v, cost)


def build_solution(
    problem: Problem,
    routes: Iterable[tuple[int, Sequence[int]]],
    unassigned: Iterable[Unassigned] = (),
    engine: str = "",
) -> Solution:
    """Routes are (vehicle index, stop indices); empty routes are left out."""
    built = tuple(build_route(problem, v, seq) for v, seq in routes if seq)
    return Solution(built, tuple(unassigned), engine)


def objective_key(problem: Problem, solution: Solution, objective: Objective) -> tuple[float, ...]:
    """Sort key, lower is better: feasible first, then fewest missing mandatory stops."""
    head = (0.0 if solution.feasible else 1.0, float(solution.missing_mandatory(problem)))
    penalty = solution.penalty(problem)
    if objective is Objective.VEHICLES_THEN_DISTANCE:
        return (*head, float(solution.num_vehicles), solution.distance + penalty)
    if objective is Objective.DISTANCE:
        return (*head, solution.distance + penalty)
    return (*head, solution.cost + penalty)
