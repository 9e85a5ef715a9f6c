"""Orders and credit on PostgreSQL: load the domain objects from rows, apply one rule, write
the rows, the timeline events and the audit trail back in the caller's transaction.

The rules are ``dms.domain`` (``orders.Order``, ``approval.build_chain``, ``credit.CreditAccount``,
``billing``); this module only translates. Two locks keep concurrent requests honest: a
per-dealer advisory lock around every credit decision (two orders that each fit the limit
cannot both pass together) and the per-product lock inside ``stock.reserve``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from wayhouse.platform.auth.principal import Principal
from wayhouse.platform.dms import audit, documents, stock
from wayhouse.platform.dms.domain import billing
from wayhouse.platform.dms.domain.approval import (
    ApprovalChain,
    ApprovalDecision,
    ApprovalRule,
    ApprovalStep,
    Approver,
    build_chain,
)
from wayhouse.platform.dms.domain.credit import (
    CreditAccount,
    CreditHold,
    CreditRelease,
    HoldReason,
    OpenInvoice,
)
from wayhouse.platform.dms.domain.ledger import Reservation
from wayhouse.platform.dms.domain.orders import Order, OrderEvent, OrderLine
from wayhouse.platform.dms.domain.types import (
    ApprovalStepStatus,
    CreditHoldStatus,
    DealerStatus,
    DomainError,
    OrderStatus,
    Role,
    money,
)
from wayhouse.platform.dms.models import Dealer, Product, StockReservation, Warehouse
from wayhouse.platform.dms.models_fulfilment import (
    OrderReturn,
    OrderReturnLine,
    Shipment,
    ShipmentLine,
)
from wayhouse.platform.dms.models_orders import (
    ApprovalRuleRow,
    CreditAccountRow,
    CreditHoldRow,
    InvoiceRow,
    OrderApproval,
    OrderEventRow,
    OrderLineRow,
    PaymentAllocationRow,
    PaymentRow,
    SalesOrder,
)
from wayhouse.platform.dms.scope import in_scope

CREDIT_LOCK_NAMESPACE = 0x57484C  # 'WHL': per-dealer credit decisions, apart from stock locks
# A dealer without a credit account row has no credit: every order is held until HQ sets one.
DEFAULT_TERMS = (Decimal("0.00"), 30, 0)
# Orders whose credit passed and that are not invoiced yet: their totals are commitments.
COMMITTED = frozenset(
    {
        OrderStatus.APPROVAL,
        OrderStatus.ALLOCATED,
        OrderStatus.PICKING,
        OrderStatus.SHIPPED,
        OrderStatus.DELIVERED,
    }
)
NO_LOT = stock.NO_LOT


class NotFound(DomainError):
    """Missing, or outside the caller's subtree: the two are indistinguishable (HTTP 404)."""

    def __init__(self, what: str) -> None:
        super().__init__("not_found", f"no {what}")


def ref(order_id: int) -> str:
    """The order's id in the domain and in ``stock_reservation.order_ref``."""
    return f"SO-{order_id}"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _by(actor: Principal) -> str:
    return str(actor.user_id)


def _visible(actor: Principal):  # type: ignore[no-untyped-def]
    return in_scope(actor)


def lock_dealer_credit(session: Session, dealer_id: int) -> None:
    session.execute(
        text("SELECT pg_advisory_xact_lock(:ns, :d)"),
        {"ns": CREDIT_LOCK_NAMESPACE, "d": dealer_id},
    )


# -- lookups scoped to the caller ----------------------------------------------------------
def visible_dealer(session: Session, actor: Principal, dealer_id: int) -> Dealer:
    dealer = session.scalar(
        select(Dealer).join(Dealer.org_unit).where(Dealer.id == dealer_id, _visible(actor))
    )
    if dealer is None:
        raise NotFound(f"dealer {dealer_id}")
    return dealer


