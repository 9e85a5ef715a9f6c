"""The order state machine: every step, every refusal, the timeline, and a random-walk property."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wayhouse.platform.dms.domain.allocation import (
    allocate_fefo,
    reservations_for,
    slots_from_ledger,
)
from wayhouse.platform.dms.domain.approval import ApprovalRule, Approver, build_chain
from wayhouse.platform.dms.domain.credit import (
    CreditAccount,
    CreditDecision,
    CreditRelease,
    HoldReason,
)
from wayhouse.platform.dms.domain.ledger import Movement, Reservation, StockKey, StockLedger
from wayhouse.platform.dms.domain.orders import (
    TRANSITIONS,
    Order,
    OrderLine,
    ProofOfDelivery,
    ShipmentProgress,
)
from wayhouse.platform.dms.domain.types import (
    DomainError,
    IllegalTransition,
    OrderStatus,
    Role,
)

S = OrderStatus
T0 = datetime(2025, 3, 3, 8, 0, tzinfo=UTC)
TODAY = T0.date()
RULES = [
    ApprovalRule("regional", 1, Role.REGION_MANAGER, min_amount=Decimal(100)),
    ApprovalRule("hq", 2, Role.HQ_ADMIN, min_amount=Decimal(400)),
]
ALICE = Approver("alice", Role.REGION_MANAGER, "south")
BOB = Approver("bob", Role.HQ_ADMIN)
POD = ProofOfDelivery("signature", "SIG-77", received_by="Mr Li")
EXPIRY = {"L1": TODAY + timedelta(days=30), "L2": TODAY + timedelta(days=60), "L9": None}


def t(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def new_order(order_id: str = "SO-1") -> Order:
    lines = [
        OrderLine("P-1", 10, Decimal("12.50")),  # 125.00
        OrderLine("P-2", 3, Decimal("99.99"), "hazmat"),  # 299.97
    ]
    return Order(order_id, "D-1", "south", at=t(0), by="dealer", lines=lines)


def stocked(p1: int = 16) -> StockLedger:
    ledger = StockLedger()
    ledger.post(Movement.receive("P-1", "L1", "A-01", min(p1, 6)))
    if p1 > 6:
        ledger.post(Movement.receive("P-1", "L2", "A-02", p1 - 6))
    ledger.post(Movement.receive("P-2", "L9", "B-01", 3))
    return ledger


def reserve(order: Order, ledger: StockLedger, attempt: int = 1) -> list[Reservation]:
    out = []
    for sku in order.lines:
        need = order.lines[sku].qty - order.allocated_qty(sku)
        if need:
            result = allocate_fefo(sku, need, slots_from_ledger(ledger, sku, EXPIRY), today=TODAY)
            for r in reservations_for(result, order.id, attempt=attempt):
                out.append(ledger.reserve(r))
    return out


def to_approval(order: Order) -> None:
    order.submit(t(1), "dealer")
    order.begin_credit_check(t(2), "system")
    decision = CreditDecision(order.id, order.total, (), Decimal(10_000))
    order.apply_credit(decision, build_chain(order.summary(), RULES), t(3), "system")


def to_picking(order: Order, ledger: StockLedger) -> None:
    to_approval(order)
    order.approve(ALICE, t(4))
    order.approve(BOB, t(5))
    order.allocate(reserve(order, ledger), t(6), "system")
    order.start_picking(t(7), "op")


def test_lines_and_totals_use_money() -> None:
    order = new_order()
    assert order.total == Decimal("424.97")
    line = OrderLine("X", 3, Decimal("0.335"))  # banker's rounding to cents
    assert (line.unit_price, line.amount) == (Decimal("0.34"), Decimal("1.02"))
    assert order.summary().product_classes == frozenset({"general", "hazmat"})
    for bad in [lambda: OrderLine("", 1, Decimal(1)), lambda: OrderLine("X", 0, Decimal(1)),
                lambda: OrderLine("X", 1, Decimal(-1)), lambda: OrderLine("X", True, Decimal(1))]:  # fmt: skip
        with pytest.raises(DomainError):
            bad()


def test_the_whole_lifecycle_leaves_a_timeline() -> None:
    order, ledger = new_order(), stocked()
    to_picking(order, ledger)
    order.ship({"P-1": 10, "P-2": 3}, t(8), "op")
    order.deliver(POD, t(9), "driver-7")
    order.invoice("INV-1", t(10), "billing")
    order.mark_paid(t(11), "billing")
    assert order.status is S.PAID
    steps = [(e.from_status, e.to_status) for e in order.history]
    assert steps == [
        (None, S.DRAFT),
        (S.DRAFT, S.SUBMITTED),
        (S.SUBMITTED, S.CREDIT_CHECK),
        (S.CREDIT_CHECK, S.APPROVAL),
        (S.APPROVAL, S.APPROVAL),
        (S.APPROVAL, S.APPROVAL),
        (S.APPROVAL, S.ALLOCATED),
        (S.ALLOCATED, S.PICKING),
        (S.PICKING, S.SHIPPED),
        (S.SHIPPED, S.DELIVERED),
        (S.DELIVERED, S.INVOICED),
        (S.INVOICED, S.PAID),
    ]
    reasons = [e.reason for e in order.history]
    assert "approval by region_manager > hq_admin" in reasons[3]
    assert reasons[4] == "level 1 approved by alice (region_manager)"
    assert reasons[5].endswith("approval complete")
    assert "SIG-77" in reasons[9] and "INV-1 for 424.97" in reasons[10]
    assert [e.at for e in order.history] == [t(i) for i in range(12)]
    assert order.history[9].by == "driver-7" and order.proof == POD


@pytest.mark.parametrize(
    ("act", "target"),
    [
        (lambda o: o.begin_credit_check(t(1), "x"), "credit_check"),
        (lambda o: o.start_picking(t(1), "x"), "picking"),
        (lambda o: o.ship({"P-1": 1}, t(1), "x"), "shipped"),
        (lambda o: o.deliver(POD, t(1), "x"), "delivered"),
        (lambda o: o.invoice("INV-1", t(1), "x"), "invoiced"),
        (lambda o: o.mark_paid(t(1), "x"), "paid"),
        (lambda o: o.record_return({"P-1": 1}, t(1), "x", "r"), "returned"),
        (lambda o: o.approve(BOB, t(1)), "approved"),
        (lambda o: o.allocate([], t(1), "x"), "allocated"),
    ],
)
def test_illegal_steps_from_draft_are_refused_and_change_nothing(
    act: Callable[[Order], object], target: str
) -> None:
    order = new_order()
    with pytest.raises(IllegalTransition, match=f"order cannot go from draft to {target}") as exc:
        act(order)
    assert exc.value.code == "illegal_transition" and exc.value.current == "draft"
    assert order.status is S.DRAFT and len(order.history) == 1


def test_drafts_are_edited_then_frozen() -> None:
    order = Order("SO-2", "D-1", "south", at=t(0), by="dealer")
    with pytest.raises(IllegalTransition, match="no lines"):
        order.submit(t(1), "dealer")
    order.add_line(OrderLine("P-1", 1, Decimal(5)))
    with pytest.raises(DomainError) as exc:
        order.add_line(OrderLine("P-1", 2, Decimal(5)))
    assert exc.value.code == "duplicate_line"
    with pytest.raises(DomainError):
        order.remove_line("P-9")
    order.submit(t(1), "dealer")
    with pytest.raises(IllegalTransition, match="lines change only in draft"):
        order.add_line(OrderLine("P-3", 1, Decimal(5)))


def test_times_must_carry_a_zone() -> None:
    with pytest.raises(DomainError) as exc:
        Order("SO-3", "D-1", "south", at=datetime(2025, 1, 1), by="dealer")
    assert exc.value.code == "naive_time"
    order = new_order()
    with pytest.raises(DomainError):
        order.submit(datetime(2025, 1, 1), "dealer")
    assert order.status is S.DRAFT and len(order.history) == 1


def test_a_credit_hold_keeps_the_order_and_a_payment_releases_it() -> None:
    acc = CreditAccount("D-1", Decimal(1000), 30, 5)
    acc.add_invoice("INV-0", Decimal(800), TODAY)
    order = new_order()
    order.submit(t(1), "dealer")
    order.begin_credit_check(t(2), "system")
    decision = acc.check(order.id, order.total, t(2))
    chain = build_chain(order.summary(), RULES)
    order.apply_credit(decision, chain, t(3), "system")
    assert order.status is S.HELD
    assert order.hold_reasons == ("exceeds available credit 200.00 by 224.97",)
    assert order.history[-1].reason == "credit hold: exceeds available credit 200.00 by 224.97"
    with pytest.raises(IllegalTransition):
        order.approve(ALICE, t(4))
    (release,) = acc.record_payment("INV-0", Decimal(800), t(5), by="cashier")
    order.release_hold(release, build_chain(order.summary(), RULES))
    assert order.status is S.APPROVAL and order.hold_reasons == ()
    assert order.history[-1].reason.startswith("credit released: credit re-check passed")
    assert order.history[-1].by == "cashier" and order.history[-1].at == t(5)


def test_an_override_releases_a_hold_with_who_and_why() -> None:
    acc = CreditAccount("D-1", Decimal(0), 30, 5)
    order = new_order()
    order.submit(t(1), "dealer")
    order.begin_credit_check(t(2), "system")
    order.apply_credit(
        acc.check(order.id, order.total, t(2)), build_chain(order.summary(), []), t(3), "system"
    )
    release = acc.override(
        order.id, by="rm-1", role=Role.REGION_MANAGER, reason="key account", at=t(4)
    )
    order.release_hold(release, build_chain(order.summary(), []))
    event = order.history[-1]
    assert (event.to_status, event.by) == (S.APPROVAL, "rm-1")
    assert event.reason == "credit override: key account; no approval needed"
    other = CreditRelease("SO-other", t(5), "rm-1", "x", True)
    with pytest.raises(IllegalTransition):
        order.release_hold(other, build_chain(order.summary(), []))


def test_decisions_for_another_order_are_refused() -> None:
    order = new_order()
    order.submit(t(1), "dealer")
    order.begin_credit_check(t(2), "system")
    wrong = CreditDecision("SO-9", Decimal(1), (), Decimal(1))
    with pytest.raises(DomainError) as exc:
        order.apply_credit(wrong, build_chain(order.summary(), RULES), t(3), "system")
    assert exc.value.code == "wrong_order" and order.status is S.CREDIT_CHECK


def test_allocation_waits_for_every_approval_step() -> None:
    order, ledger = new_order(), stocked()
    to_approval(order)
    with pytest.raises(IllegalTransition, match=r"approval pending: level 1 \(region_manager\)"):
        order.allocate([], t(4), "system")
    order.approve(ALICE, t(4))
    with pytest.raises(IllegalTransition, match=r"level 2 \(hq_admin\)"):
        order.allocate([], t(5), "system")
    order.approve(BOB, t(5))
    order.allocate(reserve(order, ledger), t(6), "system")
    assert order.status is S.ALLOCATED
    assert ledger.available(StockKey("P-1", "L1", "A-01")) == 0  # FEFO took the early lot


def test_a_rejection_cancels_with_the_reason() -> None:
    order = new_order()
    to_approval(order)
    assert order.reject(ALICE, t(4), "dealer under review") == ()
    assert order.status is S.CANCELLED
    assert order.history[-1].reason == "rejected at level 1 by alice: dealer under review"


def test_partial_allocation_waits_for_stock_then_tops_up() -> None:
    order, ledger = new_order(), stocked(p1=6)
    to_approval(order)
    order.approve(ALICE, t(4))
    order.approve(BOB, t(5))
    order.allocate(reserve(order, ledger), t(6), "system")
    assert order.status is S.APPROVAL and order.allocated_qty("P-1") == 6
    assert order.history[-1].reason == "awaiting stock: P-1 short 4"
    ledger.post(Movement.receive("P-1", "L2", "A-02", 10))
    order.allocate(reserve(order, ledger, attempt=2), t(7), "system")
    assert order.status is S.ALLOCATED and order.allocated_qty("P-1") == 10


def test_reservations_must_belong_to_the_order_and_not_exceed_it() -> None:
    order = new_order()
    to_approval(order)
    order.approve(ALICE, t(4))
    order.approve(BOB, t(5))
    with pytest.raises(DomainError) as exc:
        order.allocate([Reservation("x", "P-1", "L1", "A", 1, ref="SO-2")], t(6), "s")
    assert exc.value.code == "foreign_reservation"
    with pytest.raises(DomainError) as exc:
        order.allocate([Reservation("x", "P-1", "L1", "A", 11, ref="SO-1")], t(6), "s")
    assert exc.value.code == "over_allocation"
    assert order.reservations == []


def test_partial_shipment_stays_in_picking_until_everything_went() -> None:
    order, ledger = new_order(), stocked()
    to_picking(order, ledger)
    assert order.ship({"P-1": 4}, t(8), "op") is ShipmentProgress.PARTIAL
    assert order.status is S.PICKING
    assert order.history[-1].reason == "partially shipped 4 P-1; P-1 6 left, P-2 3 left"
    with pytest.raises(DomainError) as exc:
        order.ship({"P-1": 7}, t(9), "op")
    assert exc.value.code == "over_shipment"
    with pytest.raises(DomainError):
        order.ship({"P-1": 0}, t(9), "op")
    with pytest.raises(DomainError):
        order.ship({"P-7": 1}, t(9), "op")
    assert order.shipped == {"P-1": 4}
    assert order.ship({"P-1": 6, "P-2": 3}, t(9), "op") is ShipmentProgress.COMPLETE
    assert order.status is S.SHIPPED


def test_close_short_ships_what_went_and_drops_the_rest() -> None:
    order, ledger = new_order(), stocked()
    to_picking(order, ledger)
    with pytest.raises(IllegalTransition, match="cancel instead"):
        order.close_short(t(8), "op", "damaged")
    order.ship({"P-1": 10}, t(8), "op")
    ids = order.close_short(t(9), "op", "P-2 damaged in picking")
    assert order.status is S.SHIPPED and order.closed_short == {"P-2": 3}
    assert set(ids) == {r.id for r in order.reservations}
    assert [r.sku for r in ledger.release_for(order.id)] != []
    order.deliver(POD, t(10), "driver")
    assert order.invoiceable_amount == Decimal("125.00")


def test_cancel_before_shipping_releases_the_reservations() -> None:
    order, ledger = new_order(), stocked()
    to_picking(order, ledger)
    with pytest.raises(DomainError) as exc:
        order.cancel(t(8), "dealer", " ")
    assert exc.value.code == "reason_required"
    ids = order.cancel(t(8), "dealer", "customer changed mind")
    assert order.status is S.CANCELLED and len(ids) == 3
    assert {r.id for r in ledger.release_for(order.id)} == set(ids)
    assert all(p.available == p.on_hand for p in ledger.positions().values())
    with pytest.raises(IllegalTransition):
        order.submit(t(9), "dealer")


def test_no_cancel_once_anything_shipped() -> None:
    order, ledger = new_order(), stocked()
    to_picking(order, ledger)
    order.ship({"P-2": 1}, t(8), "op")
    with pytest.raises(IllegalTransition, match="already shipped"):
        order.cancel(t(9), "dealer", "too late")
    order.ship({"P-1": 10, "P-2": 2}, t(9), "op")
    with pytest.raises(IllegalTransition, match="shipped to cancelled"):
        order.cancel(t(10), "dealer", "too late")


def test_delivery_needs_proof() -> None:
    order, ledger = new_order(), stocked()
    to_picking(order, ledger)
    order.ship({"P-1": 10, "P-2": 3}, t(8), "op")
    with pytest.raises(IllegalTransition, match="proof of delivery required"):
        order.deliver(None, t(9), "driver")
    with pytest.raises(DomainError) as exc:
        ProofOfDelivery("scan", " ")
    assert exc.value.code == "proof_required"
    assert order.status is S.SHIPPED


def test_returns_up_to_what_was_delivered() -> None:
    order, ledger = new_order(), stocked()
    to_picking(order, ledger)
    order.ship({"P-1": 10, "P-2": 3}, t(8), "op")
    order.deliver(POD, t(9), "driver")
    order.invoice("INV-1", t(10), "billing")
    order.record_return({"P-2": 1}, t(11), "dealer", "broken seal")
    assert order.status is S.INVOICED and order.returned_amount == Decimal("99.99")
    assert order.history[-1].reason == "returned 1 P-2: broken seal"
    with pytest.raises(DomainError) as exc:
        order.record_return({"P-2": 3}, t(12), "dealer", "more")
    assert exc.value.code == "over_return"
    with pytest.raises(DomainError):
        order.record_return({"P-2": 1}, t(12), "dealer", "")
    order.mark_paid(t(12), "billing")
    order.record_return({"P-1": 10, "P-2": 2}, t(13), "dealer", "recall")
    assert order.status is S.RETURNED and order.invoiceable_amount == 0


# -- property: a random walk over every method -----------------------------------------------
HELD = CreditDecision(
    "SO-1", Decimal(1), (HoldReason("over_credit_limit", "over", Decimal(1)),), Decimal(0)
)
SKUS = ["P-1", "P-2"]
actions = st.lists(
    st.one_of(
        st.just(("submit",)),
        st.just(("credit_check",)),
        st.tuples(st.just("credit"), st.booleans()),
        st.tuples(st.just("release"), st.booleans()),
        st.tuples(st.just("approve"), st.sampled_from([ALICE, BOB])),
        st.just(("reject",)),
        st.tuples(st.just("allocate"), st.sampled_from(SKUS), st.integers(0, 11)),
        st.just(("pick",)),
        st.tuples(st.just("ship"), st.sampled_from(SKUS), st.integers(0, 11)),
        st.just(("close_short",)),
        st.just(("cancel",)),
        st.tuples(st.just("deliver"), st.booleans()),
        st.just(("invoice",)),
        st.just(("paid",)),
        st.tuples(st.just("return"), st.sampled_from(SKUS), st.integers(0, 11)),
        st.just(("ship_rest",)),
        st.just(("return_all",)),
    ),
    max_size=30,
)
# Bias towards the happy path so walks get deep into the lifecycle.
happy = st.sampled_from([[("credit", True)], [("credit", False), ("release", True)]]).map(
    lambda credit: [
        ("submit",),
        ("credit_check",),
        *credit,
        ("approve", ALICE),
        ("approve", BOB),
        ("allocate", "P-1", 10),
        ("allocate", "P-2", 3),
        ("pick",),
    ]
)
delivered = happy.map(lambda steps: [*steps, ("ship_rest",), ("deliver", True)])


def _run(order: Order, action: tuple, n: int) -> None:
    at, chain = t(n), build_chain(order.summary(), RULES)
    match action:
        case ("submit",):
            order.submit(at, "dealer")
        case ("credit_check",):
            order.begin_credit_check(at, "system")
        case ("credit", ok):
            ok_decision = CreditDecision(order.id, order.total, (), Decimal(10_000))
            order.apply_credit(ok_decision if ok else HELD, chain, at, "system")
        case ("release", override):
            order.release_hold(CreditRelease(order.id, at, "rm", "why", override), chain)
        case ("approve", who):
            order.approve(who, at)
        case ("reject",):
            order.reject(ALICE, at, "no")
        case ("allocate", sku, qty):
            order.allocate([Reservation(f"r{n}", sku, "L1", "A", qty, order.id)], at, "s")
        case ("pick",):
            order.start_picking(at, "op")
        case ("ship", sku, qty):
            order.ship({sku: qty}, at, "op")
        case ("close_short",):
            order.close_short(at, "op", "short")
        case ("cancel",):
            order.cancel(at, "dealer", "changed mind")
        case ("deliver", proof):
            order.deliver(POD if proof else None, at, "driver")
        case ("invoice",):
            order.invoice(f"INV-{n}", at, "billing")
        case ("paid",):
            order.mark_paid(at, "billing")
        case ("return", sku, qty):
            order.record_return({sku: qty}, at, "dealer", "r")
        case ("ship_rest",):
            order.ship({s: order.to_ship(s) for s in order.lines if order.to_ship(s)}, at, "op")
        case ("return_all",):
            kept = {s: q - order.returned.get(s, 0) for s, q in order.shipped.items()}
            order.record_return({s: q for s, q in kept.items() if q}, at, "dealer", "recall")


def _snapshot(o: Order) -> tuple:
    return (o.status, len(o.history), dict(o.shipped), dict(o.returned), len(o.reservations))


@settings(max_examples=400, deadline=None)
@given(
    st.one_of(
        actions,
        st.tuples(happy, actions).map(lambda p: p[0] + p[1]),
        st.tuples(delivered, actions).map(lambda p: p[0] + p[1]),
    )
)
def test_any_sequence_of_steps_keeps_the_order_consistent(steps: list[tuple]) -> None:
    order = new_order()
    for n, action in enumerate(steps, start=1):
        before = _snapshot(order)
        try:
            _run(order, action, n)
        except DomainError:
            assert _snapshot(order) == before  # a refused step changes nothing
        if before[0] in (S.CANCELLED, S.RETURNED):
            assert order.status is before[0]  # terminal states stay terminal
    history = order.history
    assert history[0].from_status is None and history[-1].to_status is order.status
    for prev, event in pairwise(history):
        assert event.from_status is prev.to_status
        assert (
            event.from_status is event.to_status
            or event.to_status in TRANSITIONS[event.from_status]
        )
    for sku, line in order.lines.items():
        assert 0 <= order.allocated_qty(sku) <= line.qty
        assert order.shipped.get(sku, 0) + order.closed_short.get(sku, 0) <= line.qty
        assert 0 <= order.returned.get(sku, 0) <= order.shipped.get(sku, 0)
    reached = {e.to_status for e in history}
    if reached & {S.ALLOCATED, S.PICKING, S.SHIPPED}:
        assert order.approval is not None and order.approval.is_approved
    if order.status is S.PICKING:
        assert order.shipment_progress is not ShipmentProgress.COMPLETE
    if S.SHIPPED in reached:
        assert all(order.to_ship(s) == 0 for s in order.lines)
    if S.DELIVERED in reached:
        assert order.proof == POD
    if order.status is S.CANCELLED:
        assert not any(order.shipped.values())
