"""Geofence hysteresis: arrival needs a dwell, departure needs fixes beyond the exit radius."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wayhouse.platform.tracking.geofence import (
    Fence,
    FenceConfig,
    FenceEvent,
    FenceEventKind,
    FencePhase,
    FenceState,
    step_fence,
)

CFG = FenceConfig(enter_m=75.0, exit_m=150.0, min_dwell_s=60.0, depart_fixes=2)
FENCE = Fence.circle(0.0, 0.0, CFG.enter_m, CFG.exit_m)


def _run(
    points: list[tuple[float, float, float]],
    state: FenceState | None = None,
    fence: Fence = FENCE,
) -> tuple[FenceState, list[FenceEvent]]:
    s = state or FenceState()
    events: list[FenceEvent] = []
    for t, x, y in points:
        s, ev = step_fence(fence, s, t, x, y, CFG)
        if ev is not None:
            events.append(ev)
    return s, events


def _drive(
    t0: float, x0: float, x1: float, speed: float = 12.0, dt: float = 5.0
) -> list[tuple[float, float, float]]:
    """Fixes of a truck driving along y=0 from x0 to x1."""
    n = int(abs(x1 - x0) / (speed * dt))
    step = math.copysign(speed * dt, x1 - x0)
    return [(t0 + i * dt, x0 + i * step, 0.0) for i in range(n + 1)]


def test_stop_and_go_gives_one_arrival_and_one_departure() -> None:
    approach = _drive(0.0, -1000.0, 0.0)
    t = approach[-1][0]
    stand = [(t + 5.0 * i, 3.0 * (-1) ** i, 2.0) for i in range(1, 60)]  # 5 min, jittering
    leave = _drive(stand[-1][0] + 5.0, 0.0, 1000.0)
    state, events = _run(approach + stand + leave)
    first_inside = next(t for t, x, _ in approach if abs(x) <= 75.0)
    assert [e.kind for e in events] == [FenceEventKind.ARRIVED, FenceEventKind.DEPARTED]
    assert events[0].at == first_inside
    first_out = next(t for t, x, _ in leave if x > 150.0)
    assert events[1].at == first_out
    assert state.phase is FencePhase.OUTSIDE


def test_driving_through_is_not_an_arrival() -> None:
    state, events = _run(_drive(0.0, -1000.0, 1000.0))
    assert events == [] and state.phase is FencePhase.OUTSIDE


def test_dwell_is_measured_in_time_not_fixes() -> None:
    state, events = _run([(0.0, 10.0, 0.0), (59.0, 10.0, 0.0)])
    assert events == [] and state.phase is FencePhase.ENTERING
    state, events = _run([(60.0, 10.0, 0.0)], state)
    assert events == [FenceEvent(FenceEventKind.ARRIVED, 0.0)]
    assert state.phase is FencePhase.INSIDE


def test_one_outlier_beyond_the_exit_radius_is_not_a_departure() -> None:
    inside = FenceState(FencePhase.INSIDE, entered_at=0.0)
    state, events = _run([(100.0, 400.0, 0.0), (105.0, 5.0, 0.0), (110.0, 400.0, 0.0)], inside)
    assert events == [] and state.phase is FencePhase.INSIDE
    state, events = _run([(115.0, 420.0, 0.0)], state)
    assert events == [FenceEvent(FenceEventKind.DEPARTED, 110.0)]


jitter = st.tuples(
    st.floats(0.0, 0.999 * CFG.exit_m), st.floats(0.0, 2 * math.pi), st.floats(1.0, 30.0)
)


@settings(max_examples=300, deadline=None)
@given(st.lists(jitter, min_size=1, max_size=200))
def test_jitter_inside_the_exit_radius_never_departs_nor_rearrives(
    fixes: list[tuple[float, float, float]],
) -> None:
    """A truck that has arrived and whose fixes stay within exit_m, however they jump."""
    arrived = FenceState(FencePhase.INSIDE, entered_at=0.0)
    t, points = 0.0, []
    for r, a, dt in fixes:
        t += dt
        points.append((t, r * math.cos(a), r * math.sin(a)))
    state, events = _run(points, arrived)
    assert events == []
    assert state.phase is FencePhase.INSIDE


@settings(max_examples=300, deadline=None)
@given(st.lists(jitter, min_size=1, max_size=200))
def test_jitter_around_the_enter_edge_arrives_at_most_once(
    fixes: list[tuple[float, float, float]],
) -> None:
    """Fixes scattered around the enter radius (inside the exit radius): one arrival at most,
    never a departure, and the arrival is stamped with the first fix inside enter_m."""
    t, points = 0.0, []
    for r, a, dt in fixes:
        t += dt
        points.append((t, r * math.cos(a), r * math.sin(a)))
    _, events = _run(points)
    assert [e.kind for e in events] in ([], [FenceEventKind.ARRIVED])
    if events:
        first_in = next(t for t, x, y in points if math.hypot(x, y) <= CFG.enter_m)
        assert events[0].at == first_in


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.floats(75.001, 5000.0), st.floats(0.0, 2 * math.pi)), max_size=100))
def test_fixes_never_within_the_enter_radius_never_arrive(
    fixes: list[tuple[float, float]],
) -> None:
    points = [(10.0 * i, r * math.cos(a), r * math.sin(a)) for i, (r, a) in enumerate(fixes)]
    state, events = _run(points)
    assert events == [] and state.phase is FencePhase.OUTSIDE


def test_polygon_fence_counts_the_whole_yard() -> None:
    yard = Fence.polygon([(0, 0), (400, 0), (400, 200), (0, 200)], enter_m=0.0, exit_m=50.0)
    assert yard.in_enter(390.0, 190.0) and not yard.in_enter(410.0, 100.0)
    assert yard.in_exit(440.0, 100.0) and not yard.in_exit(460.0, 100.0)
    _, events = _run([(0.0, 200.0, 100.0), (70.0, 380.0, 20.0), (80.0, 430.0, 100.0)], fence=yard)
    assert events == [FenceEvent(FenceEventKind.ARRIVED, 0.0)]


def test_fence_settings_are_checked() -> None:
    with pytest.raises(ValueError):
        FenceConfig(enter_m=150.0, exit_m=150.0)
    with pytest.raises(ValueError):
        FenceConfig(depart_fixes=0)
    with pytest.raises(ValueError):
        Fence.polygon([(0, 0), (1, 1), (2, 2)])


def test_state_round_trips_through_a_dict() -> None:
    s = FenceState(FencePhase.INSIDE, entered_at=12.5, out_since=40.0, out_fixes=1)
    assert FenceState.from_dict(s.to_dict()) == s