def visible_orders(actor: Principal):  # type: ignore[no-untyped-def]
    """The select of every order the caller may see (the list and detail endpoints start here)."""
    return select(SalesOrder).join(SalesOrder.dealer).join(Dealer.org_unit).where(_visible(actor))


def _order_row(session: Session, actor: Principal, order_id: int, lock: bool) -> SalesOrder:
    row = session.scalar(visible_orders(actor).where(SalesOrder.id == order_id))
    if row is None:
        raise NotFound(f"order {order_id}")
    if lock:
        # Row lock: two requests acting on one order run one after the other.
        session.execute(select(SalesOrder.id).where(SalesOrder.id == order_id).with_for_update())
        session.refresh(row)
    return row


def get_order(session: Session, actor: Principal, order_id: int) -> SalesOrder:
    return _order_row(session, actor, order_id, lock=False)


# -- rows <-> domain -----------------------------------------------------------------------
def _chain(row: SalesOrder) -> ApprovalChain | None:
    if not row.approvals:
        # No steps stored: either approval has not started, or no rule asked for one.
        entered = any(e.to_status == OrderStatus.APPROVAL for e in row.events)
        return ApprovalChain(()) if entered else None
    steps = tuple(
        ApprovalStep(a.level, Role(a.role), a.region_scope, tuple(a.rules)) for a in row.approvals
    )
    decisions = [
        ApprovalDecision(
            a.step,
            str(a.decided_by),
            Role(a.decided_role or a.role),
            a.status == ApprovalStepStatus.APPROVED,
            a.decided_at or row.updated_at,
            a.note or "",
        )
        for a in row.approvals
        if a.status != ApprovalStepStatus.PENDING
    ]
    return ApprovalChain(steps, decisions)


def _domain(session: Session, row: SalesOrder) -> Order:
    order = Order(ref(row.id), str(row.dealer_id), str(row.region_id), at=row.created_at, by="-")
    order.lines = {
        ln.sku: OrderLine(ln.sku, ln.qty, ln.unit_price, ln.product_class) for ln in row.lines
    }
    order.history = [
        OrderEvent(
            OrderStatus(e.from_status) if e.from_status else None,
            OrderStatus(e.to_status),
            e.at,
            e.by,
            e.reason,
        )
        for e in row.events
    ]
    order.status = OrderStatus(row.status)
    order.hold_reasons = tuple(row.hold_reasons or ())
    order.shipped, order.returned = _fulfilled(session, row.id)
    order.closed_short = {ln.sku: ln.closed_short for ln in row.lines if ln.closed_short}
    order.approval = _chain(row)
    sku_of = {ln.product_id: ln.sku for ln in row.lines}
    order.reservations = [
        Reservation(
            str(r.id),
            sku_of[r.product_id],
            str(r.lot_id) if r.lot_id else NO_LOT,
            str(r.bin_id),
            r.qty,
            order.id,
        )
        for r in session.scalars(
            select(StockReservation)
            .where(StockReservation.order_ref == order.id, StockReservation.released_at.is_(None))
            .order_by(StockReservation.id)
        )
    ]
    return order


def _fulfilled(session: Session, order_id: int) -> tuple[dict[str, int], dict[str, int]]:
    """Units shipped and units returned per SKU, summed from the shipment and return lines."""
    shipped = session.execute(
        select(ShipmentLine.sku, func.sum(ShipmentLine.qty))
        .join(Shipment, Shipment.id == ShipmentLine.shipment_id)
        .where(Shipment.order_id == order_id)
        .group_by(ShipmentLine.sku)
    ).all()
    returned = session.execute(
        select(OrderReturnLine.sku, func.sum(OrderReturnLine.qty))
        .join(OrderReturn, OrderReturn.id == OrderReturnLine.return_id)
        .where(OrderReturn.order_id == order_id)
        .group_by(OrderReturnLine.sku)
    ).all()
    return {s: int(q) for s, q in shipped}, {s: int(q) for s, q in returned}


