"""ETAs: the routing model's own times, pace calibration, windows, and late risk."""

from __future__ import annotations

import json
import math
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wayhouse.platform.tracking.eta import Eta, Pace, PaceConfig, TravelModel, late_risk
from wayhouse.platform.tracking.events import EventKind
from wayhouse.platform.tracking.route import PlannedRoute, Waypoint
from wayhouse.platform.tracking.synthetic import drive
from wayhouse.platform.tracking.tracker import Fix, RouteTracker, StepResult, TrackingConfig
from wayhouse.routing.matrix import MatrixBuilder, SpeedProfile
from wayhouse.routing.model import Point, TimeWindow

T0 = 1_700_000_000.0  # 2023-11-14 22:13:20 UTC
DEPOT = Waypoint("WH", 4.90, 45.70, depot=True)
A = Waypoint("A", 4.90, 45.80, service_s=600.0)  # ~11 km north
B = Waypoint("B", 4.97, 45.75, service_s=1200.0)
ROUTE = PlannedRoute("r1", "truck-01", T0, (DEPOT, A, B, DEPOT))
RUSH = SpeedProfile(((0.0, 60.0), (7 * 3600.0, 20.0), (9 * 3600.0, 60.0)))


def _run(tracker: RouteTracker, fixes: tuple[Fix, ...] | list[Fix]) -> list[tuple[Fix, StepResult]]:
    state = tracker.initial_state()
    out = []
    for fix in fixes:
        res = tracker.step(state, fix)
        state = res.state
        out.append((fix, res))
    return out


def _planned(builder: MatrixBuilder, route: PlannedRoute, depart: float) -> dict[int, float]:
    """Arrivals by the routing model itself: its matrix, service times, no waiting."""
    pts = [Point(w.lon, w.lat) for w in route.waypoints[:-1]]
    dur = builder.build(pts, depart=depart).duration
    arrivals, t = {}, depart
    for i in range(1, len(route.waypoints)):
        a, b = i - 1, i % (len(route.waypoints) - 1)
        t += dur[a, b]
        arrivals[i] = t
        t += route.waypoints[i].service_s
    return arrivals


@pytest.mark.parametrize("calibrate", [True, False])
def test_eta_equals_the_model_time_for_a_truck_following_the_model(calibrate: bool) -> None:
    builder = MatrixBuilder(road_factor=1.3, profile=SpeedProfile.constant(45.0))
    model = TravelModel.from_builder(builder)
    tracker = RouteTracker(ROUTE, model, TrackingConfig(calibrate=calibrate))
    sim = drive(ROUTE, model, start=T0 - 600.0)
    planned = _planned(builder, ROUTE, T0)
    assert sim.arrivals == pytest.approx(planned, abs=1e-3)
    checked = 0
    for fix, res in _run(tracker, sim.fixes):
        for e in res.etas:
            assert e.arrival == pytest.approx(planned[e.index], abs=0.01), (fix.t - T0, e)
            checked += 1
        assert res.pace == pytest.approx(1.0, abs=1e-6)
    assert checked > 1000


def test_eta_follows_the_time_of_day_speed_profile() -> None:
    # 06:55 local (UTC+8): the first leg runs into the 07:00 rush at 20 km/h.
    offset = 8 * 3600.0
    depart = T0 - (T0 + offset) % 86_400 + 6 * 3600 + 55 * 60
    route = PlannedRoute("r-rush", "truck-01", depart, ROUTE.waypoints)
    builder = MatrixBuilder(road_factor=1.3, profile=RUSH)
    model = TravelModel.from_builder(builder, clock_offset_s=offset)
    tracker = RouteTracker(route, model, TrackingConfig(calibrate=False))
    first = tracker.step(tracker.initial_state(), Fix(depart - 60.0, DEPOT.lat, DEPOT.lon, 0.0))
    dur = builder.build([Point(DEPOT.lon, DEPOT.lat), Point(A.lon, A.lat)], depart=depart + offset)
    assert first.etas[0].arrival == pytest.approx(depart + dur.duration[0, 1], abs=1e-6)
    flat = MatrixBuilder(road_factor=1.3, profile=SpeedProfile.constant(60.0))
    assert (
        dur.duration[0, 1]
        > 1.5 * flat.build([Point(DEPOT.lon, DEPOT.lat), Point(A.lon, A.lat)]).duration[0, 1]
    )
    # A truck true to the profile gets exact ETAs the whole way.
    sim = drive(route, model, start=depart - 120.0)
    for fix, res in _run(tracker, sim.fixes):
        for e in res.etas:
            assert e.arrival == pytest.approx(sim.arrivals[e.index], abs=0.05), fix.t - depart


