"""Invoices, payments and dealer statements.

Balances are from the manufacturer's side: positive means the dealer owes. Payments are
allocated to invoices oldest first (FIFO); money a dealer paid beyond its invoices stays as
unapplied credit and settles the next invoice. Everything is derived from the invoice and
payment rows, so a statement can be recomputed for any period and always reconciles.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from enum import StrEnum

from wayhouse.platform.dms.domain.types import DomainError, money

ZERO = money(0)


@dataclass(frozen=True, slots=True)
class PaymentTerms:
    """Editable per dealer. ``end_of_month``: the clock starts at the end of the invoice month
    ("EOM 30"), common with dealers who pay in a monthly run."""

    net_days: int = 30
    end_of_month: bool = False

    def __post_init__(self) -> None:
        if self.net_days < 0:
            raise DomainError("invalid_terms", "net days cannot be negative")

    def due_date(self, issued_on: date) -> date:
        start = issued_on
        if self.end_of_month:
            last = calendar.monthrange(issued_on.year, issued_on.month)[1]
            start = issued_on.replace(day=last)
        return start + timedelta(days=self.net_days)


@dataclass(frozen=True, slots=True)
class Invoice:
    invoice_id: str
    dealer_id: str
    issued_on: date
    due_on: date
    amount: Decimal
    order_ref: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "amount", money(self.amount))
        if self.amount <= 0:
            raise DomainError("invalid_invoice", f"invoice {self.invoice_id}: amount must be > 0")
        if self.due_on < self.issued_on:
            raise DomainError("invalid_invoice", f"invoice {self.invoice_id}: due before issued")


def issue_invoice(
    invoice_id: str,
    dealer_id: str,
    issued_on: date,
    amount: Decimal | int | str,
    terms: PaymentTerms,
    order_ref: str = "",
) -> Invoice:
    return Invoice(
        invoice_id, dealer_id, issued_on, terms.due_date(issued_on), money(amount), order_ref
    )


@dataclass(frozen=True, slots=True)
class Payment:
    payment_id: str
    dealer_id: str
    received_on: date
    amount: Decimal
    reference: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "amount", money(self.amount))
        if self.amount <= 0:
            raise DomainError("invalid_payment", f"payment {self.payment_id}: amount must be > 0")


@dataclass(frozen=True, slots=True)
class Allocation:
    payment_id: str
    invoice_id: str
    amount: Decimal
    applied_on: date  # the later of payment and invoice: a prepayment applies on issue


@dataclass(frozen=True, slots=True)
class Settlement:
    allocations: tuple[Allocation, ...]
    outstanding: Mapping[str, Decimal]  # invoice id -> still unpaid (0 when settled)
    unapplied: Mapping[str, Decimal]  # payment id -> not applied to any invoice yet

    @property
    def total_outstanding(self) -> Decimal:
        return sum(self.outstanding.values(), ZERO)

    @property
    def total_unapplied(self) -> Decimal:
        return sum(self.unapplied.values(), ZERO)


def _invoice_age(inv: Invoice) -> tuple[date, date, str]:
    return (inv.issued_on, inv.due_on, inv.invoice_id)


def _payment_order(p: Payment) -> tuple[date, str]:
    return (p.received_on, p.payment_id)


def _unique(ids: Iterable[str], what: str) -> None:
    seen: set[str] = set()
    for i in ids:
        if i in seen:
            raise DomainError("duplicate_id", f"{what} {i} appears twice")
        seen.add(i)


def allocate_payment(
    payment: Payment, open_invoices: Sequence[tuple[Invoice, Decimal]]
) -> tuple[tuple[Allocation, ...], Decimal]:
    """Apply one incoming payment to (invoice, outstanding) pairs, oldest invoice first.
    Returns the allocations and what is left over as unapplied credit."""
    left = payment.amount
    allocations = []
    for inv, outstanding in sorted(open_invoices, key=lambda pair: _invoice_age(pair[0])):
        if left <= 0:
            break
        if inv.dealer_id != payment.dealer_id:
            raise DomainError("dealer_mismatch", f"invoice {inv.invoice_id} is another dealer's")
        if outstanding <= 0:
            continue
        if outstanding > inv.amount:
            raise DomainError("invalid_balance", f"invoice {inv.invoice_id}: owes more than billed")
        take = min(left, outstanding)
        allocations.append(
            Allocation(
                payment.payment_id,
                inv.invoice_id,
                take,
                max(payment.received_on, inv.issued_on),
            )
        )
        left -= take
    return tuple(allocations), left


def allocate_payments(
    invoices: Iterable[Invoice], payments: Iterable[Payment], as_of: date | None = None
) -> Settlement:
    """FIFO-match all of one dealer's payments against its invoices (those dated on or before
    ``as_of`` when given). Payments in the order received, each filling the oldest open
    invoices; a payment ahead of its invoice waits as credit and is applied when it is issued."""
    invs = sorted((i for i in invoices if as_of is None or i.issued_on <= as_of), key=_invoice_age)
    pays = sorted(
        (p for p in payments if as_of is None or p.received_on <= as_of), key=_payment_order
    )
    _unique((i.invoice_id for i in invs), "invoice")
    _unique((p.payment_id for p in pays), "payment")
    if len({x.dealer_id for x in (*invs, *pays)}) > 1:
        raise DomainError("dealer_mismatch", "allocation runs over one dealer's rows")

    outstanding = {i.invoice_id: i.amount for i in invs}
    unapplied = {p.payment_id: p.amount for p in pays}
    allocations = []
    k = 0  # the oldest invoice that may still be open
    for p in pays:
        while unapplied[p.payment_id] > 0 and k < len(invs):
            inv = invs[k]
            take = min(unapplied[p.payment_id], outstanding[inv.invoice_id])
            if take > 0:
                allocations.append(
                    Allocation(
                        p.payment_id, inv.invoice_id, take, max(p.received_on, inv.issued_on)
                    )
                )
                unapplied[p.payment_id] -= take
                outstanding[inv.invoice_id] -= take
            if outstanding[inv.invoice_id] == 0:
                k += 1
    return Settlement(tuple(allocations), outstanding, unapplied)


class InvoiceStatus(StrEnum):
    OPEN = "open"
    PARTIALLY_PAID = "partially_paid"
    PAID = "paid"


def invoice_status(invoice: Invoice, outstanding: Decimal) -> InvoiceStatus:
    if outstanding <= 0:
        return InvoiceStatus.PAID
    if outstanding < invoice.amount:
        return InvoiceStatus.PARTIALLY_PAID
    return InvoiceStatus.OPEN


@dataclass(frozen=True, slots=True)
class OpenItem:
    invoice_id: str
    issued_on: date
    due_on: date
    amount: Decimal
    outstanding: Decimal
    days_overdue: int  # 0 when not yet due


def open_items(invoices: Iterable[Invoice], result: Settlement, on: date) -> tuple[OpenItem, ...]:
    """Unpaid invoices as of ``on``, oldest first, with how many days each is past due."""
    items = []
    for inv in sorted(invoices, key=_invoice_age):
        owed = result.outstanding.get(inv.invoice_id)
        if owed is None or owed <= 0:
            continue
        late = max(0, (on - inv.due_on).days)
        items.append(OpenItem(inv.invoice_id, inv.issued_on, inv.due_on, inv.amount, owed, late))
    return tuple(items)


def overdue_amount(items: Iterable[OpenItem], grace_days: int = 0) -> Decimal:
    """What is past due by more than ``grace_days`` (the credit check holds orders on it)."""
    return sum((i.outstanding for i in items if i.days_overdue > grace_days), ZERO)


AGING_BUCKETS: tuple[tuple[str, int, int | None], ...] = (
    ("current", 0, 0),
    ("1-30", 1, 30),
    ("31-60", 31, 60),
    ("61-90", 61, 90),
    ("90+", 91, None),
)


def aging(items: Iterable[OpenItem]) -> dict[str, Decimal]:
    buckets = {name: ZERO for name, _, _ in AGING_BUCKETS}
    for item in items:
        for name, low, high in AGING_BUCKETS:
            if item.days_overdue >= low and (high is None or item.days_overdue <= high):
                buckets[name] += item.outstanding
                break
    return buckets


# --- statement ----------------------------------------------------------------------------


class LineKind(StrEnum):
    INVOICE = "invoice"
    PAYMENT = "payment"


@dataclass(frozen=True, slots=True)
class StatementLine:
    on: date
    kind: LineKind
    ref: str
    debit: Decimal  # invoiced
    credit: Decimal  # paid
    balance: Decimal  # running, after this line


@dataclass(frozen=True, slots=True)
class Statement:
    dealer_id: str
    period_start: date
    period_end: date
    opening_balance: Decimal
    invoiced: Decimal
    paid: Decimal
    closing_balance: Decimal
    lines: tuple[StatementLine, ...]
    open_items: tuple[OpenItem, ...]  # unpaid at period end
    unapplied_credit: Decimal  # paid at period end but not yet matched to an invoice

    @property
    def reconciles(self) -> bool:
        return self.opening_balance + self.invoiced - self.paid == self.closing_balance


def statement(
    dealer_id: str,
    period_start: date,
    period_end: date,
    invoices: Iterable[Invoice],
    payments: Iterable[Payment],
) -> Statement:
    """The dealer's statement for ``[period_start, period_end]`` (both days included).
    Rows of other dealers are ignored, so the caller may pass a wider set."""
    if period_end < period_start:
        raise DomainError("invalid_period", "period ends before it starts")
    invs = [i for i in invoices if i.dealer_id == dealer_id]
    pays = [p for p in payments if p.dealer_id == dealer_id]

    opening = sum((i.amount for i in invs if i.issued_on < period_start), ZERO) - sum(
        (p.amount for p in pays if p.received_on < period_start), ZERO
    )
    entries = [
        (i.issued_on, 0, LineKind.INVOICE, i.invoice_id, i.amount, ZERO)
        for i in invs
        if period_start <= i.issued_on <= period_end
    ] + [
        (p.received_on, 1, LineKind.PAYMENT, p.payment_id, ZERO, p.amount)
        for p in pays
        if period_start <= p.received_on <= period_end
    ]
    # Same day: invoices before payments, so a same-day settlement shows the debt it clears.
    entries.sort(key=lambda e: (e[0], e[1], e[3]))
    balance = opening
    lines = []
    for on, _, kind, ref, debit, credit in entries:
        balance += debit - credit
        lines.append(StatementLine(on, kind, ref, debit, credit, balance))

    invoiced = sum((line.debit for line in lines), ZERO)
    paid = sum((line.credit for line in lines), ZERO)
    result = allocate_payments(invs, pays, as_of=period_end)
    return Statement(
        dealer_id,
        period_start,
        period_end,
        opening,
        invoiced,
        paid,
        opening + invoiced - paid,
        tuple(lines),
        open_items(invs, result, period_end),
        result.total_unapplied,
    )
