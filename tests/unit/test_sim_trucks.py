"""Simulated trucks: arrival times, dwelling for the service time, GPS fixes and noise."""

from __future__ import annotations

import dataclasses
import itertools

import pytest

from wayhouse.simulators.trucks import Stop, TruckSim, TruckSpec, haversine_m

T0 = 1_700_000_000.0
DEPOT = Stop("DEP", "depot", 45.70, 4.90, 0.0)
A = Stop("A", "dealer A", 45.75, 4.90, 600.0)  # ~5.6 km north
B = Stop("B", "dealer B", 45.75, 4.97, 1200.0)  # ~5.4 km east of A


def _truck(noise_m: float = 0.0, customers: list[Stop] | None = None, seed: int = 0) -> TruckSim:
    spec = TruckSpec(
        "truck-01",
        "truck-01.gps",
        "WH-T01",
        speed_mps=10.0,
        gps_interval_s=5.0,
        noise_m=noise_m,
        turnaround_s=900.0,
    )
    return TruckSim(spec, DEPOT, [A, B], start_time=T0, seed=seed, customers=customers)


def test_arrivals_follow_distance_over_speed_plus_service_times() -> None:
    truck = _truck()
    visits = truck.visits_until(T0 + 86_400)
    d1 = haversine_m(DEPOT.lat, DEPOT.lon, A.lat, A.lon) / 10.0
    d2 = haversine_m(A.lat, A.lon, B.lat, B.lon) / 10.0
    d3 = haversine_m(B.lat, B.lon, DEPOT.lat, DEPOT.lon) / 10.0
    assert [v.stop.stop_id for v in visits] == ["A", "B", "DEP"]
    assert visits[0].arrive == pytest.approx(T0 + d1)
    assert visits[0].depart == pytest.approx(T0 + d1 + 600)
    assert visits[1].arrive == pytest.approx(T0 + d1 + 600 + d2)
    assert visits[2].arrive == pytest.approx(T0 + d1 + 600 + d2 + 1200 + d3)
    assert visits[2].depart - visits[2].arrive == pytest.approx(900.0)


def test_the_truck_stands_still_at_a_stop_for_its_service_time() -> None:
    truck = _truck()
    a = truck.visits_until(T0 + 86_400)[0]
    for t in (a.arrive, (a.arrive + a.depart) / 2, a.depart - 1):
        s = truck.state(t)
        assert (s.phase, s.stop_id, s.speed, s.lat, s.lon) == ("at_stop", "A", 0.0, A.lat, A.lon)
    moving = truck.state(a.depart + 60)
    assert moving.phase == "driving" and moving.stop_id == "B" and moving.speed == 10.0
    assert moving.heading == pytest.approx(90.0, abs=1.0)  # heading east to B


def test_position_moves_along_the_straight_line_between_stops() -> None:
    truck = _truck()
    a = truck.visits_until(T0 + 86_400)[0]
    mid = truck.state(T0 + (a.arrive - T0) / 2)
    assert mid.lat == pytest.approx((DEPOT.lat + A.lat) / 2)
    assert mid.heading == pytest.approx(0.0, abs=1.0)


def test_fixes_come_every_interval_and_noise_stays_near_the_truth() -> None:
    truck = _truck(noise_m=5.0)
    fixes = truck.fixes_until(T0 + 3600)
    assert len(fixes) == 721
    assert all(b.t - a.t == pytest.approx(5.0) for a, b in itertools.pairwise(fixes))
    errors = [haversine_m(f.lat, f.lon, truck.state(f.t).lat, truck.state(f.t).lon) for f in fixes]
    assert max(errors) < 5.0 * 6
    assert sum(errors) / len(errors) == pytest.approx(5.0 * 1.25, rel=0.25)  # Rayleigh mean
    assert fixes[0].acc == 10.0 and fixes[0].sensor_id == "truck-01.gps"


def test_a_truck_with_customers_keeps_driving_new_routes() -> None:
    truck = _truck(customers=[A, B, Stop("C", "dealer C", 45.68, 4.95, 300.0)])
    routes = {v.route_no for v in truck.visits_until(T0 + 3 * 86_400)}
    assert len(routes) > 3