def _save(session: Session, row: SalesOrder, order: Order, actor_id: int | None) -> None:
    """Write the order's state back: status, holds, approval steps, new timeline events."""
    before = row.status
    for seq, event in enumerate(order.history[len(row.events) :], start=len(row.events)):
        row.events.append(
            OrderEventRow(
                seq=seq,
                from_status=event.from_status.value if event.from_status else None,
                to_status=event.to_status.value,
                at=event.at,
                by=event.by,
                reason=event.reason,
            )
        )
    row.status = order.status.value
    row.hold_reasons = list(order.hold_reasons)
    for ln in row.lines:
        ln.closed_short = order.closed_short.get(ln.sku, 0)
    row.total = order.total
    row.updated_at = order.history[-1].at
    chain = order.approval
    if chain is not None and not row.approvals:
        for i, step in enumerate(chain.steps):
            row.approvals.append(
                OrderApproval(
                    step=i,
                    level=step.level,
                    role=step.role.value,
                    region_scope=step.region_scope,
                    rules=list(step.rules),
                )
            )
    if chain is not None:
        for d in chain.decisions:
            a = row.approvals[d.step]
            if a.status == ApprovalStepStatus.PENDING:
                a.status = chain.status_of(d.step).value
                a.decided_by = int(d.user_id)
                a.decided_role = d.role.value
                a.decided_at = d.at
                a.note = d.note
    session.flush()
    if before != row.status:
        audit.record(
            session,
            actor_id,
            "order",
            row.id,
            "transition",
            {"status": before},
            {"status": row.status},
            order.history[-1].reason,
        )


def _rules(session: Session) -> list[ApprovalRule]:
    return [
        ApprovalRule(
            r.name,
            r.level,
            Role(r.role),
            r.min_amount,
            r.max_amount,
            frozenset(r.regions or ()),
            frozenset(r.product_classes or ()),
            r.active,
        )
        for r in session.scalars(select(ApprovalRuleRow).where(ApprovalRuleRow.active))
    ]


# -- credit account from rows --------------------------------------------------------------
@dataclass
class LoadedAccount:
    account: CreditAccount
    holds: dict[str, CreditHoldRow]  # domain order ref -> open hold row
    dealer_id: int


def _paid_by_invoice(session: Session, dealer_id: int) -> dict[int, Decimal]:
    rows = session.execute(
        select(PaymentAllocationRow.invoice_id, func.sum(PaymentAllocationRow.amount))
        .join(InvoiceRow, InvoiceRow.id == PaymentAllocationRow.invoice_id)
        .where(InvoiceRow.dealer_id == dealer_id)
        .group_by(PaymentAllocationRow.invoice_id)
    ).all()
    return {inv: money(total) for inv, total in rows}


def load_account(session: Session, dealer_id: int) -> LoadedAccount:
    terms = session.get(CreditAccountRow, dealer_id)
    limit, days, grace = (
        (terms.credit_limit, terms.payment_terms_days, terms.grace_days) if terms else DEFAULT_TERMS
    )
    account = CreditAccount(str(dealer_id), limit, days, grace)
    paid = _paid_by_invoice(session, dealer_id)
    for inv in session.scalars(select(InvoiceRow).where(InvoiceRow.dealer_id == dealer_id)):
        account.invoices[inv.number] = OpenInvoice(
            inv.number, inv.amount, inv.issued_on, inv.due_on, paid.get(inv.id, money(0))
        )
    for oid, total in session.execute(
        select(SalesOrder.id, SalesOrder.total).where(
            SalesOrder.dealer_id == dealer_id, SalesOrder.status.in_([s.value for s in COMMITTED])
        )
    ):
        account.commitments[ref(oid)] = total
    holds: dict[str, CreditHoldRow] = {}
    for h in session.scalars(
        select(CreditHoldRow)
        .where(CreditHoldRow.dealer_id == dealer_id, CreditHoldRow.status == "held")
        .order_by(CreditHoldRow.held_at, CreditHoldRow.id)  # first come, first released
    ):
        holds[ref(h.order_id)] = h
        account.holds.append(
            CreditHold(
                ref(h.order_id),
                h.amount,
                tuple(HoldReason(r["code"], r["message"], Decimal(r["amount"])) for r in h.reasons),
                h.held_at,
            )
        )
    return LoadedAccount(account, holds, dealer_id)


