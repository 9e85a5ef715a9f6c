"""The agents turn readings into valid contract messages in their outbox (no broker needed)."""

from __future__ import annotations

import pytest

from wayhouse.config import MqttTarget
from wayhouse.edge.agents import ScannerAgent, ShelfScaleAgent, TruckGpsAgent
from wayhouse.edge.outbox import MemoryOutbox
from wayhouse.edge.schema import (
    MAX_READINGS_PER_MESSAGE,
    GpsMessage,
    Message,
    ScanMessage,
    ShelfMessage,
    Stream,
    decode,
    parse_topic,
)

TARGET = MqttTarget("127.0.0.1", 1, "x", "pw")
T0 = 1_700_000_000.0


def _messages(ob: MemoryOutbox) -> list[tuple[str, Message]]:
    out = []
    for p in ob.pending(limit=100_000):
        agent, stream = parse_topic(p.topic)
        msg = decode(stream, p.payload)
        assert msg.seq == p.seq
        out.append((agent, msg))
    return out


def test_a_shelf_controller_sends_all_its_cells_in_one_message_per_tick() -> None:
    ob = MemoryOutbox()
    weights = {"lc-1": 1000.0, "lc-2": 2500.5, "lc-3": 0.0}
    agent = ShelfScaleAgent(
        "shelf-A-01", TARGET, ob, cells=list(weights), read=weights.__getitem__, clock=lambda: T0
    )
    agent.tick()
    agent.tick(T0 + 5)
    (a1, m1), (_, m2) = _messages(ob)
    assert a1 == "shelf-A-01"
    assert isinstance(m1, ShelfMessage) and isinstance(m2, ShelfMessage)
    assert [(r.s, r.w, r.t) for r in m1.r] == [(s, w, T0) for s, w in weights.items()]
    assert m2.r[0].t == T0 + 5 and m2.seq == m1.seq + 1


def test_a_batch_larger_than_the_contract_allows_is_split() -> None:
    ob = MemoryOutbox()
    cells = [f"lc-{i}" for i in range(MAX_READINGS_PER_MESSAGE + 5)]
    agent = ShelfScaleAgent("shelf-big", TARGET, ob, cells=cells, clock=lambda: T0)
    seqs = agent.emit(dict.fromkeys(cells, 1.0))
    msgs = [m for _, m in _messages(ob)]
    assert len(seqs) == 2
    assert [len(m.r) for m in msgs] == [MAX_READINGS_PER_MESSAGE, 5]  # type: ignore[union-attr]


def test_a_shelf_controller_without_a_reader_must_be_pushed() -> None:
    agent = ShelfScaleAgent("shelf-x", TARGET, MemoryOutbox(), cells=["c"])
    with pytest.raises(RuntimeError, match="emit"):
        agent.tick()


def test_a_scanner_reports_what_the_operator_did_with_which_sensor() -> None:
    ob = MemoryOutbox()
    scanner = ScannerAgent(
        "scan-01",
        TARGET,
        ob,
        barcode_sensor="scan-01.bc",
        rfid_sensor="scan-01.rfid",
        clock=lambda: T0,
    )
    scanner.scan("P10001", "pick", qty=3, bin_code="A-01-1")
    scanner.emit(
        [scanner.reading(f"EPC-{i}", "gate", kind="rfid", zone="DOCK-1") for i in range(4)]
    )
    (_, pick), (_, gate) = _messages(ob)
    assert isinstance(pick, ScanMessage) and isinstance(gate, ScanMessage)
    r = pick.r[0]
    assert (r.s, r.k, r.c, r.a, r.q, r.b) == (
        "scan-01.bc",
        "barcode",
        "P10001",
        "pick",
        3,
        "A-01-1",
    )
    assert {(g.s, g.k, g.a, g.z) for g in gate.r} == {("scan-01.rfid", "rfid", "gate", "DOCK-1")}
    assert len(gate.r) == 4


def test_a_scanner_refuses_a_kind_it_has_no_sensor_for() -> None:
    scanner = ScannerAgent("scan-x", TARGET, MemoryOutbox(), barcode_sensor="b", rfid_sensor=None)
    with pytest.raises(ValueError, match="rfid"):
        scanner.scan("EPC-1", "gate", kind="rfid")


def test_a_truck_unit_sends_one_fix_per_message() -> None:
    ob = MemoryOutbox()
    truck = TruckGpsAgent("truck-01", TARGET, ob, sensor_id="truck-01.gps", clock=lambda: T0)
    truck.fix(45.7, 4.9, spd=12.5, hdg=90.0, acc=8.0)
    [(_, msg)] = _messages(ob)
    assert isinstance(msg, GpsMessage)
    r = msg.r[0]
    assert (r.s, r.lat, r.lon, r.spd, r.hdg, r.acc, r.t) == (
        "truck-01.gps",
        45.7,
        4.9,
        12.5,
        90.0,
        8.0,
        T0,
    )
    assert parse_topic(ob.pending()[0].topic) == ("truck-01", Stream.GPS)
