"""The engine's lifecycle (one open alarm per rule and subject, flapping bounded, people's
steps), the time-driven and truck families, and restarts from saved state."""

from __future__ import annotations

import json
import random
from collections import defaultdict
from dataclasses import dataclass
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wayhouse.edge.schema import ScanReading, ShelfReading
from wayhouse.platform.alarms.engine import AlarmEngine, Event, Lifecycle
from wayhouse.platform.alarms.inputs import (
    AgentStatus,
    BinConfig,
    BookLevel,
    DocumentState,
    EnvReading,
    EnvSensorConfig,
    EtaUpdate,
    LotStock,
    TruckSample,
)
from wayhouse.platform.alarms.model import (
    HISTORY_KEPT,
    Action,
    AlarmState,
    AlarmType,
    Condition,
    Severity,
    Transition,
)
from wayhouse.platform.alarms.rules.tracking_events import conditions_from_tracking
from wayhouse.platform.alarms.thresholds import ThresholdConfig
from wayhouse.platform.dms.domain.types import DomainError, IllegalTransition

T0 = 1_700_000_000.0
DAY = 86_400.0
HOLD = Lifecycle().clear_hold_s


def _actions(trs: list[Transition], type_: AlarmType | None = None) -> list[Action]:
    return [tr.action for tr in trs if type_ is None or tr.type is type_]


def _check_lifecycles(trs: list[Transition]) -> None:
    """Every alarm's steps are numbered 0.. without gaps and follow the lifecycle, and no key
    ever has two open alarms."""
    steps: dict[str, list[Transition]] = defaultdict(list)
    open_by_key: dict[tuple[AlarmType, str], str] = {}
    for tr in trs:
        steps[tr.alarm_id].append(tr)
        key = (tr.type, tr.subject)
        if tr.action is Action.RAISE:
            assert key not in open_by_key, f"two open alarms for {key}"
            open_by_key[key] = tr.alarm_id
        else:
            assert open_by_key.get(key) == tr.alarm_id
        if tr.action is Action.CLEAR:
            del open_by_key[key]
    for history in steps.values():
        assert [tr.seq for tr in history] == list(range(len(history)))
        assert history[0].action is Action.RAISE and history[0].from_state is None
        for prev, nxt in pairwise(history):
            assert nxt.from_state is prev.to_state
            assert prev.to_state is not AlarmState.CLEARED


# ---- lifecycle ------------------------------------------------------------------------------

conditions = st.lists(
    st.tuples(
        st.floats(0.0, 40.0),  # time step
        st.sampled_from(["sensor:a", "sensor:b"]),
        st.sampled_from([AlarmType.SENSOR_STUCK, AlarmType.GEOFENCE_ENTER]),
        st.sampled_from(["raise", "clear", "ack", "clear_by_hand", "force"]),
    ),
    max_size=120,
)


@settings(max_examples=150, deadline=None)
@given(conditions)
def test_one_open_alarm_per_rule_and_subject_and_every_step_recorded(
    ops: list[tuple[float, str, AlarmType, str]],
) -> None:
    eng = AlarmEngine()
    t = T0
    trs: list[Transition] = []
    for dt, subject, type_, op in ops:
        t += dt
        if op in ("raise", "clear"):
            trs += eng.report([Condition(type_, subject, op == "raise", t, "m", {"t": t})])
            continue
        alarm = eng.open_alarm(type_, subject)
        if alarm is None:
            continue
        try:
            if op == "ack":
                trs.append(eng.acknowledge(alarm.id, "op", t))
            else:
                trs.append(eng.clear(alarm.id, "op", t, "handled", force=op == "force"))
        except IllegalTransition:
            pass
        assert len([a for a in eng.open_alarms() if (a.type, a.subject) == (type_, subject)]) <= 1
    trs += eng.tick(t + 10 * HOLD)
    _check_lifecycles(trs)
    # The engine's open alarms are exactly the ones the transitions leave open, with those
    # transitions as their history.
    left = {tr.alarm_id for tr in trs if tr.action is Action.RAISE} - {
        tr.alarm_id for tr in trs if tr.action is Action.CLEAR
    }
    assert {a.id for a in eng.open_alarms()} == left
    for a in eng.open_alarms():
        mine = [tr for tr in trs if tr.alarm_id == a.id]
        assert a.steps == len(mine) and a.history == mine[-HISTORY_KEPT:]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.floats(0.01, 30.0), st.booleans()), min_size=1, max_size=300))
