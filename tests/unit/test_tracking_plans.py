"""Dispatch plans as tracking routes: stops in order, skipped ones left out, windows and times
on the unix clock of the sites' time zone (daylight saving included), one route per truck."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wayhouse.platform.dispatch.service import Clock
from wayhouse.platform.tracking.plans import (
    RouteRow,
    StopRow,
    clock_offset_s,
    facts,
    latest_per_vehicle,
    to_route,
    travel_model,
    waypoint_id,
)

PARIS = ZoneInfo("Europe/Paris")
DAY = dt.date(2026, 3, 10)
UTC = dt.UTC


def _stop(i: int, seq: int, **kw: object) -> StopRow:
    base: dict[str, object] = {
        "id": 100 + i,
        "order_id": 500 + i,
        "seq": seq,
        "lat": 45.7 + i / 100,
        "lon": 4.9 + i / 100,
        "service_s": 600.0,
        "window_open_s": 8 * 3600.0,
        "window_close_s": 18 * 3600.0,
    }
    base.update(kw)
    return StopRow(**base)  # type: ignore[arg-type]


def _row(stops: tuple[StopRow, ...], day: dt.date = DAY, **kw: object) -> RouteRow:
    base: dict[str, object] = {
        "plan_id": 7,
        "revision": 3,
        "plan_status": "published",
        "day": day,
        "vehicle_id": 2,
        "agent_id": "truck-02",
        "depot_code": "WH1",
        "depot_lat": 45.76,
        "depot_lon": 4.95,
        "start_at": dt.datetime(day.year, day.month, day.day, 7, 0, tzinfo=PARIS),
        "stops": stops,
    }
    base.update(kw)
    return RouteRow(**base)  # type: ignore[arg-type]


def test_a_route_runs_depot_stops_in_order_depot_without_skipped_stops() -> None:
    row = _row((_stop(1, 2), _stop(2, 0), _stop(3, 1, status="skipped"), _stop(4, 1)))
    live = to_route(row, PARIS)
    assert live is not None
    ids = [w.id for w in live.route.waypoints]
    assert ids == ["wh:WH1", "o502", "o504", "o501", "wh:WH1"]
    assert live.stop_ids == (None, 102, 104, 101, None)
    assert live.route.waypoints[0].depot and live.route.waypoints[-1].depot
    assert not any(w.depot for w in live.route.waypoints[1:-1])
    assert live.route.truck_id == "truck-02" and live.route.route_id == "plan-7"
    assert waypoint_id(504) == "o504"
    assert to_route(_row((_stop(1, 0, status="skipped"),)), PARIS) is None
    assert to_route(_row(()), PARIS) is None


@pytest.mark.parametrize(
    ("day", "utc_hour"),
    [
        (dt.date(2026, 1, 15), 7),  # winter: UTC+1, 08:00 local is 07:00 UTC
        (dt.date(2026, 7, 15), 6),  # summer: UTC+2
        (dt.date(2026, 3, 29), 6),  # the spring change: 08:00 local is already summer time
    ],
)
def test_windows_are_local_times_of_the_plan_day(day: dt.date, utc_hour: int) -> None:
    live = to_route(_row((_stop(1, 0),), day=day), PARIS)
    assert live is not None
    (window,) = live.route.waypoints[1].windows
    assert (
        window.open == dt.datetime(day.year, day.month, day.day, utc_hour, tzinfo=UTC).timestamp()
    )
    assert window.close - window.open == 10 * 3600.0
    assert (
        live.route.depart_at
        == dt.datetime(day.year, day.month, day.day, 7, tzinfo=PARIS).timestamp()
    )


@given(
    open_s=st.floats(0.0, 86_000.0, allow_nan=False),
    width=st.floats(0.0, 40_000.0, allow_nan=False),
)
def test_windows_use_the_planners_own_clock(open_s: float, width: float) -> None:
    live = to_route(
        _row((_stop(1, 0, window_open_s=open_s, window_close_s=open_s + width),)), PARIS
    )
    assert live is not None
    (window,) = live.route.waypoints[1].windows
    clock = Clock(DAY, PARIS)
    assert window.open == clock.at(open_s).timestamp()
    assert window.close == clock.at(open_s + width).timestamp()


def test_times_default_and_facts_come_through() -> None:
    arrived = dt.datetime(2026, 3, 10, 9, 30, tzinfo=UTC)
    departed = arrived + dt.timedelta(minutes=12)
    planned = dt.datetime(2026, 3, 10, 9, 20, tzinfo=UTC)
    stops = (
        _stop(1, 0, status="departed", actual_arrival=arrived, actual_departure=departed),
        _stop(2, 1, planned_arrival=planned),
    )
    live = to_route(_row(stops, start_at=None), PARIS)
    assert live is not None
    assert live.route.depart_at == dt.datetime(2026, 3, 10, 7, tzinfo=PARIS).timestamp()
    assert live.route.waypoints[2].planned_arrival == planned.timestamp()
    assert live.route.waypoints[1].planned_arrival is None
    assert facts(live) == ({1: arrived.timestamp()}, {1: departed.timestamp()})


def test_a_later_plan_supersedes_an_earlier_one_for_the_same_truck() -> None:
    early = dt.datetime(2026, 3, 10, 6, tzinfo=UTC)
    late = early + dt.timedelta(hours=3)
    a = _row((), plan_id=1, vehicle_id=1)
    b = _row((), plan_id=2, vehicle_id=1)
    c = _row((), plan_id=3, vehicle_id=2)
    assert latest_per_vehicle([(late, a), (early, b), (None, c)]) == [a, c]
    assert latest_per_vehicle([(early, a), (late, b)]) == [b]
    assert latest_per_vehicle([(early, b), (early, a)]) == [b]  # a tie: the newer plan


def test_the_travel_model_is_the_planners_with_the_sites_clock() -> None:
    assert clock_offset_s(dt.date(2026, 1, 15), PARIS) == 3600.0
    assert clock_offset_s(dt.date(2026, 7, 15), PARIS) == 7200.0
    model = travel_model(dt.date(2026, 7, 15), PARIS)
    assert model.road_factor == 1.3 and model.clock_offset_s == 7200.0
    assert model.drive_s(45_000.0, 0.0) == pytest.approx(3600.0)  # 45 km/h, the planner's pace
    assert travel_model().clock_offset_s == 0.0
