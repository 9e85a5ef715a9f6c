"""After-sales service tickets on PostgreSQL: load the domain ``Ticket`` from its rows, apply one
rule, write the rows, the timeline and the audit trail back in the caller's transaction.

The rules are ``dms.domain.service``; this module only translates. Parts fitted on a work
order leave stock through ``stock.post_movement`` (the ledger refuses to go below zero or into
units reserved for orders), and each part row keeps the id of the movement it posted. SLA
timers are computed at request time from the clocks stored on the ticket.

Who sees a ticket: the technician it is dispatched to; everyone else by the dealer's place in
the organisation tree (a dealer its own, a region its dealers, HQ all).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, case, extract, false, func, literal, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.types import DateTime, Float

from wayhouse.platform.auth.principal import Principal
from wayhouse.platform.dms import audit, documents, stock
from wayhouse.platform.dms.domain.dealers import TransitionEvent, UploadPolicy, check_upload
from wayhouse.platform.dms.domain.service import (
    PartUsage,
    Rating,
    SlaBreach,
    SlaClocks,
    SlaPolicy,
    SlaTimer,
    Ticket,
    TicketPriority,
    WorkOrder,
    breach_order,
    clock_timers,
    sla_clocks,
    timer_breaches,
)
from wayhouse.platform.dms.domain.types import DomainError, Role, TicketStatus
from wayhouse.platform.dms.models import AppUser, Bin, Dealer, Lot, OrgUnit, Product, Warehouse
from wayhouse.platform.dms.models_service import (
    ServiceTicket,
    TicketEvent,
    TicketPhoto,
    WorkOrderPart,
)
from wayhouse.platform.dms.orders_service import NotFound, visible_dealer
from wayhouse.platform.dms.scope import in_scope

# HQ's service levels (domain defaults) until there is a settings page for them.
POLICY = SlaPolicy()
# Photos of a fault: pictures only, small enough for a phone upload over a poor connection.
PHOTOS = UploadPolicy(max_bytes=5 * 1024 * 1024, allowed_types=("image/jpeg", "image/png"))
MAX_PHOTOS = 20  # per ticket: bounds the disk one ticket can take
PHOTO_DIR = "service_photos"
SERVICE_ROLES = frozenset({Role.HQ_ADMIN, Role.REGION_MANAGER, Role.DEALER_USER, Role.TECHNICIAN})
# Refusals that describe bad input (HTTP 422); every other DomainError conflicts with state.
INPUT_ERRORS = frozenset(
    {
        "invalid_ticket",
        "invalid_work_order",
        "invalid_rating",
        "invalid_quantity",
        "unknown_product",
        "unknown_technician",
        "unknown_bin",
        "unknown_lot",
        "dealer_required",
        "empty_file",
        "file_too_large",
        "file_type_not_allowed",
        "file_type_mismatch",
    }
)


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _by(actor: Principal) -> str:
    return str(actor.user_id)


# -- scoping -------------------------------------------------------------------------------
def visible_tickets(actor: Principal) -> Select[tuple[ServiceTicket]]:
    """The select of every ticket the caller may see (lists and lookups start here)."""
    query = select(ServiceTicket).join(ServiceTicket.dealer).join(Dealer.org_unit)
    if actor.role is Role.TECHNICIAN:
        return query.where(ServiceTicket.technician_id == actor.user_id)
    if actor.role not in SERVICE_ROLES:
        return query.where(false())
    return query.where(in_scope(actor))


def _ticket_row(session: Session, actor: Principal, ticket_id: int, lock: bool) -> ServiceTicket:
    row = session.scalar(visible_tickets(actor).where(ServiceTicket.id == ticket_id))
    if row is None:
        raise NotFound(f"ticket {ticket_id}")
    if lock:
        # Row lock: two requests acting on one ticket run one after the other.
        session.execute(
            select(ServiceTicket.id).where(ServiceTicket.id == ticket_id).with_for_update()
        )
        session.refresh(row)
    return row


def get_ticket(session: Session, actor: Principal, ticket_id: int) -> ServiceTicket:
    return _ticket_row(session, actor, ticket_id, lock=False)


def _serves(unit_path: Any) -> ColumnElement[bool]:
    """The org unit lies on the way from the root to ``unit_path`` (it is that unit or above
    it): a technician serves the subtree of their own unit, so one at HQ goes anywhere."""
    return func.starts_with(unit_path, OrgUnit.path)


def technicians(session: Session, actor: Principal) -> list[AppUser]:
    """Active technicians who can be sent to some dealer of the caller's scope: those placed
    above the caller (an HQ technician serves every region) or inside the caller's subtree."""
    return list(
        session.scalars(
            select(AppUser)
            .join(AppUser.org_unit)
            .where(
                AppUser.role == Role.TECHNICIAN.value,
                AppUser.active,
                or_(in_scope(actor), _serves(actor.org_path)),
            )
            .order_by(AppUser.username, AppUser.id)
        )
    )