def test_flapping_conditions_yield_bounded_transitions(flips: list[tuple[float, bool]]) -> None:
    """Whatever a rule reports, one subject gets at most one raise per ``clear_hold_s`` and
    one recorded repeat per ``repeat_every_s``."""
    life = Lifecycle()
    eng = AlarmEngine(lifecycle=life)
    t = T0
    trs: list[Transition] = []
    for dt, raised in flips:
        t += dt
        trs += eng.report([Condition(AlarmType.OFF_ROUTE, "truck:t1", raised, t, "", {"dt": dt})])
    span = t - T0
    raises, repeats = _actions(trs).count(Action.RAISE), _actions(trs).count(Action.REPEAT)
    assert raises <= 1 + span / life.clear_hold_s
    assert _actions(trs).count(Action.CLEAR) <= raises
    assert repeats <= raises + span / life.repeat_every_s
    _check_lifecycles(trs)


def test_a_temperature_hovering_at_its_limit_raises_once() -> None:
    eng = AlarmEngine()
    rng = random.Random(2)
    trs: list[Transition] = []
    for i in range(2000):  # 30.0 +- 0.6 degC, limit 30, hysteresis 1: never clearly back
        trs += eng.feed(
            EnvReading("env-1", T0 + 10 * i, "temperature", 30.0 + rng.uniform(-0.6, 0.6))
        )
    assert _actions(trs) == [Action.RAISE]
    [tr] = trs
    assert tr.type is AlarmType.TEMPERATURE_OUT_OF_RANGE and tr.subject == "sensor:env-1"
    for i in range(2000, 2020):  # back inside by more than the hysteresis
        trs += eng.feed(EnvReading("env-1", T0 + 10 * i, "temperature", 22.0))
    assert _actions(trs) == [Action.RAISE, Action.CLEAR]


def test_environment_thresholds_hold_time_and_the_sensors_physical_range() -> None:
    cfg = ThresholdConfig()
    cfg.set("site", "COLD", temperature_min=2.0, temperature_max=8.0, env_hold_s=120)
    eng = AlarmEngine(cfg)
    eng.register_env_sensor(EnvSensorConfig("env-c", "temperature", site="COLD"))
    trs = [*eng.feed(EnvReading("env-c", T0, "temperature", 9.5))]
    trs += eng.feed(EnvReading("env-c", T0 + 60, "temperature", 9.5))
    assert trs == []  # out of range for 60 s of the 120 s hold
    trs += eng.feed(EnvReading("env-c", T0 + 121, "temperature", 9.6))
    assert _actions(trs) == [Action.RAISE]
    trs += eng.feed(EnvReading("env-h", T0, "humidity", 55.0))  # unregistered: defaults
    trs += eng.feed(EnvReading("env-h", T0 + 1, "humidity", 900.0))
    trs += eng.feed(EnvReading("env-h", T0 + 2, "humidity", 900.0))
    assert [tr.type for tr in trs][1:] == [AlarmType.SENSOR_OUT_OF_RANGE]  # not a climate alarm


def test_people_acknowledge_and_clear_by_the_rules_of_the_lifecycle() -> None:
    eng = AlarmEngine()
    stuck = Condition(AlarmType.SENSOR_STUCK, "sensor:x", True, T0, "stuck", {})
    [raised] = eng.report([stuck])
    ack = eng.acknowledge(raised.alarm_id, "operator", T0 + 1, "looking")
    assert (ack.action, ack.to_state, ack.by, ack.reason) == (
        Action.ACKNOWLEDGE,
        AlarmState.ACKNOWLEDGED,
        "operator",
        "looking",
    )
    with pytest.raises(IllegalTransition):
        eng.clear(raised.alarm_id, "operator", T0 + 2, "fixed")  # the condition still holds
    forced = eng.clear(raised.alarm_id, "operator", T0 + 2, "decommissioned", force=True)
    assert forced.to_state is AlarmState.CLEARED and eng.open_alarms() == []
    with pytest.raises(DomainError):
        eng.acknowledge(raised.alarm_id, "operator", T0 + 3)
    # Latched: the condition reported again stays quiet until it ends and comes back.
    assert eng.report([stuck]) == []
    assert eng.report([Condition(AlarmType.SENSOR_STUCK, "sensor:x", False, T0 + 5)]) == []
    again = eng.report([Condition(AlarmType.SENSOR_STUCK, "sensor:x", True, T0 + 9, "stuck", {})])
    assert _actions(again) == [Action.RAISE] and again[0].alarm_id != raised.alarm_id
    # A momentary alarm (a fence crossing) is cleared by a person at any time.
    [fence] = eng.report(
        [Condition(AlarmType.GEOFENCE_EXIT, "truck:t/fence:f", True, T0, "left", {})]
    )
    assert eng.clear(fence.alarm_id, "dispatcher", T0 + 1, "expected").action is Action.CLEAR


