"""Invoices, payment terms, oldest-first payment allocation, aging and dealer statements."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wayhouse.platform.dms.domain.billing import (
    Invoice,
    InvoiceStatus,
    LineKind,
    Payment,
    PaymentTerms,
    aging,
    allocate_payment,
    allocate_payments,
    invoice_status,
    issue_invoice,
    open_items,
    overdue_amount,
    statement,
)
from wayhouse.platform.dms.domain.types import DomainError

D0 = date(2025, 1, 1)
NET30 = PaymentTerms(30)
M = Decimal


def d(days: int) -> date:
    return D0 + timedelta(days=days)


def inv(i: str, day: int, amount: str, dealer: str = "D1") -> Invoice:
    return issue_invoice(i, dealer, d(day), amount, NET30)


def pay(p: str, day: int, amount: str, dealer: str = "D1") -> Payment:
    return Payment(p, dealer, d(day), M(amount))


# --- terms and invoices -------------------------------------------------------------------


def test_due_dates_from_terms() -> None:
    assert NET30.due_date(date(2025, 1, 15)) == date(2025, 2, 14)
    assert PaymentTerms(0).due_date(date(2025, 1, 15)) == date(2025, 1, 15)
    eom = PaymentTerms(30, end_of_month=True)
    assert eom.due_date(date(2025, 1, 15)) == date(2025, 3, 2)
    assert eom.due_date(date(2024, 2, 3)) == date(2024, 3, 30)  # leap February ends on the 29th
    with pytest.raises(DomainError):
        PaymentTerms(-1)


@given(st.dates(date(2000, 1, 1), date(2099, 12, 31)), st.integers(0, 180), st.booleans())
def test_due_date_counts_net_days_from_issue_or_month_end(
    issued: date, net: int, eom: bool
) -> None:
    due = PaymentTerms(net, eom).due_date(issued)
    clock_start = due - timedelta(days=net)
    if eom:  # the last day of the invoice's month
        assert (clock_start.year, clock_start.month) == (issued.year, issued.month)
        assert (clock_start + timedelta(days=1)).day == 1
    else:
        assert clock_start == issued


def test_invoice_and_payment_validation() -> None:
    with pytest.raises(DomainError):
        inv("I1", 0, "0")
    with pytest.raises(DomainError):
        Invoice("I1", "D1", d(5), d(4), M("10"))
    with pytest.raises(DomainError):
        pay("P1", 0, "-5")
    assert inv("I1", 0, "10.005").amount == M("10.00")  # banker's rounding to cents


# --- allocation ---------------------------------------------------------------------------


def test_payments_settle_the_oldest_invoice_first() -> None:
    invoices = [inv("I2", 10, "200"), inv("I1", 0, "100"), inv("I3", 20, "300")]
    result = allocate_payments(invoices, [pay("P1", 25, "150"), pay("P2", 26, "200")])
    assert [(a.payment_id, a.invoice_id, a.amount) for a in result.allocations] == [
        ("P1", "I1", M("100.00")),
        ("P1", "I2", M("50.00")),
        ("P2", "I2", M("150.00")),
        ("P2", "I3", M("50.00")),
    ]
    assert result.outstanding == {"I1": 0, "I2": 0, "I3": M("250.00")}
    assert result.total_unapplied == 0
    statuses = [invoice_status(i, result.outstanding[i.invoice_id]) for i in invoices]
    assert statuses == [InvoiceStatus.PAID, InvoiceStatus.PAID, InvoiceStatus.PARTIALLY_PAID]


def test_a_prepayment_waits_as_credit_and_applies_on_issue() -> None:
    result = allocate_payments([inv("I1", 10, "80")], [pay("P1", 0, "100")])
    [a] = result.allocations
    assert (a.amount, a.applied_on) == (M("80.00"), d(10))
    assert result.unapplied == {"P1": M("20.00")}
    before = allocate_payments([inv("I1", 10, "80")], [pay("P1", 0, "100")], as_of=d(5))
    assert before.allocations == () and before.total_unapplied == M("100.00")


def test_allocation_refuses_mixed_dealers_and_duplicates() -> None:
    with pytest.raises(DomainError):
        allocate_payments([inv("I1", 0, "10"), inv("I2", 0, "10", dealer="D2")], [])
    with pytest.raises(DomainError):
        allocate_payments([inv("I1", 0, "10"), inv("I1", 1, "10")], [])


def test_single_payment_allocation_for_the_api() -> None:
    i1, i2 = inv("I1", 0, "100"), inv("I2", 5, "100")
    allocations, left = allocate_payment(pay("P1", 9, "130"), [(i2, M("100")), (i1, M("40"))])
    assert [(a.invoice_id, a.amount) for a in allocations] == [("I1", M("40")), ("I2", M("90"))]
    assert left == 0
    with pytest.raises(DomainError):
        allocate_payment(pay("P1", 9, "5", dealer="D2"), [(i1, M("40"))])


cents = st.integers(1, 500_000).map(lambda c: Decimal(c).scaleb(-2))
days = st.integers(0, 120)
invoice_lists = st.lists(st.tuples(days, cents), max_size=12).map(
    lambda xs: [issue_invoice(f"I{k}", "D1", d(day), amt, NET30) for k, (day, amt) in enumerate(xs)]
)
payment_lists = st.lists(st.tuples(days, cents), max_size=12).map(
    lambda xs: [Payment(f"P{k}", "D1", d(day), amt) for k, (day, amt) in enumerate(xs)]
)


@given(invoice_lists, payment_lists)
def test_allocation_never_over_allocates_and_conserves_money(
    invoices: list[Invoice], payments: list[Payment]
) -> None:
    result = allocate_payments(invoices, payments)
    per_invoice: dict[str, Decimal] = defaultdict(Decimal)
    per_payment: dict[str, Decimal] = defaultdict(Decimal)
    for a in result.allocations:
        assert a.amount > 0
        per_invoice[a.invoice_id] += a.amount
        per_payment[a.payment_id] += a.amount
    for i in invoices:
        assert per_invoice[i.invoice_id] <= i.amount
        assert result.outstanding[i.invoice_id] == i.amount - per_invoice[i.invoice_id]
    for p in payments:
        assert per_payment[p.payment_id] <= p.amount
        assert result.unapplied[p.payment_id] == p.amount - per_payment[p.payment_id]
    billed = sum((i.amount for i in invoices), Decimal(0))
    paid = sum((p.amount for p in payments), Decimal(0))
    assert result.total_outstanding - result.total_unapplied == billed - paid
    # Credit is never left idle while an invoice is open.
    assert result.total_outstanding == 0 or result.total_unapplied == 0


@given(invoice_lists, payment_lists)
def test_allocation_is_oldest_first(invoices: list[Invoice], payments: list[Payment]) -> None:
    result = allocate_payments(invoices, payments)
    age = sorted(invoices, key=lambda i: (i.issued_on, i.due_on, i.invoice_id))
    touched = {a.invoice_id for a in result.allocations}
    for k, i in enumerate(age):
        if result.outstanding[i.invoice_id] > 0:
            assert not any(j.invoice_id in touched for j in age[k + 1 :])


@given(invoice_lists, payment_lists)
def test_incremental_allocation_matches_batch_when_invoices_come_first(
    invoices: list[Invoice], payments: list[Payment]
) -> None:
    outstanding = {i.invoice_id: i.amount for i in invoices}
    for p in sorted(payments, key=lambda p: (p.received_on, p.payment_id)):
        allocations, _ = allocate_payment(p, [(i, outstanding[i.invoice_id]) for i in invoices])
        for a in allocations:
            outstanding[a.invoice_id] -= a.amount
    # Payment dates ahead of invoices only change *when* allocations apply, not how much.
    assert outstanding == dict(allocate_payments(invoices, payments).outstanding)


# --- aging and overdue --------------------------------------------------------------------


def test_open_items_aging_and_overdue_with_grace() -> None:
    invoices = [inv("I1", 0, "100"), inv("I2", 40, "50"), inv("I3", 100, "70")]
    result = allocate_payments(invoices, [pay("P1", 1, "30")])
    items = open_items(invoices, result, d(110))
    assert [(i.invoice_id, i.outstanding, i.days_overdue) for i in items] == [
        ("I1", M("70.00"), 80),
        ("I2", M("50.00"), 40),
        ("I3", M("70.00"), 0),
    ]
    assert aging(items) == {
        "current": M("70.00"),
        "1-30": 0,
        "31-60": M("50.00"),
        "61-90": M("70.00"),
        "90+": 0,
    }
    assert overdue_amount(items) == M("120.00")
    assert overdue_amount(items, grace_days=45) == M("70.00")


@given(invoice_lists, payment_lists, st.integers(0, 300))
def test_aging_buckets_add_up_to_what_is_owed(
    invoices: list[Invoice], payments: list[Payment], on: int
) -> None:
    result = allocate_payments(invoices, payments)
    items = open_items(invoices, result, d(on))
    assert sum(aging(items).values()) == result.total_outstanding
    assert overdue_amount(items) <= result.total_outstanding


# --- statements ---------------------------------------------------------------------------


def test_statement_example() -> None:
    invoices = [inv("I1", 0, "1000"), inv("I2", 35, "500"), inv("I3", 70, "200")]
    payments = [pay("P1", 20, "600"), pay("P2", 35, "400"), pay("P3", 75, "100")]
    s = statement("D1", d(31), d(59), invoices, payments)
    assert s.opening_balance == M("400.00")
    assert [(line.kind, line.ref, line.balance) for line in s.lines] == [
        (LineKind.INVOICE, "I2", M("900.00")),  # same day: the invoice before the payment
        (LineKind.PAYMENT, "P2", M("500.00")),
    ]
    assert (s.invoiced, s.paid, s.closing_balance) == (M("500.00"), M("400.00"), M("500.00"))
    assert s.reconciles
    assert [(i.invoice_id, i.outstanding) for i in s.open_items] == [("I2", M("500.00"))]
    with pytest.raises(DomainError):
        statement("D1", d(5), d(4), invoices, payments)


def test_statement_ignores_other_dealers() -> None:
    s = statement("D1", d(0), d(10), [inv("X", 1, "99", dealer="D2")], [pay("Y", 2, "5", "D2")])
    assert (s.opening_balance, s.closing_balance, s.lines) == (0, 0, ())


@given(invoice_lists, payment_lists, st.integers(0, 130), st.integers(0, 130))
def test_statements_always_reconcile(
    invoices: list[Invoice], payments: list[Payment], a: int, b: int
) -> None:
    start, end = d(min(a, b)), d(max(a, b))
    s = statement("D1", start, end, invoices, payments)
    # Restated from the raw rows, independently of the statement's own arithmetic.
    billed_to = sum((i.amount for i in invoices if i.issued_on <= end), Decimal(0))
    paid_to = sum((p.amount for p in payments if p.received_on <= end), Decimal(0))
    assert s.reconciles
    assert s.closing_balance == billed_to - paid_to
    assert s.opening_balance + s.invoiced - s.paid == s.closing_balance
    assert (s.lines[-1].balance if s.lines else s.opening_balance) == s.closing_balance
    assert s.closing_balance == sum((i.outstanding for i in s.open_items), Decimal(0)) - (
        s.unapplied_credit
    )
    assert len(s.lines) == sum(start <= i.issued_on <= end for i in invoices) + sum(
        start <= p.received_on <= end for p in payments
    )


@given(invoice_lists, payment_lists, st.lists(st.integers(0, 130), min_size=1, max_size=5))
def test_consecutive_statements_chain(
    invoices: list[Invoice], payments: list[Payment], cuts: list[int]
) -> None:
    bounds = sorted(set(cuts))
    previous_closing = Decimal(0)
    start = d(0) - timedelta(days=1)  # nothing exists before day 0
    for cut in bounds:
        s = statement("D1", start, d(cut), invoices, payments)
        assert s.opening_balance == previous_closing
        previous_closing = s.closing_balance
        start = d(cut) + timedelta(days=1)
