"""Stock ledger: movement shapes, derived quantities, refusals, and model-based properties."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from wayhouse.platform.dms.domain.ledger import (
    Movement,
    Reservation,
    StockKey,
    StockLedger,
    StockPosition,
)
from wayhouse.platform.dms.domain.types import DomainError, MovementKind

K = StockKey("P-1", "L1", "A-01")


def _stocked(qty: int = 10) -> StockLedger:
    ledger = StockLedger()
    ledger.post(Movement.receive("P-1", "L1", "DOCK", qty, ref="GRN-1"))
    ledger.post(Movement.putaway("P-1", "L1", "DOCK", "A-01", qty))
    return ledger


def _code(exc: pytest.ExceptionInfo[DomainError]) -> str:
    return exc.value.code


def test_receive_and_putaway_derive_on_hand_per_bin() -> None:
    ledger = _stocked(10)
    assert ledger.on_hand(K) == 10
    assert ledger.on_hand(StockKey("P-1", "L1", "DOCK")) == 0
    assert ledger.position(K) == StockPosition(10, 0)
    assert [m.kind for m in ledger.movements] == [MovementKind.RECEIVE, MovementKind.PUTAWAY]


def test_every_kind_moves_stock_as_its_shape_says() -> None:
    ledger = _stocked(10)
    ledger.post(Movement.transfer("P-1", "L1", "A-01", "A-02", 3))
    ledger.post(Movement.pick("P-1", "L1", "A-02", "STAGE", 2))
    ledger.post(Movement.ship("P-1", "L1", "STAGE", 2, ref="SO-1"))
    ledger.post(Movement.returned("P-1", "L1", "RET", 1, reason="damaged box"))
    ledger.post(Movement.adjust("P-1", "L1", "A-01", -2, "stocktake"))
    ledger.post(Movement.adjust("P-1", "L1", "A-02", 4, "found"))
    on_hand = {k.bin: p.on_hand for k, p in ledger.positions("P-1").items()}
    assert on_hand == {"A-01": 5, "A-02": 5, "DOCK": 0, "RET": 1, "STAGE": 0}


@pytest.mark.parametrize(
    ("kwargs", "why"),
    [
        ({"kind": MovementKind.RECEIVE, "from_bin": "X", "to_bin": "Y"}, "needs exactly to_bin"),
        ({"kind": MovementKind.SHIP, "to_bin": "Y"}, "needs exactly from_bin"),
        ({"kind": MovementKind.TRANSFER, "from_bin": "X", "to_bin": "X"}, "same bin"),
        ({"kind": MovementKind.PICK, "from_bin": "X"}, "from_bin and to_bin"),
        ({"kind": MovementKind.ADJUST, "to_bin": "X"}, "needs a reason"),
        (
            {"kind": MovementKind.ADJUST, "from_bin": "X", "to_bin": "Y", "reason": "r"},
            "exactly one",
        ),
        ({"kind": MovementKind.RECEIVE, "to_bin": "X", "qty": 0}, "positive"),
        ({"kind": MovementKind.RECEIVE, "to_bin": "X", "qty": -3}, "positive"),
    ],
)
def test_malformed_movements_are_refused(kwargs: dict, why: str) -> None:
    args = {"sku": "P-1", "lot": "L1", "qty": 1} | kwargs
    with pytest.raises(DomainError, match=why) as exc:
        Movement(**args)
    assert _code(exc) == "invalid_movement"


def test_adjust_zero_is_refused() -> None:
    with pytest.raises(DomainError, match="non-zero"):
        Movement.adjust("P-1", "L1", "A-01", 0, "nothing")


def test_movement_that_would_go_negative_is_refused_and_changes_nothing() -> None:
    ledger = _stocked(5)
    before = (ledger.positions(), ledger.movements)
    with pytest.raises(DomainError, match="exceeds on-hand 5") as exc:
        ledger.post(Movement.transfer("P-1", "L1", "A-01", "A-02", 6))
    assert _code(exc) == "negative_stock"
    assert (ledger.positions(), ledger.movements) == before


def test_reservation_limits_and_available() -> None:
    ledger = _stocked(10)
    ledger.reserve(Reservation("r1", "P-1", "L1", "A-01", 7, ref="SO-1"))
    assert ledger.position(K) == StockPosition(10, 7)
    assert ledger.available(K) == 3
    with pytest.raises(DomainError) as exc:
        ledger.reserve(Reservation("r2", "P-1", "L1", "A-01", 4, ref="SO-2"))
    assert _code(exc) == "insufficient_available"
    with pytest.raises(DomainError) as exc:
        ledger.reserve(Reservation("r1", "P-1", "L1", "A-01", 1))
    assert _code(exc) == "duplicate_reservation"
    with pytest.raises(DomainError) as exc:
        ledger.reserve(Reservation("r3", "P-1", "L1", "A-01", 0))
    assert _code(exc) == "invalid_reservation"


def test_reserved_units_cannot_leave_for_someone_else() -> None:
    ledger = _stocked(10)
    ledger.reserve(Reservation("r1", "P-1", "L1", "A-01", 8, ref="SO-1"))
    with pytest.raises(DomainError, match="8 are reserved") as exc:
        ledger.post(Movement.adjust("P-1", "L1", "A-01", -3, "damage"))
    assert _code(exc) == "reserved_stock"
    ledger.post(Movement.adjust("P-1", "L1", "A-01", -2, "damage"))  # the unreserved two
    assert ledger.position(K) == StockPosition(8, 8)


def test_pick_fulfilling_a_reservation_consumes_it() -> None:
    ledger = _stocked(10)
    ledger.reserve(Reservation("r1", "P-1", "L1", "A-01", 6, ref="SO-1"))
    ledger.post(Movement.pick("P-1", "L1", "A-01", "STAGE", 4), fulfils="r1")
    assert ledger.position(K) == StockPosition(6, 2)
    assert ledger.reservations == (Reservation("r1", "P-1", "L1", "A-01", 2, ref="SO-1"),)
    ledger.post(Movement.pick("P-1", "L1", "A-01", "STAGE", 2), fulfils="r1")
    assert ledger.reservations == ()
    assert ledger.position(K) == StockPosition(4, 0)


def test_fulfils_must_name_the_source_of_the_movement() -> None:
    ledger = _stocked(10)
    ledger.post(Movement.transfer("P-1", "L1", "A-01", "A-02", 5))
    ledger.reserve(Reservation("r1", "P-1", "L1", "A-01", 2))
    with pytest.raises(DomainError) as exc:
        ledger.post(Movement.pick("P-1", "L1", "A-02", "STAGE", 1), fulfils="r1")
    assert _code(exc) == "reservation_mismatch"
    with pytest.raises(DomainError) as exc:
        ledger.post(Movement.receive("P-1", "L1", "A-01", 1), fulfils="r1")
    assert _code(exc) == "reservation_mismatch"
    with pytest.raises(DomainError) as exc:
        ledger.post(Movement.pick("P-1", "L1", "A-01", "STAGE", 1), fulfils="nope")
    assert _code(exc) == "unknown_reservation"


def test_release_and_release_for_an_order() -> None:
    ledger = _stocked(10)
    ledger.post(Movement.transfer("P-1", "L1", "A-01", "A-02", 5))
    ledger.reserve(Reservation("a", "P-1", "L1", "A-01", 2, ref="SO-1"))
    ledger.reserve(Reservation("b", "P-1", "L1", "A-02", 3, ref="SO-1"))
    ledger.reserve(Reservation("c", "P-1", "L1", "A-02", 1, ref="SO-2"))
    assert {r.id for r in ledger.release_for("SO-1")} == {"a", "b"}
    assert [r.id for r in ledger.reservations] == ["c"]
    assert ledger.release("c").qty == 1
    with pytest.raises(DomainError) as exc:
        ledger.release("c")
    assert _code(exc) == "unknown_reservation"
    assert all(p.reserved == 0 for p in ledger.positions().values())


def test_replay_rebuilds_and_refuses_an_impossible_history() -> None:
    ledger = _stocked(10)
    ledger.reserve(Reservation("r1", "P-1", "L1", "A-01", 4))
    again = StockLedger.replay(ledger.movements, ledger.reservations)
    assert again.positions() == ledger.positions()
    with pytest.raises(DomainError) as exc:
        StockLedger.replay([Movement.ship("P-1", "L1", "A-01", 1)])
    assert _code(exc) == "negative_stock"


# -- properties ------------------------------------------------------------------------------
SKUS, LOTS, BINS = ["P-1", "P-2"], ["L1", "L2"], ["A", "B", "C"]
kinds = st.sampled_from(list(MovementKind))


@st.composite
def movements(draw: st.DrawFn) -> Movement:
    kind, sku, lot = draw(kinds), draw(st.sampled_from(SKUS)), draw(st.sampled_from(LOTS))
    qty = draw(st.integers(1, 12))
    a, b = draw(st.lists(st.sampled_from(BINS), min_size=2, max_size=2, unique=True))
    if kind is MovementKind.ADJUST:
        return Movement.adjust(sku, lot, a, draw(st.sampled_from([qty, -qty])), "count")
    builders = {
        MovementKind.RECEIVE: lambda: Movement.receive(sku, lot, a, qty),
        MovementKind.RETURN: lambda: Movement.returned(sku, lot, a, qty),
        MovementKind.SHIP: lambda: Movement.ship(sku, lot, a, qty),
        MovementKind.PUTAWAY: lambda: Movement.putaway(sku, lot, a, b, qty),
        MovementKind.PICK: lambda: Movement.pick(sku, lot, a, b, qty),
        MovementKind.TRANSFER: lambda: Movement.transfer(sku, lot, a, b, qty),
    }
    return builders[kind]()


def _sum_of_movements(moves: tuple[Movement, ...]) -> Counter[StockKey]:
    total: Counter[StockKey] = Counter()
    for m in moves:
        for key, delta in m.deltas():
            total[key] += delta
    return total


@settings(max_examples=150, deadline=None)
@given(st.lists(movements(), max_size=40))
def test_on_hand_is_the_sum_of_accepted_movements(moves: list[Movement]) -> None:
    ledger = StockLedger()
    for m in moves:
        before = ledger.positions()
        try:
            ledger.post(m)
        except DomainError as exc:
            assert exc.code == "negative_stock"
            assert ledger.positions() == before  # a refusal changes nothing
    sums = _sum_of_movements(ledger.movements)
    for key, pos in ledger.positions().items():
        assert pos.on_hand == sums[key] >= 0


def test_the_sum_property_can_fail() -> None:
    # Guard for the property above: a ledger whose derived figure drifted is caught by it.
    ledger = _stocked(3)
    ledger._on_hand[K] += 1
    assert ledger.on_hand(K) != _sum_of_movements(ledger.movements)[K]


class LedgerMachine(RuleBasedStateMachine):
    """Random operations against a plain dictionary model of what must be accepted."""

    def __init__(self) -> None:
        super().__init__()
        self.ledger = StockLedger()
        self.on_hand: Counter[StockKey] = Counter()
        self.res: dict[str, Reservation] = {}
        self.next_id = 0

    def _reserved(self) -> Counter[StockKey]:
        out: Counter[StockKey] = Counter()
        for r in self.res.values():
            out[r.key] += r.qty
        return out

    def _acceptable(self, on_hand: Counter[StockKey], res: dict[str, Reservation]) -> bool:
        reserved: Counter[StockKey] = Counter()
        for r in res.values():
            reserved[r.key] += r.qty
        return all(on_hand[k] >= 0 for k in on_hand) and all(
            reserved[k] <= on_hand[k] for k in reserved
        )

    def _apply(self, m: Movement, fulfils: str | None) -> None:
        on_hand = self.on_hand.copy()
        res = dict(self.res)
        for key, delta in m.deltas():
            on_hand[key] += delta
        if fulfils is not None:
            r = res[fulfils]
            left = r.qty - m.qty
            if left > 0:
                res[fulfils] = Reservation(r.id, r.sku, r.lot, r.bin, left, r.ref)
            else:
                del res[fulfils]
        ok = self._acceptable(on_hand, res)
        try:
            self.ledger.post(m, fulfils=fulfils)
        except DomainError as exc:
            assert not ok, f"refused a valid {m}: {exc}"
            assert exc.code in {"negative_stock", "reserved_stock"}
            return
        assert ok, f"accepted {m} that breaks the invariants"
        self.on_hand, self.res = on_hand, res

    @rule(m=movements())
    def post(self, m: Movement) -> None:
        self._apply(m, None)

    @rule(data=st.data())
    def pick_for_reservation(self, data: st.DataObject) -> None:
        if not self.res:
            return
        r = self.res[data.draw(st.sampled_from(sorted(self.res)))]
        qty = data.draw(st.integers(1, r.qty + 3))
        dest = data.draw(st.sampled_from([b for b in BINS if b != r.bin]))
        self._apply(Movement.pick(r.sku, r.lot, r.bin, dest, qty), r.id)

    @rule(
        sku=st.sampled_from(SKUS),
        lot=st.sampled_from(LOTS),
        bin=st.sampled_from(BINS),
        qty=st.integers(1, 10),
        ref=st.sampled_from(["SO-1", "SO-2"]),
    )
    def reserve(self, sku: str, lot: str, bin: str, qty: int, ref: str) -> None:
        self.next_id += 1
        r = Reservation(f"r{self.next_id}", sku, lot, bin, qty, ref)
        ok = qty <= self.on_hand[r.key] - self._reserved()[r.key]
        try:
            self.ledger.reserve(r)
        except DomainError as exc:
            assert not ok and exc.code == "insufficient_available"
            return
        assert ok
        self.res[r.id] = r

    @rule(data=st.data())
    def release(self, data: st.DataObject) -> None:
        if self.res:
            rid = data.draw(st.sampled_from(sorted(self.res)))
            assert self.ledger.release(rid) == self.res.pop(rid)

    @rule(ref=st.sampled_from(["SO-1", "SO-2"]))
    def release_order(self, ref: str) -> None:
        gone = {r.id for r in self.ledger.release_for(ref)}
        assert gone == {i for i, r in self.res.items() if r.ref == ref}
        self.res = {i: r for i, r in self.res.items() if r.ref != ref}

    @invariant()
    def matches_model_and_movements(self) -> None:
        sums = _sum_of_movements(self.ledger.movements)
        reserved = self._reserved()
        for key, pos in self.ledger.positions().items():
            assert pos.on_hand == sums[key] == self.on_hand[key]
            assert pos.reserved == reserved[key]
            assert 0 <= pos.reserved <= pos.on_hand
            assert pos.available >= 0
        assert set(self.ledger.reservations) == set(self.res.values())


LedgerMachine.TestCase.settings = settings(max_examples=80, stateful_step_count=40, deadline=None)
TestLedgerMachine = LedgerMachine.TestCase
