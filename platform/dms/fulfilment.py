"""Fulfilment on PostgreSQL: pick (storage -> staging), ship (in one or several shipments),
proof of delivery, invoice, returns. Each step loads the order aggregate, lets the domain
decide (``domain.orders.Order``), writes movements through the stock ledger and saves the
order's new state and timeline in the caller's transaction.

Picks and shipments follow the order's reservations: a pick moves a reservation with its goods
into the staging bin, a shipment consumes the staged reservation. So the ledger's invariants
(on-hand never negative, reservations never above on-hand) hold at every step, and an
order's staged goods cannot be allocated to anyone else.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from wayhouse.platform.auth.principal import Principal
from wayhouse.platform.dms import audit, orders_service, stock
from wayhouse.platform.dms.domain.orders import ProofOfDelivery
from wayhouse.platform.dms.domain.types import (
    DomainError,
    IllegalTransition,
    MovementKind,
    OrderStatus,
    money,
)
from wayhouse.platform.dms.models import Bin, Lot, StockReservation
from wayhouse.platform.dms.models_fulfilment import (
    OrderPick,
    OrderReturn,
    OrderReturnLine,
    Shipment,
    ShipmentLine,
)
from wayhouse.platform.dms.models_orders import InvoiceRow, SalesOrder

S = OrderStatus


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class PickTask:
    """One line of a pick list: reserved units waiting in a storage bin, or already staged."""

    sku: str
    product_id: int
    bin_id: int
    bin_code: str
    lot_id: int | None
    lot_code: str | None
    expires_on: dt.date | None
    qty: int
    staged: bool


def _open_reservations(session: Session, order_id: int) -> list[tuple[StockReservation, Bin]]:
    rows = session.execute(
        select(StockReservation, Bin)
        .join(Bin, Bin.id == StockReservation.bin_id)
        .outerjoin(Lot, Lot.id == StockReservation.lot_id)
        .where(
            StockReservation.order_ref == orders_service.ref(order_id),
            StockReservation.released_at.is_(None),
        )
        .order_by(Lot.expires_on.asc().nulls_last(), StockReservation.id)
    ).all()
    return [(r, b) for r, b in rows]


def pick_list(session: Session, actor: Principal, order_id: int) -> list[PickTask]:
    row = orders_service.get_order(session, actor, order_id)
    return _pick_list(session, row)


def _pick_list(session: Session, row: SalesOrder) -> list[PickTask]:
    sku_of = {ln.product_id: ln.sku for ln in row.lines}
    out = []
    for r, b in _open_reservations(session, row.id):
        lot = session.get(Lot, r.lot_id) if r.lot_id else None
        out.append(
            PickTask(
                sku_of[r.product_id],
                r.product_id,
                b.id,
                b.code,
                r.lot_id,
                lot.code if lot else None,
                lot.expires_on if lot else None,
                r.qty,
                b.role == "staging",
            )
        )
    return out


def _locked(session: Session, actor: Principal | None, order_id: int) -> SalesOrder:
    if actor is None:  # the scan poster acts for the warehouse floor, not for a user
        locked = session.scalar(
            select(SalesOrder.id).where(SalesOrder.id == order_id).with_for_update()
        )
        row = session.get(SalesOrder, order_id, populate_existing=True) if locked else None
        if row is None:
            raise orders_service.NotFound(f"order {order_id}")
        return row
    return orders_service._order_row(session, actor, order_id, lock=True)


def _user(actor: Principal | None) -> tuple[int | None, str]:
    return (actor.user_id, str(actor.user_id)) if actor else (None, "scan")


def pick(
    session: Session,
    actor: Principal | None,
    order_id: int,
    *,
    sku: str,
    bin_code: str,
    qty: int,
    lot_code: str | None = None,
    source: str = "api",
) -> list[OrderPick]:
    """Confirm ``qty`` units of ``sku`` taken from ``bin_code`` for the order. Only units
    reserved for this order in that bin may be picked (earliest expiry first)."""
    row = _locked(session, actor, order_id)
    user_id, by = _user(actor)
    now = _now()
    order = orders_service._domain(session, row)
    order.record_pick(sku, qty, bin_code, now, by)  # refuses a wrong state, SKU or quantity
    line = next(ln for ln in row.lines if ln.sku == sku)
    here = [
        (r, b)
        for r, b in _open_reservations(session, order_id)
        if r.product_id == line.product_id and b.code == bin_code and b.role == "storage"
    ]
    if lot_code is not None:
        lots = {lot.id for lot in session.scalars(select(Lot).where(Lot.code == lot_code))}
        here = [(r, b) for r, b in here if r.lot_id in lots]
    reserved = sum(r.qty for r, _ in here)
    if qty > reserved:
        lot_txt = f" lot {lot_code}" if lot_code else ""
        raise DomainError(
            "not_reserved",
            f"{sku}: {reserved} reserved for order {order_id} in bin {bin_code}{lot_txt}, "
            f"{qty} picked: check the bin or the quantity",
        )
    staging = stock.staging_bin(session, here[0][1].warehouse_id)
    picks, left = [], qty
    for r, b in here:
        take = min(left, r.qty)
        out, _ = stock.pick_to_staging(session, r, take, staging, user_id, source, now)
        picks.append(
            OrderPick(
                order_id=order_id,
                product_id=r.product_id,
                lot_id=r.lot_id,
                from_bin_id=b.id,
                staging_bin_id=staging,
                qty=take,
                movement_id=out.id,
                source=source,
                at=now,
                by=user_id,
            )
        )
        left -= take
        if not left:
            break
    session.add_all(picks)
    orders_service._save(session, row, order, user_id)
    return picks


def ship(
    session: Session,
    actor: Principal,
    order_id: int,
    quantities: dict[str, int] | None = None,
) -> Shipment:
    """Send staged units out as one shipment: everything staged, or the given quantities
    (a partial shipment leaves the rest to a later one)."""
    row = _locked(session, actor, order_id)
    now = _now()
    order = orders_service._domain(session, row)
    sku_of = {ln.product_id: ln.sku for ln in row.lines}
    staged = [(r, b) for r, b in _open_reservations(session, order_id) if b.role == "staging"]
    available: dict[str, int] = defaultdict(int)
    for r, _ in staged:
        available[sku_of[r.product_id]] += r.qty
    wanted = dict(available) if quantities is None else dict(quantities)
    if not any(wanted.values()) and order.status is S.PICKING:
        raise DomainError("nothing_staged", f"nothing picked for order {order_id} yet")
    for sku, q in wanted.items():
        if q > available.get(sku, 0):
            raise DomainError(
                "not_staged", f"{sku}: {q} to ship, {available.get(sku, 0)} picked and staged"
            )
    order.ship(wanted, now, str(actor.user_id))  # refuses a wrong state or over-shipment
    shipment = Shipment(
        order_id=order_id,
        warehouse_id=staged[0][1].warehouse_id,
        status="shipped",
        shipped_at=now,
        shipped_by=actor.user_id,
    )
    left = dict(wanted)
    for r, _ in staged:
        sku = sku_of[r.product_id]
        take = min(left.get(sku, 0), r.qty)
        if not take:
            continue
        movement = stock.ship_reserved(session, r, take, actor.user_id, now)
        shipment.lines.append(
            ShipmentLine(
                product_id=r.product_id,
                sku=sku,
                lot_id=r.lot_id,
                qty=take,
                movement_id=movement.id,
            )
        )
        left[sku] -= take
    session.add(shipment)
    session.flush()
    orders_service._save(session, row, order, actor.user_id)
    return shipment


def close_short(session: Session, actor: Principal, order_id: int, reason: str) -> SalesOrder:
    """After a partial shipment, give up on the rest: release what is still reserved."""
    row = _locked(session, actor, order_id)
    order = orders_service._domain(session, row)
    order.close_short(_now(), str(actor.user_id), reason)
    staged = [r for r, b in _open_reservations(session, order_id) if b.role == "staging"]
    if staged:
        raise DomainError(
            "staged_goods", "picked goods are still staged: ship them or put them back first"
        )
    stock.release(session, orders_service.ref(order_id), _now())
    orders_service._save(session, row, order, actor.user_id)
    return row


def get_shipment(session: Session, actor: Principal, shipment_id: int) -> Shipment:
    shipment = session.get(Shipment, shipment_id)
    if shipment is None:
        raise orders_service.NotFound(f"shipment {shipment_id}")
    orders_service.get_order(session, actor, shipment.order_id)  # 404 outside the caller's scope
    return shipment


def shipments_of(session: Session, actor: Principal, order_id: int) -> list[Shipment]:
    orders_service.get_order(session, actor, order_id)
    return list(
        session.scalars(select(Shipment).where(Shipment.order_id == order_id).order_by(Shipment.id))
    )


def deliver(
    session: Session,
    actor: Principal,
    shipment_id: int,
    proof: ProofOfDelivery,
    at: dt.datetime | None = None,
) -> Shipment:
    """Proof of delivery for one shipment. The order becomes delivered when it is shipped in
    full and every one of its shipments has arrived."""
    shipment = get_shipment(session, actor, shipment_id)
    row = _locked(session, actor, shipment.order_id)
    session.refresh(shipment, with_for_update=True)
    if shipment.status == "delivered":
        raise IllegalTransition("shipment", "delivered", "delivered", "already delivered")
    at = at or _now()
    order = orders_service._domain(session, row)
    shipment.status = "delivered"
    shipment.delivered_at = at
    shipment.delivered_by = actor.user_id
    shipment.pod_kind = proof.kind
    shipment.pod_reference = proof.reference
    shipment.pod_received_by = proof.received_by or None
    session.flush()
    pending = session.scalar(
        select(Shipment.id).where(
            Shipment.order_id == row.id, Shipment.status == "shipped", Shipment.id != shipment.id
        )
    )
    if order.status is S.SHIPPED and pending is None:
        order.deliver(proof, at, str(actor.user_id))
    else:
        order.note_delivery(str(shipment.id), proof, at, str(actor.user_id))
    orders_service._save(session, row, order, actor.user_id)
    return shipment


def invoice_number(order_id: int) -> str:
    return f"INV-{order_id:08d}"


def invoice(
    session: Session, actor: Principal, order_id: int, on: dt.date | None = None
) -> InvoiceRow:
    """Bill a delivered order for what it kept (shipped minus returned), on the dealer's terms."""
    row = _locked(session, actor, order_id)
    order = orders_service._domain(session, row)
    number = invoice_number(order_id)
    amount = order.invoiceable_amount
    order.invoice(number, _now(), str(actor.user_id))  # refuses unless delivered
    if amount <= 0:
        raise DomainError("nothing_to_invoice", "everything delivered came back")
    inv = orders_service.issue_invoice(
        session, actor, row.dealer_id, amount, on or dt.date.today(), number, order_id=order_id
    )
    orders_service._save(session, row, order, actor.user_id)
    orders_service.settle_paid_orders(session, row.dealer_id, actor.user_id)
    return inv