def test_an_auto_clear_waits_for_the_hold_and_a_re_raise_cancels_it() -> None:
    eng = AlarmEngine()
    key = (AlarmType.OFF_ROUTE, "truck:t1")
    trs = eng.report([Condition(*key, True, T0, "off", {})])
    trs += eng.report([Condition(*key, False, T0 + 10, "back", {})])
    trs += eng.report([Condition(*key, True, T0 + 20, "off", {})])  # within the hold
    trs += eng.tick(T0 + 100)
    assert _actions(trs) == [Action.RAISE]
    trs += eng.report([Condition(*key, False, T0 + 110, "back on route", {})])
    trs += eng.tick(T0 + 110 + HOLD - 1)
    assert _actions(trs) == [Action.RAISE]
    trs += eng.tick(T0 + 110 + HOLD)
    assert _actions(trs) == [Action.RAISE, Action.CLEAR]
    assert (trs[-1].t, trs[-1].reason, trs[-1].by) == (T0 + 110 + HOLD, "back on route", "rule")


def test_unknown_events_are_refused() -> None:
    with pytest.raises(TypeError):
        AlarmEngine().feed("reading")  # type: ignore[arg-type]


# ---- devices, expiry, trucks ------------------------------------------------------------------


def test_a_last_will_raises_offline_at_once_and_a_sign_of_life_clears_it() -> None:
    eng = AlarmEngine()
    trs = [*eng.feed(AgentStatus("shelf-A-01", T0, "online"))]
    trs += eng.feed(AgentStatus("shelf-A-01", T0 + 30, "offline", "will"))
    [off] = trs
    assert (off.type, off.subject, (off.evidence or {})["reason"]) == (
        AlarmType.DEVICE_OFFLINE,
        "agent:shelf-A-01",
        "last will",
    )
    assert off.severity is Severity.CRITICAL
    trs += eng.feed(AgentStatus("shelf-A-01", T0 + 40, "offline"))  # repeated will: one alarm
    trs += eng.feed(AgentStatus("shelf-A-01", T0 + 50, "online"))
    trs += eng.tick(T0 + 50 + HOLD)
    assert _actions(trs) == [Action.RAISE, Action.CLEAR]


def test_missed_heartbeats_raise_offline_stamped_when_it_became_overdue() -> None:
    def run(ticks: list[float]) -> list[Transition]:
        eng = AlarmEngine()
        out = [*eng.feed(AgentStatus("truck-01", T0, "heartbeat"))]
        for t in ticks:
            out += eng.tick(t)
        return out

    early = run([T0 + 60, T0 + 91, T0 + 300])
    late = run([T0 + 250])
    assert _actions(early) == _actions(late) == [Action.RAISE]
    assert early[0].t == late[0].t == T0 + 90  # 3 x 30 s heartbeats
    assert early[0].alarm_id == late[0].alarm_id  # a replay ticking elsewhere: same alarm


