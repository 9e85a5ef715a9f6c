"""Global search for the console's header: dealers, orders (by number), customers, products
(SKU or name) and trucks, each kind scoped exactly like its own list endpoint, a few hits per
kind. Orders are found by id only (a primary-key lookup, never a scan of 50,000 orders); the
other tables are small (dealers, catalogue, customers, fleet)."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from wayhouse.platform.api.auth_deps import CurrentUser, DbSession
from wayhouse.platform.api.deps import like_contains
from wayhouse.platform.api.errors import INT_MAX, Text
from wayhouse.platform.auth.principal import Principal
from wayhouse.platform.dispatch.models import VehicleRow
from wayhouse.platform.dms.customers_service import visible_customers
from wayhouse.platform.dms.domain.types import Role
from wayhouse.platform.dms.models import Dealer, OrgUnit, Product, Warehouse
from wayhouse.platform.dms.models_customers import CustomerRow
from wayhouse.platform.dms.models_orders import SalesOrder
from wayhouse.platform.dms.orders_service import visible_orders
from wayhouse.platform.dms.scope import in_scope

router = APIRouter(tags=["search"])

Kind = Literal["order", "dealer", "customer", "product", "vehicle"]
# Who sees trucks: the roles of GET /vehicles.
FLEET_ROLES = frozenset({Role.HQ_ADMIN, Role.DISPATCHER, Role.WAREHOUSE_OPERATOR})
# "123", "#123", "SO-123", "so123": an order number.
ORDER_REF = re.compile(r"^(?:#|so-?)?0*(\d{1,10})$", re.IGNORECASE)


class Hit(BaseModel):
    kind: Kind
    id: int
    label: str
    detail: str


class SearchOut(BaseModel):
    q: str
    hits: list[Hit]


def order_number(q: str) -> int | None:
    """The order id a query names, if it names one that can exist."""
    m = ORDER_REF.match(q.strip())
    if not m:
        return None
    n = int(m.group(1))
    return n if 1 <= n <= INT_MAX else None


def _orders(session: Session, user: Principal, q: str) -> list[Hit]:
    n = order_number(q)
    if n is None:
        return []
    o = session.scalar(visible_orders(user).where(SalesOrder.id == n))
    if o is None:
        return []
    return [
        Hit(
            kind="order",
            id=o.id,
            label=f"#{o.id}",
            detail=f"{o.dealer.legal_name} · {o.status} · {o.total} {o.currency}",
        )
    ]


def _dealers(session: Session, user: Principal, pattern: str, limit: int) -> list[Hit]:
    rows = session.execute(
        select(Dealer.id, OrgUnit.code, Dealer.legal_name, Dealer.status)
        .join(Dealer.org_unit)
        .where(in_scope(user), OrgUnit.code.ilike(pattern) | Dealer.legal_name.ilike(pattern))
        .order_by(OrgUnit.code)
        .limit(limit)
    ).all()
    return [Hit(kind="dealer", id=i, label=f"{c} · {n}", detail=s) for i, c, n, s in rows]


def _customers(session: Session, user: Principal, pattern: str, limit: int) -> list[Hit]:
    rows = session.scalars(
        visible_customers(user)
        .where(CustomerRow.name.ilike(pattern) | CustomerRow.code.ilike(pattern))
        .order_by(CustomerRow.name, CustomerRow.id)
        .limit(limit)
    ).all()
    return [
        Hit(
            kind="customer",
            id=c.id,
            label=f"{c.code} · {c.name}" if c.code else c.name,
            detail=c.status,
        )
        for c in rows
    ]


def _products(session: Session, pattern: str, limit: int) -> list[Hit]:
    rows = session.execute(
        select(Product.id, Product.sku, Product.name, Product.product_class)
        .where(Product.sku.ilike(pattern) | Product.name.ilike(pattern))
        .order_by(Product.active.desc(), Product.sku)
        .limit(limit)
    ).all()
    return [Hit(kind="product", id=i, label=f"{s} · {n}", detail=c) for i, s, n, c in rows]


def _vehicles(session: Session, user: Principal, pattern: str, limit: int) -> list[Hit]:
    if user.role not in FLEET_ROLES:
        return []
    rows = session.execute(
        select(VehicleRow.id, VehicleRow.code, VehicleRow.plate, Warehouse.code)
        .join(Warehouse, Warehouse.id == VehicleRow.warehouse_id)
        .join(Warehouse.org_unit)
        .where(
            in_scope(user),
            VehicleRow.code.ilike(pattern)
            | VehicleRow.plate.ilike(pattern)
            | VehicleRow.agent_id.ilike(pattern),
        )
        .order_by(VehicleRow.code)
        .limit(limit)
    ).all()
    return [Hit(kind="vehicle", id=i, label=f"{c} · {p}", detail=w) for i, c, p, w in rows]


@router.get("/search", response_model=SearchOut)
def search(
    session: DbSession,
    user: CurrentUser,
    q: Annotated[Text, Query(min_length=1, max_length=100, description="text or order number")],
    limit: Annotated[int, Query(ge=1, le=20, description="hits per kind")] = 5,
) -> SearchOut:
    """What the caller may see that matches ``q``: an order by its number first, then
    dealers, customers, products and trucks whose code or name contains it."""
    text = q.strip()
    if not text:
        return SearchOut(q=q, hits=[])
    pattern = like_contains(text)
    hits = [
        *_orders(session, user, text),
        *_dealers(session, user, pattern, limit),
        *_customers(session, user, pattern, limit),
        *_products(session, pattern, limit),
        *_vehicles(session, user, pattern, limit),
    ]
    return SearchOut(q=q, hits=hits)
