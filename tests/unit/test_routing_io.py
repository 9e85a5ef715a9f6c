from pathlib import Path

import pytest

from wayhouse.routing.check import check
from wayhouse.routing.io import Convention, FormatError, read_bks, read_routes, read_vrplib
from wayhouse.routing.schedule import build_solution

DATA = Path(__file__).resolve().parents[1] / "data" / "vrptw"


def test_reads_solomon_c101() -> None:
    p = read_vrplib(DATA / "solomon" / "C101.vrp")
    assert p.name == "C101"
    assert len(p.stops) == 100 and len(p.vehicles) == 25
    assert p.depots[0].point.x == 40 and p.depots[0].point.y == 50
    assert (p.depots[0].open, p.depots[0].close) == (0, 1236)
    first = p.stops[0]  # node 2: 45 68, demand 10, window 912-967, service 90
    assert (first.point.x, first.point.y, first.weight) == (45, 68, 10)
    assert (first.windows[0].open, first.windows[0].close) == (912, 967)
    assert first.service_time == 90
    assert all(v.capacity_weight == 200 and v.shift_end == 1236 for v in p.vehicles)


def test_dimacs_truncates_and_hier_does_not() -> None:
    dimacs = read_vrplib(DATA / "solomon" / "C101.vrp", Convention.DIMACS)
    exact = read_vrplib(DATA / "solomon" / "C101.vrp", "hier")
    d, e = dimacs.matrix.distance, exact.matrix.distance
    assert (d <= e + 1e-12).all() and (e - d < 0.1 + 1e-9).all()
    assert e[0, 1] == pytest.approx((5**2 + 18**2) ** 0.5)
    assert d[0, 1] == 18.6  # floor(10 * 18.681...) / 10
    assert (dimacs.matrix.duration == d).all()


@pytest.mark.parametrize(("name", "cost"), [("C101", 827.3), ("R101", 1637.7)])
def test_bks_routes_reproduce_their_cost(name: str, cost: float) -> None:
    p = read_vrplib(DATA / "solomon" / f"{name}.vrp")
    routes = read_routes(DATA / "solomon" / f"{name}.sol")
    sol = build_solution(p, list(enumerate(routes)))
    assert check(p, sol) == []
    assert round(sol.distance, 1) == cost
    assert sol.num_vehicles == read_bks(DATA / "bks.csv")[name].dimacs_vehicles


def test_reads_sintef_route_lines(tmp_path: Path) -> None:
    f = tmp_path / "x.txt"
    f.write_text("Instance name : x\nSolution\nRoute  1 : 3 1\nRoute  2 : 2\n")
    assert read_routes(f) == [[2, 0], [1]]


def test_bks_table() -> None:
    bks = read_bks(DATA / "bks.csv")
    r101 = bks["R101"]
    assert (r101.vehicles(Convention.DIMACS), r101.distance(Convention.DIMACS)) == (20, 1637.7)
    assert (r101.vehicles(Convention.HIERARCHICAL), r101.sintef_distance) == (19, 1650.8)


def test_bad_instance_is_a_clear_error(tmp_path: Path) -> None:
    f = tmp_path / "bad.vrp"
    f.write_text(
        "NAME : bad\nDIMENSION : 3\nCAPACITY : 10\nNODE_COORD_SECTION\n1 0 0\n2 1 1\n"
        "DEMAND_SECTION\n1 0\n2 1\n3 1\nTIME_WINDOW_SECTION\n1 0 10\n2 0 10\n3 0 10\n"
    )
    with pytest.raises(FormatError, match="NODE_COORD_SECTION"):
        read_vrplib(f)
    f.write_text("NAME : bad\nDIMENSION : 2\n")
    with pytest.raises(FormatError, match="CAPACITY"):
        read_vrplib(f)