def test_lots_expiring_escalate_when_expired_and_clear_when_sold_out() -> None:
    eng = AlarmEngine()
    exp = T0 + 40 * DAY
    trs = [*eng.feed(LotStock("L1", "P1", T0, exp, 12))]
    trs += eng.tick(T0 + 9 * DAY)
    assert trs == []
    trs += eng.tick(T0 + 10 * DAY + 5)
    [soon] = trs
    assert (soon.type, soon.subject, soon.t, soon.severity) == (
        AlarmType.LOT_EXPIRING,
        "lot:L1",
        exp - 30 * DAY,
        Severity.WARNING,
    )
    trs += eng.tick(exp + 1)
    assert trs[-1].action is Action.REPEAT and trs[-1].severity is Severity.CRITICAL
    trs += eng.feed(LotStock("L1", "P1", exp + 100, exp, 0))
    trs += eng.tick(exp + 100 + HOLD)
    assert _actions(trs) == [Action.RAISE, Action.REPEAT, Action.CLEAR]
    # Already due when it arrives: raised at once; a product class may watch longer.
    cfg = ThresholdConfig()
    cfg.set("product_class", "fluids", lot_expiry_days=90)
    eng2 = AlarmEngine(cfg)
    assert _actions(list(eng2.feed(LotStock("L2", "P9", T0, T0 + 60 * DAY, 3, "fluids")))) == [
        Action.RAISE
    ]


def test_documents_expiring_raise_and_clear_when_renewed() -> None:
    eng = AlarmEngine()
    trs = [*eng.feed(DocumentState("D7", "dealer-7", "business licence", T0, T0 + 20 * DAY))]
    assert _actions(trs) == [Action.RAISE] and trs[0].subject == "document:D7"
    trs += eng.feed(DocumentState("D7", "dealer-7", "business licence", T0 + DAY, T0 + 400 * DAY))
    trs += eng.tick(T0 + DAY + HOLD)
    assert _actions(trs) == [Action.RAISE, Action.CLEAR]


def _truck(t: float, **kw: object) -> TruckSample:
    base: dict[str, object] = {"truck": "truck-01", "t": T0 + t, "speed_mps": 12.0}
    return TruckSample(**{**base, **kw})  # type: ignore[arg-type]


def test_geofence_crossings_need_the_dwell_time_so_gps_jitter_is_no_crossing() -> None:
    eng = AlarmEngine()
    trs: list[Transition] = []
    for i in range(40):  # jitter across the boundary every fix
        trs += eng.feed(_truck(5 * i, fences=("DEPOT",) if i % 2 else ()))
    assert trs == []
    for i in range(40, 45):
        trs += eng.feed(_truck(5 * i, fences=("DEPOT",)))
    [enter] = trs
    # Stamped when the crossing began (the last jitter fix, 195 s, was already inside).
    assert (enter.type, enter.subject, enter.t) == (
        AlarmType.GEOFENCE_ENTER,
        "truck:truck-01/fence:DEPOT",
        T0 + 195,
    )
    for i in range(45, 50):
        trs += eng.feed(_truck(5 * i))
    assert [tr.type for tr in trs] == [AlarmType.GEOFENCE_ENTER, AlarmType.GEOFENCE_EXIT]


def test_off_route_with_hysteresis_and_a_hold() -> None:
    eng = AlarmEngine()
    trs: list[Transition] = []
    for i, d in enumerate([100, 600, 700, 650, 620, 610, 480, 550, 300, 200]):
        trs += eng.feed(_truck(15 * i, route_distance_m=float(d)))
    # 600 m at 15 s, still beyond 500 m at 45 s (30 s hold): raised; 480 and 550 are inside
    # the hysteresis band (400-500): no clear until 300 m.
    assert [(tr.action, tr.t - T0) for tr in trs] == [(Action.RAISE, 45.0)]
    trs += eng.tick(T0 + 120 + HOLD)
    assert [(tr.action, tr.t - T0) for tr in trs] == [
        (Action.RAISE, 45.0),
        (Action.CLEAR, 120.0 + HOLD),
    ]


def test_a_long_stop_away_from_a_planned_stop_raises_and_a_stop_at_a_customer_does_not() -> None:
    eng = AlarmEngine()
    trs: list[Transition] = []
    for i in range(100):  # 25 minutes unloading at a customer
        trs += eng.feed(_truck(15 * i, speed_mps=0.0, at_stop=True))
    assert trs == []
    for i in range(100, 170):  # stopped on the road
        trs += eng.feed(_truck(15 * i, speed_mps=0.2))
    [stop] = trs
    assert stop.type is AlarmType.STOPPED_TOO_LONG and stop.t - T0 == 1500 + 900
    assert (stop.evidence or {})["stopped_since"] == T0 + 1500