@dataclass(frozen=True)
class ReturnLineIn:
    sku: str
    qty: int
    bin_code: str | None = None


def record_return(
    session: Session,
    actor: Principal,
    order_id: int,
    lines: list[ReturnLineIn],
    reason: str,
) -> OrderReturn:
    """Goods come back into a bin (by default the one they were picked from). Returned after
    invoicing, they are credited to the dealer with a credit note."""
    row = _locked(session, actor, order_id)
    now = _now()
    order = orders_service._domain(session, row)
    was = order.status
    qty: dict[str, int] = defaultdict(int)
    for ln in lines:
        qty[ln.sku] += ln.qty
    order.record_return(dict(qty), now, str(actor.user_id), reason)  # the domain checks it all
    back = OrderReturn(order_id=order_id, at=now, by=actor.user_id, reason=reason)
    product_of = {ln.sku: ln.product_id for ln in row.lines}
    for ln in lines:
        product_id = product_of[ln.sku]
        shipped_lot = session.scalar(
            select(ShipmentLine.lot_id)
            .join(Shipment, Shipment.id == ShipmentLine.shipment_id)
            .where(Shipment.order_id == order_id, ShipmentLine.product_id == product_id)
            .order_by(ShipmentLine.id.desc())
        )
        picked = session.scalar(
            select(OrderPick).where(
                OrderPick.order_id == order_id, OrderPick.product_id == product_id
            )
        )
        if picked is None:
            raise DomainError("unknown_line", f"{ln.sku} was never picked for order {order_id}")
        bin_id = picked.from_bin_id
        if ln.bin_code is not None:
            target = session.scalar(
                select(Bin).where(
                    Bin.code == ln.bin_code,
                    Bin.warehouse_id == session.get(Bin, picked.from_bin_id).warehouse_id,  # type: ignore[union-attr]
                )
            )
            if target is None:
                raise DomainError("unknown_bin", f"no bin {ln.bin_code} in that warehouse")
            bin_id = target.id
        movement = stock.post_movement(
            session,
            kind=MovementKind.RETURN,
            product_id=product_id,
            bin_id=bin_id,
            lot_id=shipped_lot,
            qty=ln.qty,
            user_id=actor.user_id,
            reason=f"return from {orders_service.ref(order_id)}: {reason}",
        )
        back.lines.append(
            OrderReturnLine(
                product_id=product_id,
                sku=ln.sku,
                lot_id=shipped_lot,
                bin_id=bin_id,
                qty=ln.qty,
                movement_id=movement.id,
            )
        )
    session.add(back)
    session.flush()
    if was in (S.INVOICED, S.PAID):
        credit = money(sum((row_line_price(row, s) * q for s, q in qty.items()), Decimal(0)))
        back.credit_payment_id = orders_service.record_credit_note(
            session,
            actor,
            row.dealer_id,
            credit,
            f"credit note: return {back.id} of order {row.id}",
        ).id
    orders_service._save(session, row, order, actor.user_id)
    audit.record(
        session,
        actor.user_id,
        "order",
        row.id,
        "return",
        None,
        {"return_id": back.id, "lines": {s: q for s, q in qty.items()}},
        reason,
    )
    return back


def row_line_price(row: SalesOrder, sku: str) -> Decimal:
    return next(ln.unit_price for ln in row.lines if ln.sku == sku)