def _technician_for(session: Session, technician_id: int, dealer: Dealer) -> AppUser:
    tech = session.scalar(
        select(AppUser)
        .join(AppUser.org_unit)
        .where(
            AppUser.id == technician_id,
            AppUser.role == Role.TECHNICIAN.value,
            AppUser.active,
            _serves(dealer.org_unit.path),
        )
    )
    if tech is None:
        raise DomainError(
            "unknown_technician", f"no active technician {technician_id} serving this dealer"
        )
    return tech


# -- rows <-> domain -----------------------------------------------------------------------
def _lot_key(lot_id: int | None) -> str:
    return str(lot_id) if lot_id is not None else stock.NO_LOT


def _domain(row: ServiceTicket) -> Ticket:
    ticket_id = str(row.id)
    order = None
    if row.work_started_at is not None:
        order = WorkOrder(
            str(row.technician_id),
            row.work_started_at,
            [
                PartUsage(p.sku, _lot_key(p.lot_id), p.qty, str(p.bin_id), p.at, str(p.by_user_id))
                for p in row.parts
            ],
            row.labour_minutes,
        )
    rating = None
    if row.rating_score is not None and row.rated_at is not None:
        rating = Rating(row.rating_score, row.rated_at, str(row.rated_by), row.rating_comment or "")
    return Ticket(
        ticket_id,
        str(row.dealer_id),
        str(row.customer_id or ""),
        row.product.sku,
        row.problem,
        row.opened_at,
        TicketPriority(row.priority),
        row.lot_code,
        row.serial,
        tuple(p.file_path for p in row.photos),
        TicketStatus(row.status),
        str(row.technician_id) if row.technician_id is not None else None,
        order,
        row.resolution,
        rating,
        [
            TransitionEvent(
                "ticket",
                ticket_id,
                e.from_status,
                e.to_status,
                e.at,
                str(e.by_user_id),
                e.note,
            )
            for e in row.events
        ],
    )


def _save(session: Session, row: ServiceTicket, ticket: Ticket, actor_id: int) -> None:
    """Write the ticket's state back: status, assignment, work order, rating, SLA clocks and
    the new timeline events; a status change goes to the audit log with its reason."""
    before = {"status": row.status, "technician_id": row.technician_id}
    stored = len(row.events)
    for seq, event in enumerate(ticket.history[stored:], start=stored):
        row.events.append(
            TicketEvent(
                seq=seq,
                from_status=event.from_state,
                to_status=event.to_state,
                at=event.at,
                by_user_id=int(event.by),
                note=event.reason,
            )
        )
    row.status = ticket.status.value
    row.technician_id = int(ticket.technician) if ticket.technician else None
    if ticket.work_order is not None:
        row.work_started_at = ticket.work_order.started_at
        row.labour_minutes = ticket.work_order.labour_minutes
    row.resolution = ticket.resolution
    if ticket.rating is not None:
        row.rating_score = ticket.rating.score
        row.rating_comment = ticket.rating.comment or None
        row.rated_at = ticket.rating.at
        row.rated_by = int(ticket.rating.by)
    clocks = sla_clocks(ticket)
    row.response_stop_at = clocks.response_stop
    row.resolution_stop_at = clocks.resolution_stop
    row.updated_at = now()
    session.flush()
    after = {"status": row.status, "technician_id": row.technician_id}
    if len(ticket.history) > stored and stored:  # opening is audited as the creation
        audit.record(
            session,
            actor_id,
            "service_ticket",
            row.id,
            "transition",
            before,
            after,
            ticket.history[-1].reason or None,
        )


