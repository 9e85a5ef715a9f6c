"""The order aggregate and its state machine.

draft > submitted > credit_check > (held) > approval > allocated > picking > shipped >
delivered (proof required) > invoiced > paid; cancelled before anything ships; returned when
everything delivered came back. Each step is a method that checks everything first and then
changes the order, so a refused step (``IllegalTransition`` / ``DomainError``) changes nothing.
Every step, including progress inside a state (an approval level, a partial shipment, a partial
return), appends an ``OrderEvent``: that list is the timeline the console shows.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from .approval import ApprovalChain, ApprovalDecision, Approver, OrderSummary
from .credit import CreditDecision, CreditRelease
from .ledger import Reservation
from .types import DomainError, IllegalTransition, OrderStatus, money

S = OrderStatus
TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    S.DRAFT: frozenset({S.SUBMITTED, S.CANCELLED}),
    S.SUBMITTED: frozenset({S.CREDIT_CHECK, S.CANCELLED}),
    S.CREDIT_CHECK: frozenset({S.HELD, S.APPROVAL, S.CANCELLED}),
    S.HELD: frozenset({S.APPROVAL, S.CANCELLED}),
    S.APPROVAL: frozenset({S.ALLOCATED, S.CANCELLED}),
    S.ALLOCATED: frozenset({S.PICKING, S.CANCELLED}),
    S.PICKING: frozenset({S.SHIPPED, S.CANCELLED}),
    S.SHIPPED: frozenset({S.DELIVERED}),
    S.DELIVERED: frozenset({S.INVOICED, S.RETURNED}),
    S.INVOICED: frozenset({S.PAID, S.RETURNED}),
    S.PAID: frozenset({S.RETURNED}),
    S.CANCELLED: frozenset(),
    S.RETURNED: frozenset(),
}
RETURNABLE = frozenset({S.DELIVERED, S.INVOICED, S.PAID})


class ShipmentProgress(StrEnum):
    """Derived from shipped quantities; PARTIAL is the order in ``picking`` with some gone."""

    NONE = "none"
    PARTIAL = "partial"
    COMPLETE = "complete"


@dataclass(frozen=True, slots=True)
class OrderLine:
    sku: str
    qty: int
    unit_price: Decimal
    product_class: str = "general"

    def __post_init__(self) -> None:
        if not self.sku:
            raise DomainError("invalid_line", "a line needs a sku")
        if isinstance(self.qty, bool) or not isinstance(self.qty, int) or self.qty <= 0:
            raise DomainError("invalid_line", f"line {self.sku}: qty must be a positive integer")
        object.__setattr__(self, "unit_price", money(self.unit_price))
        if self.unit_price < 0:
            raise DomainError("invalid_line", f"line {self.sku}: unit price must be >= 0")

    @property
    def amount(self) -> Decimal:
        return money(self.unit_price * self.qty)


@dataclass(frozen=True, slots=True)
class OrderEvent:
    from_status: OrderStatus | None  # None for creation
    to_status: OrderStatus
    at: datetime
    by: str
    reason: str


@dataclass(frozen=True, slots=True)
class ProofOfDelivery:
    kind: str  # "signature" | "scan" | "photo"
    reference: str  # signature image id, scanned code, ...
    received_by: str = ""

    def __post_init__(self) -> None:
        if not self.kind.strip() or not self.reference.strip():
            raise DomainError("proof_required", "proof of delivery needs a kind and a reference")


def _aware(at: datetime) -> datetime:
    # The timeline is compared across sites and stored as timestamptz: no naive times.
    if at.tzinfo is None or at.utcoffset() is None:
        raise DomainError("naive_time", "event times must carry a time zone")
    return at


def _qty_map(quantities: Mapping[str, int], what: str) -> dict[str, int]:
    out = {}
    for sku, qty in quantities.items():
        if isinstance(qty, bool) or not isinstance(qty, int) or qty <= 0:
            raise DomainError("invalid_quantity", f"{what} of {sku}: qty must be positive")
        out[sku] = qty
    if not out:
        raise DomainError("invalid_quantity", f"{what}: no quantities given")
    return out


class Order:
    def __init__(
        self,
        id: str,
        dealer_id: str,
        region_id: str,
        *,
        at: datetime,
        by: str,
        lines: Iterable[OrderLine] = (),
    ) -> None:
        self.id = id
        self.dealer_id = dealer_id
        self.region_id = region_id
        self.status = S.DRAFT
        self.lines: dict[str, OrderLine] = {}
        self.history: list[OrderEvent] = [OrderEvent(None, S.DRAFT, _aware(at), by, "created")]
        self.hold_reasons: tuple[str, ...] = ()
        self.approval: ApprovalChain | None = None
        self.reservations: list[Reservation] = []
        self.shipped: dict[str, int] = {}
        self.closed_short: dict[str, int] = {}  # units that will never ship (short pick)
        self.returned: dict[str, int] = {}
        self.proof: ProofOfDelivery | None = None
        self.invoice_id: str | None = None
        for line in lines:
            self.add_line(line)

    # -- lines and figures -----------------------------------------------------------------
    def add_line(self, line: OrderLine) -> None:
        self._require({S.DRAFT}, "edited", "lines change only in draft")
        if line.sku in self.lines:
            raise DomainError(
                "duplicate_line", f"order {self.id} already has a line for {line.sku}"
            )
        self.lines[line.sku] = line

    def remove_line(self, sku: str) -> None:
        self._require({S.DRAFT}, "edited", "lines change only in draft")
        if self.lines.pop(sku, None) is None:
            raise DomainError("unknown_line", f"order {self.id} has no line for {sku}")

    @property
    def total(self) -> Decimal:
        return money(sum((line.amount for line in self.lines.values()), Decimal(0)))

    def _amount_of(self, quantities: Mapping[str, int]) -> Decimal:
        return money(sum((self.lines[s].unit_price * q for s, q in quantities.items()), Decimal(0)))

    @property
    def shipped_amount(self) -> Decimal:
        return self._amount_of(self.shipped)

    @property
    def returned_amount(self) -> Decimal:
        return self._amount_of(self.returned)

    @property
    def invoiceable_amount(self) -> Decimal:
        """What the dealer owes for this order: delivered minus returned."""
        return self.shipped_amount - self.returned_amount

    def allocated_qty(self, sku: str) -> int:
        return sum(r.qty for r in self.reservations if r.sku == sku)

    def to_ship(self, sku: str) -> int:
        """Units of ``sku`` still expected to leave the warehouse."""
        line = self.lines[sku]
        return line.qty - self.shipped.get(sku, 0) - self.closed_short.get(sku, 0)

    @property
    def shipment_progress(self) -> ShipmentProgress:
        if not any(self.shipped.values()):
            return ShipmentProgress.NONE
        if all(self.to_ship(s) == 0 for s in self.lines):
            return ShipmentProgress.COMPLETE
        return ShipmentProgress.PARTIAL

    def summary(self) -> OrderSummary:
        return OrderSummary(
            self.total,
            self.region_id,
            frozenset(line.product_class for line in self.lines.values()),
        )

    # -- transitions -----------------------------------------------------------------------
    def submit(self, at: datetime, by: str) -> None:
        self._require({S.DRAFT}, S.SUBMITTED)
        if not self.lines:
            raise IllegalTransition("order", self.status, S.SUBMITTED, "the order has no lines")
        self._move(S.SUBMITTED, at, by, f"submitted, total {self.total}")

    def begin_credit_check(self, at: datetime, by: str) -> None:
        self._require({S.SUBMITTED}, S.CREDIT_CHECK)
        self._move(S.CREDIT_CHECK, at, by, "credit check started")

    def apply_credit(
        self, decision: CreditDecision, chain: ApprovalChain, at: datetime, by: str
    ) -> None:
        """Passed: on to approval along ``chain``. Failed: held with the reasons, not lost."""
        target = S.APPROVAL if decision.approved else S.HELD
        self._require({S.CREDIT_CHECK}, target)
        self._same_order(decision.order_id)
        if decision.approved:
            self._enter_approval(chain, at, by, "credit approved")
        else:
            self.hold_reasons = tuple(r.message for r in decision.reasons)
            self._move(S.HELD, at, by, "credit hold: " + "; ".join(self.hold_reasons))

    def release_hold(self, release: CreditRelease, chain: ApprovalChain) -> None:
        self._require({S.HELD}, S.APPROVAL)
        self._same_order(release.order_id)
        how = "credit override" if release.override else "credit released"
        self._enter_approval(chain, release.at, release.by, f"{how}: {release.reason}")

    def approve(self, who: Approver, at: datetime, note: str = "") -> ApprovalDecision:
        chain = self._open_chain(at)
        decision = chain.approve(who, at, note)
        step = chain.steps[decision.step]
        done = " - approval complete" if chain.is_approved else ""
        why = f"level {step.level} approved by {who.user_id} ({who.role}){done}"
        self._note(at, who.user_id, why + (f": {note}" if note else ""))
        return decision

    def reject(self, who: Approver, at: datetime, reason: str) -> tuple[str, ...]:
        """A rejection ends the order; returns reservation ids to release (see ``cancel``)."""
        chain = self._open_chain(at)
        decision = chain.reject(who, at, reason)
        level = chain.steps[decision.step].level
        return self._cancel(
            at, who.user_id, f"rejected at level {level} by {who.user_id}: {reason}"
        )

    def allocate(self, reservations: Iterable[Reservation], at: datetime, by: str) -> None:
        """Record stock reserved for this order. Fully covered: ``allocated``; otherwise the
        order stays approved, awaiting stock, with the shortfall on its timeline."""
        self._require({S.APPROVAL}, S.ALLOCATED)
        if self.approval is None or not self.approval.is_approved:
            raise IllegalTransition("order", self.status, S.ALLOCATED, self._waiting_for())
        new = list(reservations)
        added: dict[str, int] = {}
        for r in new:
            if r.ref != self.id or r.sku not in self.lines:
                raise DomainError(
                    "foreign_reservation", f"reservation {r.id} is not for this order"
                )
            added[r.sku] = added.get(r.sku, 0) + r.qty
        for sku, qty in added.items():
            if self.allocated_qty(sku) + qty > self.lines[sku].qty:
                raise DomainError("over_allocation", f"{sku}: more allocated than ordered")
        self.reservations.extend(new)
        short = {s: ln.qty - self.allocated_qty(s) for s, ln in self.lines.items()}
        short = {s: q for s, q in short.items() if q}
        if not short:
            self._move(S.ALLOCATED, at, by, "allocated in full")
        else:
            missing = ", ".join(f"{s} short {q}" for s, q in short.items())
            self._note(at, by, f"awaiting stock: {missing}")

    def start_picking(self, at: datetime, by: str) -> None:
        self._require({S.ALLOCATED}, S.PICKING)
        self._move(S.PICKING, at, by, "picking started")

    def record_pick(self, sku: str, qty: int, where: str, at: datetime, by: str) -> None:
        """Units taken from storage to the outbound staging area; the first pick of an
        allocated order starts picking. Picks never exceed what is left to ship."""
        if self.status is S.ALLOCATED:
            self.start_picking(at, by)
        self._require({S.PICKING}, "picked", "only an allocated order is picked")
        if sku not in self.lines:
            raise DomainError("unknown_line", f"order {self.id} has no line for {sku}")
        _qty_map({sku: qty}, "pick")
        self._note(at, by, f"picked {qty} {sku} from {where}")

    def note_delivery(self, shipment: str, proof: ProofOfDelivery, at: datetime, by: str) -> None:
        """One shipment of a partly shipped order arrived: on the timeline, no state change
        (the order is delivered when it is shipped in full and every shipment arrived)."""
        self._require({S.PICKING, S.SHIPPED}, S.DELIVERED, "nothing was shipped")
        self._note(at, by, f"shipment {shipment} delivered, proof {proof.kind} {proof.reference}")

    def ship(self, quantities: Mapping[str, int], at: datetime, by: str) -> ShipmentProgress:
        """Record units leaving; the order is ``shipped`` once nothing is left to ship."""
        self._require({S.PICKING}, S.SHIPPED)
        qty = _qty_map(quantities, "shipment")
        for sku, q in qty.items():
            if sku not in self.lines:
                raise DomainError("unknown_line", f"order {self.id} has no line for {sku}")
            if q > self.to_ship(sku):
                raise DomainError("over_shipment", f"{sku}: {q} shipped, {self.to_ship(sku)} left")
        for sku, q in qty.items():
            self.shipped[sku] = self.shipped.get(sku, 0) + q
        self._after_shipping(at, by, "shipped " + ", ".join(f"{q} {s}" for s, q in qty.items()))
        return self.shipment_progress

    def close_short(self, at: datetime, by: str, reason: str) -> tuple[str, ...]:
        """Partially shipped and the rest will not come: ship what went, drop the remainder.
        Returns the reservation ids whose leftovers the caller releases in the ledger."""
        self._require({S.PICKING}, S.SHIPPED)
        if self.shipment_progress is not ShipmentProgress.PARTIAL:
            raise IllegalTransition(
                "order", self.status, S.SHIPPED, "nothing shipped yet: cancel instead"
            )
        if not reason.strip():
            raise DomainError("reason_required", "closing short needs a reason")
        for sku in self.lines:
            if left := self.to_ship(sku):
                self.closed_short[sku] = self.closed_short.get(sku, 0) + left
        self._after_shipping(at, by, f"closed short: {reason}")
        return tuple(r.id for r in self.reservations)

    def cancel(self, at: datetime, by: str, reason: str) -> tuple[str, ...]:
        """Allowed until anything has shipped. Returns the order's reservation ids: the caller
        releases them (``StockLedger.release_for(order.id)``) and withdraws the credit
        commitment or hold (``CreditAccount.withdraw``) in the same transaction."""
        if not reason.strip():
            raise DomainError("reason_required", "a cancellation needs a reason")
        return self._cancel(at, by, reason)

    def deliver(self, proof: ProofOfDelivery | None, at: datetime, by: str) -> None:
        self._require({S.SHIPPED}, S.DELIVERED)
        if proof is None:
            raise IllegalTransition("order", self.status, S.DELIVERED, "proof of delivery required")
        self.proof = proof
        self._move(S.DELIVERED, at, by, f"delivered, proof {proof.kind} {proof.reference}")

    def invoice(self, invoice_id: str, at: datetime, by: str) -> None:
        self._require({S.DELIVERED}, S.INVOICED)
        if not invoice_id.strip():
            raise DomainError("invalid_invoice", "an invoice needs an id")
        self.invoice_id = invoice_id
        self._move(S.INVOICED, at, by, f"invoice {invoice_id} for {self.invoiceable_amount}")

    def mark_paid(self, at: datetime, by: str, reason: str = "paid in full") -> None:
        self._require({S.INVOICED}, S.PAID)
        self._move(S.PAID, at, by, reason)

    def record_return(
        self, quantities: Mapping[str, int], at: datetime, by: str, reason: str
    ) -> None:
        """Goods came back (up to what was delivered); all of it back makes the order returned."""
        self._require(RETURNABLE, S.RETURNED, "returns follow delivery")
        qty = _qty_map(quantities, "return")
        if not reason.strip():
            raise DomainError("reason_required", "a return needs a reason")
        for sku, q in qty.items():
            left = self.shipped.get(sku, 0) - self.returned.get(sku, 0)
            if q > left:
                raise DomainError(
                    "over_return", f"{sku}: {q} returned, only {left} delivered and kept"
                )
        for sku, q in qty.items():
            self.returned[sku] = self.returned.get(sku, 0) + q
        what = "returned " + ", ".join(f"{q} {s}" for s, q in qty.items()) + f": {reason}"
        if all(self.returned.get(s, 0) == q for s, q in self.shipped.items()):
            self._move(S.RETURNED, at, by, what)
        else:
            self._note(at, by, what)

    # -- internals -------------------------------------------------------------------------
    def _require(self, allowed: Iterable[OrderStatus], target: str, why: str = "") -> None:
        if self.status not in allowed:
            raise IllegalTransition("order", self.status, target, why or f"order is {self.status}")

    def _same_order(self, order_id: str) -> None:
        if order_id != self.id:
            raise DomainError("wrong_order", f"decision for order {order_id}, not {self.id}")

    def _move(self, target: OrderStatus, at: datetime, by: str, reason: str) -> None:
        # The table is the last word: a method can never take a step it does not list.
        if target not in TRANSITIONS[self.status]:
            raise IllegalTransition("order", self.status, target, reason)
        self.history.append(OrderEvent(self.status, target, _aware(at), by, reason))
        self.status = target

    def _note(self, at: datetime, by: str, reason: str) -> None:
        self.history.append(OrderEvent(self.status, self.status, _aware(at), by, reason))

    def _enter_approval(self, chain: ApprovalChain, at: datetime, by: str, why: str) -> None:
        _aware(at)
        self.approval = chain
        self.hold_reasons = ()
        if chain.is_approved:
            why += "; no approval needed"
        else:
            why += "; approval by " + " > ".join(f"{s.role}" for s in chain.steps)
        self._move(S.APPROVAL, at, by, why)

    def _open_chain(self, at: datetime) -> ApprovalChain:
        _aware(at)
        self._require({S.APPROVAL}, "approved")
        if self.approval is None:  # only a hand-built order can lack it
            raise DomainError("no_approval_chain", f"order {self.id} has no approval chain")
        return self.approval

    def _waiting_for(self) -> str:
        step = self.approval.next_step if self.approval else None
        return f"approval pending: level {step.level} ({step.role})" if step else "not approved"

    def _after_shipping(self, at: datetime, by: str, what: str) -> None:
        if self.shipment_progress is ShipmentProgress.COMPLETE:
            self._move(S.SHIPPED, at, by, what)
        else:
            left = ", ".join(f"{s} {self.to_ship(s)} left" for s in self.lines if self.to_ship(s))
            self._note(at, by, f"partially {what}; {left}")

    def _cancel(self, at: datetime, by: str, reason: str) -> tuple[str, ...]:
        _aware(at)
        if self.status in (S.PICKING, S.SHIPPED) and any(self.shipped.values()):
            raise IllegalTransition(
                "order", self.status, S.CANCELLED, "goods already shipped: close short instead"
            )
        self._move(S.CANCELLED, at, by, reason)
        return tuple(r.id for r in self.reservations)