def test_a_truck_without_customers_parks_at_the_depot() -> None:
    truck = _truck()
    s = truck.state(T0 + 10 * 86_400)
    assert (s.phase, s.stop_id, s.speed) == ("at_stop", "DEP", 0.0)


def test_the_same_seed_gives_the_same_fixes() -> None:
    customers = [A, B]
    a = _truck(noise_m=4.0, customers=customers, seed=3).fixes_until(T0 + 20_000)
    b = _truck(noise_m=4.0, customers=customers, seed=3)
    sliced = []
    for k in range(1, 41):
        sliced += b.fixes_until(T0 + 500 * k)
    assert a == sliced
    assert a != _truck(noise_m=4.0, customers=customers, seed=4).fixes_until(T0 + 20_000)


CUSTOMERS = [A, B, Stop("C", "dealer C", 45.68, 4.95, 300.0)]


def _jittered(jitter: float, seed: int = 0) -> TruckSim:
    base = _truck(customers=CUSTOMERS, seed=seed)
    spec = dataclasses.replace(base.spec, leg_speed_jitter=jitter)
    return TruckSim(spec, DEPOT, [A, B], start_time=T0, seed=seed, customers=CUSTOMERS)


def test_leg_speed_jitter_gives_each_leg_its_own_speed_within_bounds() -> None:
    truck = _jittered(0.15)
    visits = truck.visits_until(T0 + 86_400)
    speeds = []
    for prev, v in itertools.pairwise(visits):
        metres = haversine_m(prev.stop.lat, prev.stop.lon, v.stop.lat, v.stop.lon)
        if metres == 0.0:
            continue  # the same stop twice in a row: no drive to time
        speed = metres / (v.arrive - prev.depart)
        speeds.append(speed)
        mid = truck.state((prev.depart + v.arrive) / 2)
        assert mid.phase == "driving" and mid.speed == pytest.approx(speed)
    assert len(speeds) > 20
    assert all(8.5 - 1e-9 <= s <= 11.5 + 1e-9 for s in speeds)
    assert max(speeds) - min(speeds) > 1.5  # they do vary, by up to 2 x 15 %


def test_jitter_changes_only_the_speeds() -> None:
    """Routes and noise come from their own streams: the same stops in the same order."""
    plain, jittered = _jittered(0.0), _jittered(0.15)
    stops = [v.stop.stop_id for v in plain.visits_until(T0 + 86_400)]
    jstops = [v.stop.stop_id for v in jittered.visits_until(T0 + 86_400)]
    n = min(len(stops), len(jstops))
    assert n > 10 and stops[:n] == jstops[:n]
    assert plain.visits[0].arrive != jittered.visits[0].arrive
    with pytest.raises(ValueError):
        _jittered(1.0)


def test_zero_jitter_is_the_truck_without_it() -> None:
    plain = _truck(customers=CUSTOMERS)
    assert _jittered(0.0).fixes_until(T0 + 20_000) == plain.fixes_until(T0 + 20_000)


def test_a_dispatched_route_replaces_what_comes_next_and_keeps_the_past() -> None:
    from wayhouse.simulators.trucks import Stop, TruckSim, TruckSpec

    depot = Stop("WH", "depot", 45.76, 4.95)
    a, b, c = (
        Stop(n, n, 45.76 + d, 4.95 + d, service_s=300.0)
        for n, d in (("A", 0.02), ("B", 0.04), ("C", -0.03))
    )
    truck = TruckSim(TruckSpec("t1", "t1.gps", "P1"), depot, [a, b], start_time=0.0)
    mid = truck.visits_until(10_000)[0].arrive / 2  # on the way to A
    before = truck.state(mid - 1)
    truck.follow([c], mid)
    assert truck.state(mid - 1) == before  # the past is unchanged
    visited = [v.stop.stop_id for v in truck.visits_until(20_000)]
    assert visited[:2] == ["C", "WH"]  # straight to C, then home; A and B are dropped
    arrive_c = truck.visits[0].arrive
    assert arrive_c > mid and truck.state(arrive_c + 1).phase == "at_stop"
