"""Scanner reads become ledger movements.

The ingest workers store every scan in ``scan_event``; this follows that table and posts what
the operator did: a put-away or receipt adds stock to the bin, a pick takes it out (for the
order that has those units reserved in that bin, else as a free pick that may not touch
anyone's reservation), a return brings it back. Each read gets exactly one ``scan_posting`` row
keyed by its identity (agent, message seq, position in the message), in the same transaction
as its movement: a restart or a replay never posts a read twice, and a read that cannot be
posted (unknown bin or SKU, not enough stock) is kept as ``rejected`` with the reason.

A read's position is its rank inside its message by content; the rows of one message are
written in one ingest transaction, so the numbering is stable.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass

import sqlalchemy.exc
from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from wayhouse.platform.dms import fulfilment, stock
from wayhouse.platform.dms.domain.types import DomainError, MovementKind, OrderStatus
from wayhouse.platform.dms.models import (
    Bin,
    Lot,
    Product,
    StockMovement,
    StockReservation,
    Warehouse,
)
from wayhouse.platform.dms.models_fulfilment import ScanPosting
from wayhouse.platform.dms.models_orders import SalesOrder

log = logging.getLogger(__name__)

POSTED_ACTIONS = ("receive", "putaway", "pick", "return")
# Rows committed by a slower ingest worker can carry a received_at a little older than rows
# already seen: look back this far on every pass (the posting table makes re-reads harmless).
LOOKBACK = dt.timedelta(minutes=2)

PENDING_SQL = text(
    """
    WITH numbered AS (
        SELECT e.agent_key, e.seq,
               (row_number() OVER (PARTITION BY e.agent_key, e.seq
                                   ORDER BY e.ts, e.sensor_key, e.kind, e.code, e.action,
                                            e.qty, e.bin, e.zone) - 1)::int AS idx,
               e.ts, e.kind, e.code, e.action, e.qty, e.bin, e.received_at, a.site
        FROM scan_event e JOIN agent a ON a.agent_key = e.agent_key
        WHERE e.received_at >= :since
    )
    SELECT n.agent_key, n.seq, n.idx, n.ts, n.kind, n.code, n.action, n.qty, n.bin,
           n.received_at, n.site
    FROM numbered n
    WHERE n.action = ANY(:actions)
      AND NOT EXISTS (SELECT 1 FROM scan_posting p
                      WHERE p.agent_key = n.agent_key AND p.seq = n.seq AND p.idx = n.idx)
    ORDER BY n.received_at, n.agent_key, n.seq, n.idx
    LIMIT :limit
    """
)


@dataclass(frozen=True)
class ScanRead:
    agent_key: int
    seq: int
    idx: int
    ts: dt.datetime
    kind: str
    code: str
    action: str
    qty: int
    bin: str | None
    received_at: dt.datetime
    site: str | None


def sku_of(code: str) -> str:
    """A barcode is the SKU; an RFID case tag is an SGTIN-like ``EPC-<sku>-<serial>``."""
    if code.startswith("EPC-") and code.count("-") >= 2:
        return code[4:].rsplit("-", 1)[0]
    return code


def _resolve(session: Session, read: ScanRead) -> tuple[Product, Bin]:
    if not read.bin:
        raise DomainError("no_bin", "the scan names no bin")
    product = session.scalar(select(Product).where(Product.sku == sku_of(read.code)))
    if product is None:
        raise DomainError("unknown_sku", f"no product {sku_of(read.code)!r}")
    query = select(Bin).where(Bin.code == read.bin, Bin.role == "storage")
    if read.site:  # a scanner registered to a site only moves that warehouse's stock
        query = query.join(Warehouse, Warehouse.id == Bin.warehouse_id).where(
            Warehouse.code == read.site
        )
    bins = session.scalars(query).all()
    if len(bins) != 1:
        where = f" at site {read.site}" if read.site else ""
        why = "no" if not bins else "more than one"
        raise DomainError("unknown_bin", f"{why} bin {read.bin!r}{where}")
    return product, bins[0]


def _lot_for_receipt(session: Session, product: Product, bin_: Bin) -> int | None:
    """A put-away scan does not name the lot: use the lot last moved in that bin, else the
    product's newest lot."""
    last = session.scalar(
        select(StockMovement.lot_id)
        .where(StockMovement.product_id == product.id, StockMovement.bin_id == bin_.id)
        .order_by(StockMovement.id.desc())
        .limit(1)
    )
    if last is not None:
        return last
    return session.scalar(
        select(Lot.id).where(Lot.product_id == product.id).order_by(Lot.id.desc()).limit(1)
    )


