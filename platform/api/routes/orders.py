"""Orders, credit, payments and statements. Thin: each route validates, calls
``dms.orders_service`` and commits. Orders and dealers outside the caller's subtree are 404;
a step the state machine refuses is 409 with the reason; every 4xx body is {code, message}."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Query, status
from pydantic import BaseModel, Field
from sqlalchemy import func, select

from wayhouse.platform.api.auth_deps import CurrentUser, DbSession, require_role
from wayhouse.platform.api.deps import Page, pagination
from wayhouse.platform.api.errors import INT_MAX, Text
from wayhouse.platform.api.errors import run_domain as _run
from wayhouse.platform.api.schemas import PageOut
from wayhouse.platform.auth.principal import Principal
from wayhouse.platform.dms import orders_service as svc
from wayhouse.platform.dms.domain.billing import LineKind
from wayhouse.platform.dms.domain.types import OrderStatus, Role
from wayhouse.platform.dms.models_orders import SalesOrder

router = APIRouter(tags=["orders and credit"])

HqOnly = Annotated[Principal, Depends(require_role(Role.HQ_ADMIN))]
Approvers = Annotated[Principal, Depends(require_role(Role.HQ_ADMIN, Role.REGION_MANAGER))]
Allocators = Annotated[
    Principal,
    Depends(require_role(Role.HQ_ADMIN, Role.REGION_MANAGER, Role.WAREHOUSE_OPERATOR)),
]
Orderers = Annotated[
    Principal, Depends(require_role(Role.HQ_ADMIN, Role.REGION_MANAGER, Role.DEALER_USER))
]
Money = Annotated[Decimal, Field(ge=0, le=Decimal("1e11"), decimal_places=2)]
OrderId = Annotated[int, Path(ge=1, le=INT_MAX)]
DealerId = Annotated[int, Path(ge=1, le=INT_MAX)]


# -- schemas -------------------------------------------------------------------------------
class LineIn(BaseModel):
    product_id: int = Field(ge=1, le=INT_MAX)
    qty: int = Field(ge=1, le=1_000_000)


class OrderIn(BaseModel):
    dealer_id: int | None = Field(
        default=None, ge=1, le=INT_MAX, description="defaults to the caller's own"
    )
    lines: list[LineIn] = Field(min_length=1, max_length=200)
    note: Text | None = Field(default=None, max_length=2000)


class ReasonIn(BaseModel):
    reason: Text = Field(min_length=1, max_length=1000)


class NoteIn(BaseModel):
    note: Text = Field(default="", max_length=1000)


class AllocateIn(BaseModel):
    warehouse_id: int = Field(ge=1, le=INT_MAX)


class LineOut(BaseModel):
    product_id: int
    sku: str
    product_class: str
    qty: int
    unit_price: Decimal
    amount: Decimal


class EventOut(BaseModel):
    seq: int
    from_status: OrderStatus | None
    to_status: OrderStatus
    at: dt.datetime
    by: str
    reason: str


class ApprovalStepOut(BaseModel):
    step: int
    level: int
    role: Role
    region_scope: str | None
    rules: list[str]
    status: str
    decided_by: int | None
    decided_at: dt.datetime | None
    note: str | None


class OrderSummaryOut(BaseModel):
    id: int
    dealer_id: int
    region_id: int
    status: OrderStatus
    total: Decimal
    currency: str
    hold_reasons: list[str]
    created_by: int | None
    created_at: dt.datetime
    updated_at: dt.datetime


class OrderOut(OrderSummaryOut):
    lines: list[LineOut]
    timeline: list[EventOut]
    approvals: list[ApprovalStepOut]


class PaymentIn(BaseModel):
    dealer_id: int = Field(ge=1, le=INT_MAX)
    amount: Money = Field(gt=0)
    received_on: dt.date
    reference: Text = Field(default="", max_length=100)


class AllocationOut(BaseModel):
    invoice_id: int
    amount: Decimal
    applied_on: dt.date


class PaymentOut(BaseModel):
    id: int
    dealer_id: int
    amount: Decimal
    received_on: dt.date
    allocations: list[AllocationOut]
    unapplied: Decimal
    released_orders: list[int]


class CreditIn(BaseModel):
    credit_limit: Money
    payment_terms_days: int = Field(ge=0, le=365)
    grace_days: int = Field(ge=0, le=365)


class CreditOut(BaseModel):
    dealer_id: int
    credit_limit: Decimal
    payment_terms_days: int
    grace_days: int
    balance: Decimal
    committed: Decimal
    available: Decimal
    overdue: Decimal
    overdue_past_grace: Decimal
    held_orders: list[int]
    released_orders: list[int] = []


class StatementLineOut(BaseModel):
    on: dt.date
    kind: LineKind
    ref: str
    debit: Decimal
    credit: Decimal
    balance: Decimal


class OpenItemOut(BaseModel):
    invoice: str
    issued_on: dt.date
    due_on: dt.date
    amount: Decimal
    outstanding: Decimal
    days_overdue: int


class StatementOut(BaseModel):
    dealer_id: int
    start: dt.date
    end: dt.date
    opening_balance: Decimal
    invoiced: Decimal
    paid: Decimal
    closing_balance: Decimal
    reconciles: bool
    lines: list[StatementLineOut]
    open_items: list[OpenItemOut]
    unapplied_credit: Decimal


def _summary(o: SalesOrder) -> OrderSummaryOut:
    return OrderSummaryOut(
        id=o.id,
        dealer_id=o.dealer_id,
        region_id=o.region_id,
        status=OrderStatus(o.status),
        total=o.total,
        currency=o.currency,
        hold_reasons=list(o.hold_reasons or ()),
        created_by=o.created_by,
        created_at=o.created_at,
        updated_at=o.updated_at,
    )


def order_out(o: SalesOrder) -> OrderOut:
    return OrderOut(
        **_summary(o).model_dump(),
        lines=[
            LineOut(
                product_id=ln.product_id,
                sku=ln.sku,
                product_class=ln.product_class,
                qty=ln.qty,
                unit_price=ln.unit_price,
                amount=ln.amount,
            )
            for ln in o.lines
        ],
        timeline=[
            EventOut(
                seq=e.seq,
                from_status=OrderStatus(e.from_status) if e.from_status else None,
                to_status=OrderStatus(e.to_status),
                at=e.at,
                by=e.by,
                reason=e.reason,
            )
            for e in o.events
        ],
        approvals=[
            ApprovalStepOut(
                step=a.step,
                level=a.level,
                role=Role(a.role),
                region_scope=a.region_scope,
                rules=list(a.rules),
                status=a.status,
                decided_by=a.decided_by,
                decided_at=a.decided_at,
                note=a.note,
            )
            for a in o.approvals
        ],
    )


def _commit_order(session: DbSession, fn: Callable[[], SalesOrder]) -> OrderOut:
    row = _run(fn)
    session.commit()
    return order_out(row)


# -- orders --------------------------------------------------------------------------------
@router.post("/orders", response_model=OrderOut, status_code=status.HTTP_201_CREATED)
def place_order(body: OrderIn, session: DbSession, user: Orderers) -> OrderOut:
    lines = [svc.LineIn(ln.product_id, ln.qty) for ln in body.lines]
    return _commit_order(
        session, lambda: svc.place_order(session, user, lines, body.dealer_id, body.note)
    )


SORTS = {
    "created_at": SalesOrder.created_at,
    "updated_at": SalesOrder.updated_at,
    "total": SalesOrder.total,
    "status": SalesOrder.status,
    "id": SalesOrder.id,
}


@router.get("/orders", response_model=PageOut[OrderSummaryOut])
def list_orders(
    session: DbSession,
    user: CurrentUser,
    page: Annotated[Page, Depends(pagination)],
    status_: Annotated[list[OrderStatus] | None, Query(alias="status")] = None,
    dealer_id: Annotated[int | None, Query(ge=1, le=INT_MAX)] = None,
    created_from: Annotated[dt.date | None, Query(description="created on or after")] = None,
    created_to: Annotated[dt.date | None, Query(description="created on or before")] = None,
    sort: Annotated[
        str, Query(pattern=r"^-?(created_at|updated_at|total|status|id)$")
    ] = "-created_at",
) -> PageOut[OrderSummaryOut]:
    query = svc.visible_orders(user)
    if status_:
        query = query.where(SalesOrder.status.in_([s.value for s in status_]))
    if dealer_id is not None:
        query = query.where(SalesOrder.dealer_id == dealer_id)
    if created_from is not None:
        query = query.where(
            SalesOrder.created_at >= dt.datetime.combine(created_from, dt.time(), dt.UTC)
        )
    if created_to is not None and created_to < dt.date.max:
        end = dt.datetime.combine(created_to + dt.timedelta(days=1), dt.time(), dt.UTC)
        query = query.where(SalesOrder.created_at < end)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    column = SORTS[sort.removeprefix("-")]
    desc = sort.startswith("-")
    rows = session.scalars(
        query.order_by(
            column.desc() if desc else column.asc(),
            SalesOrder.id.desc() if desc else SalesOrder.id.asc(),  # stable pages
        )
        .limit(page.size)
        .offset(page.offset)
    ).all()
    return PageOut(items=[_summary(o) for o in rows], total=total, page=page.page, size=page.size)


@router.get("/orders/{order_id}", response_model=OrderOut)
def get_order(order_id: OrderId, session: DbSession, user: CurrentUser) -> OrderOut:
    return order_out(_run(lambda: svc.get_order(session, user, order_id)))


@router.post("/orders/{order_id}/submit", response_model=OrderOut)
def submit_order(order_id: OrderId, session: DbSession, user: Orderers) -> OrderOut:
    return _commit_order(session, lambda: svc.submit(session, user, order_id))


@router.post("/orders/{order_id}/approve", response_model=OrderOut)
def approve_order(
    order_id: OrderId, session: DbSession, user: Approvers, body: NoteIn | None = None
) -> OrderOut:
    note = body.note if body else ""
    return _commit_order(session, lambda: svc.approve(session, user, order_id, note))


@router.post("/orders/{order_id}/reject", response_model=OrderOut)
def reject_order(
    order_id: OrderId, body: ReasonIn, session: DbSession, user: Approvers
) -> OrderOut:
    return _commit_order(session, lambda: svc.reject(session, user, order_id, body.reason))


@router.post("/orders/{order_id}/allocate", response_model=OrderOut)
def allocate_order(
    order_id: OrderId, body: AllocateIn, session: DbSession, user: Allocators
) -> OrderOut:
    return _commit_order(session, lambda: svc.allocate(session, user, order_id, body.warehouse_id))


@router.post("/orders/{order_id}/cancel", response_model=OrderOut)
def cancel_order(order_id: OrderId, body: ReasonIn, session: DbSession, user: Orderers) -> OrderOut:
    return _commit_order(session, lambda: svc.cancel(session, user, order_id, body.reason))


@router.post("/orders/{order_id}/override-hold", response_model=OrderOut)
def override_hold(
    order_id: OrderId, body: ReasonIn, session: DbSession, user: Approvers
) -> OrderOut:
    return _commit_order(session, lambda: svc.override_hold(session, user, order_id, body.reason))


# -- credit, payments, statements ----------------------------------------------------------
@router.post("/payments", response_model=PaymentOut, status_code=status.HTTP_201_CREATED)
def record_payment(body: PaymentIn, session: DbSession, user: HqOnly) -> PaymentOut:
    result = _run(
        lambda: svc.record_payment(
            session, user, body.dealer_id, body.amount, body.received_on, body.reference
        )
    )
    session.commit()
    p = result.payment
    return PaymentOut(
        id=p.id,
        dealer_id=p.dealer_id,
        amount=p.amount,
        received_on=p.received_on,
        allocations=[
            AllocationOut(invoice_id=a.invoice_id, amount=a.amount, applied_on=a.applied_on)
            for a in result.allocations
        ],
        unapplied=result.unapplied,
        released_orders=result.released_orders,
    )


@router.get("/dealers/{dealer_id}/credit", response_model=CreditOut)
def get_credit(dealer_id: DealerId, session: DbSession, user: CurrentUser) -> CreditOut:
    return CreditOut(**_run(lambda: svc.credit_summary(session, user, dealer_id)))


@router.put("/dealers/{dealer_id}/credit", response_model=CreditOut)
def set_credit(dealer_id: DealerId, body: CreditIn, session: DbSession, user: HqOnly) -> CreditOut:
    _, released = _run(
        lambda: svc.set_credit(
            session, user, dealer_id, body.credit_limit, body.payment_terms_days, body.grace_days
        )
    )
    session.commit()
    summary = svc.credit_summary(session, user, dealer_id)
    return CreditOut(**summary, released_orders=released)


@router.get("/dealers/{dealer_id}/statement", response_model=StatementOut)
def statement(
    dealer_id: DealerId,
    session: DbSession,
    user: CurrentUser,
    start: dt.date,
    end: dt.date,
) -> StatementOut:
    if end < start:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            {"code": "invalid_period", "message": "the period ends before it starts"},
        )
    st = _run(lambda: svc.dealer_statement(session, user, dealer_id, start, end))
    return StatementOut(
        dealer_id=dealer_id,
        start=st.period_start,
        end=st.period_end,
        opening_balance=st.opening_balance,
        invoiced=st.invoiced,
        paid=st.paid,
        closing_balance=st.closing_balance,
        reconciles=st.reconciles,
        lines=[
            StatementLineOut(
                on=ln.on,
                kind=ln.kind,
                ref=ln.ref,
                debit=ln.debit,
                credit=ln.credit,
                balance=ln.balance,
            )
            for ln in st.lines
        ],
        open_items=[
            OpenItemOut(
                invoice=i.invoice_id,
                issued_on=i.issued_on,
                due_on=i.due_on,
                amount=i.amount,
                outstanding=i.outstanding,
                days_overdue=i.days_overdue,
            )
            for i in st.open_items
        ],
        unapplied_credit=st.unapplied_credit,
    )
