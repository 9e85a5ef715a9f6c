"""The stock ledger on PostgreSQL: movements and reservations, serialised per product.

On-hand is always the sum of the product's movement rows and reserved the sum of its open
reservations: nothing is kept as an editable balance. Concurrent writers for one product take
a transaction-scoped advisory lock first, so two orders can never both reserve the last units
(the check and the insert happen under the lock, and the lock is released at commit).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.orm import Session

from wayhouse.platform.dms import audit
from wayhouse.platform.dms.domain.allocation import AllocationResult, StockSlot, allocate_fefo
from wayhouse.platform.dms.domain.types import DomainError, MovementKind
from wayhouse.platform.dms.models import StockMovement, StockReservation

LOCK_NAMESPACE = 0x57484B  # 'WHK': keeps our advisory locks apart from anyone else's
NO_LOT = "-"


@dataclass(frozen=True)
class Position:
    bin_id: int
    bin_code: str
    warehouse_id: int
    lot_id: int | None
    lot_code: str | None
    expires_on: dt.date | None
    on_hand: int
    reserved: int
    bin_role: str = "storage"

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved


def lock_product(session: Session, product_id: int) -> None:
    session.execute(
        text("SELECT pg_advisory_xact_lock(:ns, :p)"), {"ns": LOCK_NAMESPACE, "p": product_id}
    )


POSITIONS_SQL = text(
    """
    WITH m AS (
        SELECT bin_id, lot_id, sum(qty) AS on_hand FROM stock_movement
        WHERE product_id = :p GROUP BY bin_id, lot_id
    ), r AS (
        SELECT bin_id, lot_id, sum(qty) AS reserved FROM stock_reservation
        WHERE product_id = :p AND released_at IS NULL GROUP BY bin_id, lot_id
    )
    SELECT b.id, b.code, b.warehouse_id, l.id, l.code, l.expires_on,
           coalesce(m.on_hand, 0), coalesce(r.reserved, 0), b.role
    FROM m FULL JOIN r ON m.bin_id = r.bin_id AND m.lot_id IS NOT DISTINCT FROM r.lot_id
    JOIN bin b ON b.id = coalesce(m.bin_id, r.bin_id)
    LEFT JOIN lot l ON l.id = coalesce(m.lot_id, r.lot_id)
    WHERE (CAST(:w AS integer) IS NULL OR b.warehouse_id = :w)
    ORDER BY b.code, l.expires_on NULLS LAST, l.code
    """
)


def positions(session: Session, product_id: int, warehouse_id: int | None = None) -> list[Position]:
    rows = session.execute(POSITIONS_SQL, {"p": product_id, "w": warehouse_id}).all()
    return [Position(*r) for r in rows]


def _position(
    session: Session, product_id: int, bin_id: int, lot_id: int | None
) -> tuple[int, int]:
    for p in positions(session, product_id):
        if p.bin_id == bin_id and p.lot_id == lot_id:
            return p.on_hand, p.reserved
    return 0, 0


def post_movement(
    session: Session,
    *,
    kind: MovementKind,
    product_id: int,
    bin_id: int,
    lot_id: int | None,
    qty: int,
    user_id: int | None,
    reason: str | None = None,
    source: str = "api",
    fulfils: str | None = None,
) -> StockMovement:
    """Append one movement. Taking stock out may not go below zero, nor into units reserved
    for orders, unless it is the pick that fulfils that reservation (``fulfils``)."""
    if qty == 0:
        raise DomainError("invalid_quantity", "a movement needs a non-zero quantity")
    inbound = {MovementKind.RECEIVE, MovementKind.RETURN}
    outbound = {MovementKind.PICK, MovementKind.SHIP}
    if (kind in inbound and qty < 0) or (kind in outbound and qty > 0):
        raise DomainError(
            "invalid_quantity", f"a {kind.value} moves stock {'in' if kind in inbound else 'out'}"
        )
    lock_product(session, product_id)
    on_hand, reserved = _position(session, product_id, bin_id, lot_id)
    if on_hand + qty < 0:
        raise DomainError(
            "negative_stock", f"only {on_hand} on hand in that bin and lot; cannot take {-qty}"
        )
    if qty < 0:
        own = 0
        if fulfils is not None:
            own = sum(
                r.qty
                for r in session.query(StockReservation).filter_by(
                    product_id=product_id,
                    bin_id=bin_id,
                    lot_id=lot_id,
                    order_ref=fulfils,
                    released_at=None,
                )
            )
        if on_hand + qty < reserved - min(own, -qty):
            raise DomainError(
                "reserved_stock",
                f"{reserved} of the {on_hand} on hand are reserved for orders; {on_hand - reserved} are free",
            )
    movement = StockMovement(
        kind=kind.value,
        product_id=product_id,
        bin_id=bin_id,
        lot_id=lot_id,
        qty=qty,
        reason=reason,
        user_id=user_id,
        source=source,
    )
    session.add(movement)
    session.flush()
    if kind is MovementKind.ADJUST:
        audit.record(
            session,
            user_id,
            "stock_adjustment",
            movement.id,
            "post",
            {"on_hand": on_hand},
            {"on_hand": on_hand + qty},
            reason,
        )
    return movement


def reserve(
    session: Session,
    *,
    product_id: int,
    sku: str,
    qty: int,
    order_ref: str,
    warehouse_id: int,
    today: dt.date,
    min_expiry: dt.date | None = None,
) -> AllocationResult:
    """Reserve ``qty`` first-expiry-first-out, all or nothing; a shortfall raises with the reason."""
    lock_product(session, product_id)
    # Staging holds goods already picked for an order: never allocate them again.
    here = [p for p in positions(session, product_id, warehouse_id) if p.bin_role == "storage"]
    by_key = {(str(p.bin_id), str(p.lot_id) if p.lot_id else NO_LOT): p for p in here}
    slots = [
        StockSlot(b, lot, by_key[(b, lot)].expires_on, by_key[(b, lot)].available)
        for b, lot in by_key
    ]
    result = allocate_fefo(sku, qty, slots, today=today, min_expiry=min_expiry)
    if not result.complete:
        excluded = (
            f" ({len(result.excluded)} lots excluded: expired or short shelf life)"
            if result.excluded
            else ""
        )
        raise DomainError(
            "insufficient_stock",
            f"{sku}: {result.allocated} of {qty} available in warehouse {warehouse_id}{excluded}",
        )
    for pick in result.picks:
        session.add(
            StockReservation(
                product_id=product_id,
                bin_id=int(pick.bin),
                lot_id=None if pick.lot == NO_LOT else int(pick.lot),
                qty=pick.qty,
                order_ref=order_ref,
            )
        )
    session.flush()
    return result


def release(session: Session, order_ref: str, now: dt.datetime) -> int:
    rows = session.query(StockReservation).filter_by(order_ref=order_ref, released_at=None).all()
    for r in rows:
        r.released_at = now
    return len(rows)


STAGING_CODE = "STAGING"


def staging_bin(session: Session, warehouse_id: int) -> int:
    """The warehouse's outbound staging bin, created on first use (race-safe)."""
    session.execute(
        text(
            "INSERT INTO bin (warehouse_id, code, role) VALUES (:w, :c, 'staging') "
            "ON CONFLICT (warehouse_id, code) DO NOTHING"
        ),
        {"w": warehouse_id, "c": STAGING_CODE},
    )
    return int(
        session.execute(
            text("SELECT id FROM bin WHERE warehouse_id = :w AND code = :c AND role = 'staging'"),
            {"w": warehouse_id, "c": STAGING_CODE},
        ).scalar_one()
    )


