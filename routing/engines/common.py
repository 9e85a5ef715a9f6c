"""What both engines share: screening, integer scaling, repair and the final check.

Integer scaling is conservative, so a schedule feasible in the engine's integers is feasible in
exact arithmetic: travel and service times round up, windows shrink inwards, demands round up
and capacities down. Distances round to nearest (they only affect the objective).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from ..check import with_check
from ..model import Objective, Problem, Solution, Unassigned, UnassignedReason
from ..schedule import build_route, build_solution

IntArray = npt.NDArray[np.int64]
_MAX_ENGINE_VALUE = 2e8  # keeps per-arc integers well inside both engines' comfort zones


def decimal_scale(values: npt.ArrayLike, max_scale: int = 1000) -> int:
    """Smallest power of ten (<= max_scale) that makes every finite value an integer; else the
    largest one that keeps values below _MAX_ENGINE_VALUE."""
    arr = np.asarray(values, dtype=np.float64)
    arr = arr[np.isfinite(arr)]
    if arr.size == 0:
        return 1
    top = float(np.abs(arr).max())
    scale = 1
    while scale <= max_scale:
        scaled = arr * scale
        if np.all(np.abs(scaled - np.round(scaled)) <= 1e-6 + 1e-12 * np.abs(scaled)):
            return scale
        if top * scale * 10 > _MAX_ENGINE_VALUE:
            return scale
        scale *= 10
    return max_scale


def _up(x: float, s: int) -> int:
    return math.ceil(x * s - 1e-6)


def _down(x: float, s: int) -> int:
    return math.floor(x * s + 1e-6)


def screen(problem: Problem) -> tuple[list[int], list[Unassigned]]:
    """Stops some vehicle could serve alone, and the rest with the reason they cannot."""
    servable: list[int] = []
    out: list[Unassigned] = []
    dur = problem.matrix.duration
    for s, stop in enumerate(problem.stops):
        node = problem.stop_node(s)
        fits = [
            i
            for i, v in enumerate(problem.vehicles)
            if stop.weight <= v.capacity_weight and stop.volume <= v.capacity_volume
        ]
        if not fits:
            out.append(
                Unassigned(
                    s,
                    UnassignedReason.EXCEEDS_CAPACITY,
                    f"weight {stop.weight:g}, volume {stop.volume:g}",
                )
            )
            continue
        reachable = False
        for i in fits:
            v = problem.vehicles[i]
            start, end = problem.shift(i)
            arrival = start + dur[v.start_depot, node]
            for w in stop.windows:
                begin = max(arrival, w.open)
                if begin <= w.close and begin + stop.service_time + dur[node, v.end_depot] <= end:
                    reachable = True
                    break
            if reachable:
                break
        if reachable:
            servable.append(s)
        else:
            out.append(
                Unassigned(
                    s,
                    UnassignedReason.UNREACHABLE,
                    "no vehicle reaches a window and returns within its shift",
                )
            )
    return servable, out


@dataclass(frozen=True)
class IntData:
    """The problem restricted to servable stops, in engine integers.

    Engine node k < n_depots is depot k; node n_depots + j is stop `stops[j]`.
    """

    n_depots: int
    stops: list[int]
    dist: IntArray
    dur: IntArray
    service: IntArray
    windows: list[list[tuple[int, int]]]
    weight: IntArray
    volume: IntArray
    cap_weight: list[int]
    cap_volume: list[int]
    shifts: list[tuple[int, int]]
    horizon: int
    arc_weight: list[int]  # per vehicle, multiplies dist in the objective
    fixed_cost: list[int]
    penalty: list[int]  # per stop node (0 for depots); mandatory stops get `mandatory_penalty`
    optional: list[bool]
    mandatory_penalty: int
    time_scale: int
    dist_scale: int

    @property
    def n_nodes(self) -> int:
        return self.n_depots + len(self.stops)


def build_int_data(problem: Problem, stops: Sequence[int], objective: Objective) -> IntData:
    n_dep = len(problem.depots)
    nodes = list(range(n_dep)) + [problem.stop_node(s) for s in stops]
    sub = np.ix_(nodes, nodes)
    dist_f = problem.matrix.distance[sub]
    dur_f = problem.matrix.duration[sub]
    sel = [problem.stops[s] for s in stops]

    time_values = [
        dur_f.ravel(),
        [st.service_time for st in sel],
        [x for st in sel for w in st.windows for x in (w.open, w.close)],
        [x for i in range(len(problem.vehicles)) for x in problem.shift(i)],
    ]
    ts = decimal_scale(np.concatenate([np.asarray(v, dtype=np.float64) for v in time_values]))
    ds = decimal_scale(dist_f)
    dist = np.rint(dist_f * ds).astype(np.int64)
    dur = np.ceil(dur_f * ts - 1e-6).astype(np.int64)
    service = np.array([0] * n_dep + [_up(st.service_time, ts) for st in sel], dtype=np.int64)

    finite = [x for v in time_values[2:] for x in v if math.isfinite(x)]
    latest_finite = max(finite, default=0.0)
    # A horizon no schedule can exceed when nothing closes: all service plus the longest arcs.
    horizon = max(
        _down(latest_finite, ts),
        int(service.sum() + dur.max(axis=1).sum() + _up(latest_finite, ts)),
    )

    def clip(x: float, up: bool) -> int:
        if not math.isfinite(x):
            return horizon if x > 0 else 0
        return min(max(_up(x, ts) if up else _down(x, ts), 0), horizon)

    windows = [[(0, horizon)] for _ in range(n_dep)]
    for st in sel:
        ws = [(clip(w.open, True), clip(w.close, False)) for w in st.windows]
        windows.append([w for w in ws if w[0] <= w[1]] or [(horizon, horizon)])
    shifts = [
        (clip(s, True), clip(e, False))
        for s, e in (problem.shift(i) for i in range(len(problem.vehicles)))
    ]

    demand_w = [st.weight for st in sel]
    demand_v = [st.volume for st in sel]
    ws_ = decimal_scale(demand_w, 100)
    vs_ = decimal_scale(demand_v, 100)
    weight = np.array([0] * n_dep + [_up(x, ws_) for x in demand_w], dtype=np.int64)
    volume = np.array([0] * n_dep + [_up(x, vs_) for x in demand_v], dtype=np.int64)

    def cap(x: float, s: int, total: int) -> int:
        return total if not math.isfinite(x) else min(_down(x, s), total)

    cap_w = [cap(v.capacity_weight, ws_, int(weight.sum())) for v in problem.vehicles]
    cap_v = [cap(v.capacity_volume, vs_, int(volume.sum())) for v in problem.vehicles]

    # Objective in integers. `bound` exceeds any solution's total arc cost.
    bound = int(dist.max(axis=0).sum() + dist.max(axis=1).sum()) + 1
    n_veh = len(problem.vehicles)
    if objective is Objective.COST:
        c_ref = max((v.cost_per_km for v in problem.vehicles), default=0.0) or 1.0
        arc_weight = [max(1, round(1000 * v.cost_per_km / c_ref)) for v in problem.vehicles]
        factor = 1e6 * ds / c_ref  # engine units per unit of money
        fixed = [round(v.fixed_cost * factor) for v in problem.vehicles]
        pen = [round(st.effective_penalty * factor) for st in sel]
        bound *= max(arc_weight)
    else:
        arc_weight = [1] * n_veh
        factor = float(ds)
        pen = [round(st.effective_penalty * factor) for st in sel]
        fixed = [bound if objective is Objective.VEHICLES_THEN_DISTANCE else 0] * n_veh
    mandatory = min(2 * (bound + sum(fixed) + sum(pen)) + 1, 2**55 // max(1, len(sel)))
    return IntData(
        n_depots=n_dep,
        stops=list(stops),
        dist=dist,
        dur=dur,
        service=service,
        windows=windows,
        weight=weight,
        volume=volume,
        cap_weight=cap_w,
        cap_volume=cap_v,
        shifts=shifts,
        horizon=horizon,
        arc_weight=arc_weight,
        fixed_cost=fixed,
        penalty=[0] * n_dep + pen,
        optional=[False] * n_dep + [st.optional for st in sel],
        mandatory_penalty=mandatory,
        time_scale=ts,
        dist_scale=ds,
    )


def _excess(problem: Problem, vehicle: int, seq: Sequence[int]) -> float:
    """How far a route is from feasible: lateness, overtime and overload, summed."""
    if not seq:
        return 0.0
    route = build_route(problem, vehicle, seq)
    v = problem.vehicles[vehicle]
    _, shift_end = problem.shift(vehicle)
    late = sum(x.lateness for x in route.visits)
    return (
        late
        + max(0.0, route.end - shift_end)
        + max(0.0, route.load_weight - v.capacity_weight)
        + max(0.0, route.load_volume - v.capacity_volume)
    )


def repair(
    problem: Problem, routes: list[tuple[int, list[int]]]
) -> tuple[list[tuple[int, list[int]]], list[int]]:
    """Remove stops from infeasible routes until they are feasible; returns removed stops.

    Engines return feasible routes in normal operation; this guards against an engine that
    runs out of time on an over-constrained problem (PyVRP then returns time warp).
    """
    removed: list[int] = []
    fixed: list[tuple[int, list[int]]] = []
    for vehicle, seq in routes:
        seq = list(seq)
        while seq and _excess(problem, vehicle, seq) > 1e-9:
            best = min(
                range(len(seq)), key=lambda i: _excess(problem, vehicle, seq[:i] + seq[i + 1 :])
            )
            removed.append(seq.pop(best))
        fixed.append((vehicle, seq))
    return fixed, removed


def reinsert(
    problem: Problem, routes: list[tuple[int, list[int]]], stops: Sequence[int]
) -> tuple[list[tuple[int, list[int]]], list[int]]:
    """Put stops back where they fit at the least added distance, idle vehicles included
    (an engine stopped by its deadline may leave a stop out that an unused truck could take).
    Returns the routes and the stops that still fit nowhere."""
    by_vehicle = {v: list(seq) for v, seq in routes}
    for k in range(len(problem.vehicles)):
        by_vehicle.setdefault(k, [])
    left = []
    order = sorted(stops, key=lambda s: (problem.stops[s].optional, -problem.stops[s].priority))
    for stop in order:
        best: tuple[float, int, int] | None = None
        for vehicle, seq in by_vehicle.items():
            base = build_route(problem, vehicle, seq).distance if seq else 0.0
            for i in range(len(seq) + 1):
                trial = [*seq[:i], stop, *seq[i:]]
                if _excess(problem, vehicle, trial) > 1e-9:
                    continue
                added = build_route(problem, vehicle, trial).distance - base
                if best is None or added < best[0]:
                    best = (added, vehicle, i)
        if best is None:
            left.append(stop)
        else:
            by_vehicle[best[1]].insert(best[2], stop)
    return [(v, seq) for v, seq in by_vehicle.items() if seq], left


def finish(
    problem: Problem,
    routes: list[tuple[int, list[int]]],
    unserved: Sequence[int],
    screened: Sequence[Unassigned],
    engine: str,
    started: float,
    cpu_started: float,
    stats: dict[str, float] | None = None,
) -> Solution:
    """Repair, schedule, label unassigned stops, and run the independent checker."""
    routes, removed = repair(problem, routes)
    mandatory = [s for s in [*unserved, *removed] if not problem.stops[s].optional]
    if mandatory:
        routes, still = reinsert(problem, routes, mandatory)
        removed = [s for s in removed if s in still or problem.stops[s].optional]
        unserved = [s for s in unserved if s in still or problem.stops[s].optional]
    unassigned = list(screened)
    for s in [*unserved, *removed]:
        if problem.stops[s].optional:
            unassigned.append(
                Unassigned(
                    s, UnassignedReason.DROPPED, "serving it costs more than its drop penalty"
                )
            )
        else:
            unassigned.append(
                Unassigned(
                    s,
                    UnassignedReason.NO_ROUTE_FOUND,
                    "no feasible position found within the time limit",
                )
            )
    unassigned.sort(key=lambda u: u.stop)
    solution = build_solution(problem, routes, unassigned, engine)
    all_stats = {"cpu_s": time.process_time() - cpu_started, "repaired": float(len(removed))}
    all_stats.update(stats or {})
    solution = replace(solution, runtime_s=time.monotonic() - started, stats=all_stats)
    return with_check(problem, solution)
