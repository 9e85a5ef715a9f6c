"""Catalogue and stock: products (everyone signed in), warehouses and stock positions scoped to
the caller's subtree, and ledger movements posted by warehouse staff."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, Query, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from wayhouse.platform.api.auth_deps import CurrentUser, DbSession, require_role
from wayhouse.platform.api.deps import Page, like_contains, pagination
from wayhouse.platform.api.schemas import PageOut
from wayhouse.platform.auth.principal import Principal
from wayhouse.platform.dms import stock
from wayhouse.platform.dms.domain.types import DomainError, MovementKind, Role
from wayhouse.platform.dms.models import Bin, Lot, Product, Warehouse
from wayhouse.platform.dms.scope import in_scope

router = APIRouter(tags=["catalogue and stock"])


class ProductOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    sku: str
    name: str
    product_class: str
    unit: str
    unit_weight_g: float
    unit_volume_l: float
    shelf_life_days: int | None
    list_price: Decimal
    active: bool


class WarehouseOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    code: str
    name: str
    org_unit_id: int
    lat: float | None
    lon: float | None


class PositionOut(BaseModel):
    bin_id: int
    bin_code: str
    lot_id: int | None
    lot_code: str | None
    expires_on: str | None
    on_hand: int
    reserved: int
    available: int


class MovementIn(BaseModel):
    kind: MovementKind
    product_id: int
    bin_id: int
    lot_id: int | None = None
    qty: int = Field(ge=-1_000_000, le=1_000_000)
    reason: str | None = Field(default=None, max_length=500)


class MovementOut(BaseModel):
    id: int
    kind: MovementKind
    qty: int


PRODUCT_SORTS = {"sku": Product.sku, "name": Product.name, "list_price": Product.list_price}


@router.get("/products", response_model=PageOut[ProductOut])
def list_products(
    session: DbSession,
    user: CurrentUser,
    page: Annotated[Page, Depends(pagination)],
    q: Annotated[str | None, Query(max_length=100, description="SKU or name contains")] = None,
    product_class: Annotated[str | None, Query(max_length=40)] = None,
    sort: Annotated[str, Query(pattern=r"^-?(sku|name|list_price)$")] = "sku",
) -> PageOut[ProductOut]:
    query = select(Product)
    if q:
        pattern = like_contains(q)
        query = query.where(Product.sku.ilike(pattern) | Product.name.ilike(pattern))
    if product_class:
        query = query.where(Product.product_class == product_class)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    column = PRODUCT_SORTS[sort.removeprefix("-")]
    order = column.desc() if sort.startswith("-") else column.asc()
    rows = session.scalars(
        query.order_by(order, Product.id).limit(page.size).offset(page.offset)
    ).all()
    return PageOut(
        items=[ProductOut.model_validate(r) for r in rows],
        total=total,
        page=page.page,
        size=page.size,
    )


@router.get("/products/{product_id}", response_model=ProductOut)
def get_product(
    product_id: Annotated[int, Path(ge=1, le=2**31 - 1)], session: DbSession, user: CurrentUser
) -> ProductOut:
    row = session.get(Product, product_id)
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no product {product_id}")
    return ProductOut.model_validate(row)


def _visible_warehouse(session: Session, user: Principal, warehouse_id: int) -> Warehouse:
    wh = session.scalar(
        select(Warehouse)
        .join(Warehouse.org_unit)
        .where(Warehouse.id == warehouse_id, in_scope(user))
    )
    if wh is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no warehouse {warehouse_id}")
    return wh


@router.get("/warehouses", response_model=PageOut[WarehouseOut])
def list_warehouses(
    session: DbSession, user: CurrentUser, page: Annotated[Page, Depends(pagination)]
) -> PageOut[WarehouseOut]:
    query = select(Warehouse).join(Warehouse.org_unit).where(in_scope(user))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(
        query.order_by(Warehouse.code).limit(page.size).offset(page.offset)
    ).all()
    return PageOut(
        items=[WarehouseOut.model_validate(r) for r in rows],
        total=total,
        page=page.page,
        size=page.size,
    )


@router.get("/warehouses/{warehouse_id}/stock", response_model=list[PositionOut])
def warehouse_stock(
    warehouse_id: int, product_id: int, session: DbSession, user: CurrentUser
) -> list[PositionOut]:
    _visible_warehouse(session, user, warehouse_id)
    return [
        PositionOut(
            bin_id=p.bin_id,
            bin_code=p.bin_code,
            lot_id=p.lot_id,
            lot_code=p.lot_code,
            expires_on=p.expires_on.isoformat() if p.expires_on else None,
            on_hand=p.on_hand,
            reserved=p.reserved,
            available=p.available,
        )
        for p in stock.positions(session, product_id, warehouse_id)
    ]


StockStaff = Annotated[Principal, Depends(require_role(Role.WAREHOUSE_OPERATOR, Role.HQ_ADMIN))]


@router.post("/stock/movements", response_model=MovementOut, status_code=status.HTTP_201_CREATED)
def post_movement(body: MovementIn, session: DbSession, user: StockStaff) -> MovementOut:
    bin_ = session.get(Bin, body.bin_id)
    if bin_ is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no bin {body.bin_id}")
    _visible_warehouse(session, user, bin_.warehouse_id)
    if session.get(Product, body.product_id) is None:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"no product {body.product_id}")
    if body.lot_id is not None:
        lot = session.get(Lot, body.lot_id)
        if lot is None or lot.product_id != body.product_id:
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_CONTENT,
                f"lot {body.lot_id} is not a lot of that product",
            )
    if body.kind is MovementKind.ADJUST and not body.reason:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "an adjustment needs a reason")
    try:
        m = stock.post_movement(
            session,
            kind=body.kind,
            product_id=body.product_id,
            bin_id=body.bin_id,
            lot_id=body.lot_id,
            qty=body.qty,
            user_id=user.user_id,
            reason=body.reason,
        )
    except DomainError as exc:
        raise HTTPException(
            status.HTTP_409_CONFLICT, {"code": exc.code, "message": exc.message}
        ) from exc
    session.commit()
    return MovementOut(id=m.id, kind=MovementKind(m.kind), qty=m.qty)