def test_a_late_prediction_raises_and_clears_when_back_in_the_window_or_delivered() -> None:
    eng = AlarmEngine()
    w_end = T0 + 3600
    trs = [*eng.feed(EtaUpdate("DEL-1", "truck-01", T0, w_end - 600, w_end))]
    trs += eng.feed(EtaUpdate("DEL-1", "truck-01", T0 + 60, w_end + 200, w_end))  # within tolerance
    assert trs == []
    trs += eng.feed(EtaUpdate("DEL-1", "truck-01", T0 + 120, w_end + 900, w_end))
    assert [(tr.type, tr.subject) for tr in trs] == [(AlarmType.PREDICTED_LATE, "delivery:DEL-1")]
    trs += eng.feed(EtaUpdate("DEL-1", "truck-01", T0 + 180, w_end + 100, w_end))  # still late-ish
    trs += eng.feed(EtaUpdate("DEL-1", "truck-01", T0 + 4000, T0 + 4000, None))  # delivered
    trs += eng.tick(T0 + 4000 + HOLD)
    assert _actions(trs) == [Action.RAISE, Action.CLEAR]


def test_changed_thresholds_apply_to_registered_subjects() -> None:
    eng = AlarmEngine()
    eng.register_bin(BinConfig("A-01-1", "lc-1", "P1", 350.0, 1000.0, 3.0))
    eng.config.set("device", "lc-1", scale_max_g=5000.0)
    eng.thresholds_changed()
    trs: list[Transition] = []
    for i in range(3):
        trs += eng.feed(ShelfReading(s="lc-1", t=T0 + 5 * i, w=8000.0))
    assert [tr.type for tr in trs] == [AlarmType.SENSOR_OUT_OF_RANGE]


# ---- restarts ----------------------------------------------------------------------------------

Op = Event | tuple[str, int]


def _mixed_stream(seed: int) -> list[Op]:
    """Two shelf bins (one loses a unit, one is picked with a scan), a climate sensor that
    drifts out of range, an agent that dies and returns, a truck that starts in a fence,
    leaves it and its route, a late delivery, an expiring lot; plus people acknowledging
    and clearing."""
    rng = random.Random(seed)
    ops: list[Op] = []
    for i in range(720):
        t = T0 + 5 * i
        a = 20 - (i >= 200)  # A-01-1 loses one unit at reading 200, unscanned
        b = 30 - 2 * (i >= 400)
        if i == 399:
            ops.append(
                ScanReading(s="hh.bc", t=t + 1, k="barcode", c="P2", a="pick", q=2, b="A-01-2")
            )
            ops.append(BookLevel("A-01-2", "L1", 28, t + 1))
        ops.append(ShelfReading(s="lc-1", t=t, w=round(1000 + a * 350 + rng.gauss(0, 3), 1)))
        ops.append(ShelfReading(s="lc-2", t=t + 0.5, w=round(800 + b * 60 + rng.gauss(0, 4), 1)))
        if i % 6 == 0:
            temp = 24 + (i / 720) * 12 + rng.gauss(0, 0.3)
            ops.append(EnvReading("env-1", t, "temperature", round(temp, 1)))
            if not 300 <= i < 420:
                ops.append(AgentStatus("shelf-A-01", t, "heartbeat"))
        if i == 300:
            ops.append(AgentStatus("shelf-A-01", t, "offline", "will"))
        if i % 3 == 0:
            off = 800.0 if 100 <= i < 250 else 50.0
            fences = ("DEPOT",) if i < 150 else ()
            ops.append(TruckSample("truck-01", t, 11.0, route_distance_m=off, fences=fences))
        if i % 60 == 0:
            ops.append(EtaUpdate("DEL-1", "truck-01", t, T0 + 2000 + 3 * i, T0 + 3000))
        if i == 10:
            ops.append(LotStock("L9", "P1", t, T0 + 20 * DAY, 5))
        if i in (260, 500):
            ops.append(("ack", i))
        if i == 600:
            ops.append(("clear", i))
    return ops


def _run(eng: AlarmEngine, ops: list[Op]) -> list[Transition]:
    out: list[Transition] = []
    for op in ops:
        if isinstance(op, tuple):
            kind, i = op
            t = T0 + 5 * i
            for a in sorted(eng.open_alarms(), key=lambda a: a.id):
                if kind == "ack" and a.state is AlarmState.ACTIVE:
                    out.append(eng.acknowledge(a.id, "operator", t))
                elif kind == "clear" and a.type in (
                    AlarmType.WEIGHT_LOSS_UNEXPLAINED,
                    AlarmType.GEOFENCE_EXIT,
                ):
                    out.append(eng.clear(a.id, "operator", t, "checked"))
        else:
            out += eng.feed(op)
    return out


