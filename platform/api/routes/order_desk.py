"""What the console's order tools need beyond the order endpoints: the approval queue (orders
whose next approval step the caller may decide) and stock available to promise while an
order is composed.

Available to promise counts the storage bins of the warehouses that can supply the caller:
those of its own subtree and of the units above it (a dealer orders from the region's and
HQ's central warehouse, which ``GET /warehouses/{id}/stock`` rightly does not show it). Only
totals per product are given, never bins, lots or other dealers' rows.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, status
from pydantic import BaseModel
from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.orm import aliased

from wayhouse.platform.api.auth_deps import DbSession, require_role
from wayhouse.platform.api.deps import Page, pagination
from wayhouse.platform.api.errors import INT_MAX
from wayhouse.platform.api.schemas import PageOut
from wayhouse.platform.auth.principal import Principal
from wayhouse.platform.dms import stock
from wayhouse.platform.dms.domain.types import ApprovalStepStatus, OrderStatus, Role
from wayhouse.platform.dms.models import OrgUnit, Warehouse
from wayhouse.platform.dms.models_orders import OrderApproval, SalesOrder
from wayhouse.platform.dms.orders_service import visible_orders
from wayhouse.platform.dms.scope import in_scope

router = APIRouter(prefix="/order-desk", tags=["orders and credit"])

Approvers = Annotated[Principal, Depends(require_role(Role.HQ_ADMIN, Role.REGION_MANAGER))]
Orderers = Annotated[
    Principal, Depends(require_role(Role.HQ_ADMIN, Role.REGION_MANAGER, Role.DEALER_USER))
]
QUEUE_SORTS = {"created_at": SalesOrder.created_at, "total": SalesOrder.total, "id": SalesOrder.id}


class QueueItemOut(BaseModel):
    id: int
    dealer_id: int
    dealer_name: str
    total: Decimal
    currency: str
    created_at: dt.datetime
    step: int
    level: int
    rules: list[str]


class AvailabilityOut(BaseModel):
    product_id: int
    available: int


def waiting_for(user: Principal):  # type: ignore[no-untyped-def]
    """The approval step rows the caller may decide now: the first undecided step of an order
    in approval, all earlier steps approved, for the caller's role (and region, for a region
    manager), on an order where the caller has not decided a step already (the domain's
    four-eyes rule; ``ApprovalChain._check`` is the authority, this only finds candidates)."""
    earlier = aliased(OrderApproval)
    mine = aliased(OrderApproval)
    region = str(user.org_unit_id) if user.role is Role.REGION_MANAGER else None
    return and_(
        OrderApproval.order_id == SalesOrder.id,
        OrderApproval.status == ApprovalStepStatus.PENDING.value,
        OrderApproval.role == user.role.value,
        or_(OrderApproval.region_scope.is_(None), OrderApproval.region_scope == region),
        ~exists().where(
            earlier.order_id == OrderApproval.order_id,
            earlier.step < OrderApproval.step,
            earlier.status != ApprovalStepStatus.APPROVED.value,
        ),
        ~exists().where(mine.order_id == SalesOrder.id, mine.decided_by == user.user_id),
    )


@router.get("/approvals", response_model=PageOut[QueueItemOut])
def approval_queue(
    session: DbSession,
    user: Approvers,
    page: Annotated[Page, Depends(pagination)],
    dealer_id: Annotated[int | None, Query(ge=1, le=INT_MAX)] = None,
    sort: Annotated[str, Query(pattern=r"^-?(created_at|total|id)$")] = "created_at",
) -> PageOut[QueueItemOut]:
    """Orders waiting for the caller's decision, oldest first by default."""
    query = (
        visible_orders(user)
        .add_columns(OrderApproval.step, OrderApproval.level, OrderApproval.rules)
        .join(OrderApproval, waiting_for(user))
        .where(SalesOrder.status == OrderStatus.APPROVAL.value)
    )
    if dealer_id is not None:
        query = query.where(SalesOrder.dealer_id == dealer_id)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    column = QUEUE_SORTS[sort.removeprefix("-")]
    desc = sort.startswith("-")
    rows = session.execute(
        query.order_by(column.desc() if desc else column.asc(), SalesOrder.id)
        .limit(page.size)
        .offset(page.offset)
    ).all()
    items = [
        QueueItemOut(
            id=o.id,
            dealer_id=o.dealer_id,
            dealer_name=o.dealer.legal_name,
            total=o.total,
            currency=o.currency,
            created_at=o.created_at,
            step=step + 1,  # shown to people: the first step is 1
            level=level,
            rules=list(rules or ()),
        )
        for o, step, level, rules in rows
    ]
    return PageOut(items=items, total=total, page=page.page, size=page.size)


def supplying_warehouses(session: DbSession, user: Principal) -> set[int]:
    """Warehouses of the caller's subtree and of the units above it."""
    above = [int(p) for p in user.org_path.strip("/").split("/") if p.isdigit()]
    query = (
        select(Warehouse.id)
        .join(OrgUnit, OrgUnit.id == Warehouse.org_unit_id)
        .where(or_(in_scope(user), Warehouse.org_unit_id.in_(above)))
    )
    return set(session.scalars(query))


@router.get("/availability", response_model=list[AvailabilityOut])
def availability(
    session: DbSession,
    user: Orderers,
    product_id: Annotated[list[int], Query(min_length=1, max_length=200)],
) -> list[AvailabilityOut]:
    """Units available to promise per product (on hand minus reserved, unexpired lots, in
    storage bins of the supplying warehouses); picked goods waiting in staging are promised."""
    if any(not 1 <= pid <= INT_MAX for pid in product_id):
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            {"code": "invalid_value", "message": f"product ids are 1..{INT_MAX}"},
        )
    today = dt.datetime.now(dt.UTC).date()
    warehouses = supplying_warehouses(session, user)
    out = []
    for pid in dict.fromkeys(product_id):  # each product once, in the order asked
        units = sum(
            max(0, p.available)
            for p in stock.positions(session, pid)
            if p.warehouse_id in warehouses
            and p.bin_role == "storage"
            and (p.expires_on is None or p.expires_on >= today)
        )
        out.append(AvailabilityOut(product_id=pid, available=units))
    return out
