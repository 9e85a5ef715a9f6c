import itertools
from dataclasses import replace
from pathlib import Path

import pytest

from wayhouse.routing.api import InfeasibleSolutionError, solve
from wayhouse.routing.check import check, with_check
from wayhouse.routing.engines import ortools_engine
from wayhouse.routing.engines.ortools_engine import OrToolsParams
from wayhouse.routing.engines.portfolio import pick_best
from wayhouse.routing.io import read_vrplib
from wayhouse.routing.matrix import euclidean_matrix
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
    Violation,
)
from wayhouse.routing.schedule import build_solution

DATA = Path(__file__).resolve().parents[1] / "data" / "vrptw" / "solomon"
ENGINES = ["ortools", "pyvrp"]
C101_25_OPTIMUM = 191.3  # Kohl et al. 1999, distances truncated to one decimal


@pytest.fixture(scope="module")
def c101_25() -> Problem:
    return read_vrplib(DATA / "C101.vrp").restrict(range(25))


def planar(stops: list[Stop], vehicles: list[Vehicle]) -> Problem:
    depot = Point(0, 0)
    points = [depot] + [s.point for s in stops]
    return Problem((Depot("d", depot),), tuple(vehicles), tuple(stops), euclidean_matrix(points))


def tiny() -> Problem:
    """Six stops, two vans of capacity 3, a time window that forces an order."""
    xy = [(10, 0), (10, 5), (0, 10), (-8, 2), (-5, -9), (6, -7)]
    stops = [Stop(str(i), Point(x, y), weight=1, service_time=1) for i, (x, y) in enumerate(xy)]
    stops[2] = replace(stops[2], windows=(TimeWindow(0, 12),))
    return planar(stops, [Vehicle("a", capacity_weight=3), Vehicle("b", capacity_weight=3)])


def brute_force_optimum(p: Problem) -> float:
    best = float("inf")
    n = len(p.stops)
    for order in itertools.permutations(range(n)):
        for cut in range(n + 1):
            sol = build_solution(p, [(0, order[:cut]), (1, order[cut:])])
            if sol.distance < best and not check(p, sol):
                best = sol.distance
    return best


def served(sol: Solution) -> set[int]:
    return {s for r in sol.routes for s in r.stops}


@pytest.mark.parametrize("engine", ENGINES)
def test_engine_solves_c101_first_25(engine: str, c101_25: Problem) -> None:
    sol = solve(c101_25, engine=engine, time_limit=2, objective=Objective.DISTANCE)
    assert sol.feasible and not sol.unassigned
    assert served(sol) == set(range(25))
    assert sol.engine == engine
    assert C101_25_OPTIMUM - 1e-6 <= sol.distance <= C101_25_OPTIMUM * 1.03


@pytest.mark.parametrize("engine", ENGINES)
def test_engine_finds_brute_force_optimum(engine: str) -> None:
    p = tiny()
    optimum = brute_force_optimum(p)
    sol = solve(p, engine=engine, time_limit=1, objective=Objective.DISTANCE)
    assert sol.feasible and not sol.unassigned
    assert sol.distance == pytest.approx(optimum)


def test_ortools_alternative_search_settings() -> None:
    p = tiny()
    optimum = brute_force_optimum(p)
    for params in (
        OrToolsParams(ils=True),
        OrToolsParams(first_solution="SAVINGS", disable=("use_or_opt",)),
    ):
        sol = ortools_engine.solve(p, 1, Objective.DISTANCE, params=params)
        assert sol.feasible and not sol.unassigned
        assert sol.distance == pytest.approx(optimum)


@pytest.mark.parametrize("engine", ENGINES)
def test_unassigned_reasons(engine: str) -> None:
    stops = [
        Stop("ok", Point(3, 0), weight=1),
        Stop("heavy", Point(0, 3), weight=50),
        Stop("too-early", Point(0, -30), windows=(TimeWindow(0, 5),)),
        Stop("not-worth-it", Point(90, 90), optional=True, drop_penalty=10),
        Stop("worth-it", Point(-20, 20), optional=True, drop_penalty=10, priority=9),
    ]
    p = planar(stops, [Vehicle("v", capacity_weight=10, shift_end=1000)])
    sol = solve(p, engine=engine, time_limit=1, objective=Objective.DISTANCE)
    reasons = {p.stops[u.stop].id: u.reason for u in sol.unassigned}
    assert reasons == {
        "heavy": UnassignedReason.EXCEEDS_CAPACITY,
        "too-early": UnassignedReason.UNREACHABLE,
        "not-worth-it": UnassignedReason.DROPPED,
    }
    assert {p.stops[s].id for s in served(sol)} == {"ok", "worth-it"}


@pytest.mark.parametrize("engine", ENGINES)
def test_fleet_too_small_reports_no_route(engine: str) -> None:
    stops = [Stop(str(i), Point(i + 1, 0), weight=4) for i in range(5)]
    p = planar(stops, [Vehicle("v", capacity_weight=10)])
    sol = solve(p, engine=engine, time_limit=1, objective=Objective.DISTANCE)
    assert sol.feasible and len(served(sol)) == 2
    assert [u.reason for u in sol.unassigned] == [UnassignedReason.NO_ROUTE_FOUND] * 3


