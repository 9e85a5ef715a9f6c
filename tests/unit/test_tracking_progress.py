"""Position on the planned route: leg, fraction, metres off route, long stops."""

from __future__ import annotations

import pytest
from pyproj import Geod

from wayhouse.platform.tracking.events import EventKind
from wayhouse.platform.tracking.geofence import FenceConfig
from wayhouse.platform.tracking.progress import OffRouteWatch, Phase, StopWatch, locate
from wayhouse.platform.tracking.route import PlannedRoute, RouteGeometry, Waypoint
from wayhouse.platform.tracking.synthetic import drive
from wayhouse.platform.tracking.tracker import Fix, RouteTracker, TrackingConfig

GEOD = Geod(ellps="WGS84")
T0 = 1_700_000_000.0
DEPOT = Waypoint("WH", 4.90, 45.70, depot=True)
A = Waypoint("A", 4.90, 45.75, service_s=600.0)  # ~5.6 km north
B = Waypoint("B", 4.97, 45.75, service_s=1200.0)  # ~5.4 km east of A
ROUTE = PlannedRoute("r1", "truck-01", T0, (DEPOT, A, B, DEPOT))


def _midpoint(a: Waypoint, b: Waypoint) -> tuple[float, float]:
    az, _, d = GEOD.inv(a.lon, a.lat, b.lon, b.lat)
    lon, lat, _ = GEOD.fwd(a.lon, a.lat, az, d / 2)
    return lon, lat


def test_halfway_along_a_straight_leg() -> None:
    geom = RouteGeometry(ROUTE, FenceConfig())
    lon, lat = _midpoint(DEPOT, A)
    p = locate(geom, *geom.proj.to_xy(lon, lat), 0, 1)
    assert (p.phase, p.leg_from, p.leg_to) == (Phase.DRIVING, 0, 1)
    assert p.fraction == pytest.approx(0.5, abs=1e-3)
    assert p.leg_m == pytest.approx(GEOD.inv(DEPOT.lon, DEPOT.lat, A.lon, A.lat)[2], rel=1e-4)
    assert p.off_route_m == pytest.approx(0.0, abs=1.0)
    assert not p.on_polyline


def test_metres_off_route_are_true_metres() -> None:
    geom = RouteGeometry(ROUTE, FenceConfig())
    lon, lat = _midpoint(DEPOT, A)
    east, north, _ = GEOD.fwd(lon, lat, 90.0, 500.0)  # 500 m east of the leg (due north)
    p = locate(geom, *geom.proj.to_xy(east, north), 0, 1)
    assert p.off_route_m == pytest.approx(500.0, abs=1.0)
    assert p.fraction == pytest.approx(0.5, abs=1e-3)


def test_a_road_polyline_replaces_the_chord() -> None:
    # Leg 0 detours east first, then north-west to A; the other legs stay straight.
    corner = (4.97, 45.70)
    route = PlannedRoute(
        "r2", "truck-01", T0, (DEPOT, A, B), legs=((DEPOT.lonlat, corner, A.lonlat), None)
    )
    geom = RouteGeometry(route, FenceConfig())
    first = GEOD.inv(DEPOT.lon, DEPOT.lat, *corner)[2]
    second = GEOD.inv(*corner, A.lon, A.lat)[2]
    p = locate(geom, *geom.proj.to_xy(*corner), 0, 1)
    assert p.on_polyline and p.off_route_m == pytest.approx(0.0, abs=0.01)
    assert p.fraction == pytest.approx(first / (first + second), rel=1e-3)
    # The chord's midpoint is far from that road.
    q = locate(geom, *geom.proj.to_xy(*_midpoint(DEPOT, A)), 0, 1)
    assert q.off_route_m > 1500
    assert q.route_distance_m == q.off_route_m
    chord = locate(geom, *geom.proj.to_xy(*corner), 1, 2)
    assert chord.route_distance_m is None and chord.off_route_m > 0
    assert not chord.on_polyline


