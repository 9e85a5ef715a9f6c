"""RFID zone counts: one count per tag, in the zone of its newest read."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from wayhouse.edge.schema import ScanReading
from wayhouse.platform.stocktake.rfid import ZoneCounts, epc_product

T0 = 1_700_000_000.0


def test_repeated_reads_count_a_tag_once_and_a_move_counts_it_in_the_new_zone() -> None:
    zc = ZoneCounts()
    assert zc.read("EPC-P1-00000001", "DOCK-1", T0) is True
    assert zc.read("EPC-P1-00000001", "DOCK-1", T0 + 1) is False
    assert zc.read("EPC-P1-00000002", "DOCK-1", T0 + 1) is True
    assert zc.count("DOCK-1") == 2 and zc.count("DOCK-1", "P1") == 2 and zc.duplicates == 1
    assert zc.read("EPC-P1-00000001", "A", T0 + 5) is True
    assert zc.counts() == {"DOCK-1": {"P1": 1}, "A": {"P1": 1}}
    # A replayed old read does not move it back.
    assert zc.read("EPC-P1-00000001", "DOCK-1", T0 + 2) is False
    assert zc.zone_of("EPC-P1-00000001") == "A" and zc.stale == 1
    assert zc.leave("EPC-P1-00000001", T0 + 9) is True
    assert zc.counts() == {"DOCK-1": {"P1": 1}} and zc.zone_of("EPC-P1-00000001") is None


def test_scans_from_the_contract_gate_and_handheld_reads() -> None:
    zc = ZoneCounts()
    gate = ScanReading(s="g.rfid", t=T0, k="rfid", c="EPC-P7-1", a="gate", z="DOCK-1")
    hand = ScanReading(s="h.rfid", t=T0 + 3, k="rfid", c="EPC-P7-1", a="count", b="A-01-2")
    barcode = ScanReading(s="h.bc", t=T0 + 4, k="barcode", c="P7", a="pick", b="A-01-2")
    assert zc.feed(gate) and zc.feed(hand, {"A-01-2": "ZONE-A"}) and not zc.feed(barcode)
    assert zc.counts() == {"ZONE-A": {"P7": 1}}
    shipped = ScanReading(s="g.rfid", t=T0 + 9, k="rfid", c="EPC-P7-1", a="ship", z="DOCK-1")
    assert zc.feed(shipped) and zc.counts() == {}
    assert epc_product("EPC-P10001-00000042") == "P10001" and epc_product("weird") == ""


def test_transit_zones_forget_tags_that_passed_long_ago() -> None:
    zc = ZoneCounts()
    zc.read("EPC-P1-1", "DOCK-1", T0)
    zc.read("EPC-P1-2", "DOCK-1", T0 + 100)
    zc.read("EPC-P1-3", "A", T0)
    assert zc.forget_before(T0 + 50, {"DOCK-1"}) == 1
    assert zc.counts() == {"DOCK-1": {"P1": 1}, "A": {"P1": 1}}


reads = st.lists(
    st.tuples(st.integers(0, 7), st.sampled_from(["DOCK-1", "A", "B"]), st.floats(0, 1000)),
    max_size=80,
)


@settings(max_examples=80, deadline=None)
@given(reads, st.integers(0, 80))
def test_counts_are_the_newest_zone_of_each_tag_and_survive_a_round_trip(
    rs: list[tuple[int, str, float]], cut: int
) -> None:
    zc = ZoneCounts()
    for i, (tag, zone, t) in enumerate(rs):
        if i == cut:
            zc = ZoneCounts.from_dict(json.loads(json.dumps(zc.to_dict())))
        zc.read(f"EPC-P{tag % 2}-{tag}", zone, T0 + t)
    newest: dict[int, tuple[float, str]] = {}
    for tag, zone, t in rs:  # the last read at the newest time wins; older ones are stale
        if tag not in newest or t >= newest[tag][0]:
            newest[tag] = (t, zone)
    expected: dict[str, dict[str, int]] = {}
    for tag, (_, zone) in newest.items():
        per = expected.setdefault(zone, {})
        per[f"P{tag % 2}"] = per.get(f"P{tag % 2}", 0) + 1
    assert zc.counts() == expected
    assert sum(zc.count(z) for z in ("DOCK-1", "A", "B")) == len(newest)
