"""Anomalous truck drives and their ground truth (``simulators/truck_anomalies.py``), checked
against tracking's own ``RouteTracker`` and the alarm mapping of its events: every truth is
raised on its subject between its onset and its ``due`` (plus one fix), and nothing else is."""

from __future__ import annotations

import dataclasses

import pytest

from wayhouse.platform.alarms.rules.tracking_events import conditions_from_tracking
from wayhouse.platform.tracking.route import PlannedRoute, Waypoint
from wayhouse.platform.tracking.tracker import RouteTracker
from wayhouse.routing.model import TimeWindow
from wayhouse.simulators.scenario import get_scenario
from wayhouse.simulators.truck_anomalies import TruckDrive, chord_distance_m

T0 = 1_700_000_000.0
END = T0 + 1500.0


def _drive(kind: str, i: int = 0) -> tuple[TruckDrive, dict[int, float]]:
    sc = get_scenario("alarms", 0)
    stops = [dataclasses.replace(c, service_s=120.0) for c in sc.customers[2 * i : 2 * i + 2]]
    d = TruckDrive(sc.trucks[i], sc.depot, stops, T0, kind, route_id="plan-7")  # type: ignore[arg-type]
    close = {}
    if kind == "slow":
        close[1] = T0 + 1.5 * (d.arrivals[1] - T0) * 0.35
    return d, close


def _tracked(d: TruckDrive, close: dict[int, float]) -> list[tuple[str, str, float]]:
    """(alarm type, subject, time) of every raise tracking's events map to."""
    wps = d.waypoints
    points = [Waypoint("wh", wps[0].lon, wps[0].lat, depot=True)]
    for k, w in enumerate(wps[1:-1], start=1):
        win = (TimeWindow(T0 - 3600, close[k]),) if k in close else ()
        points.append(Waypoint(f"o{k}", w.lon, w.lat, service_s=w.service_s, windows=win))
    points.append(Waypoint("wh", wps[-1].lon, wps[-1].lat, depot=True))
    tracker = RouteTracker(PlannedRoute("plan-7", d.spec.agent_id, T0, tuple(points)))
    state = tracker.initial_state()
    events = []
    for fix in d.fixes_until(END):
        res = tracker.step(state, fix)
        state = res.state
        events += res.events
    return [(c.type.value, c.subject, c.t) for c in conditions_from_tracking(events) if c.raised]


@pytest.mark.parametrize(("kind", "i"), [("none", 3), ("off_route", 0), ("long_stop", 1)])
def test_tracking_raises_exactly_the_truth_by_its_due_time(kind: str, i: int) -> None:
    d, close = _drive(kind, i)
    raised = _tracked(d, close)
    truths = d.truths(END, close)
    assert truths
    for x in truths:
        hits = [t for typ, subj, t in raised if typ == x.type and subj == x.subject]
        assert hits, (x, raised)
        assert x.t - 5 <= hits[0] <= x.due + d.spec.gps_interval_s, (x, hits)
    kinds = {x.type for x in truths}
    assert {typ for typ, _, _ in raised} <= kinds | {"predicted_late"}
    if kind != "none":
        assert {"off_route": "off_route", "long_stop": "stopped_too_long"}[kind] in kinds


def test_a_slow_truck_is_predicted_late_for_the_window_it_cannot_make() -> None:
    d, close = _drive("slow", 2)
    assert d.arrivals[1] > close[1]  # it really is late
    (late,) = [x for x in d.truths(END, close) if x.type == "predicted_late"]
    assert late.subject.endswith("/plan-7/1") and late.due < d.arrivals[1]
    raised = [t for typ, subj, t in _tracked(d, close) if typ == "predicted_late"]
    assert raised and late.t <= raised[0] <= late.due + 5.0  # tracking may know it earlier


def test_the_detour_leaves_the_chord_by_more_than_the_limit_and_comes_back() -> None:
    d, _ = _drive("off_route")
    a, b = (d.waypoints[0].lat, d.waypoints[0].lon), (d.waypoints[1].lat, d.waypoints[1].lon)
    dist = [chord_distance_m(a, b, d.position(t)[:2]) for t in d.fix_times(d.arrivals[1])]
    assert max(dist) > 3500 and dist[-1] < 100


def test_fixes_are_the_same_whatever_the_steps() -> None:
    one, _ = _drive("long_stop", 1)
    two, _ = _drive("long_stop", 1)
    jump = one.fixes_until(T0 + 900)
    sliced = [f for k in range(1, 901) for f in two.fixes_until(T0 + k)]
    assert jump == sliced