def _fresh() -> AlarmEngine:
    eng = AlarmEngine()
    eng.register_bin(
        BinConfig("A-01-1", "lc-1", "P1", 350.0, 1000.0, 3.0, 40, agent="shelf-A-01", site="WH1")
    )
    eng.register_bin(
        BinConfig("A-01-2", "lc-2", "P2", 60.0, 800.0, 4.0, 200, agent="shelf-A-01", site="WH1")
    )
    eng.feed(BookLevel("A-01-1", "L1", 20, T0 - 1))
    eng.feed(BookLevel("A-01-2", "L1", 30, T0 - 1))
    return eng


def test_the_mixed_stream_raises_what_it_should() -> None:
    trs = _run(_fresh(), _mixed_stream(0))
    raised = {tr.type for tr in trs if tr.action is Action.RAISE}
    assert raised == {
        AlarmType.BELOW_REORDER_POINT,  # A-01-2: 30 of 200, reorder point 40
        AlarmType.WEIGHT_LOSS_UNEXPLAINED,
        AlarmType.STOCK_DISCREPANCY,
        AlarmType.TEMPERATURE_OUT_OF_RANGE,
        AlarmType.DEVICE_OFFLINE,
        AlarmType.OFF_ROUTE,
        AlarmType.GEOFENCE_EXIT,
        AlarmType.PREDICTED_LATE,
        AlarmType.LOT_EXPIRING,
    }
    _check_lifecycles(trs)
    assert {tr.action for tr in trs} == set(Action)


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 3), st.floats(0.0, 1.0))
def test_state_round_trips_through_json_mid_stream_without_changing_results(
    seed: int, where: float
) -> None:
    ops = _mixed_stream(seed)
    expected = _run(_fresh(), ops)
    cut = int(where * len(ops))
    first = _fresh()
    got = _run(first, ops[:cut])
    saved = json.dumps(first.to_dict())
    resumed = AlarmEngine.from_dict(json.loads(saved))
    got += _run(resumed, ops[cut:])
    assert got == expected
    assert json.dumps(resumed.to_dict()) == json.dumps(_replayed(ops).to_dict())


def _replayed(ops: list[Op]) -> AlarmEngine:
    eng = _fresh()
    _run(eng, ops)
    return eng


# ---- tracking's own events ------------------------------------------------------------------


@dataclass(frozen=True)
class _TrackingEvent:
    """The shape of ``platform.tracking.events.TrackingEvent``."""

    kind: str
    at: float
    truck_id: str
    route_id: str
    stop_index: int | None = None
    stop_id: str | None = None
    value: float | None = None
    limit: float | None = None

    @property
    def subject(self) -> str:
        base = f"{self.truck_id}/{self.route_id}"
        return base if self.stop_index is None else f"{base}/{self.stop_index}"


def test_tracking_events_go_through_the_same_lifecycle() -> None:
    eng = AlarmEngine()
    evs = [
        _TrackingEvent("off-route", T0, "truck-01", "R1", value=900.0, limit=500.0),
        _TrackingEvent("arrived", T0 + 60, "truck-01", "R1", 2, "D007", T0 + 60, T0 + 999),
        _TrackingEvent("route-finished", T0 + 70, "truck-01", "R1"),
        _TrackingEvent("off-route-cleared", T0 + 80, "truck-01", "R1"),
    ]
    trs = eng.report(conditions_from_tracking(evs, site="WH1"))
    trs += eng.tick(T0 + 80 + HOLD)
    assert [(tr.type, tr.action, tr.subject) for tr in trs] == [
        (AlarmType.OFF_ROUTE, Action.RAISE, "truck:truck-01/R1"),
        (AlarmType.GEOFENCE_ENTER, Action.RAISE, "truck:truck-01/R1/2"),
        (AlarmType.OFF_ROUTE, Action.CLEAR, "truck:truck-01/R1"),
    ]
    assert trs[1].evidence == {
        "truck": "truck-01",
        "route": "R1",
        "stop": "D007",
        "value": T0 + 60,
        "limit": T0 + 999,
        "tracking": "arrived",
    }
