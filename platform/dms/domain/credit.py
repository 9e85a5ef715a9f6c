"""Dealer credit: limit, payment terms, open invoices, overdue amounts, holds.

Exposure = open invoices (balance) + orders already approved but not yet invoiced
(commitments); counting the commitments stops ten orders that each fit the limit from
passing together. An order that does not fit is held, never rejected: the hold keeps its
reasons and its place in a first-come queue, and ends by a payment re-check, a limit change,
a manager override (who and why recorded) or withdrawal when the order is cancelled.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from decimal import Decimal

from .types import CreditHoldStatus, DomainError, Role, money

OVERRIDE_ROLES = frozenset({Role.HQ_ADMIN, Role.REGION_MANAGER})


@dataclass(frozen=True, slots=True)
class OpenInvoice:
    id: str
    amount: Decimal
    issued_on: date
    due_on: date
    paid: Decimal = Decimal("0.00")

    @property
    def open_amount(self) -> Decimal:
        return self.amount - self.paid

    def days_overdue(self, on: date) -> int:
        return max((on - self.due_on).days, 0) if self.open_amount > 0 else 0


@dataclass(frozen=True, slots=True)
class HoldReason:
    code: str  # "over_credit_limit" | "overdue_past_grace"
    message: str
    amount: Decimal


@dataclass(frozen=True, slots=True)
class CreditDecision:
    order_id: str
    amount: Decimal
    reasons: tuple[HoldReason, ...]
    available: Decimal  # available credit before this order

    @property
    def approved(self) -> bool:
        return not self.reasons


@dataclass(frozen=True, slots=True)
class CreditRelease:
    """A hold ended: hand it to ``Order.release_hold``."""

    order_id: str
    at: datetime
    by: str
    reason: str
    override: bool


@dataclass(frozen=True, slots=True)
class CreditHold:
    order_id: str
    amount: Decimal
    reasons: tuple[HoldReason, ...]
    held_at: datetime
    status: CreditHoldStatus = CreditHoldStatus.HELD
    ended_at: datetime | None = None
    ended_by: str = ""
    end_reason: str = ""


@dataclass
class CreditAccount:
    dealer_id: str
    credit_limit: Decimal
    payment_terms_days: int
    grace_days: int
    invoices: dict[str, OpenInvoice] = field(default_factory=dict)
    commitments: dict[str, Decimal] = field(default_factory=dict)  # order id -> amount
    holds: list[CreditHold] = field(default_factory=list)  # every hold ever, in arrival order

    def __post_init__(self) -> None:
        self.credit_limit = money(self.credit_limit)
        if self.credit_limit < 0 or self.payment_terms_days < 0 or self.grace_days < 0:
            raise DomainError("invalid_credit_terms", "limit, terms and grace must be >= 0")

    # -- figures ---------------------------------------------------------------------------
    @property
    def balance(self) -> Decimal:
        return money(sum((i.open_amount for i in self.invoices.values()), Decimal(0)))

    @property
    def committed(self) -> Decimal:
        return money(sum(self.commitments.values(), Decimal(0)))

    @property
    def available_credit(self) -> Decimal:
        """Can be negative when the limit was lowered or an override went over it."""
        return self.credit_limit - self.balance - self.committed

    def overdue(self, on: date, *, past_grace: bool = False) -> Decimal:
        return money(
            sum((i.open_amount for i in self.overdue_invoices(on, past_grace)), Decimal(0))
        )

    def overdue_invoices(self, on: date, past_grace: bool = False) -> list[OpenInvoice]:
        after = self.grace_days if past_grace else 0
        return sorted(
            (i for i in self.invoices.values() if i.days_overdue(on) > after),
            key=lambda i: (i.due_on, i.id),
        )

    @property
    def open_holds(self) -> list[CreditHold]:
        return [h for h in self.holds if h.status is CreditHoldStatus.HELD]

    # -- checks ----------------------------------------------------------------------------
    def assess(self, order_id: str, amount: Decimal, on: date) -> CreditDecision:
        """The verdict alone, changing nothing."""
        amount = money(amount)
        available = self.available_credit
        reasons = []
        if amount > available:
            reasons.append(
                HoldReason(
                    "over_credit_limit",
                    f"exceeds available credit {available} by {amount - available}",
                    amount - available,
                )
            )
        late = self.overdue_invoices(on, past_grace=True)
        if late:
            total = money(sum((i.open_amount for i in late), Decimal(0)))
            ids = ", ".join(i.id for i in late)
            reasons.append(
                HoldReason(
                    "overdue_past_grace",
                    f"{total} overdue more than {self.grace_days} grace days (invoices {ids})",
                    total,
                )
            )
        return CreditDecision(order_id, amount, tuple(reasons), available)

    def check(self, order_id: str, amount: Decimal, at: datetime) -> CreditDecision:
        """Approve (the amount becomes a commitment) or hold (queued with the reasons)."""
        if order_id in self.commitments or self._open_hold_index(order_id) is not None:
            raise DomainError("already_checked", f"order {order_id} is already approved or held")
        amount = money(amount)
        if amount < 0:  # zero is fine: free samples still meet the overdue rule
            raise DomainError("invalid_amount", "an order amount must be >= 0")
        decision = self.assess(order_id, amount, at.date())
        if decision.approved:
            self.commitments[order_id] = amount
        else:
            self.holds.append(CreditHold(order_id, amount, decision.reasons, at))
        return decision

    def recheck(self, at: datetime, by: str = "system") -> list[CreditRelease]:
        """Release held orders oldest first while they fit. A hold that still does not fit
        stops the pass, so a younger order never overtakes it; its reasons are refreshed."""
        released = []
        for index, hold in enumerate(self.holds):
            if hold.status is not CreditHoldStatus.HELD:
                continue
            decision = self.assess(hold.order_id, hold.amount, at.date())
            if not decision.approved:
                self.holds[index] = replace(hold, reasons=decision.reasons)
                break
            released.append(
                self._end(index, CreditHoldStatus.RELEASED, at, by, "credit re-check passed")
            )
            self.commitments[hold.order_id] = hold.amount
        return released

    def override(
        self, order_id: str, *, by: str, role: Role, reason: str, at: datetime
    ) -> CreditRelease:
        """A manager releases a hold despite the rules; the amount still counts as exposure."""
        if role not in OVERRIDE_ROLES:
            raise DomainError("not_authorised", f"a {role} cannot override a credit hold")
        if not reason.strip():
            raise DomainError("reason_required", "an override needs a reason")
        index = self._require_open_hold(order_id)
        release = self._end(index, CreditHoldStatus.OVERRIDDEN, at, by, reason)
        self.commitments[order_id] = self.holds[index].amount
        return release

    def withdraw(self, order_id: str, at: datetime, by: str, reason: str) -> None:
        """The order was cancelled: free its commitment or close its hold (kept for audit)."""
        if self.commitments.pop(order_id, None) is not None:
            return
        self._end(self._require_open_hold(order_id), CreditHoldStatus.WITHDRAWN, at, by, reason)

    # -- invoices and payments -------------------------------------------------------------
    def add_invoice(
        self, invoice_id: str, amount: Decimal, issued_on: date, *, order_id: str | None = None
    ) -> OpenInvoice:
        """Invoice an order: the invoice replaces the order's commitment in the exposure."""
        if invoice_id in self.invoices:
            raise DomainError("duplicate_invoice", f"invoice {invoice_id} exists")
        amount = money(amount)
        if amount <= 0:
            raise DomainError("invalid_amount", "an invoice amount must be positive")
        due = issued_on + timedelta(days=self.payment_terms_days)
        invoice = OpenInvoice(invoice_id, amount, issued_on, due)
        self.invoices[invoice_id] = invoice
        if order_id is not None:
            self.commitments.pop(order_id, None)
        return invoice

    def record_payment(
        self, invoice_id: str, amount: Decimal, at: datetime, by: str = "system"
    ) -> list[CreditRelease]:
        """Apply a payment and re-check the held orders it may free."""
        invoice = self.invoices.get(invoice_id)
        if invoice is None:
            raise DomainError("unknown_invoice", f"no invoice {invoice_id}")
        amount = money(amount)
        if amount <= 0:
            raise DomainError("invalid_amount", "a payment must be positive")
        if amount > invoice.open_amount:
            raise DomainError(
                "overpayment",
                f"payment {amount} exceeds open {invoice.open_amount} on {invoice_id}",
            )
        self.invoices[invoice_id] = replace(invoice, paid=invoice.paid + amount)
        return self.recheck(at, by)

    def change_limit(self, new_limit: Decimal, at: datetime, by: str) -> list[CreditRelease]:
        limit = money(new_limit)
        if limit < 0:
            raise DomainError("invalid_credit_terms", "a credit limit must be >= 0")
        self.credit_limit = limit
        return self.recheck(at, by)

    # -- internals -------------------------------------------------------------------------
    def _open_hold_index(self, order_id: str) -> int | None:
        for index, hold in enumerate(self.holds):
            if hold.order_id == order_id and hold.status is CreditHoldStatus.HELD:
                return index
        return None

    def _require_open_hold(self, order_id: str) -> int:
        index = self._open_hold_index(order_id)
        if index is None:
            raise DomainError("no_open_hold", f"order {order_id} has no open credit hold")
        return index

    def _end(
        self, index: int, status: CreditHoldStatus, at: datetime, by: str, reason: str
    ) -> CreditRelease:
        hold = self.holds[index]
        self.holds[index] = replace(
            hold, status=status, ended_at=at, ended_by=by, end_reason=reason
        )
        return CreditRelease(hold.order_id, at, by, reason, status is CreditHoldStatus.OVERRIDDEN)
