"""Handing a truck's progress over to a changed route, clearing what was open on the old one,
and late risk by the clock for a truck that stopped reporting."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from wayhouse.platform.tracking.eta import overdue
from wayhouse.platform.tracking.events import EventKind
from wayhouse.platform.tracking.geofence import FencePhase
from wayhouse.platform.tracking.handover import carry_over, closing_events
from wayhouse.platform.tracking.progress import OffRouteWatch, StopWatch
from wayhouse.platform.tracking.route import PlannedRoute, Waypoint
from wayhouse.platform.tracking.state import TrackerState
from wayhouse.platform.tracking.synthetic import drive
from wayhouse.platform.tracking.tracker import Fix, RouteTracker
from wayhouse.routing.model import TimeWindow

T0 = 1_700_000_000.0
DEPOT = Waypoint("WH", 4.90, 45.70, depot=True)
A = Waypoint("A", 4.90, 45.75, service_s=600.0)
B = Waypoint("B", 4.97, 45.75, service_s=600.0)
C = Waypoint("C", 5.00, 45.70, service_s=300.0)
ROUTE = PlannedRoute("plan-1", "truck-01", T0, (DEPOT, A, B, C, DEPOT))
TRACKER = RouteTracker(ROUTE)
SIM = drive(ROUTE, TRACKER.model, pace=1.1, dt=10.0, noise_m=3.0, seed=2)


def _ids(route: PlannedRoute) -> list[str]:
    return [w.id for w in route.waypoints]


def _replay(tracker: RouteTracker, state: TrackerState, until: float | None = None) -> TrackerState:
    for fix in SIM.fixes:
        if until is not None and fix.t >= until:
            break
        state = tracker.step(state, fix).state
    return state


def _upto(t: float) -> TrackerState:
    return _replay(TRACKER, TRACKER.initial_state(), t)


MID_LEG_TO_C = (SIM.departures[2] + SIM.arrivals[3]) / 2


def test_a_replan_mid_route_keeps_the_stops_made_and_finds_the_next() -> None:
    old = _upto(MID_LEG_TO_C)
    assert old.arrived[1] and old.arrived[2] and old.departed[2] and old.fence_at is None
    # The dispatcher puts C first: the stops made keep their times under new numbers.
    new_route = PlannedRoute("plan-1", "truck-01", T0, (DEPOT, C, A, B, DEPOT))
    tracker = RouteTracker(new_route)
    s = carry_over(tracker, old=old, old_ids=_ids(ROUTE))
    assert s.arrived == (None, None, old.arrived[1], old.arrived[2], None)
    assert s.departed == (old.departed[0], None, old.departed[1], old.departed[2], None)
    assert (s.leg_from, s.fence_at, s.fence.phase) == (3, None, FencePhase.OUTSIDE)
    assert (s.last_t, s.pace, s.finished) == (old.last_t, old.pace, False)
    assert tracker.remaining(s) == [1, 4]
    # Driving on, the tracker on the new route sees C and then the depot.
    arrivals = []
    for fix in SIM.fixes:
        if fix.t < MID_LEG_TO_C:
            continue
        res = tracker.step(s, fix)
        s = res.state
        arrivals += [e for e in res.events if e.kind is EventKind.ARRIVED]
    assert [e.stop_id for e in arrivals] == ["C", "WH"] and s.finished
    assert abs(s.arrived[1] - SIM.arrivals[3]) < 15.0  # type: ignore[operator]


def test_a_truck_standing_at_a_stop_that_stays_on_the_route_stays_there() -> None:
    old = _upto(SIM.arrivals[2] + 120.0)
    assert old.fence_at == 2 and old.fence.phase is FencePhase.INSIDE
    new_route = PlannedRoute("plan-1", "truck-01", T0, (DEPOT, B, A, C, DEPOT))
    s = carry_over(RouteTracker(new_route), old=old, old_ids=_ids(ROUTE))
    assert (s.fence_at, s.fence, s.fence_arrival) == (1, old.fence, old.fence_arrival)
    assert s.arrived[1] == old.arrived[2] and s.arrived[2] == old.arrived[1]


def test_a_stop_taken_off_the_route_is_forgotten() -> None:
    old = _upto(SIM.departures[1] + 60.0)
    new_route = PlannedRoute("plan-1", "truck-01", T0, (DEPOT, B, C, DEPOT))
    s = carry_over(RouteTracker(new_route), old=old, old_ids=_ids(ROUTE))
    assert s.arrived == (None, None, None, None) and not s.finished
    assert s.departed[0] == old.departed[0] and s.leg_from == 0


@settings(max_examples=40, deadline=None)
@given(cut=st.integers(0, len(SIM.fixes) - 1), order=st.permutations(["A", "B", "C"]))
def test_times_follow_their_stop_whatever_the_new_order(cut: int, order: list[str]) -> None:
    old = _upto(SIM.fixes[cut].t)
    stops = {"A": A, "B": B, "C": C}
    new_route = PlannedRoute("r", "truck-01", T0, (DEPOT, *(stops[k] for k in order), DEPOT))
    s = carry_over(RouteTracker(new_route), old=old, old_ids=_ids(ROUTE))
    for k in order:
        i, j = _ids(ROUTE).index(k), _ids(new_route).index(k)
        assert (s.arrived[j], s.departed[j]) == (old.arrived[i], old.departed[i])
    assert s.finished == all(a is not None for a in old.arrived[1:])


def test_without_a_state_the_database_says_where_the_truck_is() -> None:
    fresh = carry_over(TRACKER)
    assert fresh == TRACKER.initial_state()  # nothing done: at the depot, as planned
    # A made and left, B reached (a restart with no saved state, or a new plan).
    s = carry_over(
        TRACKER, arrived={1: T0 + 600, 2: T0 + 2000}, departed={1: T0 + 1200}, pace_prior=1.2
    )
    assert s.arrived[1:3] == (T0 + 600, T0 + 2000) and s.departed[1] == T0 + 1200
    assert (s.fence_at, s.fence.phase, s.fence.entered_at) == (2, FencePhase.INSIDE, T0 + 2000)
    assert s.leg_from == 1 and s.pace.prior == 1.2
    on_road = carry_over(TRACKER, arrived={1: T0 + 600}, departed={1: T0 + 1200})
    assert (on_road.fence_at, on_road.fence.phase) == (None, FencePhase.OUTSIDE)
    # The saved state wins over the database where both speak.
    old = _upto(MID_LEG_TO_C)
    s = carry_over(TRACKER, old=old, old_ids=_ids(ROUTE), arrived={1: T0 + 1.0, 3: T0 + 9.0})
    assert s.arrived[1] == old.arrived[1] and s.arrived[3] == T0 + 9.0


def test_conditions_open_on_a_replaced_route_are_cleared() -> None:
    s = replace(
        TRACKER.initial_state(),
        at_risk=frozenset({1, 3}),
        off_route=OffRouteWatch(T0, True),
        still=StopWatch(0.0, 0.0, T0, True),
    )
    events = closing_events(TRACKER, s, T0 + 50)
    assert [(e.kind, e.stop_index, e.stop_id) for e in events] == [
        (EventKind.LATE_RISK_CLEARED, 1, "A"),
        (EventKind.LATE_RISK_CLEARED, 3, "C"),
        (EventKind.OFF_ROUTE_CLEARED, None, None),
        (EventKind.LONG_STOP_CLEARED, None, None),
    ]
    assert {e.subject for e in events} >= {"truck-01/plan-1/1", "truck-01/plan-1"}
    assert closing_events(TRACKER, TRACKER.initial_state(), T0) == []


def test_a_silent_truck_turns_late_when_a_window_closes() -> None:
    windowed = PlannedRoute(
        "plan-2",
        "truck-01",
        T0,
        (
            DEPOT,
            replace(A, windows=(TimeWindow(T0, T0 + 3600),)),
            replace(B, windows=(TimeWindow(T0, T0 + 7200),)),
            DEPOT,
        ),
    )
    at_risk, events = overdue(windowed, [1, 2, 3], frozenset(), T0 + 3601)
    assert at_risk == {1} and [(e.kind, e.stop_id, e.limit) for e in events] == [
        (EventKind.LATE_RISK, "A", T0 + 3600)
    ]
    assert overdue(windowed, [1, 2, 3], at_risk, T0 + 3700) == (at_risk, [])  # once
    at_risk, events = overdue(windowed, [2, 3], at_risk, T0 + 7201)
    assert at_risk == {1, 2} and [e.stop_id for e in events] == ["B"]
    assert overdue(windowed, [], frozenset(), T0 + 99_999) == (frozenset(), [])
    # The truck reports again: still late is not raised twice; a stop reached clears it.
    tracker = RouteTracker(windowed)
    s = replace(tracker.initial_state(), at_risk=frozenset({1}))
    back = Fix(T0 + 3700, DEPOT.lat, DEPOT.lon, 0.0)
    kinds = [(e.kind, e.stop_id) for e in tracker.step(s, back).events]
    assert not any(stop == "A" for _, stop in kinds)
    reached = tracker.mark_arrived(s, 1, T0 + 3000)
    kinds = [(e.kind, e.stop_id) for e in tracker.step(reached, back).events]
    assert (EventKind.LATE_RISK_CLEARED, "A") in kinds
