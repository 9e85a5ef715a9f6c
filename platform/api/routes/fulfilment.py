"""Fulfilment routes: the pick list, pick confirmations, shipments (partial or whole), proof of
delivery, closing short, invoicing and returns. Thin: validate, call ``dms.fulfilment``,
commit. Orders outside the caller's scope are 404; refusals are 409 with the reason."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Path, status
from pydantic import BaseModel, Field

from wayhouse.platform.api.auth_deps import CurrentUser, DbSession, require_role
from wayhouse.platform.api.errors import INT_MAX, Text, run_domain
from wayhouse.platform.api.routes.orders import OrderOut, order_out
from wayhouse.platform.auth.principal import Principal
from wayhouse.platform.dms import fulfilment as svc
from wayhouse.platform.dms.domain.orders import ProofOfDelivery
from wayhouse.platform.dms.domain.types import Role
from wayhouse.platform.dms.models_fulfilment import Shipment

router = APIRouter(tags=["fulfilment"])

OrderId = Annotated[int, Path(ge=1, le=INT_MAX)]
ShipmentId = Annotated[int, Path(ge=1, le=INT_MAX)]
Sku = Annotated[Text, Field(min_length=1, max_length=40)]
Qty = Annotated[int, Field(ge=1, le=1_000_000)]

Floor = Annotated[
    Principal, Depends(require_role(Role.HQ_ADMIN, Role.WAREHOUSE_OPERATOR, Role.DISPATCHER))
]
Deliverers = Annotated[
    Principal,
    Depends(require_role(Role.HQ_ADMIN, Role.DRIVER, Role.DISPATCHER, Role.WAREHOUSE_OPERATOR)),
]
Billing = Annotated[Principal, Depends(require_role(Role.HQ_ADMIN))]
Returners = Annotated[
    Principal,
    Depends(require_role(Role.HQ_ADMIN, Role.REGION_MANAGER, Role.WAREHOUSE_OPERATOR)),
]


class PickTaskOut(BaseModel):
    sku: str
    product_id: int
    bin_id: int
    bin_code: str
    lot_id: int | None
    lot_code: str | None
    expires_on: dt.date | None
    qty: int
    staged: bool


class PickIn(BaseModel):
    sku: Sku
    bin_code: Annotated[Text, Field(min_length=1, max_length=32)]
    qty: Qty
    lot_code: Annotated[Text, Field(min_length=1, max_length=40)] | None = None


class ShipIn(BaseModel):
    quantities: dict[Sku, Qty] | None = Field(
        default=None, description="per SKU; omit to ship everything picked and staged"
    )


class ProofIn(BaseModel):
    kind: Annotated[str, Field(pattern=r"^(signature|scan|photo)$")]
    reference: Annotated[Text, Field(min_length=1, max_length=200)]
    received_by: Annotated[Text, Field(max_length=100)] = ""


class ShipmentLineOut(BaseModel):
    sku: str
    lot_id: int | None
    qty: int
    movement_id: int


class ShipmentOut(BaseModel):
    id: int
    order_id: int
    warehouse_id: int
    status: str
    shipped_at: dt.datetime
    delivered_at: dt.datetime | None
    pod_kind: str | None
    pod_reference: str | None
    pod_received_by: str | None
    lines: list[ShipmentLineOut]


class ReasonIn(BaseModel):
    reason: Annotated[Text, Field(min_length=1, max_length=1000)]


class ReturnLineIn(BaseModel):
    sku: Sku
    qty: Qty
    bin_code: Annotated[Text, Field(min_length=1, max_length=32)] | None = None


class ReturnIn(BaseModel):
    lines: list[ReturnLineIn] = Field(min_length=1, max_length=200)
    reason: Annotated[Text, Field(min_length=1, max_length=1000)]


class ReturnOut(BaseModel):
    id: int
    order_id: int
    at: dt.datetime
    reason: str
    credit_note_payment_id: int | None
    lines: list[ReturnLineIn]


class InvoiceOut(BaseModel):
    id: int
    number: str
    order_id: int | None
    dealer_id: int
    issued_on: dt.date
    due_on: dt.date
    amount: str


def _shipment_out(s: Shipment) -> ShipmentOut:
    return ShipmentOut(
        id=s.id,
        order_id=s.order_id,
        warehouse_id=s.warehouse_id,
        status=s.status,
        shipped_at=s.shipped_at,
        delivered_at=s.delivered_at,
        pod_kind=s.pod_kind,
        pod_reference=s.pod_reference,
        pod_received_by=s.pod_received_by,
        lines=[
            ShipmentLineOut(sku=ln.sku, lot_id=ln.lot_id, qty=ln.qty, movement_id=ln.movement_id)
            for ln in s.lines
        ],
    )


@router.get("/orders/{order_id}/pick-list", response_model=list[PickTaskOut])
def pick_list(order_id: OrderId, session: DbSession, user: CurrentUser) -> list[PickTaskOut]:
    tasks = run_domain(lambda: svc.pick_list(session, user, order_id))
    return [PickTaskOut(**t.__dict__) for t in tasks]


@router.post("/orders/{order_id}/picks", response_model=OrderOut)
def pick(order_id: OrderId, body: PickIn, session: DbSession, user: Floor) -> OrderOut:
    """Confirm units taken from a bin (what a handheld scan does); the first pick starts
    picking. Only units reserved for this order in that bin may be taken."""
    run_domain(
        lambda: svc.pick(
            session,
            user,
            order_id,
            sku=body.sku,
            bin_code=body.bin_code,
            qty=body.qty,
            lot_code=body.lot_code,
        )
    )
    session.commit()
    return order_out(svc.orders_service.get_order(session, user, order_id))


@router.post(
    "/orders/{order_id}/shipments",
    response_model=ShipmentOut,
    status_code=status.HTTP_201_CREATED,
)
def ship(
    order_id: OrderId, session: DbSession, user: Floor, body: ShipIn | None = None
) -> ShipmentOut:
    quantities = body.quantities if body else None
    shipment = run_domain(lambda: svc.ship(session, user, order_id, quantities))
    session.commit()
    return _shipment_out(shipment)


@router.get("/orders/{order_id}/shipments", response_model=list[ShipmentOut])
def shipments(order_id: OrderId, session: DbSession, user: CurrentUser) -> list[ShipmentOut]:
    return [_shipment_out(s) for s in run_domain(lambda: svc.shipments_of(session, user, order_id))]


@router.get("/shipments/{shipment_id}", response_model=ShipmentOut)
def get_shipment(shipment_id: ShipmentId, session: DbSession, user: CurrentUser) -> ShipmentOut:
    return _shipment_out(run_domain(lambda: svc.get_shipment(session, user, shipment_id)))


@router.post("/shipments/{shipment_id}/deliver", response_model=ShipmentOut)
def deliver(
    shipment_id: ShipmentId, body: ProofIn, session: DbSession, user: Deliverers
) -> ShipmentOut:
    """Proof of delivery (signature, scan or photo reference). The order becomes delivered
    once it is shipped in full and all its shipments arrived."""
    # Built inside run_domain: a blank reference is the domain's refusal (409), not a 500.
    shipment = run_domain(
        lambda: svc.deliver(
            session,
            user,
            shipment_id,
            ProofOfDelivery(body.kind, body.reference, body.received_by),
        )
    )
    session.commit()
    return _shipment_out(shipment)


@router.post("/orders/{order_id}/close-short", response_model=OrderOut)
def close_short(order_id: OrderId, body: ReasonIn, session: DbSession, user: Floor) -> OrderOut:
    row = run_domain(lambda: svc.close_short(session, user, order_id, body.reason))
    session.commit()
    return order_out(row)


@router.post(
    "/orders/{order_id}/invoice", response_model=InvoiceOut, status_code=status.HTTP_201_CREATED
)
def invoice(order_id: OrderId, session: DbSession, user: Billing) -> InvoiceOut:
    inv = run_domain(lambda: svc.invoice(session, user, order_id))
    session.commit()
    return InvoiceOut(
        id=inv.id,
        number=inv.number,
        order_id=inv.order_id,
        dealer_id=inv.dealer_id,
        issued_on=inv.issued_on,
        due_on=inv.due_on,
        amount=str(inv.amount),
    )


@router.post(
    "/orders/{order_id}/returns", response_model=ReturnOut, status_code=status.HTTP_201_CREATED
)
def record_return(
    order_id: OrderId, body: ReturnIn, session: DbSession, user: Returners
) -> ReturnOut:
    lines = [svc.ReturnLineIn(ln.sku, ln.qty, ln.bin_code) for ln in body.lines]
    back = run_domain(lambda: svc.record_return(session, user, order_id, lines, body.reason))
    session.commit()
    return ReturnOut(
        id=back.id,
        order_id=back.order_id,
        at=back.at,
        reason=back.reason,
        credit_note_payment_id=back.credit_payment_id,
        lines=[ReturnLineIn(sku=ln.sku, qty=ln.qty, bin_code=None) for ln in back.lines],
    )