def _consume(session: Session, r: StockReservation, qty: int, now: dt.datetime) -> None:
    """Close a reservation, re-opening what was not used as a new one (rows stay immutable
    apart from ``released_at``, so the history of what was promised is kept)."""
    r.released_at = now
    if r.qty > qty:
        session.add(
            StockReservation(
                product_id=r.product_id,
                bin_id=r.bin_id,
                lot_id=r.lot_id,
                qty=r.qty - qty,
                order_ref=r.order_ref,
            )
        )


def pick_to_staging(
    session: Session,
    r: StockReservation,
    qty: int,
    staging_bin_id: int,
    user_id: int | None,
    source: str,
    now: dt.datetime,
) -> tuple[StockMovement, StockMovement]:
    """Move ``qty`` reserved units from their storage bin to staging: a PICK pair sharing a
    ``transfer_ref``; the reservation follows the goods, so staged units stay promised."""
    if not 0 < qty <= r.qty:
        raise DomainError("invalid_quantity", f"pick {qty} of a reservation of {r.qty}")
    out = post_movement(
        session,
        kind=MovementKind.PICK,
        product_id=r.product_id,
        bin_id=r.bin_id,
        lot_id=r.lot_id,
        qty=-qty,
        user_id=user_id,
        reason=f"pick for {r.order_ref}",
        source=source,
        fulfils=r.order_ref,
    )
    into = StockMovement(
        kind=MovementKind.PICK.value,
        product_id=r.product_id,
        bin_id=staging_bin_id,
        lot_id=r.lot_id,
        qty=qty,
        reason=f"staged for {r.order_ref}",
        user_id=user_id,
        source=source,
    )
    session.add(into)
    session.flush()
    out.transfer_ref = into.transfer_ref = f"PICK-{out.id}"
    _consume(session, r, qty, now)
    session.add(
        StockReservation(
            product_id=r.product_id,
            bin_id=staging_bin_id,
            lot_id=r.lot_id,
            qty=qty,
            order_ref=r.order_ref,
        )
    )
    session.flush()
    return out, into


def ship_reserved(
    session: Session, r: StockReservation, qty: int, user_id: int | None, now: dt.datetime
) -> StockMovement:
    """Staged units leave the warehouse (SHIP) and their reservation is consumed."""
    movement = post_movement(
        session,
        kind=MovementKind.SHIP,
        product_id=r.product_id,
        bin_id=r.bin_id,
        lot_id=r.lot_id,
        qty=-qty,
        user_id=user_id,
        reason=f"shipped for {r.order_ref}",
        fulfils=r.order_ref,
    )
    _consume(session, r, qty, now)
    session.flush()
    return movement
