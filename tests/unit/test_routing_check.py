from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wayhouse.routing import check as ck
from wayhouse.routing.io import read_routes, read_vrplib
from wayhouse.routing.matrix import euclidean_matrix
from wayhouse.routing.model import (
    Depot,
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

DATA = Path(__file__).resolve().parents[1] / "data" / "vrptw" / "solomon"


@pytest.fixture(scope="module")
def c101() -> tuple[Problem, Solution]:
    p = read_vrplib(DATA / "C101.vrp")
    sol = build_solution(p, list(enumerate(read_routes(DATA / "C101.sol"))))
    assert ck.check(p, sol) == []
    return p, sol


def kinds(p: Problem, sol: Solution) -> set[str]:
    return {v.kind for v in ck.check(p, sol)}


def test_capacity(c101: tuple[Problem, Solution]) -> None:
    p, sol = c101
    small = replace(p, vehicles=tuple(replace(v, capacity_weight=150) for v in p.vehicles))
    assert ck.CAPACITY_WEIGHT in kinds(small, sol)
    bulky = replace(
        p,
        stops=tuple(replace(s, volume=1.0) for s in p.stops),
        vehicles=tuple(replace(v, capacity_volume=5) for v in p.vehicles),
    )
    assert ck.CAPACITY_VOLUME in kinds(bulky, sol)


def test_time_window(c101: tuple[Problem, Solution]) -> None:
    p, sol = c101
    visit = sol.routes[0].visits[3]
    stops = list(p.stops)
    stops[visit.stop] = replace(stops[visit.stop], windows=(TimeWindow(0, visit.start - 1),))
    assert kinds(replace(p, stops=tuple(stops)), sol) == {ck.TIME_WINDOW}


def test_shift(c101: tuple[Problem, Solution]) -> None:
    p, sol = c101
    last_back = max(r.end for r in sol.routes)
    short = replace(p, vehicles=tuple(replace(v, shift_end=last_back - 1) for v in p.vehicles))
    assert ck.SHIFT in kinds(short, sol)
    late = replace(
        p, vehicles=tuple(replace(v, shift_start=sol.routes[0].start + 1) for v in p.vehicles)
    )
    assert ck.SHIFT in kinds(late, sol)


def test_timing_and_distance(c101: tuple[Problem, Solution]) -> None:
    p, sol = c101
    route = sol.routes[1]
    visits = list(route.visits)
    visits[2] = replace(visits[2], arrival=visits[2].arrival - 5, start=visits[2].start - 5)
    bad = replace(
        sol,
        routes=(replace(route, visits=tuple(visits)), *sol.routes[2:]),
        unassigned=tuple(
            Unassigned(s, UnassignedReason.NO_ROUTE_FOUND) for s in sol.routes[0].stops
        ),
    )
    assert ck.TIMING in kinds(p, bad)
    longer = replace(
        sol, routes=(replace(sol.routes[0], distance=sol.routes[0].distance + 1), *sol.routes[1:])
    )
    assert kinds(p, longer) == {ck.DISTANCE_MISMATCH}


def test_every_stop_once(c101: tuple[Problem, Solution]) -> None:
    p, sol = c101
    first, rest = sol.routes[0], sol.routes[1:]
    missing = replace(sol, routes=rest)
    assert kinds(p, missing) == {ck.MISSING_STOP}
    reported = replace(
        sol,
        routes=rest,
        unassigned=tuple(Unassigned(s, UnassignedReason.NO_ROUTE_FOUND) for s in first.stops),
    )
    assert kinds(p, reported) == set()
    dropped = replace(
        reported, unassigned=tuple(Unassigned(s, UnassignedReason.DROPPED) for s in first.stops)
    )
    assert kinds(p, dropped) == {ck.BAD_DROP}
    twice = replace(sol, unassigned=(Unassigned(first.stops[0], UnassignedReason.UNREACHABLE),))
    assert kinds(p, twice) == {ck.DUPLICATE_STOP}
    reused = replace(sol, routes=(first, replace(sol.routes[1], vehicle=first.vehicle), *rest[1:]))
    assert kinds(p, reused) == {ck.VEHICLE_REUSED}
    ghost = replace(sol, unassigned=(Unassigned(999, UnassignedReason.DROPPED),))
    assert kinds(p, ghost) == {ck.UNKNOWN_STOP}


@st.composite
def plans(draw: st.DrawFn) -> tuple[Problem, list[tuple[int, list[int]]], list[int]]:
    """A small random problem and a random (often infeasible) assignment of its stops."""
    n = draw(st.integers(1, 8))
    xy = draw(
        st.lists(st.tuples(st.integers(0, 40), st.integers(0, 40)), min_size=n + 1, max_size=n + 1)
    )
    points = [Point(x, y) for x, y in xy]
    stops = []
    for i in range(n):
        open_ = draw(st.integers(0, 150))
        width = draw(st.integers(0, 200))
        stops.append(
            Stop(
                str(i),
                points[i + 1],
                weight=draw(st.integers(0, 30)),
                service_time=draw(st.integers(0, 15)),
                windows=(TimeWindow(open_, open_ + width),),
            )
        )
    k = draw(st.integers(1, 3))
    vehicles = tuple(
        Vehicle(
            f"v{j}", capacity_weight=draw(st.integers(10, 80)), shift_end=draw(st.integers(50, 500))
        )
        for j in range(k)
    )
    problem = Problem(
        (Depot("d", points[0]),),
        vehicles,
        tuple(stops),
        euclidean_matrix(points, decimals=draw(st.sampled_from([None, 1]))),
    )
    owner = draw(st.lists(st.integers(-1, k - 1), min_size=n, max_size=n))
    order = draw(st.permutations(range(n)))
    routes = [(j, [s for s in order if owner[s] == j]) for j in range(k)]
    return problem, routes, [s for s in range(n) if owner[s] == -1]


@settings(max_examples=200, deadline=None)
@given(plans())
def test_checker_agrees_with_schedule(plan: tuple[Problem, list, list[int]]) -> None:
    """Two independent implementations: the scheduler's lateness/overload/overtime must be
    exactly what the checker flags, and nothing else may ever be flagged."""
    problem, routes, left = plan
    sol = build_solution(
        problem, routes, [Unassigned(s, UnassignedReason.NO_ROUTE_FOUND) for s in left]
    )
    found = kinds(problem, sol)
    late = any(v.lateness > 1e-9 for r in sol.routes for v in r.visits)
    over = any(r.load_weight > problem.vehicles[r.vehicle].capacity_weight for r in sol.routes)
    overtime = any(r.end > problem.vehicles[r.vehicle].shift_end + 1e-6 for r in sol.routes)
    assert (ck.TIME_WINDOW in found) == late
    assert (ck.CAPACITY_WEIGHT in found) == over
    assert (ck.SHIFT in found) == overtime
    assert found <= {ck.TIME_WINDOW, ck.CAPACITY_WEIGHT, ck.SHIFT}