def _save_holds(session: Session, loaded: LoadedAccount) -> None:
    for hold in loaded.account.holds:
        row = loaded.holds.get(hold.order_id)
        reasons = [
            {"code": r.code, "message": r.message, "amount": str(r.amount)} for r in hold.reasons
        ]
        if row is None:
            row = CreditHoldRow(
                dealer_id=loaded.dealer_id,
                order_id=int(hold.order_id.removeprefix("SO-")),
                amount=hold.amount,
                held_at=hold.held_at,
            )
            session.add(row)
            loaded.holds[hold.order_id] = row
        row.reasons = reasons
        row.status = hold.status.value
        row.ended_at = hold.ended_at
        row.ended_by = hold.ended_by or None
        row.end_reason = hold.end_reason or None
    session.flush()


def _apply_releases(
    session: Session, releases: list[CreditRelease], actor_id: int | None
) -> list[int]:
    """Held orders the credit account let go: each moves on to its approval chain."""
    rules = _rules(session)
    done = []
    for release in releases:
        order_id = int(release.order_id.removeprefix("SO-"))
        row = session.scalar(
            select(SalesOrder)
            .where(SalesOrder.id == order_id)
            .with_for_update(of=SalesOrder)
            .execution_options(populate_existing=True)
        )
        assert row is not None  # a hold row references its order by foreign key
        order = _domain(session, row)
        order.release_hold(release, build_chain(order.summary(), rules))
        _save(session, row, order, actor_id)
        done.append(order_id)
    return done


# -- order workflow ------------------------------------------------------------------------
@dataclass(frozen=True)
class LineIn:
    product_id: int
    qty: int


def place_order(
    session: Session,
    actor: Principal,
    lines: list[LineIn],
    dealer_id: int | None = None,
    note: str | None = None,
) -> SalesOrder:
    """A draft order, priced from the catalogue's list prices."""
    if dealer_id is None:
        own = session.scalar(select(Dealer).where(Dealer.org_unit_id == actor.org_unit_id))
        if own is None:
            raise DomainError("dealer_required", "say which dealer the order is for (dealer_id)")
        dealer_id = own.id
    dealer = visible_dealer(session, actor, dealer_id)
    if dealer.status in (DealerStatus.SUSPENDED, DealerStatus.CLOSED):
        raise DomainError("dealer_inactive", f"dealer {dealer.id} is {dealer.status}")
    documents.ensure_can_order(session, dealer, _now().date())
    if not lines:
        raise DomainError("invalid_line", "an order needs at least one line")
    products = {
        p.id: p
        for p in session.scalars(
            select(Product).where(Product.id.in_([ln.product_id for ln in lines]))
        )
    }
    now = _now()
    row = SalesOrder(
        dealer_id=dealer.id,
        region_id=dealer.org_unit.parent_id,
        created_by=actor.user_id,
        created_at=now,
        updated_at=now,
        note=note,
    )
    session.add(row)
    session.flush()
    order = Order(ref(row.id), str(dealer.id), str(row.region_id), at=now, by=_by(actor))
    for ln in lines:
        product = products.get(ln.product_id)
        if product is None or not product.active:
            raise DomainError("unknown_product", f"no active product {ln.product_id}")
        order.add_line(OrderLine(product.sku, ln.qty, product.list_price, product.product_class))
        row.lines.append(
            OrderLineRow(
                product_id=product.id,
                sku=product.sku,
                product_class=product.product_class,
                qty=ln.qty,
                unit_price=order.lines[product.sku].unit_price,
                amount=order.lines[product.sku].amount,
            )
        )
    _save(session, row, order, actor.user_id)
    audit.record(
        session,
        actor.user_id,
        "order",
        row.id,
        "create",
        None,
        {"dealer_id": dealer.id, "total": str(order.total), "lines": len(order.lines)},
    )
    return row


