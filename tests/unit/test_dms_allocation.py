"""FEFO allocation: earliest expiry first, never expired or short-dated lots, explicit shortfall."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wayhouse.platform.dms.domain.allocation import (
    AllocationResult,
    Pick,
    StockSlot,
    allocate_fefo,
    reservations_for,
    slots_from_ledger,
)
from wayhouse.platform.dms.domain.ledger import Movement, StockKey, StockLedger
from wayhouse.platform.dms.domain.types import DomainError

TODAY = date(2025, 3, 1)


def d(days: int) -> date:
    return TODAY + timedelta(days=days)


def test_earliest_expiry_goes_first_across_bins() -> None:
    stock = [
        StockSlot("A-02", "L-late", d(90), 10),
        StockSlot("A-01", "L-soon", d(10), 4),
        StockSlot("B-01", "L-mid", d(30), 5),
    ]
    result = allocate_fefo("P-1", 8, stock, today=TODAY)
    assert result.picks == (Pick("A-01", "L-soon", d(10), 4), Pick("B-01", "L-mid", d(30), 4))
    assert (result.allocated, result.shortfall, result.complete) == (8, 0, True)


def test_a_lot_is_expired_on_its_expiry_date() -> None:
    stock = [StockSlot("A", "L-today", TODAY, 5), StockSlot("A", "L-past", d(-3), 5)]
    result = allocate_fefo("P-1", 3, stock, today=TODAY)
    assert result.picks == ()
    assert result.shortfall == 3
    assert {(e.slot.lot, e.reason) for e in result.excluded} == {
        ("L-today", "expired"),
        ("L-past", "expired"),
    }


def test_minimum_shelf_life_excludes_short_dated_lots() -> None:
    stock = [StockSlot("A", "L1", d(5), 5), StockSlot("B", "L2", d(20), 5)]
    result = allocate_fefo("P-1", 5, stock, today=TODAY, min_expiry=d(20))
    assert result.picks == (Pick("B", "L2", d(20), 5),)  # on the cut-off day is still enough
    assert [(e.slot.lot, e.reason) for e in result.excluded] == [("L1", "short_shelf_life")]


def test_shelf_life_boundary_is_exact() -> None:
    stock = [StockSlot("A", "L-eve", d(19), 5), StockSlot("A", "L-day", d(20), 5)]
    result = allocate_fefo("P-1", 10, stock, today=TODAY, min_expiry=d(20))
    assert [(p.lot, p.qty) for p in result.picks] == [("L-day", 5)]
    assert result.shortfall == 5
    tomorrow = allocate_fefo("P-1", 1, [StockSlot("A", "L", d(1), 1)], today=TODAY)
    assert tomorrow.complete  # expiring tomorrow is still usable today


def test_non_expiring_stock_is_used_last() -> None:
    stock = [StockSlot("A", "L-none", None, 5), StockSlot("B", "L-dated", d(400), 2)]
    result = allocate_fefo("P-1", 4, stock, today=TODAY, min_expiry=d(30))
    assert [p.lot for p in result.picks] == ["L-dated", "L-none"]


def test_partial_allocation_reports_the_shortfall() -> None:
    result = allocate_fefo("P-1", 10, [StockSlot("A", "L1", d(9), 6)], today=TODAY)
    assert result == AllocationResult("P-1", 10, (Pick("A", "L1", d(9), 6),))
    assert (result.allocated, result.shortfall, result.complete) == (6, 4, False)


def test_ties_are_broken_by_lot_then_bin() -> None:
    stock = [
        StockSlot("B", "L2", d(9), 1),
        StockSlot("B", "L1", d(9), 1),
        StockSlot("A", "L1", d(9), 1),
    ]
    result = allocate_fefo("P-1", 3, stock, today=TODAY)
    assert [(p.lot, p.bin) for p in result.picks] == [("L1", "A"), ("L1", "B"), ("L2", "B")]


def test_slots_of_the_same_bin_and_lot_merge_and_a_lot_has_one_expiry() -> None:
    stock = [StockSlot("A", "L1", d(9), 2), StockSlot("A", "L1", d(9), 3)]
    assert allocate_fefo("P-1", 9, stock, today=TODAY).picks == (Pick("A", "L1", d(9), 5),)
    with pytest.raises(DomainError) as exc:
        allocate_fefo(
            "P-1", 1, [StockSlot("A", "L1", d(9), 2), StockSlot("B", "L1", d(8), 2)], today=TODAY
        )
    assert exc.value.code == "conflicting_expiry"


@pytest.mark.parametrize("qty", [0, -1, True])
def test_quantity_must_be_positive(qty: int) -> None:
    with pytest.raises(DomainError) as exc:
        allocate_fefo("P-1", qty, [], today=TODAY)
    assert exc.value.code == "invalid_quantity"


def _ledger() -> StockLedger:
    ledger = StockLedger()
    ledger.post(Movement.receive("P-1", "L1", "A-01", 5))
    ledger.post(Movement.receive("P-1", "L2", "A-02", 5))
    ledger.post(Movement.receive("P-1", "L1", "DOCK", 9))
    ledger.post(Movement.receive("P-2", "L9", "A-03", 9))
    return ledger


def test_slots_from_ledger_filters_bins_and_needs_known_expiries() -> None:
    ledger = _ledger()
    expiries = {"L1": d(40), "L2": d(20)}
    slots = slots_from_ledger(ledger, "P-1", expiries, bins={"A-01", "A-02"})
    assert sorted(slots, key=lambda s: s.bin) == [
        StockSlot("A-01", "L1", d(40), 5),
        StockSlot("A-02", "L2", d(20), 5),
    ]
    with pytest.raises(DomainError) as exc:
        slots_from_ledger(ledger, "P-1", {"L1": d(40)})
    assert exc.value.code == "unknown_lot"


def test_allocation_becomes_ledger_reservations_and_reduces_available() -> None:
    ledger = _ledger()
    expiries = {"L1": d(40), "L2": d(20)}
    slots = slots_from_ledger(ledger, "P-1", expiries, bins={"A-01", "A-02"})
    result = allocate_fefo("P-1", 7, slots, today=TODAY)
    reservations = reservations_for(result, "SO-9")
    for r in reservations:
        ledger.reserve(r)
    assert [(r.id, r.qty) for r in reservations] == [
        ("SO-9:P-1:L2:A-02", 5),
        ("SO-9:P-1:L1:A-01", 2),
    ]
    assert ledger.available(StockKey("P-1", "L1", "A-01")) == 3
    again = slots_from_ledger(ledger, "P-1", expiries, bins={"A-01", "A-02"})
    assert allocate_fefo("P-1", 7, again, today=TODAY).shortfall == 4
    # a retry of the same allocation cannot reserve twice; a top-up gets its own ids
    with pytest.raises(DomainError):
        ledger.reserve(reservations[0])
    assert reservations_for(result, "SO-9", attempt=2)[0].id.endswith("#2")


# -- properties ------------------------------------------------------------------------------
LOT_EXPIRY = st.fixed_dictionaries(
    {lot: st.one_of(st.none(), st.integers(-10, 60).map(d)) for lot in ["L1", "L2", "L3", "L4"]}
)


@st.composite
def slots_st(draw: st.DrawFn) -> list[StockSlot]:
    """Ledger-shaped stock: one slot per (bin, lot), one expiry per lot."""
    expiry = draw(LOT_EXPIRY)
    places = draw(
        st.lists(
            st.tuples(st.sampled_from(["A", "B", "C"]), st.sampled_from(sorted(expiry))),
            unique=True,
            max_size=8,
        )
    )
    return [StockSlot(b, lot, expiry[lot], draw(st.integers(0, 20))) for b, lot in places]


@settings(max_examples=300, deadline=None)
@given(
    slots_st(),
    st.integers(1, 80),
    st.one_of(st.none(), st.integers(-5, 40).map(d)),
)
def test_fefo_properties(stock: list[StockSlot], qty: int, min_expiry: date | None) -> None:
    result = allocate_fefo("P-1", qty, stock, today=TODAY, min_expiry=min_expiry)

    def eligible(s: StockSlot) -> bool:
        if s.expiry is None:
            return True
        return s.expiry > TODAY and (min_expiry is None or s.expiry >= min_expiry)

    usable = [s for s in stock if s.available > 0 and eligible(s)]
    by_slot = {(s.bin, s.lot, s.expiry): s.available for s in stock}
    assert result.allocated + result.shortfall == qty
    assert 0 <= result.allocated <= qty
    assert result.shortfall == max(qty - sum(s.available for s in usable), 0)
    for p in result.picks:
        assert p.qty > 0
        assert p.expiry is None or (
            p.expiry > TODAY and (min_expiry is None or p.expiry >= min_expiry)
        )
        assert p.qty <= by_slot[(p.bin, p.lot, p.expiry)]
    # FEFO: a later-expiring lot is touched only once every earlier usable slot is used up
    taken = {(p.bin, p.lot, p.expiry): p.qty for p in result.picks}
    rank = {None: date.max}
    for p in result.picks:
        latest = rank.get(p.expiry, p.expiry)
        for s in usable:
            if (s.expiry or date.max) < latest:
                assert taken.get((s.bin, s.lot, s.expiry), 0) == s.available
    excluded = {(e.slot.bin, e.slot.lot, e.slot.expiry) for e in result.excluded}
    assert excluded.isdisjoint(taken)