# -- the workflow --------------------------------------------------------------------------
@dataclass(frozen=True)
class TicketIn:
    product_id: int
    problem: str
    dealer_id: int | None = None
    customer_id: int | None = None
    priority: TicketPriority = TicketPriority.NORMAL
    lot_code: str = ""
    serial: str = ""


def open_ticket(session: Session, actor: Principal, data: TicketIn) -> ServiceTicket:
    """A dealer opens a ticket for its customer; HQ and regions for any dealer they see."""
    dealer_id = data.dealer_id
    if dealer_id is None:
        own = session.scalar(select(Dealer).where(Dealer.org_unit_id == actor.org_unit_id))
        if own is None:
            raise DomainError("dealer_required", "say which dealer the ticket is for (dealer_id)")
        dealer_id = own.id
    dealer = visible_dealer(session, actor, dealer_id)
    product = session.get(Product, data.product_id)
    if product is None:
        raise DomainError("unknown_product", f"no product {data.product_id}")
    at = now()
    row = ServiceTicket(
        dealer_id=dealer.id,
        customer_id=data.customer_id,
        product_id=product.id,
        lot_code=data.lot_code.strip(),
        serial=data.serial.strip(),
        problem=data.problem.strip(),
        priority=data.priority.value,
        status=TicketStatus.OPEN.value,
        opened_by=actor.user_id,
        opened_at=at,
        updated_at=at,
        labour_minutes=0,
        resolution="",
    )
    row.dealer = dealer
    row.product = product
    session.add(row)
    session.flush()  # the id names the ticket in the domain
    ticket = Ticket.open(
        str(row.id),
        str(dealer.id),
        str(data.customer_id or ""),
        product.sku,
        data.problem,
        at,
        _by(actor),
        priority=data.priority,
        lot=row.lot_code,
        serial=row.serial,
    )
    _save(session, row, ticket, actor.user_id)
    audit.record(
        session,
        actor.user_id,
        "service_ticket",
        row.id,
        "create",
        None,
        {
            "dealer_id": dealer.id,
            "customer_id": data.customer_id,
            "product_id": product.id,
            "priority": row.priority,
            "lot_code": row.lot_code,
            "serial": row.serial,
        },
    )
    return row


def assign(
    session: Session, actor: Principal, ticket_id: int, technician_id: int, reason: str = ""
) -> ServiceTicket:
    """Dispatch to a technician who serves the dealer; dispatching again needs a reason."""
    row = _ticket_row(session, actor, ticket_id, lock=True)
    tech = _technician_for(session, technician_id, row.dealer)
    ticket = _domain(row)
    ticket.dispatch(str(tech.id), now(), _by(actor), reason)
    _save(session, row, ticket, actor.user_id)
    return row


def start(session: Session, actor: Principal, ticket_id: int) -> ServiceTicket:
    row = _ticket_row(session, actor, ticket_id, lock=True)
    ticket = _domain(row)
    ticket.start_work(now(), _by(actor))
    _save(session, row, ticket, actor.user_id)
    return row


@dataclass(frozen=True)
class PartIn:
    product_id: int
    bin_id: int
    qty: int
    lot_id: int | None = None
    returned: bool = False  # True: an unused part goes back to the bin


def _part_source(session: Session, actor: Principal, part: PartIn) -> tuple[Product, Bin]:
    product = session.get(Product, part.product_id)
    if product is None:
        raise DomainError("unknown_product", f"no product {part.product_id}")
    # The technician's own stock: warehouses in their subtree or above it (HQ's central one).
    bin_ = session.scalar(
        select(Bin)
        .join(Warehouse, Warehouse.id == Bin.warehouse_id)
        .join(Warehouse.org_unit)
        .where(Bin.id == part.bin_id, or_(in_scope(actor), _serves(actor.org_path)))
    )
    if bin_ is None:
        raise DomainError("unknown_bin", f"no bin {part.bin_id} in a warehouse you draw from")
    if part.lot_id is not None:
        lot = session.get(Lot, part.lot_id)
        if lot is None or lot.product_id != product.id:
            raise DomainError("unknown_lot", f"lot {part.lot_id} is not a lot of {product.sku}")
    return product, bin_


