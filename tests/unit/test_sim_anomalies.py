"""Injected anomalies and their ground truth (``simulators/anomalies.py``).

Besides the shape of what is injected, the truth is checked against the alarm engine itself:
the scenario's readings, scans, climate readings and heartbeats are fed to ``AlarmEngine``
(pure, no broker) and every truth must be raised on its subject no later than its ``due``
(plus one reading), with no alarm left over. That pins the subjects and the ``due`` times
to what the rules really do, so the benchmark measures the pipeline, not a misnaming.
"""

from __future__ import annotations

import dataclasses
from collections import Counter

import pytest

from wayhouse.bench.alarms import Raised, match
from wayhouse.edge.schema import ScanReading, ShelfReading
from wayhouse.platform.alarms.engine import AlarmEngine
from wayhouse.platform.alarms.inputs import (
    AgentConfig,
    AgentStatus,
    BinConfig,
    BookLevel,
    EnvReading,
    EnvSensorConfig,
)
from wayhouse.platform.alarms.model import Action
from wayhouse.simulators.anomalies import (
    OUT_OF_RANGE_G,
    AgentKill,
    AnomalyWorld,
    EnvBatch,
    Heartbeat,
    Truth,
    read_truth,
    write_truth,
)
from wayhouse.simulators.scenario import AnomalyMix, alarms_scenario, get_scenario, renamed
from wayhouse.simulators.world import ScanBatch, ShelfBatch

T0 = 1_700_000_000.0


def _play(world: AnomalyWorld, steps: list[float]) -> list[object]:
    out: list[object] = []
    for t in steps:
        out += world.advance(t)
    return out


def _small(**mix: object) -> object:
    return alarms_scenario(3, mix=AnomalyMix(**mix))  # type: ignore[arg-type]


def test_the_same_seed_gives_the_same_emissions_and_truth_whatever_the_steps() -> None:
    sc = get_scenario("alarms", 1)
    a = AnomalyWorld(sc, T0)
    b = AnomalyWorld(sc, T0)
    end = a.end_time
    jump = _play(a, [end])
    sliced = _play(b, [T0 + 0.9 * k for k in range(1, int((end - T0) / 0.9))] + [end])
    assert jump == sliced
    assert a.truths() == b.truths()


def test_every_kind_is_injected_per_kind_times_on_distinct_targets() -> None:
    sc = get_scenario("alarms", 0)
    w = AnomalyWorld(sc, T0)
    assert sc.anomalies is not None
    kinds = Counter(i.kind for i in w.injections)
    assert kinds == dict.fromkeys(sc.anomalies.kinds, sc.anomalies.per_kind)
    bins = [i.target for i in w.injections if i.kind not in {"temperature", "humidity"}]
    assert len(bins) == len(set(bins))
    assert all(T0 + sc.anomalies.warmup_s < i.t < w.end_time for i in w.injections)


def test_several_anomalies_share_an_instant_in_the_burst_scenario() -> None:
    w = AnomalyWorld(get_scenario("alarms-burst", 0), T0)
    slots = Counter(round(i.t) for i in w.injections)
    assert max(slots.values()) >= 4


def test_faulty_cells_read_as_the_rules_define_the_faults() -> None:
    sc = get_scenario("alarms", 2)
    w = AnomalyWorld(sc, T0)
    shelves = [e for e in _play(w, [w.end_time]) if isinstance(e, ShelfBatch)]
    series: dict[str, list[tuple[float, float]]] = {}
    for e in shelves:
        for cell, g in e.weights:
            series.setdefault(cell, []).append((e.t, g))
    sigma = {b.sensor_id: b.noise_sigma_g for b in sc.bins}
    for x in w.truths():
        if not x.subject.startswith("sensor:lc-"):
            continue
        cell = x.subject.removeprefix("sensor:")
        s = series[cell]
        at = [g for t, g in s if x.t <= t <= x.due]
        if x.type == "sensor_stuck":
            assert len(at) == 12 and len(set(at)) == 1  # 12 identical values end at due
        elif x.type == "sensor_out_of_range":
            assert at == [OUT_OF_RANGE_G, OUT_OF_RANGE_G]
        else:
            assert x.type == "sensor_jump"
            before = [g for t, g in s if t < x.t][-1]
            spikes = [g for t, g in s if x.t <= t <= x.due if g - before > 10 * sigma[cell]]
            assert len(spikes) == 2


def test_silent_gateway_stops_beating_and_a_dying_one_is_killed() -> None:
    sc = get_scenario("alarms", 0)
    w = AnomalyWorld(sc, T0)
    em = _play(w, [w.end_time])
    silent = {i.target: i.t for i in w.injections if i.kind == "offline_silent"}
    for g, t in silent.items():
        beats = [e.t for e in em if isinstance(e, Heartbeat) and e.agent_id == g]
        assert beats and max(beats) < t
        (truth,) = [x for x in w.truths() if x.subject == f"agent:{g}"]
        assert truth.due == max(beats) + 90.0
    kills = [e for e in em if isinstance(e, AgentKill)]
    assert sorted(k.agent_id for k in kills) == w.will_agents
    assert not [e for e in em if isinstance(e, Heartbeat) and e.agent_id in w.will_agents]


def test_unscanned_losses_and_gains_change_the_true_count_without_a_scan() -> None:
    sc = get_scenario("alarms", 0)
    w = AnomalyWorld(sc, T0)
    em = _play(w, [w.end_time])
    scanned = {ev.bin_code for e in em if isinstance(e, ScanBatch) for ev in e.events}
    for i in w.injections:
        if i.kind in ("shrink", "gain"):
            assert i.target not in scanned  # quiet bin: nothing but the injection
            before, after = w.floor.count(i.target, i.t - 1), w.floor.count(i.target, i.t + 1)
            assert after - before == (-i.qty if i.kind == "shrink" else i.qty)