def submit(session: Session, actor: Principal, order_id: int) -> SalesOrder:
    """Submit, check credit, then held with the reasons or on to the approval chain."""
    row = _order_row(session, actor, order_id, lock=False)
    lock_dealer_credit(session, row.dealer_id)  # before the row lock: one lock order everywhere
    row = _order_row(session, actor, order_id, lock=True)
    # A draft from before a licence lapsed must not slip through once it has.
    documents.ensure_can_order(session, row.dealer, _now().date())
    order = _domain(session, row)
    now = _now()
    order.submit(now, _by(actor))
    order.begin_credit_check(now, "credit")
    loaded = load_account(session, row.dealer_id)
    decision = loaded.account.check(order.id, order.total, now)
    chain = build_chain(order.summary(), _rules(session))
    order.apply_credit(decision, chain, now, "credit")
    _save_holds(session, loaded)
    _save(session, row, order, actor.user_id)
    return row


def _approver(actor: Principal) -> Approver:
    region = str(actor.org_unit_id) if actor.role is Role.REGION_MANAGER else None
    return Approver(str(actor.user_id), actor.role, region)


def approve(session: Session, actor: Principal, order_id: int, note: str = "") -> SalesOrder:
    row = _order_row(session, actor, order_id, lock=True)
    order = _domain(session, row)
    order.approve(_approver(actor), _now(), note)
    _save(session, row, order, actor.user_id)
    audit.record(session, actor.user_id, "order", row.id, "approve", None, None, note or None)
    return row


def reject(session: Session, actor: Principal, order_id: int, reason: str) -> SalesOrder:
    row = _order_row(session, actor, order_id, lock=False)
    lock_dealer_credit(session, row.dealer_id)
    row = _order_row(session, actor, order_id, lock=True)
    order = _domain(session, row)
    now = _now()
    order.reject(_approver(actor), now, reason)
    stock.release(session, order.id, now)
    _save(session, row, order, actor.user_id)
    _recheck(session, row.dealer_id, now, actor.user_id)
    return row


def _recheck(session: Session, dealer_id: int, now: dt.datetime, actor_id: int | None) -> None:
    """An order left the commitments: the credit it frees may let older holds through."""
    loaded = load_account(session, dealer_id)
    releases = loaded.account.recheck(now, "credit")
    _save_holds(session, loaded)
    _apply_releases(session, releases, actor_id)


def allocate(session: Session, actor: Principal, order_id: int, warehouse_id: int) -> SalesOrder:
    """Reserve every line first-expiry-first-out, all or nothing. A shortfall reserves nothing
    and leaves the order approved, waiting for stock, with the reason on its timeline."""
    row = _order_row(session, actor, order_id, lock=True)
    if session.get(Warehouse, warehouse_id) is None:
        raise DomainError("unknown_warehouse", f"no warehouse {warehouse_id}")
    order = _domain(session, row)
    now = _now()
    if order.status is not OrderStatus.APPROVAL or not (
        order.approval and order.approval.is_approved
    ):
        order.allocate([], now, _by(actor))  # raises the transition's reason
    shortfall = ""
    savepoint = session.begin_nested()
    try:
        # Product order keeps the per-product advisory locks deadlock-free across orders.
        for ln in sorted(row.lines, key=lambda x: x.product_id):
            stock.reserve(
                session,
                product_id=ln.product_id,
                sku=ln.sku,
                qty=ln.qty,
                order_ref=order.id,
                warehouse_id=warehouse_id,
                today=now.date(),
            )
        savepoint.commit()
    except DomainError as exc:
        if exc.code != "insufficient_stock":
            savepoint.rollback()
            raise
        savepoint.rollback()
        shortfall = exc.message
    reserved = _domain(session, row).reservations
    order.allocate(reserved, now, _by(actor))
    if shortfall:
        last = order.history[-1]
        order.history[-1] = OrderEvent(
            last.from_status, last.to_status, last.at, last.by, f"{last.reason} ({shortfall})"
        )
    _save(session, row, order, actor.user_id)
    return row