@pytest.mark.parametrize("engine", ENGINES)
def test_multiple_time_windows_and_shift(engine: str) -> None:
    # The morning window is unreachable before the shift starts; the afternoon one is used.
    stop = Stop(
        "s", Point(10, 0), service_time=5, windows=(TimeWindow(0, 20), TimeWindow(100, 120))
    )
    p = planar([stop], [Vehicle("v", shift_start=50, shift_end=200)])
    sol = solve(p, engine=engine, time_limit=1, objective=Objective.DISTANCE)
    assert sol.feasible and not sol.unassigned
    visit = sol.routes[0].visits[0]
    assert visit.start == pytest.approx(100) and sol.routes[0].start >= 50


@pytest.mark.parametrize("engine", ENGINES)
def test_cost_objective_prefers_cheap_vehicle(engine: str) -> None:
    stops = [Stop(str(i), Point(5 * i, 5), weight=1) for i in range(4)]
    vans = [
        Vehicle("dear", fixed_cost=100, cost_per_km=50),
        Vehicle("cheap", fixed_cost=10, cost_per_km=5),
    ]
    p = planar(stops, vans)
    sol = solve(p, engine=engine, time_limit=1, objective=Objective.COST)
    assert [p.vehicles[r.vehicle].id for r in sol.routes] == ["cheap"]
    assert sol.cost == pytest.approx(10 + 5 * sol.distance / 1000)


@pytest.mark.parametrize("engine", ENGINES)
def test_hierarchical_objective_uses_fewer_vehicles(engine: str) -> None:
    # Two clusters: one van serving both is longer than two vans, but uses fewer vehicles.
    stops = [Stop("e", Point(30, 0)), Stop("w", Point(-30, 0))]
    p = planar(stops, [Vehicle("a"), Vehicle("b")])
    dist = solve(p, engine=engine, time_limit=1, objective=Objective.DISTANCE)
    hier = solve(p, engine=engine, time_limit=1, objective=Objective.VEHICLES_THEN_DISTANCE)
    assert hier.num_vehicles == 1 and hier.distance == pytest.approx(120)
    assert dist.distance == pytest.approx(120)  # a tie here; both are feasible
    p2 = planar(
        [
            Stop("e", Point(30, 0)),
            Stop("n", Point(0, 30), windows=(TimeWindow(0, 31),)),
            Stop("e2", Point(31, 0), windows=(TimeWindow(0, 31),)),
        ],
        [Vehicle("a"), Vehicle("b")],
    )
    sol = solve(p2, engine=engine, time_limit=1, objective=Objective.VEHICLES_THEN_DISTANCE)
    assert sol.num_vehicles == 2 and sol.feasible and not sol.unassigned


def test_portfolio_returns_the_better_engine(c101_25: Problem) -> None:
    sol = solve(c101_25, engine="portfolio", time_limit=3, objective=Objective.DISTANCE)
    assert sol.feasible and not sol.unassigned
    assert sol.engine in ("portfolio:ortools", "portfolio:pyvrp")
    chosen = sol.stats[f"{sol.engine.split(':')[1]}_objective"]
    assert chosen == pytest.approx(sol.distance)
    assert chosen <= min(sol.stats["ortools_objective"], sol.stats["pyvrp_objective"])


def test_pick_best_orders_feasible_complete_then_objective() -> None:
    stops = [
        Stop("a", Point(30, 2)),
        Stop("b", Point(30, -2)),
        Stop("c", Point(-30, 2)),
        Stop("d", Point(-30, -2)),
    ]
    p = planar(stops, [Vehicle("x"), Vehicle("y")])
    two = with_check(p, build_solution(p, [(0, [0, 1]), (1, [2, 3])]))
    zigzag = with_check(p, build_solution(p, [(0, [0, 2, 1, 3])]))  # 1 van, much longer
    part = with_check(
        p,
        build_solution(
            p,
            [(0, [0, 1])],
            [
                Unassigned(2, UnassignedReason.NO_ROUTE_FOUND),
                Unassigned(3, UnassignedReason.NO_ROUTE_FOUND),
            ],
        ),
    )
    assert two.feasible and zigzag.feasible and part.feasible
    assert part.distance < two.distance < zigzag.distance
    broken = replace(part, violations=(Violation("timing", "made up"),))
    candidates = [broken, part, zigzag, two]
    assert pick_best(p, candidates, Objective.DISTANCE) is two
    assert pick_best(p, candidates, Objective.VEHICLES_THEN_DISTANCE) is zigzag
    assert pick_best(p, [broken, part], Objective.COST) is part


def test_api_raises_on_infeasible_and_validates(monkeypatch: pytest.MonkeyPatch) -> None:
    from wayhouse.routing.engines import pyvrp_engine

    p = tiny()
    bad = build_solution(p, [(0, list(range(6)))])  # 6 stops in a van of 3
    monkeypatch.setattr(
        pyvrp_engine, "solve", lambda *a, **k: replace(bad, violations=tuple(check(p, bad)))
    )
    with pytest.raises(InfeasibleSolutionError, match="capacity-weight"):
        solve(p, engine="pyvrp", time_limit=1)
    assert not solve(p, engine="pyvrp", time_limit=1, allow_infeasible=True).feasible
    with pytest.raises(ValueError, match="unknown engine"):
        solve(p, engine="gurobi", time_limit=1)