def test_random_operations_stop_for_the_quiet_end() -> None:
    sc = get_scenario("alarms-fast", 0)
    w = AnomalyWorld(sc, T0)
    _play(w, [w.end_time])
    assert sc.anomalies is not None
    quiet_from = w.end_time - sc.anomalies.tail_s
    assert w.floor.movements and all(m.t <= quiet_from for m in w.floor.movements)


def test_truth_round_trips_through_json_lines(tmp_path: object) -> None:
    w = AnomalyWorld(get_scenario("alarms", 0), T0)
    _play(w, [w.end_time])
    path = tmp_path / "truth.jsonl"  # type: ignore[operator]
    n = write_truth(path, w.truths())
    back = read_truth(path)
    assert n == len(back) and sorted(back, key=repr) == sorted(w.truths(), key=repr)


def test_renamed_scenario_owns_every_id() -> None:
    sc = renamed(get_scenario("alarms", 0), "ab1-", "AB1")
    ids = [a.agent_id for a in sc.agents()] + [s.sensor_id for a in sc.agents() for s in a.sensors]
    assert all(i.startswith("ab1-") for i in ids)
    assert all(b.sku.startswith("ab1-") for b in sc.bins) and sc.site == "AB1"


# ---- the truth against the real rules --------------------------------------------------------


def _replay(sc: object) -> tuple[AnomalyWorld, list[Raised]]:
    """Feed the world to the alarm engine as the evaluator would (bins keyed site/code, the
    book following the scans, a tick every second); return the raises."""
    w = AnomalyWorld(sc, T0)  # type: ignore[arg-type]
    eng = AlarmEngine()
    site = w.scenario.site
    book = {}
    for b in w.scenario.bins:
        key = f"{site}/{b.code}"
        eng.register_bin(
            BinConfig(
                key, b.sensor_id, b.sku, b.unit_weight_g, b.tare_g, b.noise_sigma_g,
                b.capacity, None, b.agent_id, site,
            )
        )  # fmt: skip
        book[key] = b.initial_count
        eng.feed(BookLevel(key, None, b.initial_count, T0 - 1))
    kinds = {}
    for z in w.scenario.env_zones:
        for sensor, kind in ((z.temp_sensor, "temperature"), (z.rh_sensor, "humidity")):
            eng.register_env_sensor(EnvSensorConfig(sensor, kind, site, z.agent_id))  # type: ignore[arg-type]
            kinds[sensor] = kind
    for g in w.scenario.gateways:
        eng.register_agent(AgentConfig(g, site))
        eng.feed(AgentStatus(g, T0, "online"))
    raised: list[Raised] = []

    def take(trs: object) -> None:
        for tr in trs:  # type: ignore[attr-defined]
            if tr.action is Action.RAISE:
                raised.append(Raised(tr.type.value, tr.subject, tr.t, tr.t))

    t = T0
    while t < w.end_time:
        t += 1.0
        for e in w.advance(t):
            if isinstance(e, ShelfBatch):
                for cell, g in e.weights:
                    take(eng.feed(ShelfReading(s=cell, t=e.t, w=g)))
            elif isinstance(e, ScanBatch):
                for ev in e.events:
                    b = f"{site}/{ev.bin_code}" if ev.bin_code else None
                    r = ScanReading(s="x", t=ev.t, k=ev.kind, c=ev.code, a=ev.action, q=ev.qty, b=b)
                    take(eng.feed(r))
                    if b is not None and ev.action in ("pick", "putaway"):
                        book[b] += ev.qty if ev.action == "putaway" else -ev.qty
                        take(eng.feed(BookLevel(b, None, book[b], ev.t + 2.0)))
            elif isinstance(e, EnvBatch):
                for sensor, temp, rh in e.readings:
                    v = temp if kinds[sensor] == "temperature" else rh
                    assert v is not None
                    take(eng.feed(EnvReading(sensor, e.t, kinds[sensor], v)))  # type: ignore[arg-type]
            elif isinstance(e, Heartbeat):
                take(eng.feed(AgentStatus(e.agent_id, e.t, "heartbeat")))
            elif isinstance(e, AgentKill):
                take(eng.feed(AgentStatus(e.agent_id, T0, "offline", "will")))
        take(eng.tick(t))
    return w, raised


@pytest.mark.parametrize("name", ["alarms", "alarms-noisy", "alarms-burst"])
def test_the_alarm_engine_raises_exactly_the_truth_at_its_due_time(name: str) -> None:
    sc = get_scenario(name, 0)
    mix = dataclasses.replace(sc.anomalies, per_kind=2) if sc.anomalies else None
    w, raised = _replay(dataclasses.replace(sc, anomalies=mix))
    truths = w.truths(until=w.end_time - 30)
    scores = match(truths, raised, late_s=1.0)
    for type_, s in scores.items():
        assert s["recall"] == 1.0, (type_, s, _missing(truths, raised, type_))
        assert s["precision"] == 1.0, (type_, s)
        # The engine's stamp is the deciding reading's time: never later than ``due`` plus
        # a reading of slack (the tick, or the grid), never before the onset.
        assert s["latency_p99_s"] is not None and s["latency_p99_s"] <= 1.0, (type_, s)
    assert {"weight_loss_unexplained", "sensor_stuck", "device_offline"} <= set(scores)


def _missing(truths: list[Truth], raised: list[Raised], type_: str) -> list[object]:
    got = {(a.subject, round(a.created)) for a in raised if a.type == type_}
    return [(x.subject, round(x.due), sorted(got)) for x in truths if x.type == type_][:5]