def cancel(session: Session, actor: Principal, order_id: int, reason: str) -> SalesOrder:
    row = _order_row(session, actor, order_id, lock=False)
    lock_dealer_credit(session, row.dealer_id)
    row = _order_row(session, actor, order_id, lock=True)
    order = _domain(session, row)
    was = order.status
    now = _now()
    order.cancel(now, _by(actor), reason)
    stock.release(session, order.id, now)
    if was is OrderStatus.HELD:
        loaded = load_account(session, row.dealer_id)
        loaded.account.withdraw(order.id, now, _by(actor), reason)
        _save_holds(session, loaded)
    _save(session, row, order, actor.user_id)
    if was in COMMITTED:
        _recheck(session, row.dealer_id, now, actor.user_id)
    return row


def override_hold(session: Session, actor: Principal, order_id: int, reason: str) -> SalesOrder:
    row = _order_row(session, actor, order_id, lock=False)
    lock_dealer_credit(session, row.dealer_id)
    row = _order_row(session, actor, order_id, lock=True)
    if OrderStatus(row.status) is not OrderStatus.HELD:
        raise DomainError("no_open_hold", f"order {order_id} is {row.status}, not held")
    loaded = load_account(session, row.dealer_id)
    now = _now()
    release = loaded.account.override(
        ref(row.id), by=_by(actor), role=actor.role, reason=reason, at=now
    )
    _save_holds(session, loaded)
    hold = loaded.holds[ref(row.id)]
    audit.record(
        session,
        actor.user_id,
        "credit_hold",
        hold.id,
        "override",
        {"status": CreditHoldStatus.HELD.value, "reasons": row.hold_reasons},
        {"status": CreditHoldStatus.OVERRIDDEN.value, "order_id": row.id},
        reason,
    )
    _apply_releases(session, [release], actor.user_id)
    return row


# -- credit, invoices, payments, statements ------------------------------------------------
def set_credit(
    session: Session,
    actor: Principal,
    dealer_id: int,
    credit_limit: Decimal,
    payment_terms_days: int,
    grace_days: int,
) -> tuple[CreditAccountRow, list[int]]:
    """HQ sets the terms; a higher limit releases what now fits (oldest hold first)."""
    visible_dealer(session, actor, dealer_id)
    lock_dealer_credit(session, dealer_id)
    row = session.get(CreditAccountRow, dealer_id)
    limit, days, grace = (
        (row.credit_limit, row.payment_terms_days, row.grace_days) if row else DEFAULT_TERMS
    )
    before = {"credit_limit": str(limit), "payment_terms_days": days, "grace_days": grace}
    loaded = load_account(session, dealer_id)
    loaded.account.payment_terms_days = payment_terms_days
    loaded.account.grace_days = grace_days
    now = _now()
    releases = loaded.account.change_limit(credit_limit, now, _by(actor))
    if row is None:
        row = CreditAccountRow(dealer_id=dealer_id)
        session.add(row)
    row.credit_limit = loaded.account.credit_limit
    row.payment_terms_days = payment_terms_days
    row.grace_days = grace_days
    session.flush()
    audit.record(
        session,
        actor.user_id,
        "credit",
        dealer_id,
        "update",
        before,
        {
            "credit_limit": str(row.credit_limit),
            "payment_terms_days": payment_terms_days,
            "grace_days": grace_days,
        },
    )
    _save_holds(session, loaded)
    return row, _apply_releases(session, releases, actor.user_id)