def test_route_needs_consistent_legs() -> None:
    with pytest.raises(ValueError):
        PlannedRoute("r", "t", T0, (DEPOT,))
    with pytest.raises(ValueError):
        PlannedRoute("r", "t", T0, (DEPOT, A), legs=(None, None))


def test_progress_through_the_route() -> None:
    tracker = RouteTracker(ROUTE)
    sim = drive(ROUTE, tracker.model, dt=5.0, start=T0 - 300)
    state = tracker.initial_state()
    phases: list[tuple[Phase, int | None, int | None, int | None]] = []
    kinds: list[tuple[EventKind, str | None]] = []
    for fix in sim.fixes:
        res = tracker.step(state, fix)
        state = res.state
        assert res.progress is not None
        p = res.progress
        key = (p.phase, p.at, p.leg_from, p.leg_to)
        if not phases or phases[-1] != key:
            phases.append(key)
        kinds += [(e.kind, e.stop_id) for e in res.events]
    assert phases == [
        (Phase.AT_STOP, 0, None, None),
        (Phase.DRIVING, None, 0, 1),
        (Phase.AT_STOP, 1, None, None),
        (Phase.DRIVING, None, 1, 2),
        (Phase.AT_STOP, 2, None, None),
        (Phase.DRIVING, None, 2, 3),
        (Phase.AT_STOP, 3, None, None),  # entering the depot, arrival not yet confirmed
        (Phase.FINISHED, None, None, None),
    ]
    assert kinds == [
        (EventKind.DEPARTED, "WH"),
        (EventKind.ARRIVED, "A"),
        (EventKind.DEPARTED, "A"),
        (EventKind.ARRIVED, "B"),
        (EventKind.DEPARTED, "B"),
        (EventKind.ARRIVED, "WH"),
        (EventKind.ROUTE_FINISHED, None),
    ]
    # A truck true to the model: the arrival estimated from the first fix inside the fence
    # (that fix's time plus the model's time for the metres left) is the true arrival.
    for k in (1, 2, 3):
        assert state.arrived[k] == pytest.approx(sim.arrivals[k], abs=0.01)


def test_fraction_grows_along_the_leg() -> None:
    tracker = RouteTracker(ROUTE)
    sim = drive(ROUTE, tracker.model, dt=5.0)
    state = tracker.initial_state()
    fractions = []
    for fix in sim.fixes:
        res = tracker.step(state, fix)
        state = res.state
        if res.progress and res.progress.phase is Phase.DRIVING and res.progress.leg_to == 1:
            fractions.append(res.progress.fraction)
    assert fractions == sorted(fractions)
    assert fractions[0] < 0.05 and fractions[-1] > 0.95


def _standing(t0: float, lon: float, lat: float, minutes: float) -> list[Fix]:
    return [Fix(t0 + 5.0 * i, lat, lon, 0.0) for i in range(int(minutes * 12))]


def test_long_stop_outside_a_stop_is_raised_once_and_cleared_on_moving() -> None:
    cfg = TrackingConfig(long_stop_s=600.0)
    tracker = RouteTracker(ROUTE, config=cfg)
    state = tracker.initial_state()
    lon, lat = _midpoint(DEPOT, A)
    fixes = [Fix(T0 + 5.0 * i, DEPOT.lat + 0.001 * i, DEPOT.lon, 12.0) for i in range(1, 20)]
    fixes += _standing(T0 + 200.0, lon, lat, 15)
    lon2, lat2, _ = GEOD.fwd(lon, lat, 0.0, 300.0)
    fixes.append(Fix(T0 + 200.0 + 15 * 60, lat2, lon2, 12.0))
    events = []
    for fix in fixes:
        res = tracker.step(state, fix)
        state = res.state
        events += [e for e in res.events if e.kind.name.startswith("LONG_STOP")]
    assert [e.kind for e in events] == [EventKind.LONG_STOP, EventKind.LONG_STOP_CLEARED]
    assert events[0].at == T0 + 200.0 + 600.0  # exactly once the standstill reached 10 min
    assert events[0].value == 600.0 and events[0].limit == 600.0


