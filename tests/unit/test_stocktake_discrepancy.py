"""Discrepancy: confident disagreement for longer than the settle time, with bin, product,
lot, difference and evidence; and the live path from shelf readings through the engine."""

from __future__ import annotations

import json
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from wayhouse.edge.schema import ScanReading, ShelfReading
from wayhouse.platform.alarms.engine import AlarmEngine
from wayhouse.platform.alarms.inputs import BinConfig, BookLevel
from wayhouse.platform.alarms.model import Action, AlarmType
from wayhouse.platform.stocktake.discrepancy import (
    CLEAR,
    NO_CHANGE,
    RAISE,
    UPDATE,
    DiscrepancyWatch,
)
from wayhouse.simulators.scenario import _PRODUCTS

T0 = 1_700_000_000.0


def test_raised_only_after_confident_disagreement_outlasts_the_settle_time() -> None:
    w = DiscrepancyWatch()
    assert w.observe(T0, 9, True, 60.0) == NO_CHANGE  # no book yet: nothing to compare
    w.set_book("L1", 10, T0)
    assert w.observe(T0 + 1, 9, True, 60.0) == NO_CHANGE  # the clock starts
    assert w.observe(T0 + 30, 9, False, 60.0) == NO_CHANGE  # not confident: no verdict
    assert w.observe(T0 + 60, 9, True, 60.0) == NO_CHANGE  # 59 s: not yet
    assert w.observe(T0 + 61, 9, True, 60.0) == RAISE
    assert w.observe(T0 + 70, 9, True, 60.0) == NO_CHANGE  # raised once
    assert w.observe(T0 + 80, 8, True, 60.0) == UPDATE  # the difference changed
    assert w.observe(T0 + 90, 10, False, 60.0) == NO_CHANGE  # an unconfident agreement
    assert w.observe(T0 + 95, 10, True, 60.0) == CLEAR
    # A short disagreement (the scale settling after a booked pick) never raises.
    assert w.observe(T0 + 100, 11, True, 60.0) == NO_CHANGE
    assert w.observe(T0 + 150, 10, True, 60.0) == NO_CHANGE
    assert w.observe(T0 + 220, 10, True, 60.0) == NO_CHANGE


def test_it_names_the_lot_of_a_single_lot_bin_or_the_lot_that_moved_last() -> None:
    w = DiscrepancyWatch()
    assert w.set_book("L1", 10, T0) is False  # the first book is not a change
    d = w.discrepancy("A-01-1", "P1", T0 + 5, 8, 0.99, {"readings": []})
    assert (d.bin, d.product, d.lot, d.book, d.sensed, d.difference) == (
        "A-01-1",
        "P1",
        "L1",
        10,
        8,
        -2,
    )
    assert w.set_book("L2", 4, T0 + 1) is True
    assert w.set_book("L1", 9, T0 + 2) is True
    assert w.set_book("L1", 9, T0 + 3) is False  # a replay changes nothing
    assert w.lot() == "L1" and w.total == 13
    w.set_book("L1", 0, T0 + 4)
    assert w.lot() == "L2" and w.total == 4
    round_trip = DiscrepancyWatch.from_dict(json.loads(json.dumps(w.to_dict())))
    assert round_trip.to_dict() == w.to_dict() and round_trip.total == 4


def _engine(unit: float, sigma: float, tare: float, count: int) -> AlarmEngine:
    eng = AlarmEngine()
    eng.register_bin(
        BinConfig("A-01-1", "lc-1", "P1", unit, tare, sigma, capacity=400, reorder_point=-1)
    )
    eng.feed(BookLevel("A-01-1", "L1", count, T0))
    return eng


@settings(max_examples=30, deadline=None)
@given(
    st.sampled_from(_PRODUCTS),
    st.floats(1.0, 6.0),
    st.integers(1, 60),
    st.integers(0, 2**32),
)
def test_a_shelf_that_matches_its_book_never_raises_a_discrepancy(
    product: tuple[str, int], sigma: float, count: int, seed: int
) -> None:
    unit = float(product[1])
    count = min(count, int(40_000 // unit))  # the simulator's 40 kg bins
    eng = _engine(unit, sigma, 1000.0, count)
    rng = random.Random(seed)
    out = []
    for i in range(1500):
        out += eng.feed(
            ShelfReading(
                s="lc-1", t=T0 + 5 * i, w=round(1000 + count * unit + rng.gauss(0, sigma), 1)
            )
        )
    assert out == []


def test_a_missing_unit_raises_a_discrepancy_with_its_evidence_and_clears_when_booked() -> None:
    eng = _engine(350.0, 3.0, 1000.0, 10)
    rng = random.Random(4)
    t = T0
    out = []
    for true in [10] * 20 + [9] * 40:
        t += 5
        out += eng.feed(
            ShelfReading(s="lc-1", t=t, w=round(1000 + true * 350 + rng.gauss(0, 3), 1))
        )
    disc = [tr for tr in out if tr.type is AlarmType.STOCK_DISCREPANCY]
    assert [tr.action for tr in disc] == [Action.RAISE]
    ev = disc[0].evidence or {}
    assert (ev["bin"], ev["product"], ev["lot"], ev["book"], ev["sensed"], ev["difference"]) == (
        "A-01-1",
        "P1",
        "L1",
        10,
        9,
        -1,
    )
    assert len(ev["evidence"]["readings"]) == 12 and ev["confidence"] > 0.999
    assert disc[0].t - ev["since"] >= 120.0  # the default settle time
    # Someone books the loss: the discrepancy clears (after the lifecycle's hold).
    eng.feed(BookLevel("A-01-1", "L1", 9, t))
    for _ in range(20):
        t += 5
        out += eng.feed(ShelfReading(s="lc-1", t=t, w=round(1000 + 9 * 350 + rng.gauss(0, 3), 1)))
    disc = [tr for tr in out if tr.type is AlarmType.STOCK_DISCREPANCY]
    assert [tr.action for tr in disc] == [Action.RAISE, Action.CLEAR]


def test_a_booked_pick_the_scale_confirms_late_is_not_a_discrepancy() -> None:
    """Small units on a noisy cell take minutes to count again after a pick; the book moves
    at once. The scan tells the sensor its old level may be stale, so it is not trusted."""
    eng = _engine(4.5, 6.0, 900.0, 100)
    rng = random.Random(5)
    t = T0
    out = []
    for _ in range(800):
        t += 5
        out += eng.feed(ShelfReading(s="lc-1", t=t, w=round(900 + 100 * 4.5 + rng.gauss(0, 6), 1)))
    out += eng.feed(ScanReading(s="hh", t=t + 1, k="barcode", c="P1", a="pick", q=1, b="A-01-1"))
    eng.feed(BookLevel("A-01-1", "L1", 99, t + 1))
    for _ in range(1500):
        t += 5
        out += eng.feed(ShelfReading(s="lc-1", t=t, w=round(900 + 99 * 4.5 + rng.gauss(0, 6), 1)))
    assert out == []
    sensed = eng.shelf.sensed("A-01-1")
    assert sensed is not None and (sensed.count, sensed.confident) == (99, True)
