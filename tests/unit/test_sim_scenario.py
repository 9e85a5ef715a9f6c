"""The default scenario's shape, and that a seed fixes every message the simulator sends."""

from __future__ import annotations

from collections import Counter

import pytest

from wayhouse.config import MqttTarget
from wayhouse.edge.outbox import MemoryOutbox
from wayhouse.edge.schema import AGENT_ID_RE, decode, parse_topic
from wayhouse.simulators.runner import SimAgents
from wayhouse.simulators.scenario import default_scenario, get_scenario, small_scenario
from wayhouse.simulators.world import ScanBatch, ShelfBatch, World

T0 = 1_700_000_000.0


def test_default_scenario_has_200_bins_on_20_controllers_3_scanners_5_trucks() -> None:
    sc = default_scenario(0)
    agents = sc.agents()
    kinds = Counter(a.kind for a in agents)
    assert kinds == {"shelf": 20, "scanner": 3, "truck": 5}
    assert all(len(a.sensors) == 10 for a in agents if a.kind == "shelf")
    assert len({b.code for b in sc.bins}) == 200
    sensors = [s.sensor_id for a in agents for s in a.sensors]
    assert len(sensors) == len(set(sensors))
    assert all(AGENT_ID_RE.match(a.agent_id) for a in agents)
    scale = next(a for a in agents if a.kind == "shelf").sensors[0]
    assert {"bin", "sku", "unit_weight_g", "tare_g"} <= set(scale.meta)
    for b in sc.bins:
        assert 0 < b.initial_count <= b.capacity and b.unit_weight_g > 0 and b.tare_g > 0


def test_unknown_scenario_names_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown scenario"):
        get_scenario("nope")


def _memory(agent_id: str) -> MemoryOutbox:
    return MemoryOutbox()


def _play(seed: int, steps: list[float]) -> list[tuple[str, bytes]]:
    """Run the world through the real agents into in-memory outboxes; return what they queued."""
    sc = small_scenario(seed)
    world = World(sc, T0)
    agents = SimAgents(sc, lambda: T0, lambda a: MqttTarget("127.0.0.1", 1, a, "pw"), _memory)
    for t in steps:
        for e in world.advance(t):
            agents.deliver(e)
    out = []
    for ob in agents.outboxes:
        out += [(p.topic, p.payload) for p in ob.pending(limit=1_000_000)]
    return out


def test_the_same_seed_gives_the_same_messages_whatever_the_steps() -> None:
    jump = _play(5, [T0 + 7200])
    sliced = _play(5, [T0 + 0.7 * k for k in range(1, 10_286)] + [T0 + 7200])
    assert jump == sliced
    streams = Counter(parse_topic(t)[1].value for t, _ in jump)
    assert streams["shelf"] > 0 and streams["scan"] > 0 and streams["gps"] > 0
    for t, p in jump:
        decode(parse_topic(t)[1], p)  # every message honours the contract


def test_another_seed_gives_other_messages() -> None:
    assert _play(1, [T0 + 600]) != _play(2, [T0 + 600])


def test_scales_weigh_what_the_ground_truth_holds() -> None:
    sc = small_scenario(0)
    world = World(sc, T0, ops_per_hour=600)
    batches = [e for e in world.advance(T0 + 3600) if isinstance(e, ShelfBatch)]
    bins = {b.sensor_id: b for b in sc.bins}
    for batch in batches[-len(sc.shelf_rows()) :]:
        for sensor, w in batch.weights:
            b = bins[sensor]
            expected = b.tare_g + world.floor.count(b.code, batch.t) * b.unit_weight_g
            assert abs(w - expected) < 6 * b.noise_sigma_g + 0.1


def test_every_operation_is_scanned_by_a_scanner_of_the_scenario() -> None:
    sc = small_scenario(3)
    world = World(sc, T0, ops_per_hour=600)
    scans = [e for e in world.advance(T0 + 3600) if isinstance(e, ScanBatch)]
    scanner_ids = {s.agent_id for s in sc.scanners}
    barcode = [ev for b in scans for ev in b.events if ev.kind == "barcode"]
    assert {b.agent_id for b in scans} <= scanner_ids
    assert len(barcode) == len([m for m in world.floor.movements if m.reason != "shrink"])