def test_standing_at_a_stop_is_not_a_long_stop() -> None:
    tracker = RouteTracker(ROUTE, config=TrackingConfig(long_stop_s=300.0))
    state = tracker.initial_state()
    for fix in _standing(T0, A.lon, A.lat, 40) + _standing(T0 + 3000, DEPOT.lon, DEPOT.lat, 20):
        res = tracker.step(state, fix)
        state = res.state
        assert all(not e.kind.name.startswith("LONG_STOP") for e in res.events)


def test_watchers_need_sustained_conditions() -> None:
    w = OffRouteWatch()
    w, ev = w.step(0.0, 400.0, 300.0, 60.0, 0.8)
    assert ev is None and not w.active
    w, ev = w.step(30.0, 100.0, 300.0, 60.0, 0.8)  # back on route: the run restarts
    w, ev = w.step(40.0, 400.0, 300.0, 60.0, 0.8)
    w, ev = w.step(99.0, 400.0, 300.0, 60.0, 0.8)
    assert ev is None
    w, ev = w.step(100.0, 400.0, 300.0, 60.0, 0.8)
    assert ev == "raised" and w.active
    w, ev = w.step(105.0, 260.0, 300.0, 60.0, 0.8)  # under the limit, not under 80 % of it
    assert ev is None and w.active
    w, ev = w.step(110.0, 230.0, 300.0, 60.0, 0.8)
    assert ev == "cleared" and not w.active

    s = StopWatch()
    s, ev = s.step(0.0, 0.0, 0.0, 0.2, 0.5, 30.0, 120.0)
    s, ev = s.step(60.0, 10.0, 0.0, 0.0, 0.5, 30.0, 120.0)  # creeping within 30 m
    assert ev is None and s.since == 0.0
    s, ev = s.step(120.0, 12.0, 5.0, None, 0.5, 30.0, 120.0)  # no speed: position decides
    assert ev == "raised"
    s, ev = s.step(125.0, 12.0, 5.0, 8.0, 0.5, 30.0, 120.0)
    assert ev == "cleared" and s.since is None


def test_off_route_alarm_with_a_road_polyline() -> None:
    corner = (4.97, 45.70)
    route = PlannedRoute(
        "r3", "truck-01", T0, (DEPOT, A, B), legs=((DEPOT.lonlat, corner, A.lonlat), None)
    )
    cfg = TrackingConfig(off_route_m=250.0, off_route_min_s=60.0)
    tracker = RouteTracker(route, config=cfg)
    state = tracker.initial_state()
    # Leave the depot along the road, then cut across the chord instead.
    az, _, d = GEOD.inv(DEPOT.lon, DEPOT.lat, *corner)
    fixes = []
    for i in range(1, 11):
        lon, lat, _ = GEOD.fwd(DEPOT.lon, DEPOT.lat, az, 60.0 * i)
        fixes.append(Fix(T0 + 5.0 * i, lat, lon, 12.0))
    az2, _, _ = GEOD.inv(DEPOT.lon, DEPOT.lat, A.lon, A.lat)
    for i in range(1, 40):
        lon, lat, _ = GEOD.fwd(DEPOT.lon, DEPOT.lat, az2, 600.0 + 60.0 * i)
        fixes.append(Fix(T0 + 50.0 + 5.0 * i, lat, lon, 12.0))
    events = []
    for fix in fixes:
        res = tracker.step(state, fix)
        state = res.state
        events += [e for e in res.events if e.kind is EventKind.OFF_ROUTE]
    assert len(events) == 1
    assert events[0].value is not None and events[0].value > 250.0
    assert events[0].limit == 250.0
    assert d > 0
