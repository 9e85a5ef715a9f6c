"""Independent feasibility checker.

It trusts nothing an engine reports: it recomputes distances and loads from the problem and
verifies that every reported time is physically possible and inside the windows and shifts.
It deliberately shares no code with `schedule.py`, so a bug there cannot hide here.
"""

from __future__ import annotations

import dataclasses

from .model import Problem, Solution, UnassignedReason, Violation

# Violation kinds
UNKNOWN_VEHICLE = "unknown-vehicle"
VEHICLE_REUSED = "vehicle-reused"
UNKNOWN_STOP = "unknown-stop"
DUPLICATE_STOP = "duplicate-stop"
MISSING_STOP = "missing-stop"
BAD_DROP = "mandatory-stop-dropped-as-optional"
CAPACITY_WEIGHT = "capacity-weight"
CAPACITY_VOLUME = "capacity-volume"
LOAD_MISMATCH = "load-mismatch"
DISTANCE_MISMATCH = "distance-mismatch"
TIMING = "timing"  # a reported time is earlier than travel and service allow
TIME_WINDOW = "time-window"
SHIFT = "shift"


def _close(a: float, b: float, tol: float) -> bool:
    return abs(a - b) <= tol * max(1.0, abs(a), abs(b))


def check(problem: Problem, solution: Solution, tol: float = 1e-6) -> list[Violation]:
    """All violations of `solution` against `problem`; empty means feasible."""
    out: list[Violation] = []
    seen: dict[int, int] = {}
    used_vehicles: set[int] = set()
    n_stops = len(problem.stops)

    for r_idx, route in enumerate(solution.routes):
        if not 0 <= route.vehicle < len(problem.vehicles):
            out.append(Violation(UNKNOWN_VEHICLE, f"vehicle {route.vehicle}", r_idx))
            continue
        if route.vehicle in used_vehicles:
            out.append(Violation(VEHICLE_REUSED, f"vehicle {route.vehicle} drives twice", r_idx))
        used_vehicles.add(route.vehicle)
        for visit in route.visits:
            if not 0 <= visit.stop < n_stops:
                out.append(Violation(UNKNOWN_STOP, f"stop index {visit.stop}", r_idx))
                continue
            seen[visit.stop] = seen.get(visit.stop, 0) + 1
        if any(not 0 <= v.stop < n_stops for v in route.visits):
            continue
        out.extend(_check_route(problem, r_idx, solution, tol))

    for u in solution.unassigned:
        if not 0 <= u.stop < n_stops:
            out.append(Violation(UNKNOWN_STOP, f"unassigned stop index {u.stop}", stop=u.stop))
            continue
        seen[u.stop] = seen.get(u.stop, 0) + 1
        if u.reason is UnassignedReason.DROPPED and not problem.stops[u.stop].optional:
            out.append(Violation(BAD_DROP, "a mandatory stop cannot be dropped", stop=u.stop))

    for s in range(n_stops):
        count = seen.get(s, 0)
        if count == 0:
            out.append(Violation(MISSING_STOP, "neither served nor reported unassigned", stop=s))
        elif count > 1:
            out.append(Violation(DUPLICATE_STOP, f"appears {count} times", stop=s))
    return out


def _check_route(problem: Problem, r_idx: int, solution: Solution, tol: float) -> list[Violation]:
    route = solution.routes[r_idx]
    veh = problem.vehicles[route.vehicle]
    dist, dur = problem.matrix.distance, problem.matrix.duration
    n_depots = len(problem.depots)
    out: list[Violation] = []

    def bad(kind: str, detail: str, stop: int | None = None) -> None:
        out.append(Violation(kind, detail, r_idx, stop))

    # Loads: deliveries are all on board when the vehicle leaves the depot.
    weight = sum(problem.stops[v.stop].weight for v in route.visits)
    volume = sum(problem.stops[v.stop].volume for v in route.visits)
    if weight > veh.capacity_weight + tol * max(1.0, veh.capacity_weight):
        bad(CAPACITY_WEIGHT, f"load {weight:g} > capacity {veh.capacity_weight:g}")
    if volume > veh.capacity_volume + tol * max(1.0, veh.capacity_volume):
        bad(CAPACITY_VOLUME, f"volume {volume:g} > capacity {veh.capacity_volume:g}")
    if not (_close(weight, route.load_weight, tol) and _close(volume, route.load_volume, tol)):
        bad(
            LOAD_MISMATCH,
            f"reported load {route.load_weight:g}/{route.load_volume:g}, "
            f"recomputed {weight:g}/{volume:g}",
        )

    # Shift: the vehicle's own hours, cut by its depots' opening hours.
    start_depot, end_depot = problem.depots[veh.start_depot], problem.depots[veh.end_depot]
    earliest = max(veh.shift_start, start_depot.open)
    latest = min(veh.shift_end, end_depot.close)
    if route.start < earliest - tol * max(1.0, abs(earliest)):
        bad(SHIFT, f"leaves at {route.start:g} before shift start {earliest:g}")

    t, prev, travelled = route.start, veh.start_depot, 0.0
    for visit in route.visits:
        stop = problem.stops[visit.stop]
        node = n_depots + visit.stop
        travelled += float(dist[prev, node])
        ready = t + float(dur[prev, node])
        eps = tol * max(1.0, abs(ready))
        if visit.arrival < ready - eps:
            bad(TIMING, f"arrives {visit.arrival:g}, cannot before {ready:g}", visit.stop)
        if visit.start < max(ready, visit.arrival) - eps:
            bad(TIMING, f"starts {visit.start:g} before arriving", visit.stop)
        s = visit.start
        if not any(w.open - eps <= s <= w.close + eps for w in stop.windows):
            spans = ", ".join(f"[{w.open:g}, {w.close:g}]" for w in stop.windows)
            bad(TIME_WINDOW, f"service starts {s:g} outside {spans}", visit.stop)
        if visit.departure < s + stop.service_time - eps:
            bad(TIMING, f"leaves {visit.departure:g} before service ends", visit.stop)
        if not _close(visit.distance, travelled, tol):
            bad(DISTANCE_MISMATCH, f"cumulative {visit.distance:g} != {travelled:g}", visit.stop)
        t, prev = max(visit.departure, s + stop.service_time), node

    travelled += float(dist[prev, veh.end_depot])
    back = t + float(dur[prev, veh.end_depot])
    if route.end < back - tol * max(1.0, abs(back)):
        bad(TIMING, f"back at depot {route.end:g}, cannot before {back:g}")
    if max(route.end, back) > latest + tol * max(1.0, abs(latest)):
        bad(SHIFT, f"returns {max(route.end, back):g} after shift end {latest:g}")
    if not _close(route.distance, travelled, tol):
        bad(DISTANCE_MISMATCH, f"route distance {route.distance:g}, recomputed {travelled:g}")
    return out


def with_check(problem: Problem, solution: Solution) -> Solution:
    """The same solution with its `violations` filled in by the checker."""
    return dataclasses.replace(solution, violations=tuple(check(problem, solution)))