def record_part(session: Session, actor: Principal, ticket_id: int, part: PartIn) -> WorkOrderPart:
    """Record a part fitted (or returned unused) and post its stock movement; a refusal of
    the ledger (not enough on hand, reserved for orders) records nothing."""
    row = _ticket_row(session, actor, ticket_id, lock=True)
    product, bin_ = _part_source(session, actor, part)
    ticket = _domain(row)
    at = now()
    lot, where = _lot_key(part.lot_id), str(bin_.id)
    if part.returned:
        request = ticket.return_part(product.sku, lot, part.qty, where, at, _by(actor))
        signed = request.qty
    else:
        request = ticket.use_part(product.sku, lot, part.qty, where, at, _by(actor))
        signed = -request.qty
    movement = stock.post_movement(
        session,
        kind=request.kind,
        product_id=product.id,
        bin_id=bin_.id,
        lot_id=part.lot_id,
        qty=signed,
        user_id=actor.user_id,
        reason=f"{request.reason} {request.ref}",
    )
    used = WorkOrderPart(
        product_id=product.id,
        sku=product.sku,
        lot_id=part.lot_id,
        bin_id=bin_.id,
        qty=-signed,  # the work order counts parts consumed: a return is negative
        stock_movement_id=movement.id,
        at=at,
        by_user_id=actor.user_id,
    )
    row.parts.append(used)
    row.updated_at = at
    session.flush()
    audit.record(
        session,
        actor.user_id,
        "service_ticket",
        row.id,
        "return_part" if part.returned else "use_part",
        None,
        {
            "sku": product.sku,
            "lot_id": part.lot_id,
            "bin_id": bin_.id,
            "qty": used.qty,
            "stock_movement_id": movement.id,
        },
    )
    return used


def resolve(
    session: Session,
    actor: Principal,
    ticket_id: int,
    resolution: str,
    labour_minutes: int = 0,
) -> ServiceTicket:
    row = _ticket_row(session, actor, ticket_id, lock=True)
    ticket = _domain(row)
    if labour_minutes:
        ticket.log_labour(labour_minutes)
    ticket.resolve(resolution, now(), _by(actor))
    _save(session, row, ticket, actor.user_id)
    return row


def close(
    session: Session,
    actor: Principal,
    ticket_id: int,
    *,
    rating: int | None = None,
    comment: str = "",
    reason: str = "",
) -> ServiceTicket:
    """Close, with the customer's rating of a resolved ticket; closing an unresolved one
    (duplicate, no fault found) needs a reason."""
    row = _ticket_row(session, actor, ticket_id, lock=True)
    ticket = _domain(row)
    at = now()
    if rating is not None:
        ticket.rate(rating, at, _by(actor), comment)
    ticket.close(at, _by(actor), reason)
    _save(session, row, ticket, actor.user_id)
    if rating is not None:
        audit.record(
            session,
            actor.user_id,
            "service_ticket",
            row.id,
            "rate",
            None,
            {"rating": rating, "comment": comment.strip() or None},
        )
    return row


def reopen(session: Session, actor: Principal, ticket_id: int, reason: str) -> ServiceTicket:
    row = _ticket_row(session, actor, ticket_id, lock=True)
    ticket = _domain(row)
    ticket.reopen(now(), _by(actor), reason)
    _save(session, row, ticket, actor.user_id)
    return row


