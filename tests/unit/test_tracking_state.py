"""Tracker state: deterministic, never reads the clock, and resumes exactly from a dict."""

from __future__ import annotations

import json
import time

import pytest

from wayhouse.platform.tracking.events import EventKind
from wayhouse.platform.tracking.route import PlannedRoute, Waypoint
from wayhouse.platform.tracking.state import TrackerState
from wayhouse.platform.tracking.synthetic import drive
from wayhouse.platform.tracking.tracker import Fix, RouteTracker, StepResult

T0 = 1_700_000_000.0
DEPOT = Waypoint("WH", 4.90, 45.70, depot=True)
A = Waypoint("A", 4.90, 45.75, service_s=600.0)
B = Waypoint("B", 4.97, 45.75, service_s=1200.0)
ROUTE = PlannedRoute("r1", "truck-01", T0, (DEPOT, A, B, DEPOT))


def _replay(tracker: RouteTracker, state: TrackerState, fixes: tuple[Fix, ...]) -> list[StepResult]:
    out = []
    for fix in fixes:
        res = tracker.step(state, fix)
        state = res.state
        out.append(res)
    return out


def test_same_fixes_same_results_and_no_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_clock() -> float:
        raise AssertionError("tracking read the clock")

    for name in ("time", "monotonic", "perf_counter", "time_ns"):
        monkeypatch.setattr(time, name, no_clock)
    tracker = RouteTracker(ROUTE)
    sim = drive(ROUTE, tracker.model, pace=1.2, noise_m=4.0, seed=3)
    first = _replay(tracker, tracker.initial_state(), sim.fixes)
    again = _replay(RouteTracker(ROUTE), tracker.initial_state(), sim.fixes)
    assert [(r.state, r.etas, r.events) for r in first] == [
        (r.state, r.etas, r.events) for r in again
    ]
    assert first[-1].state.finished


@pytest.mark.parametrize("cut", [1, 100, 137, 260, 400])
def test_state_resumes_exactly_from_json(cut: int) -> None:
    tracker = RouteTracker(ROUTE)
    sim = drive(ROUTE, tracker.model, pace=0.9, noise_m=4.0, seed=1)
    whole = _replay(tracker, tracker.initial_state(), sim.fixes)
    head = _replay(tracker, tracker.initial_state(), sim.fixes[:cut])
    stored = json.loads(json.dumps(head[-1].state.to_dict()))
    restored = TrackerState.from_dict(stored)
    assert restored == head[-1].state
    tail = _replay(tracker, restored, sim.fixes[cut:])
    assert [(r.etas, r.events) for r in tail] == [(r.etas, r.events) for r in whole[cut:]]


def test_old_and_repeated_fixes_are_ignored() -> None:
    tracker = RouteTracker(ROUTE)
    s0 = tracker.initial_state()
    r1 = tracker.step(s0, Fix(T0 + 10, DEPOT.lat, DEPOT.lon, 0.0))
    assert r1.accepted and r1.etas
    for t in (T0 + 10, T0 + 5):
        r = tracker.step(r1.state, Fix(t, A.lat, A.lon, 0.0))
        assert not r.accepted and r.state is r1.state and r.events == ()


def test_inaccurate_fixes_do_not_trip_fences() -> None:
    tracker = RouteTracker(ROUTE)
    state = tracker.initial_state()
    far = Fix(T0 + 5, DEPOT.lat + 0.01, DEPOT.lon, 10.0, acc=500.0)
    res = tracker.step(
        tracker.step(state, far).state, Fix(T0 + 10, DEPOT.lat + 0.01, DEPOT.lon, 10.0, acc=500.0)
    )
    assert res.state.departed[0] is None and res.state.fence_at == 0


def test_a_delivery_confirmed_by_the_driver_counts_as_visited() -> None:
    tracker = RouteTracker(ROUTE)
    state = tracker.mark_arrived(tracker.initial_state(), 1, T0 + 900)
    assert state.arrived[1] == T0 + 900
    res = tracker.step(state, Fix(T0 + 1000, A.lat, A.lon + 0.01, 12.0))
    assert [e.stop_id for e in res.etas] == ["B", "WH"]
    assert tracker.mark_arrived(state, 1, T0 + 5) is state  # first confirmation stands
    with pytest.raises(ValueError):
        TrackerState.from_dict({**state.to_dict(), "v": 99})


def test_visits_out_of_order_are_recognised() -> None:
    """B before A: B counts when the truck stays there; A stays due."""
    tracker = RouteTracker(ROUTE)
    state = tracker.initial_state()
    fixes = [Fix(T0 + 5.0 * i, DEPOT.lat, DEPOT.lon + 0.002 * i, 12.0) for i in range(1, 4)]
    fixes += [Fix(T0 + 100 + 5.0 * i, B.lat, B.lon, 0.0) for i in range(30)]
    kinds = []
    for fix in fixes:
        res = tracker.step(state, fix)
        state = res.state
        kinds += [(e.kind, e.stop_id) for e in res.events]
    assert (EventKind.ARRIVED, "B") in kinds
    assert state.arrived[2] is not None and state.arrived[1] is None
    assert [e.stop_id for e in res.etas] == ["A", "WH"]
