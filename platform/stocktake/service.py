"""Stocktake sessions on the database, and live inventory accuracy.

A snapshot takes, per (bin, product, lot) of a warehouse or zone: the book from the ledger,
the scale's count from ``bin_sensed`` (what the evaluator publishes; only confident counts of
one-lot bins are used) and the bin's RFID count. The domain (``stocktake.session``) runs the
review: hand counts, proposals, four-eyes decisions (by user name), posting. Posting appends
ADJUST movements through the ledger (``dms.stock.post_movement``, audited there) in the same
transaction as the session's step.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from wayhouse.platform.alarms.models import BinSensed
from wayhouse.platform.auth.principal import Principal
from wayhouse.platform.dms import audit, stock
from wayhouse.platform.dms.domain.dealers import TransitionEvent
from wayhouse.platform.dms.domain.types import DomainError, IllegalTransition, MovementKind
from wayhouse.platform.dms.models import Bin, Lot, Product, Warehouse, Zone
from wayhouse.platform.dms.orders_service import NotFound
from wayhouse.platform.dms.scope import in_scope
from wayhouse.platform.stocktake.models import StocktakeLineRow, StocktakeSessionRow
from wayhouse.platform.stocktake.sensing import SensedCount
from wayhouse.platform.stocktake.session import (
    Accuracy,
    AdjustmentStatus,
    CountSource,
    LineKey,
    ProposedAdjustment,
    SessionStatus,
    SnapshotLine,
    StocktakeSession,
    accuracy,
    snapshot_lines,
)

BOOK_SQL = text(
    """
    SELECT m.bin_id, m.product_id, m.lot_id, sum(m.qty)::int
    FROM stock_movement m JOIN bin b ON b.id = m.bin_id
    WHERE b.warehouse_id = :w AND b.role = 'storage'
      AND (CAST(:z AS integer) IS NULL OR b.zone_id = :z)
    GROUP BY m.bin_id, m.product_id, m.lot_id
    HAVING sum(m.qty) <> 0
    """
)


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def visible_warehouse(session: Session, p: Principal, warehouse_id: int) -> Warehouse:
    wh = session.scalar(
        select(Warehouse).join(Warehouse.org_unit).where(Warehouse.id == warehouse_id, in_scope(p))
    )
    if wh is None:
        raise NotFound(f"warehouse {warehouse_id}")
    return wh


def _key(bin_id: int, product_id: int, lot_id: int | None) -> LineKey:
    return (str(bin_id), str(product_id), None if lot_id is None else str(lot_id))


def _sensed(session: Session, bin_ids: list[int]) -> dict[int, BinSensed]:
    if not bin_ids:
        return {}
    rows = session.scalars(select(BinSensed).where(BinSensed.bin_id.in_(bin_ids)))
    return {r.bin_id: r for r in rows}


def _count(r: BinSensed) -> SensedCount:
    return SensedCount(
        r.count,
        r.confidence,
        r.confident,
        r.settled,
        r.mean_g,
        r.readings,
        r.updated_at.timestamp(),
    )


# ---- sessions --------------------------------------------------------------------------------


def get(session: Session, p: Principal, session_id: int) -> StocktakeSessionRow:
    row = session.scalar(
        select(StocktakeSessionRow)
        .join(Warehouse, Warehouse.id == StocktakeSessionRow.warehouse_id)
        .join(Warehouse.org_unit)
        .where(StocktakeSessionRow.id == session_id, in_scope(p))
    )
    if row is None:
        raise NotFound(f"stocktake {session_id}")
    return row


def start(
    session: Session, p: Principal, warehouse_id: int, zone_id: int | None
) -> StocktakeSessionRow:
    wh = visible_warehouse(session, p, warehouse_id)
    if zone_id is not None:
        zone = session.get(Zone, zone_id)
        if zone is None or zone.warehouse_id != wh.id:
            raise DomainError("invalid_zone", f"zone {zone_id} is not a zone of {wh.code}")
    book: dict[LineKey, int] = {}
    bins: set[int] = set()
    for bin_id, product_id, lot_id, qty in session.execute(BOOK_SQL, {"w": wh.id, "z": zone_id}):
        book[_key(bin_id, product_id, lot_id)] = qty
        bins.add(bin_id)
    # Instrumented bins the book says are empty: what the scale finds there counts too.
    q = select(Bin.id).where(Bin.warehouse_id == wh.id, Bin.role == "storage")
    if zone_id is not None:
        q = q.where(Bin.zone_id == zone_id)
    all_bins = list(session.scalars(q))
    sensed_rows = _sensed(session, all_bins)
    for bin_id, r in sensed_rows.items():
        if bin_id not in bins and r.product_id is not None:
            book[_key(bin_id, r.product_id, None)] = 0
    products = {int(k[1]) for k in book}
    prices = {
        str(pid): price
        for pid, price in session.execute(
            select(Product.id, Product.list_price).where(Product.id.in_(products))
        )
    }
    sensed = {str(b): _count(r) for b, r in sensed_rows.items()}
    scanned = {
        (str(b), str(r.product_id)): r.scanned
        for b, r in sensed_rows.items()
        if r.scanned is not None and r.product_id is not None
    }
    lines = snapshot_lines(book, sensed, prices, scanned)
    at = now()
    row = StocktakeSessionRow(
        warehouse_id=wh.id,
        zone_id=zone_id,
        status=SessionStatus.COUNTING.value,
        created_by=p.user_id,
        created_at=at,
        history=[],
    )
    session.add(row)
    session.flush()
    domain = StocktakeSession.start(str(row.id), str(wh.id), _opt(zone_id), lines, p.username, at)
    for line in domain.lines.values():
        row.lines.append(
            StocktakeLineRow(
                bin_id=int(line.bin),
                product_id=int(line.product),
                lot_id=None if line.lot is None else int(line.lot),
                book=line.book,
                sensed=line.sensed,
                sensed_confidence=line.sensed_confidence,
                scanned=line.scanned,
                unit_value=line.unit_value,
            )
        )
    _save(row, domain)
    audit.record(session, p.user_id, "stocktake", row.id, "start", None, {"lines": len(lines)})
    session.commit()
    return row


def _opt(v: int | None) -> str | None:
    return None if v is None else str(v)


def _event_dict(e: TransitionEvent) -> dict[str, Any]:
    return {
        "from_state": e.from_state,
        "to_state": e.to_state,
        "at": e.at.isoformat(),
        "by": e.by,
        "reason": e.reason,
    }


def _domain(row: StocktakeSessionRow) -> StocktakeSession:
    lines: dict[LineKey, SnapshotLine] = {}
    adjustments: dict[LineKey, ProposedAdjustment] = {}
    for ln in row.lines:
        key = _key(ln.bin_id, ln.product_id, ln.lot_id)
        lines[key] = SnapshotLine(
            bin=key[0],
            product=key[1],
            lot=key[2],
            book=ln.book,
            sensed=ln.sensed,
            sensed_confidence=ln.sensed_confidence,
            scanned=ln.scanned,
            unit_value=ln.unit_value,
            manual=ln.manual,
            counted_by=ln.counted_by,
        )
        if ln.adj_status is not None and ln.delta is not None:
            adjustments[key] = ProposedAdjustment(
                key=key,
                delta=ln.delta,
                source=CountSource(ln.adj_source or CountSource.MANUAL.value),
                value=ln.adj_value if ln.adj_value is not None else Decimal(0),
                reason=ln.adj_reason or "",
                proposed_by=ln.proposed_by or "",
                status=AdjustmentStatus(ln.adj_status),
                decided_by=ln.decided_by,
                note=ln.adj_note or "",
            )
    history = [
        TransitionEvent(
            "stocktake",
            str(row.id),
            e["from_state"],
            e["to_state"],
            dt.datetime.fromisoformat(e["at"]),
            e["by"],
            e["reason"],
        )
        for e in row.history
    ]
    return StocktakeSession(
        id=str(row.id),
        warehouse=str(row.warehouse_id),
        zone=_opt(row.zone_id),
        lines=lines,
        created_by=str(row.created_by),
        created_at=row.created_at,
        status=SessionStatus(row.status),
        adjustments=adjustments,
        history=history,
    )


def _save(row: StocktakeSessionRow, s: StocktakeSession) -> None:
    row.status = s.status.value
    row.history = [_event_dict(e) for e in s.history]
    row.updated_at = now()
    for ln in row.lines:
        key = _key(ln.bin_id, ln.product_id, ln.lot_id)
        line = s.lines[key]
        ln.manual, ln.counted_by = line.manual, line.counted_by
        adj = s.adjustments.get(key)
        if adj is None:
            ln.delta = ln.adj_source = ln.adj_value = ln.adj_status = None
            ln.adj_reason = ln.proposed_by = ln.decided_by = ln.adj_note = None
            continue
        ln.delta, ln.adj_source, ln.adj_value = adj.delta, adj.source.value, adj.value
        ln.adj_status, ln.adj_reason = adj.status.value, adj.reason
        ln.proposed_by, ln.decided_by, ln.adj_note = adj.proposed_by, adj.decided_by, adj.note


def _line(row: StocktakeSessionRow, line_id: int) -> StocktakeLineRow:
    for ln in row.lines:
        if ln.id == line_id:
            return ln
    raise DomainError("unknown_line", f"no line {line_id} in stocktake {row.id}")


def record_counts(
    session: Session, p: Principal, session_id: int, counts: list[tuple[int, int]]
) -> StocktakeSessionRow:
    row = get(session, p, session_id)
    s = _domain(row)
    at = now()
    for line_id, qty in counts:
        ln = _line(row, line_id)
        s.record_count(_key(ln.bin_id, ln.product_id, ln.lot_id), qty, p.username, at)
    _save(row, s)
    session.commit()
    return row


def propose(
    session: Session, p: Principal, session_id: int, reason: str, skip_uncounted: bool
) -> StocktakeSessionRow:
    row = get(session, p, session_id)
    s = _domain(row)
    at = now()
    if s.status is SessionStatus.COUNTING:
        s.submit(p.username, at)
    s.propose(p.username, at, reason, skip_uncounted=skip_uncounted)
    row.reason = reason
    _save(row, s)
    audit.record(
        session,
        p.user_id,
        "stocktake",
        row.id,
        "propose",
        None,
        {"adjustments": len(s.adjustments)},
        reason,
    )
    session.commit()
    return row


def decide(
    session: Session,
    p: Principal,
    session_id: int,
    decisions: list[tuple[int, bool, str]] | None,
) -> StocktakeSessionRow:
    """Approve or reject adjustments (``None``: approve every one still open)."""
    row = get(session, p, session_id)
    s = _domain(row)
    if s.status is not SessionStatus.APPROVAL:
        raise IllegalTransition("stocktake", s.status.value, "approved", "nothing awaits approval")
    at = now()
    if decisions is None:
        decisions = [
            (ln.id, True, "")
            for ln in row.lines
            if ln.adj_status == AdjustmentStatus.PROPOSED.value
        ]
    for line_id, approve, note in decisions:
        ln = _line(row, line_id)
        s.decide(_key(ln.bin_id, ln.product_id, ln.lot_id), approve, p.username, at, note)
    _save(row, s)
    audit.record(
        session, p.user_id, "stocktake", row.id, "decide", None, {"decisions": len(decisions)}
    )
    session.commit()
    return row


def post(session: Session, p: Principal, session_id: int) -> StocktakeSessionRow:
    row = get(session, p, session_id)
    s = _domain(row)
    requests = s.post(p.username, now())
    by_key = {_key(ln.bin_id, ln.product_id, ln.lot_id): ln for ln in row.lines}
    try:
        for req in requests:
            m = stock.post_movement(
                session,
                kind=MovementKind.ADJUST,
                product_id=int(req.product),
                bin_id=int(req.bin),
                lot_id=None if req.lot is None else int(req.lot),
                qty=req.delta,
                user_id=p.user_id,
                reason=f"{req.reason} (approved by {req.approved_by})",
                source="stocktake",
            )
            by_key[(req.bin, req.product, req.lot)].movement_id = m.id
    except DomainError:
        session.rollback()
        raise
    _save(row, s)
    session.commit()
    return row


def cancel(session: Session, p: Principal, session_id: int, reason: str) -> StocktakeSessionRow:
    row = get(session, p, session_id)
    s = _domain(row)
    s.cancel(p.username, now(), reason)
    _save(row, s)
    audit.record(session, p.user_id, "stocktake", row.id, "cancel", None, None, reason)
    session.commit()
    return row


def session_accuracy(row: StocktakeSessionRow) -> Accuracy:
    return _domain(row).accuracy()


@dataclass(frozen=True)
class LineLabels:
    bin_code: str
    sku: str
    lot_code: str | None


def labels(session: Session, row: StocktakeSessionRow) -> dict[int, LineLabels]:
    bins = {ln.bin_id for ln in row.lines}
    products = {ln.product_id for ln in row.lines}
    lots = {ln.lot_id for ln in row.lines if ln.lot_id is not None}
    bin_codes = dict(session.execute(select(Bin.id, Bin.code).where(Bin.id.in_(bins))).all())
    skus = dict(
        session.execute(select(Product.id, Product.sku).where(Product.id.in_(products))).all()
    )
    lot_codes = dict(session.execute(select(Lot.id, Lot.code).where(Lot.id.in_(lots))).all())
    return {
        ln.id: LineLabels(
            bin_codes.get(ln.bin_id, "?"),
            skus.get(ln.product_id, "?"),
            lot_codes.get(ln.lot_id) if ln.lot_id is not None else None,
        )
        for ln in row.lines
    }


# ---- live accuracy and the bin map -------------------------------------------------------------

BIN_BOOK_SQL = text(
    """
    SELECT b.id, b.code, z.code, b.scale_sensor_id,
           coalesce(bk.product_id, s.product_id), coalesce(bk.qty, 0)::int,
           s.count, s.confident, s.confidence, s.scanned, s.updated_at, p.sku, p.list_price
    FROM bin b
    LEFT JOIN zone z ON z.id = b.zone_id
    LEFT JOIN (
        SELECT m.bin_id, min(m.product_id) AS product_id, sum(m.qty) AS qty
        FROM stock_movement m JOIN bin bb ON bb.id = m.bin_id
        WHERE bb.warehouse_id = :w GROUP BY m.bin_id
    ) bk ON bk.bin_id = b.id
    LEFT JOIN bin_sensed s ON s.bin_id = b.id
    LEFT JOIN product p ON p.id = coalesce(bk.product_id, s.product_id)
    WHERE b.warehouse_id = :w AND b.role = 'storage'
    ORDER BY b.code
    """
)


@dataclass(frozen=True)
class BinState:
    bin_id: int
    code: str
    zone: str | None
    sensor: str | None
    sku: str | None
    book: int
    sensed: int | None  # the confident scale count (None: not instrumented or not sure)
    confidence: float | None
    scanned: int | None
    updated_at: dt.datetime | None
    unit_value: Decimal

    @property
    def difference(self) -> int | None:
        counted = self.counted
        return None if counted is None else counted - self.book

    @property
    def counted(self) -> int | None:
        return self.scanned if self.scanned is not None else self.sensed


def bin_states(session: Session, p: Principal, warehouse_id: int) -> list[BinState]:
    wh = visible_warehouse(session, p, warehouse_id)
    out = []
    for r in session.execute(BIN_BOOK_SQL, {"w": wh.id}):
        (bid, code, zone, sensor, _pid, book, count, confident, conf, scanned, at, sku, price) = r
        if sensor is None and not book:
            continue  # an empty bin nobody can count: nothing to say
        out.append(
            BinState(
                bid,
                code,
                zone,
                sensor,
                sku,
                book,
                count if confident else None,
                conf,
                scanned,
                at,
                price if price is not None else Decimal(0),
            )
        )
    return out


def live_accuracy(session: Session, p: Principal, warehouse_id: int) -> Accuracy:
    """Sensed (or RFID) count against the book, bin by bin, now."""
    return accuracy(
        (b.code, b.book, b.counted, b.unit_value) for b in bin_states(session, p, warehouse_id)
    )


def list_query(p: Principal) -> Any:
    return (
        select(StocktakeSessionRow)
        .join(Warehouse, Warehouse.id == StocktakeSessionRow.warehouse_id)
        .join(Warehouse.org_unit)
        .where(in_scope(p))
    )


def count(session: Session, q: Any) -> int:
    return session.scalar(select(func.count()).select_from(q.subquery())) or 0