def credit_summary(session: Session, actor: Principal, dealer_id: int) -> dict[str, Any]:
    visible_dealer(session, actor, dealer_id)
    a = load_account(session, dealer_id).account
    today = _now().date()
    return {
        "dealer_id": dealer_id,
        "credit_limit": a.credit_limit,
        "payment_terms_days": a.payment_terms_days,
        "grace_days": a.grace_days,
        "balance": a.balance,
        "committed": a.committed,
        "available": a.available_credit,
        "overdue": a.overdue(today),
        "overdue_past_grace": a.overdue(today, past_grace=True),
        "held_orders": [int(h.order_id.removeprefix("SO-")) for h in a.open_holds],
    }


def _billing_invoice(inv: InvoiceRow) -> billing.Invoice:
    return billing.Invoice(
        inv.number,
        str(inv.dealer_id),
        inv.issued_on,
        inv.due_on,
        inv.amount,
        str(inv.order_id or ""),
    )


def issue_invoice(
    session: Session,
    actor: Principal | None,
    dealer_id: int,
    amount: Decimal,
    issued_on: dt.date,
    number: str,
    order_id: int | None = None,
) -> InvoiceRow:
    """Bill a dealer on its payment terms (``fulfilment.invoice`` for a delivered order; the
    loader and tests call it directly for history)."""
    terms = session.get(CreditAccountRow, dealer_id)
    net = terms.payment_terms_days if terms else DEFAULT_TERMS[1]
    inv = billing.issue_invoice(
        number, str(dealer_id), issued_on, amount, billing.PaymentTerms(net_days=net)
    )
    row = InvoiceRow(
        number=inv.invoice_id,
        dealer_id=dealer_id,
        order_id=order_id,
        issued_on=inv.issued_on,
        due_on=inv.due_on,
        amount=inv.amount,
        created_by=actor.user_id if actor else None,
    )
    session.add(row)
    session.flush()
    lock_dealer_credit(session, dealer_id)
    _apply_unapplied(session, dealer_id)  # a prepayment settles the new invoice
    audit.record(
        session,
        actor.user_id if actor else None,
        "invoice",
        row.id,
        "issue",
        None,
        {"number": row.number, "dealer_id": dealer_id, "amount": str(row.amount)},
    )
    return row


def _apply_unapplied(session: Session, dealer_id: int) -> list[PaymentAllocationRow]:
    """Match money not yet applied to the open invoices, oldest payment and invoice first
    (a prepayment waits as credit until an invoice arrives). Call under the dealer's lock."""
    applied = dict(
        session.execute(
            select(PaymentAllocationRow.payment_id, func.sum(PaymentAllocationRow.amount))
            .join(PaymentRow, PaymentRow.id == PaymentAllocationRow.payment_id)
            .where(PaymentRow.dealer_id == dealer_id)
            .group_by(PaymentAllocationRow.payment_id)
        ).all()
    )
    payments = session.scalars(
        select(PaymentRow)
        .where(PaymentRow.dealer_id == dealer_id)
        .order_by(PaymentRow.received_on, PaymentRow.id)
    ).all()
    invoices = {
        i.number: i
        for i in session.scalars(select(InvoiceRow).where(InvoiceRow.dealer_id == dealer_id))
    }
    paid = _paid_by_invoice(session, dealer_id)
    added: list[PaymentAllocationRow] = []
    for p in payments:
        left = p.amount - money(applied.get(p.id) or 0)
        if left <= 0:
            continue
        open_pairs = [
            (_billing_invoice(i), i.amount - paid.get(i.id, money(0)))
            for i in invoices.values()
            if i.amount > paid.get(i.id, money(0))
        ]
        if not open_pairs:
            break
        payment = billing.Payment(str(p.id), str(dealer_id), p.received_on, left, p.reference)
        for a in billing.allocate_payment(payment, open_pairs)[0]:
            inv = invoices[a.invoice_id]
            paid[inv.id] = paid.get(inv.id, money(0)) + a.amount
            added.append(
                PaymentAllocationRow(
                    payment_id=p.id, invoice_id=inv.id, amount=a.amount, applied_on=a.applied_on
                )
            )
    session.add_all(added)
    session.flush()
    return added