def _order_waiting(session: Session, product: Product, bin_: Bin, qty: int) -> int | None:
    """The oldest order being picked that has at least ``qty`` units reserved in that bin."""
    return session.scalar(
        select(SalesOrder.id)
        .join(StockReservation, StockReservation.order_ref == text("'SO-' || sales_order.id"))
        .where(
            SalesOrder.status.in_([OrderStatus.ALLOCATED.value, OrderStatus.PICKING.value]),
            StockReservation.product_id == product.id,
            StockReservation.bin_id == bin_.id,
            StockReservation.released_at.is_(None),
        )
        .group_by(SalesOrder.id)
        .having(text("sum(stock_reservation.qty) >= :q").bindparams(q=qty))
        .order_by(SalesOrder.id)
        .limit(1)
    )


def _free_pick(session: Session, product: Product, bin_: Bin, qty: int) -> StockMovement:
    """Units taken without an order, earliest expiry first; may not dig into reservations."""
    slots = [p for p in stock.positions(session, product.id) if p.bin_id == bin_.id]
    free = sum(p.available for p in slots)
    if free < qty:
        raise DomainError(
            "reserved_stock" if sum(p.on_hand for p in slots) >= qty else "negative_stock",
            f"{product.sku}: {free} free in bin {bin_.code}, scan took {qty}",
        )
    left, last = qty, None
    for p in sorted(slots, key=lambda p: (p.expires_on is None, p.expires_on)):
        take = min(left, p.available)
        if take <= 0:
            continue
        last = stock.post_movement(
            session,
            kind=MovementKind.PICK,
            product_id=product.id,
            bin_id=bin_.id,
            lot_id=p.lot_id,
            qty=-take,
            user_id=None,
            reason="picked by scan, no order",
            source="scan",
        )
        left -= take
        if not left:
            break
    assert last is not None
    return last


def post_read(session: Session, read: ScanRead) -> ScanPosting:
    """Post one read inside a savepoint; a refusal is recorded, never raised."""
    posting = ScanPosting(
        agent_key=read.agent_key,
        seq=read.seq,
        idx=read.idx,
        ts=read.ts,
        action=read.action,
        code=read.code[:128],
        bin_code=read.bin,
        qty=read.qty,
        outcome="posted",
    )
    try:
        with session.begin_nested():
            if read.qty <= 0:
                raise DomainError("invalid_quantity", "a scan of 0 units moves nothing")
            product, bin_ = _resolve(session, read)
            if read.action == "pick":
                order_id = _order_waiting(session, product, bin_, read.qty)
                if order_id is not None:
                    picks = fulfilment.pick(
                        session,
                        None,
                        order_id,
                        sku=product.sku,
                        bin_code=bin_.code,
                        qty=read.qty,
                        source="scan",
                    )
                    posting.order_id = order_id
                    posting.movement_id = picks[-1].movement_id
                else:
                    posting.movement_id = _free_pick(session, product, bin_, read.qty).id
            else:
                kind = MovementKind.RETURN if read.action == "return" else MovementKind.RECEIVE
                posting.movement_id = stock.post_movement(
                    session,
                    kind=kind,
                    product_id=product.id,
                    bin_id=bin_.id,
                    lot_id=_lot_for_receipt(session, product, bin_),
                    qty=read.qty,
                    user_id=None,
                    reason=f"{read.action} scan",
                    source="scan",
                ).id
    except DomainError as exc:
        posting.outcome = "rejected"
        posting.reason = f"{exc.code}: {exc.message}"
        posting.order_id = posting.movement_id = None
    except (sqlalchemy.exc.DataError, sqlalchemy.exc.IntegrityError) as exc:
        # A read the database refuses must not block the reads behind it.
        posting.outcome = "rejected"
        posting.reason = f"invalid: {str(exc.orig).splitlines()[0]}"
        posting.order_id = posting.movement_id = None
    session.add(posting)
    session.flush()
    return posting


class ScanPoster:
    """Follows ``scan_event`` and posts every movement scan once."""

    def __init__(self, sessions: sessionmaker[Session], batch: int = 200) -> None:
        self.sessions = sessions
        self.batch = batch
        self.since = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
        self.posted = 0
        self.rejected = 0

    def run_once(self) -> int:
        """Post up to one batch; returns how many reads were handled."""
        with self.sessions() as session, session.begin():
            rows = session.execute(
                PENDING_SQL,
                {"since": self.since, "actions": list(POSTED_ACTIONS), "limit": self.batch},
            ).all()
            reads = [ScanRead(*r) for r in rows]
            for read in reads:
                outcome = post_read(session, read).outcome
                if outcome == "posted":
                    self.posted += 1
                else:
                    self.rejected += 1
        if reads and len(reads) < self.batch:
            self.since = max(r.received_at for r in reads) - LOOKBACK
        return len(reads)

    def run_forever(self, idle_s: float = 0.5, should_stop: object = None) -> None:
        while not (callable(should_stop) and should_stop()):
            try:
                if self.run_once() == 0:
                    time.sleep(idle_s)
            except Exception:  # database restarts: wait and carry on, nothing is lost
                log.exception("scan posting failed; retrying")
                time.sleep(2.0)