# -- photos --------------------------------------------------------------------------------
def add_photo(
    session: Session,
    data_dir: Path,
    actor: Principal,
    ticket_id: int,
    data: bytes,
    declared_type: str | None,
) -> tuple[TicketPhoto, bool]:
    """Check and store one photo; the same picture twice is the same photo. Returns the row
    and whether it is new. Content-addressed under ``<data>/service_photos/<ticket>/``."""
    row = _ticket_row(session, actor, ticket_id, lock=True)
    content_type = check_upload(data[: documents.SNIFF_BYTES], len(data), declared_type, PHOTOS)
    sha = hashlib.sha256(data).hexdigest()
    for existing in row.photos:
        if existing.sha256 == sha:
            return existing, False
    if len(row.photos) >= MAX_PHOTOS:
        raise DomainError("too_many_photos", f"a ticket keeps at most {MAX_PHOTOS} photos")
    relative = Path(PHOTO_DIR) / str(row.id) / sha
    _domain(row).add_photo(str(relative))  # refuses a closed ticket
    documents.write_once(data_dir / relative, data)
    photo = TicketPhoto(
        file_path=str(relative),
        sha256=sha,
        size_bytes=len(data),
        content_type=content_type,
        uploaded_by=actor.user_id,
        uploaded_at=now(),
    )
    row.photos.append(photo)
    session.flush()
    audit.record(
        session,
        actor.user_id,
        "service_ticket",
        row.id,
        "photo",
        None,
        {"photo_id": photo.id, "sha256": sha, "size_bytes": len(data), "type": content_type},
    )
    return photo, True


def photo_file(data_dir: Path, photo: TicketPhoto) -> Path:
    return data_dir / photo.file_path


# -- SLA -----------------------------------------------------------------------------------
def clocks_of(row: ServiceTicket) -> SlaClocks:
    return SlaClocks(
        TicketPriority(row.priority), row.opened_at, row.response_stop_at, row.resolution_stop_at
    )


def timers(row: ServiceTicket, at: dt.datetime, policy: SlaPolicy = POLICY) -> tuple[SlaTimer, ...]:
    # A clock skew between the app and the database must not make "now" precede the opening.
    return clock_timers(clocks_of(row), policy, max(at, row.opened_at))


def _limit_seconds(attr: str, policy: SlaPolicy) -> ColumnElement[float]:
    return case(
        {p.value: float(getattr(t, attr)) * 3600 for p, t in policy.targets.items()},
        value=ServiceTicket.priority,
    )


def _over(stop: Any, at: dt.datetime, limit: ColumnElement[float]) -> ColumnElement[bool]:
    # Epoch seconds: absolute, no calendar arithmetic on intervals (the domain's timedelta).
    end = func.coalesce(stop, literal(at, DateTime(timezone=True)))
    elapsed = extract("epoch", end) - extract("epoch", ServiceTicket.opened_at)
    return elapsed.cast(Float) > limit


def breached(
    at: dt.datetime, *, running_only: bool = False, policy: SlaPolicy = POLICY
) -> ColumnElement[bool]:
    """SQL for the domain's rule: a clock is breached once its elapsed time exceeds the limit.
    ``running_only``: only clocks still running (the alert feed's default)."""
    clocks = []
    for stop, attr in (
        (ServiceTicket.response_stop_at, "response_hours"),
        (ServiceTicket.resolution_stop_at, "resolution_hours"),
    ):
        over = _over(stop, at, _limit_seconds(attr, policy))
        clocks.append(and_(stop.is_(None), over) if running_only else over)
    return or_(*clocks)


def breaches(
    session: Session,
    actor: Principal,
    at: dt.datetime,
    *,
    include_stopped: bool = False,
    dealer_id: int | None = None,
) -> list[tuple[SlaBreach, ServiceTicket]]:
    """The breach feed of the caller's tickets, longest overdue first."""
    query = visible_tickets(actor).where(breached(at, running_only=not include_stopped))
    if dealer_id is not None:
        query = query.where(ServiceTicket.dealer_id == dealer_id)
    out: list[tuple[SlaBreach, ServiceTicket]] = []
    for row in session.scalars(query):
        found = timer_breaches(
            str(row.id), str(row.dealer_id), timers(row, at), include_stopped=include_stopped
        )
        out += [(b, row) for b in found]
    return sorted(out, key=lambda pair: breach_order(pair[0]))
