"""Stocktake sessions: snapshot, review, four-eyes approval, ledger requests, accuracy."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wayhouse.platform.dms.domain.ledger import Movement, StockKey, StockLedger
from wayhouse.platform.dms.domain.types import DomainError, IllegalTransition
from wayhouse.platform.stocktake.sensing import SensedCount
from wayhouse.platform.stocktake.session import (
    AdjustmentStatus,
    CountSource,
    SessionStatus,
    StocktakeSession,
    accuracy,
    accuracy_by_warehouse,
    snapshot_lines,
)

AT = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)


def _sensed(count: int, confident: bool = True) -> SensedCount:
    return SensedCount(count, 0.9999 if confident else 0.6, confident, True, 0.0, 50, 0.0)


def _session() -> StocktakeSession:
    book = {
        ("A-01", "P1", "L1"): 10,  # scale says 9
        ("A-02", "P2", "L7"): 5,  # scale agrees
        ("A-03", "P3", "L1"): 4,  # two lots in one bin: the scale cannot split them
        ("A-03", "P3", "L2"): 3,
        ("A-04", "P4", None): 8,  # scale not confident; RFID says 7
    }
    sensed = {"A-01": _sensed(9), "A-02": _sensed(5), "A-03": _sensed(7), "A-04": _sensed(6, False)}
    values = {"P1": Decimal("12.50"), "P2": Decimal("3"), "P3": Decimal("1"), "P4": Decimal("100")}
    lines = snapshot_lines(book, sensed, values, scanned={("A-04", "P4"): 7})
    return StocktakeSession.start("ST-1", "WH1", None, lines, "operator", AT)


def test_the_snapshot_takes_the_best_count_each_line_has() -> None:
    s = _session()
    got = {k: (line.sensed, line.scanned, line.counted) for k, line in s.lines.items()}
    assert got == {
        ("A-01", "P1", "L1"): (9, None, (9, CountSource.SENSED)),
        ("A-02", "P2", "L7"): (5, None, (5, CountSource.SENSED)),
        ("A-03", "P3", "L1"): (None, None, None),
        ("A-03", "P3", "L2"): (None, None, None),
        ("A-04", "P4", None): (None, 7, (7, CountSource.SCANNED)),
    }
    assert s.status is SessionStatus.COUNTING
    assert s.uncounted() == [("A-03", "P3", "L1"), ("A-03", "P3", "L2")]


def test_review_approve_and_post_turn_differences_into_ledger_adjustments() -> None:
    s = _session()
    s.record_count(("A-03", "P3", "L1"), 4, "operator", AT)
    s.record_count(("A-03", "P3", "L2"), 2, "operator", AT)
    s.submit("operator", AT + timedelta(minutes=5))
    props = s.propose("operator", AT + timedelta(minutes=6), "cycle count")
    assert {p.key: (p.delta, p.source, p.value) for p in props} == {
        ("A-01", "P1", "L1"): (-1, CountSource.SENSED, Decimal("-12.50")),
        ("A-03", "P3", "L2"): (-1, CountSource.MANUAL, Decimal("-1.00")),
        ("A-04", "P4", None): (-1, CountSource.SCANNED, Decimal("-100.00")),
    }
    with pytest.raises(DomainError) as e:
        s.decide(("A-01", "P1", "L1"), True, "operator", AT)
    assert e.value.code == "four_eyes"
    with pytest.raises(DomainError):
        s.post("manager", AT)  # undecided adjustments remain
    s.decide(("A-01", "P1", "L1"), True, "manager", AT + timedelta(minutes=7))
    s.decide(("A-03", "P3", "L2"), True, "manager", AT + timedelta(minutes=7))
    with pytest.raises(DomainError):
        s.decide(("A-04", "P4", None), False, "manager", AT)  # a rejection needs a note
    s.decide(("A-04", "P4", None), False, "manager", AT, note="recount: reader missed a case")
    assert s.adjustments[("A-04", "P4", None)].status is AdjustmentStatus.REJECTED
    reqs = s.post("manager", AT + timedelta(minutes=8))
    assert [
        (r.bin, r.product, r.lot, r.delta, r.ref, r.requested_by, r.approved_by) for r in reqs
    ] == [
        ("A-01", "P1", "L1", -1, "ST-1", "operator", "manager"),
        ("A-03", "P3", "L2", -1, "ST-1", "operator", "manager"),
    ]
    assert s.status is SessionStatus.POSTED
    assert [h.to_state for h in s.history] == ["counting", "review", "approval", "posted"]
    with pytest.raises(IllegalTransition):
        s.post("manager", AT + timedelta(minutes=9))  # posted once
    with pytest.raises(IllegalTransition):
        s.cancel("manager", AT + timedelta(minutes=9), "too late")
    # The requests post as ledger adjustments.
    ledger = StockLedger()
    ledger.post(Movement.receive("P1", "L1", "A-01", 10))
    for r in reqs[:1]:
        ledger.post(Movement.adjust(r.product, r.lot or "", r.bin, r.delta, r.reason, ref=r.ref))
    assert ledger.on_hand(StockKey("P1", "L1", "A-01")) == 9


def test_steps_out_of_order_are_refused() -> None:
    s = _session()
    with pytest.raises(IllegalTransition):
        s.propose("operator", AT, "x")
    s.submit("operator", AT)
    with pytest.raises(DomainError) as e:
        s.propose("operator", AT, "cycle count")
    assert e.value.code == "uncounted_lines"
    with pytest.raises(DomainError):
        s.propose("operator", AT, " ")
    props = s.propose("operator", AT, "cycle count", skip_uncounted=True)
    assert len(props) == 2
    with pytest.raises(IllegalTransition):
        s.record_count(("A-01", "P1", "L1"), 3, "operator", AT)
    with pytest.raises(DomainError):
        s.decide(("A-02", "P2", "L7"), True, "manager", AT)  # nothing proposed there
    s.cancel("manager", AT + timedelta(minutes=1), "wrong zone")
    assert s.status is SessionStatus.CANCELLED
    with pytest.raises(DomainError):
        StocktakeSession.start("ST-2", "WH1", None, [*_session().lines.values()] * 2, "op", AT)
    with pytest.raises(DomainError):
        _session().record_count(("A-01", "P1", "L1"), -1, "operator", AT)


def test_accuracy_counts_bins_exact_and_values_the_differences() -> None:
    s = _session()
    acc = s.accuracy()
    # A-01 off by one, A-02 exact, A-03 uncounted, A-04 off by one (scanned 7 vs 8).
    assert (acc.bins, acc.bins_exact, acc.uncounted_bins) == (3, 1, 1)
    assert (acc.units_over, acc.units_short) == (0, 2)
    assert acc.value_of_differences == Decimal("112.50") and acc.net_value == Decimal("-112.50")
    assert acc.exact_ratio == pytest.approx(1 / 3)
    per = accuracy_by_warehouse(
        [
            ("WH1", "A", 5, 5, Decimal(1)),
            ("WH2", "B", 5, 6, Decimal(2)),
            ("WH1", "C", 1, 1, Decimal(1)),
        ]
    )
    assert {wh: (a.bins, a.bins_exact, a.value_of_differences) for wh, a in per.items()} == {
        "WH1": (2, 2, Decimal("0.00")),
        "WH2": (1, 0, Decimal("2.00")),
    }


@settings(max_examples=100)
@given(st.lists(st.tuples(st.integers(0, 5), st.integers(0, 20), st.integers(-3, 3)), max_size=30))
def test_accuracy_is_exact_bins_over_counted_bins(rows: list[tuple[int, int, int]]) -> None:
    acc = accuracy((f"B{b}", book, max(book + d, 0), Decimal(1)) for b, book, d in rows)
    bins: dict[str, bool] = {}
    for b, book, d in rows:
        bins[f"B{b}"] = bins.get(f"B{b}", True) and max(book + d, 0) == book
    assert acc.bins == len(bins) and acc.bins_exact == sum(bins.values())
    assert acc.value_of_differences == sum(abs(max(b + d, 0) - b) for _, b, d in rows)