@settings(max_examples=12, deadline=None)
@given(st.floats(0.7, 1.6))
def test_eta_converges_as_the_truck_approaches(pace: float) -> None:
    tracker = RouteTracker(ROUTE)
    sim = drive(ROUTE, tracker.model, pace=pace)
    errors = [
        abs(e.arrival - sim.arrivals[1])
        for fix, res in _run(tracker, sim.fixes)
        for e in res.etas
        if e.index == 1 and fix.t < sim.arrivals[1]
    ]
    assert len(errors) > 100
    assert all(b <= a + 1e-6 for a, b in pairwise(errors))
    assert errors[-1] < 5.0
    leg = sim.arrivals[1] - T0
    half = errors[len(errors) // 2]
    assert half <= abs(1 - 1 / pace) * leg / 2 + 1e-6  # better than the model alone


def test_calibrated_pace_carries_to_later_stops() -> None:
    tracker = RouteTracker(ROUTE)
    sim = drive(ROUTE, tracker.model, pace=1.3)
    for fix, res in _run(tracker, sim.fixes):
        if sim.departures[1] < fix.t < sim.arrivals[2]:
            eta_b = next((e for e in res.etas if e.index == 2), None)
            if eta_b is None:  # inside B's fence already: arriving
                continue
            # Learned on the first leg (shrunk a little towards 1): within 6 % of the second
            # leg's duration, where the model alone is 23 % short.
            assert abs(eta_b.arrival - sim.arrivals[2]) < 0.06 * (
                sim.arrivals[2] - sim.departures[1]
            )
            assert 1.2 < res.pace < 1.31


def test_pace_is_shrunk_towards_the_prior_and_clipped() -> None:
    cfg = PaceConfig(prior_weight_s=300.0, memory=0.5, low=0.5, high=2.0)
    assert Pace().ratio(cfg) == 1.0
    assert Pace().ratio(cfg, 300.0, 150.0) == pytest.approx(600 / 450)
    assert Pace().ratio(cfg, 10_000.0, 10.0) == 2.0
    assert Pace(prior=0.8).ratio(cfg) == pytest.approx(0.8)
    folded = Pace(100.0, 100.0).fold(300.0, 150.0, cfg)
    assert (folded.actual_s, folded.model_s) == (350.0, 200.0)


def test_the_leg_being_driven_leans_on_its_own_pace() -> None:
    cfg = PaceConfig(prior_weight_s=300.0, leg_weight_s=120.0)
    trip = Pace(3000.0, 3000.0)  # an hour at exactly the model's pace so far
    assert trip.leg_ratio(cfg, 0.0, 0.0) == pytest.approx(1.0)
    # Ten minutes on this leg at 1.5x: the trip pace barely moves, the leg pace follows.
    trip_now = trip.ratio(cfg, 900.0, 600.0)
    leg_now = trip.leg_ratio(cfg, 900.0, 600.0)
    assert trip_now == pytest.approx(4200 / 3900)
    assert leg_now == pytest.approx((900 + 120 * trip_now) / 720)
    assert trip_now < 1.1 < 1.4 < leg_now < 1.5


def test_waiting_for_a_window_and_service_times_are_in_the_etas() -> None:
    model = TravelModel()
    to_a = model.drive_s(model.road_m(DEPOT.lonlat, A.lonlat), T0)
    opens = T0 + to_a + 1800.0  # the truck will be 30 min early at A
    a = Waypoint("A", A.lon, A.lat, 600.0, windows=(TimeWindow(opens, opens + 3600.0),))
    route = PlannedRoute("r-w", "truck-01", T0, (DEPOT, a, B))
    tracker = RouteTracker(route, model, TrackingConfig(calibrate=False))
    res = tracker.step(tracker.initial_state(), Fix(T0 - 5.0, DEPOT.lat, DEPOT.lon, 0.0))
    eta_a, eta_b = res.etas
    assert eta_a.arrival == pytest.approx(T0 + to_a)
    assert eta_a.start == pytest.approx(opens) and eta_a.departure == pytest.approx(opens + 600)
    a_to_b = model.drive_s(model.road_m(A.lonlat, B.lonlat), opens + 600.0)
    assert eta_b.arrival == pytest.approx(opens + 600.0 + a_to_b)
    assert not eta_a.at_risk and not eta_b.at_risk


def _stuck_between(t0: float, n: int) -> list[Fix]:
    """A truck standing still 3 km short of A (calibration off: the ETA is t + constant)."""
    lat = DEPOT.lat + 0.6 * (A.lat - DEPOT.lat)
    return [Fix(t0 + 5.0 * i, lat, DEPOT.lon, 0.0) for i in range(n)]


def test_late_risk_is_raised_exactly_when_the_eta_passes_the_window_end() -> None:
    model = TravelModel()
    fixes = _stuck_between(T0 + 600.0, 40)
    k = 17
    # The ETA at fix k, computed as the tracker does: that fix's time plus the model time.
    eta_k = fixes[k].t + model.drive_s(
        model.road_m((fixes[k].lon, fixes[k].lat), A.lonlat), fixes[k].t
    )
    a = Waypoint("A", A.lon, A.lat, 600.0, windows=(TimeWindow(T0, eta_k),))
    route = PlannedRoute("r-late", "truck-01", T0, (DEPOT, a, B))
    tracker = RouteTracker(route, model, TrackingConfig(calibrate=False))
    raised = []
    for i, (_, res) in enumerate(_run(tracker, fixes)):
        eta_a = next(e for e in res.etas if e.index == 1)
        assert eta_a.at_risk == (eta_a.arrival > eta_k)
        assert (1 in res.state.at_risk) == (i > k)
        raised += [(i, e) for e in res.events if e.kind is EventKind.LATE_RISK]
    assert len(raised) == 1
    i, event = raised[0]
    assert i == k + 1  # ETA == window end at fix k is on time; the next fix is not
    assert (event.stop_id, event.stop_index, event.limit) == ("A", 1, eta_k)
    assert event.value is not None and event.value > eta_k
    assert event.subject == "truck-01/r-late/1"


def test_late_risk_clears_when_the_eta_is_back_inside_or_the_stop_is_reached() -> None:
    route = PlannedRoute("r", "t", T0, (DEPOT, A, B))

    def eta(index: int, arrival: float, close: float) -> Eta:
        return Eta(index, route.waypoints[index].id, arrival, arrival, arrival, close)

    risk, events = late_risk([eta(1, 100.0, 90.0), eta(2, 200.0, 300.0)], frozenset(), 1.0, route)
    assert risk == {1} and [e.kind for e in events] == [EventKind.LATE_RISK]
    risk, events = late_risk([eta(1, 95.0, 90.0)], risk, 2.0, route)
    assert events == []  # still late: no repeat
    risk, events = late_risk([eta(1, 90.0, 90.0)], risk, 3.0, route)
    assert risk == set() and [(e.kind, e.stop_id) for e in events] == [
        (EventKind.LATE_RISK_CLEARED, "A")
    ]
    risk, _ = late_risk([eta(1, 100.0, 90.0)], frozenset(), 4.0, route)
    risk, events = late_risk([eta(2, 200.0, 300.0)], risk, 5.0, route)  # A reached
    assert risk == set() and events[0].kind is EventKind.LATE_RISK_CLEARED


def test_between_two_windows_is_waiting_not_late() -> None:
    w = Waypoint("A", A.lon, A.lat, windows=(TimeWindow(0.0, 100.0), TimeWindow(200.0, 300.0)))
    assert w.service_start(150.0) == 200.0 and w.close == 300.0
    assert w.service_start(350.0) == 350.0
    assert Eta(1, "A", 150.0, 200.0, 200.0, w.close).at_risk is False
    assert Eta(1, "A", 300.5, 300.5, 300.5, w.close).at_risk is True
    assert math.isinf(Waypoint("B", 0.0, 0.0).close)


def test_eta_list_is_json_ready() -> None:
    tracker = RouteTracker(ROUTE)
    res = tracker.step(tracker.initial_state(), Fix(T0, DEPOT.lat, DEPOT.lon, 0.0))
    payload = json.dumps([e.to_dict() for e in res.etas] + [e.to_dict() for e in res.events])
    assert '"stop_id": "A"' in payload and "Infinity" not in payload


def _with_break(fixes: tuple[Fix, ...], at: int, minutes: float) -> list[Fix]:
    """The same drive with a standstill of ``minutes`` inserted before fix ``at``."""
    pause = minutes * 60.0
    here = fixes[at - 1]
    stand = [Fix(here.t + 5.0 * i, here.lat, here.lon, 0.0) for i in range(1, int(pause / 5))]
    later = [Fix(f.t + pause, f.lat, f.lon, f.spd) for f in fixes[at:]]
    return [*fixes[:at], *stand, *later]


def test_a_long_break_is_not_taken_for_slow_driving() -> None:
    route = PlannedRoute("r-break", "truck-01", T0, (DEPOT, A))
    model = TravelModel()
    sim = drive(route, model)
    mid = len(sim.fixes) // 3
    fixes = _with_break(sim.fixes, mid, 20)
    resumed = fixes[mid + 240 + 12].t  # a minute after driving on

    def pace_after_break(cfg: TrackingConfig) -> float:
        tracker = RouteTracker(route, model, cfg)
        return next(res.pace for fix, res in _run(tracker, fixes) if fix.t >= resumed)

    assert pace_after_break(TrackingConfig()) == pytest.approx(1.0, abs=0.01)
    assert pace_after_break(TrackingConfig(pace_pause_s=1e9)) > 1.5
