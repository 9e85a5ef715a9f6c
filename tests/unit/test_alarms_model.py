"""Alarm lifecycle steps, their records, and thresholds with their precedence."""

from __future__ import annotations

import json

import pytest

from wayhouse.platform.alarms.model import (
    DEFAULT_SEVERITY,
    Action,
    Alarm,
    AlarmState,
    AlarmType,
    Condition,
    Severity,
    Transition,
    alarm_id,
)
from wayhouse.platform.alarms.thresholds import ThresholdConfig, Thresholds
from wayhouse.platform.dms.domain.types import DomainError, IllegalTransition

T0 = 1_700_000_000.0


def _raised(type_: AlarmType = AlarmType.OFF_ROUTE) -> Alarm:
    alarm, _ = Alarm.raise_(Condition(type_, "truck:t1", True, T0, "off route", {"m": 900}))
    return alarm


def test_every_step_is_recorded_in_order() -> None:
    a = _raised()
    assert a.state is AlarmState.ACTIVE and a.severity is DEFAULT_SEVERITY[AlarmType.OFF_ROUTE]
    a.acknowledge(T0 + 5, "dispatcher", "calling the driver")
    a.repeat(
        Condition(AlarmType.OFF_ROUTE, "truck:t1", True, T0 + 6, "", {"m": 950}, Severity.CRITICAL),
        True,
    )
    a.clear(T0 + 9, "rule", "back on route")
    steps = [(tr.seq, tr.action, tr.from_state, tr.to_state, tr.by) for tr in a.history]
    assert steps == [
        (0, Action.RAISE, None, AlarmState.ACTIVE, "rule"),
        (1, Action.ACKNOWLEDGE, AlarmState.ACTIVE, AlarmState.ACKNOWLEDGED, "dispatcher"),
        (2, Action.REPEAT, AlarmState.ACKNOWLEDGED, AlarmState.ACKNOWLEDGED, "rule"),
        (3, Action.CLEAR, AlarmState.ACKNOWLEDGED, AlarmState.CLEARED, "rule"),
    ]
    assert a.severity is Severity.CRITICAL and a.occurrences == 2 and a.evidence == {"m": 950}
    a.repeat(Condition(AlarmType.OFF_ROUTE, "truck:t1", True, T0 + 7, "", {}, Severity.INFO), False)
    assert a.severity is Severity.CRITICAL  # never lowered
    assert Alarm.from_dict(json.loads(json.dumps(a.to_dict()))) == a
    assert all(Transition.from_dict(tr.to_dict()) == tr for tr in a.history)


def test_illegal_steps_are_refused() -> None:
    a = _raised()
    with pytest.raises(IllegalTransition):
        a.acknowledge(T0, " ")
    a.acknowledge(T0, "op")
    with pytest.raises(IllegalTransition):
        a.acknowledge(T0, "op")  # only an active alarm
    with pytest.raises(IllegalTransition):
        a.clear(T0, "op", "")  # a reason is required
    a.clear(T0, "op", "fixed")
    with pytest.raises(IllegalTransition):
        a.clear(T0, "op", "again")


def test_ids_are_derived_from_what_raised_the_alarm() -> None:
    assert alarm_id(AlarmType.SENSOR_STUCK, "sensor:x", T0) == alarm_id(
        AlarmType.SENSOR_STUCK, "sensor:x", T0
    )
    assert alarm_id(AlarmType.SENSOR_STUCK, "sensor:x", T0) != alarm_id(
        AlarmType.SENSOR_STUCK, "sensor:x", T0 + 1
    )
    assert alarm_id(AlarmType.SENSOR_STUCK, "sensor:x", T0, 1) != alarm_id(
        AlarmType.SENSOR_STUCK, "sensor:x", T0, 2
    )
    assert set(DEFAULT_SEVERITY) == set(AlarmType)


def test_thresholds_resolve_device_over_class_over_site_over_default() -> None:
    cfg = ThresholdConfig()
    cfg.set("site", "WH1", loss_min_units=2, discrepancy_settle_s=300)
    cfg.set("product_class", "fasteners", loss_min_units=5, scan_grace_s=30)
    cfg.set("device", "lc-1", loss_min_units=1)
    both = cfg.resolve(site="WH1", product_class="fasteners", device="lc-1")
    assert (both.loss_min_units, both.scan_grace_s, both.discrepancy_settle_s) == (1, 30.0, 300.0)
    no_device = cfg.resolve(site="WH1", product_class="fasteners", device="lc-2")
    assert (no_device.loss_min_units, no_device.scan_grace_s) == (5, 30.0)
    assert cfg.resolve(site="WH1").loss_min_units == 2
    assert cfg.resolve(site="WH2") == Thresholds()
    assert cfg.resolve(site="WH1") is cfg.resolve(site="WH1")  # cached
    cfg.unset("device", "lc-1")
    assert cfg.resolve(site="WH1", product_class="fasteners", device="lc-1").loss_min_units == 5
    again = ThresholdConfig.from_dict(json.loads(json.dumps(cfg.to_dict())))
    assert again.resolve(site="WH1", product_class="fasteners") == cfg.resolve(
        site="WH1", product_class="fasteners"
    )


@pytest.mark.parametrize(
    ("values", "code"),
    [
        ({"nonsense": 1}, "unknown_threshold"),
        ({"loss_min_units": 1.5}, "invalid_threshold"),
        ({"loss_min_units": 0}, "invalid_threshold"),
        ({"off_route_m": "far"}, "invalid_threshold"),
        ({"temperature_min": 40.0}, "invalid_threshold"),  # above the default max
        ({"false_alarm_p": 0.9}, "invalid_threshold"),
        ({"heartbeat_s": float("inf")}, "invalid_threshold"),
        ({"stuck_readings": True}, "invalid_threshold"),
    ],
)
def test_bad_thresholds_are_refused_when_set(values: dict[str, object], code: str) -> None:
    cfg = ThresholdConfig()
    with pytest.raises(DomainError) as e:
        cfg.set("site", "WH1", **values)
    assert e.value.code == code
    assert cfg.resolve(site="WH1") == Thresholds()
    with pytest.raises(DomainError):
        cfg.set("planet", "earth", loss_min_units=1)  # type: ignore[arg-type]