@dataclass
class PaymentResult:
    payment: PaymentRow
    allocations: list[PaymentAllocationRow]
    unapplied: Decimal
    released_orders: list[int]


def record_payment(
    session: Session,
    actor: Principal,
    dealer_id: int,
    amount: Decimal,
    received_on: dt.date,
    reference: str = "",
) -> PaymentResult:
    """Apply the money to the oldest open invoices, then release the holds that now fit."""
    return _record_money(session, actor, dealer_id, amount, received_on, reference, "payment")


def record_credit_note(
    session: Session, actor: Principal, dealer_id: int, amount: Decimal, reference: str
) -> PaymentRow:
    """Credit for goods returned after invoicing: settles open invoices like a payment."""
    return _record_money(
        session, actor, dealer_id, amount, dt.date.today(), reference, "credit_note"
    ).payment


def _record_money(
    session: Session,
    actor: Principal,
    dealer_id: int,
    amount: Decimal,
    received_on: dt.date,
    reference: str,
    kind: str,
) -> PaymentResult:
    visible_dealer(session, actor, dealer_id)
    lock_dealer_credit(session, dealer_id)
    row = PaymentRow(
        dealer_id=dealer_id,
        received_on=received_on,
        amount=money(amount),
        reference=reference,
        kind=kind,
        created_by=actor.user_id,
    )
    session.add(row)
    session.flush()
    alloc_rows = _apply_unapplied(session, dealer_id)
    numbers = {
        i.id: i.number
        for i in session.scalars(select(InvoiceRow).where(InvoiceRow.dealer_id == dealer_id))
    }
    left = row.amount - sum((a.amount for a in alloc_rows if a.payment_id == row.id), money(0))
    audit.record(
        session,
        actor.user_id,
        kind,
        row.id,
        "record",
        None,
        {
            "dealer_id": dealer_id,
            "amount": str(row.amount),
            "applied": {numbers[a.invoice_id]: str(a.amount) for a in alloc_rows},
            "unapplied": str(left),
        },
        reference or None,
    )
    settle_paid_orders(session, dealer_id, actor.user_id)
    loaded = load_account(session, dealer_id)
    releases = loaded.account.recheck(_now(), _by(actor))
    _save_holds(session, loaded)
    return PaymentResult(row, alloc_rows, left, _apply_releases(session, releases, actor.user_id))


def settle_paid_orders(session: Session, dealer_id: int, actor_id: int | None) -> list[int]:
    """Invoiced orders whose invoice is now settled in full become paid."""
    paid = _paid_by_invoice(session, dealer_id)
    done = []
    for inv in session.scalars(
        select(InvoiceRow)
        .join(SalesOrder, SalesOrder.id == InvoiceRow.order_id)
        .where(InvoiceRow.dealer_id == dealer_id, SalesOrder.status == OrderStatus.INVOICED)
    ):
        if paid.get(inv.id, money(0)) < inv.amount:
            continue
        row = session.get(SalesOrder, inv.order_id)
        assert row is not None
        order = _domain(session, row)
        order.mark_paid(_now(), str(actor_id) if actor_id else "system", f"{inv.number} settled")
        _save(session, row, order, actor_id)
        done.append(row.id)
    return done


def dealer_statement(
    session: Session, actor: Principal, dealer_id: int, start: dt.date, end: dt.date
) -> billing.Statement:
    visible_dealer(session, actor, dealer_id)
    invoices = [
        _billing_invoice(i)
        for i in session.scalars(
            select(InvoiceRow).where(InvoiceRow.dealer_id == dealer_id, InvoiceRow.issued_on <= end)
        )
    ]
    payments = [
        billing.Payment(str(p.id), str(dealer_id), p.received_on, p.amount, p.reference)
        for p in session.scalars(
            select(PaymentRow).where(
                PaymentRow.dealer_id == dealer_id, PaymentRow.received_on <= end
            )
        )
    ]
    return billing.statement(str(dealer_id), start, end, invoices, payments)
