"""After-sales service: tickets opened by dealers for their customers, dispatch to technicians,
work orders with parts (posted to the stock ledger), resolution, the customer's rating, photos
and SLA timers. Thin: each route validates, calls ``dms.service_tickets`` and commits.

A technician sees the tickets dispatched to them; everyone else by the dealer's place in the
tree. A ticket out of sight is 404; a step the state machine refuses is 409 with the reason;
bad input is 422; every 4xx body is {code, message}. SLA timers are computed per request.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path as FsPath
from typing import Annotated, Literal, TypeVar

from fastapi import (
    APIRouter,
    Depends,
    File,
    HTTPException,
    Path,
    Query,
    Request,
    Response,
    UploadFile,
    status,
)
from fastapi.responses import FileResponse
from pydantic import AfterValidator, BaseModel, Field
from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from wayhouse.platform.api.auth_deps import DbSession, require_role
from wayhouse.platform.api.deps import Page, pagination
from wayhouse.platform.api.schemas import PageOut
from wayhouse.platform.auth.principal import Principal
from wayhouse.platform.dms import service_tickets as svc
from wayhouse.platform.dms.domain.service import SlaClock, SlaTimer, TicketPriority
from wayhouse.platform.dms.domain.types import DomainError, Role, TicketStatus
from wayhouse.platform.dms.models import AppUser
from wayhouse.platform.dms.models_service import ServiceTicket, TicketPhoto, WorkOrderPart

router = APIRouter(tags=["after-sales service"])
T = TypeVar("T")

INT_MAX = 2**31 - 1  # ids are PostgreSQL integers: a larger one is a 422, not a 500
TicketId = Annotated[int, Path(ge=1, le=INT_MAX)]
RefId = Annotated[int, Field(ge=1, le=INT_MAX)]

ServiceUser = Annotated[Principal, Depends(require_role(*svc.SERVICE_ROLES))]
Openers = Annotated[
    Principal, Depends(require_role(Role.HQ_ADMIN, Role.REGION_MANAGER, Role.DEALER_USER))
]
Managers = Annotated[Principal, Depends(require_role(Role.HQ_ADMIN, Role.REGION_MANAGER))]
Technician = Annotated[Principal, Depends(require_role(Role.TECHNICIAN))]


def _no_nul(value: str) -> str:
    # PostgreSQL text cannot hold NUL: refuse it here rather than fail in the database.
    if "\x00" in value:
        raise ValueError("text may not contain NUL characters")
    return value


Text = Annotated[str, AfterValidator(_no_nul)]


def _run(fn: Callable[[], T]) -> T:
    """Domain refusals become HTTP answers: out of sight 404, bad input 422, else 409."""
    try:
        return fn()
    except DomainError as exc:
        body = {"code": exc.code, "message": exc.message}
        if isinstance(exc, svc.NotFound):
            raise HTTPException(status.HTTP_404_NOT_FOUND, body) from exc
        if exc.code in svc.INPUT_ERRORS:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, body) from exc
        # IllegalTransition, not enough stock, a closed ticket: the request conflicts with state.
        raise HTTPException(status.HTTP_409_CONFLICT, body) from exc


# -- schemas -------------------------------------------------------------------------------
class TicketIn(BaseModel):
    dealer_id: RefId | None = Field(default=None, description="defaults to the caller's own")
    customer_id: RefId | None = Field(default=None, description="the CRM customer, if known")
    product_id: RefId
    lot_code: Text = Field(default="", max_length=40)
    serial: Text = Field(default="", max_length=80)
    problem: Text = Field(min_length=1, max_length=4000)
    priority: TicketPriority = TicketPriority.NORMAL


class AssignIn(BaseModel):
    technician_id: RefId
    reason: Text = Field(default="", max_length=1000, description="required to reassign")


class PartIn(BaseModel):
    product_id: RefId
    bin_id: RefId
    lot_id: RefId | None = None
    qty: int = Field(ge=1, le=10_000)
    returned: bool = Field(default=False, description="an unused part goes back to the bin")


class ResolveIn(BaseModel):
    resolution: Text = Field(min_length=1, max_length=4000)
    labour_minutes: int = Field(default=0, ge=0, le=100_000)


class CloseIn(BaseModel):
    rating: int | None = Field(default=None, ge=1, le=5, description="the customer's, 1-5")
    comment: Text = Field(default="", max_length=2000)
    reason: Text = Field(default="", max_length=1000, description="required if not resolved")


class ReasonIn(BaseModel):
    reason: Text = Field(min_length=1, max_length=1000)


class SlaTimerOut(BaseModel):
    clock: SlaClock
    started_at: dt.datetime
    deadline: dt.datetime
    stopped_at: dt.datetime | None
    elapsed_s: float
    limit_s: float
    running: bool
    breached: bool
    at_risk: bool


SlaState = Literal["breached", "at_risk", "running", "met"]


class TicketSummaryOut(BaseModel):
    id: int
    dealer_id: int
    customer_id: int | None
    product_id: int
    sku: str
    lot_code: str
    serial: str
    problem: str
    priority: TicketPriority
    status: TicketStatus
    technician_id: int | None
    opened_by: int
    opened_at: dt.datetime
    updated_at: dt.datetime
    sla_state: SlaState
    sla: list[SlaTimerOut]


class EventOut(BaseModel):
    seq: int
    from_status: TicketStatus | None
    to_status: TicketStatus
    at: dt.datetime
    by_user_id: int
    by: str
    note: str


class PartOut(BaseModel):
    id: int
    product_id: int
    sku: str
    lot_id: int | None
    bin_id: int
    qty: int
    stock_movement_id: int
    at: dt.datetime
    by_user_id: int


class PhotoOut(BaseModel):
    id: int
    ticket_id: int
    sha256: str
    size_bytes: int
    content_type: str
    uploaded_by: int
    uploaded_at: dt.datetime


class RatingOut(BaseModel):
    score: int
    comment: str | None
    at: dt.datetime
    by_user_id: int | None


class TicketOut(TicketSummaryOut):
    technician: str | None
    work_started_at: dt.datetime | None
    labour_minutes: int
    resolution: str
    rating: RatingOut | None
    timeline: list[EventOut]
    parts: list[PartOut]
    photos: list[PhotoOut]


class BreachOut(BaseModel):
    ticket_id: int
    dealer_id: int
    clock: SlaClock
    deadline: dt.datetime
    overdue_s: float
    running: bool
    priority: TicketPriority
    status: TicketStatus
    technician_id: int | None


class TechnicianOut(BaseModel):
    id: int
    username: str
    display_name: str
    org_unit_id: int


def _timer_out(t: SlaTimer) -> SlaTimerOut:
    return SlaTimerOut(
        clock=t.clock,
        started_at=t.started_at,
        deadline=t.deadline,
        stopped_at=t.stopped_at,
        elapsed_s=t.elapsed.total_seconds(),
        limit_s=t.limit.total_seconds(),
        running=t.running,
        breached=t.breached,
        at_risk=t.at_risk,
    )


def _sla_state(timers: tuple[SlaTimer, ...]) -> SlaState:
    """The list's badge: the worst of the two clocks."""
    if any(t.breached for t in timers):
        return "breached"
    if any(t.at_risk for t in timers):
        return "at_risk"
    return "running" if any(t.running for t in timers) else "met"


def _summary(row: ServiceTicket, at: dt.datetime) -> TicketSummaryOut:
    timers = svc.timers(row, at)
    return TicketSummaryOut(
        id=row.id,
        dealer_id=row.dealer_id,
        customer_id=row.customer_id,
        product_id=row.product_id,
        sku=row.product.sku,
        lot_code=row.lot_code,
        serial=row.serial,
        problem=row.problem,
        priority=TicketPriority(row.priority),
        status=TicketStatus(row.status),
        technician_id=row.technician_id,
        opened_by=row.opened_by,
        opened_at=row.opened_at,
        updated_at=row.updated_at,
        sla_state=_sla_state(timers),
        sla=[_timer_out(t) for t in timers],
    )


def _photo_out(p: TicketPhoto) -> PhotoOut:
    return PhotoOut(
        id=p.id,
        ticket_id=p.ticket_id,
        sha256=p.sha256,
        size_bytes=p.size_bytes,
        content_type=p.content_type,
        uploaded_by=p.uploaded_by,
        uploaded_at=p.uploaded_at,
    )


def _part_out(p: WorkOrderPart) -> PartOut:
    return PartOut(
        id=p.id,
        product_id=p.product_id,
        sku=p.sku,
        lot_id=p.lot_id,
        bin_id=p.bin_id,
        qty=p.qty,
        stock_movement_id=p.stock_movement_id,
        at=p.at,
        by_user_id=p.by_user_id,
    )


def _out(session: Session, row: ServiceTicket) -> TicketOut:
    people = {row.technician_id, *(e.by_user_id for e in row.events)} - {None}
    names = dict(
        session.execute(select(AppUser.id, AppUser.username).where(AppUser.id.in_(people))).all()
    )
    rating = None
    if row.rating_score is not None and row.rated_at is not None:
        rating = RatingOut(
            score=row.rating_score,
            comment=row.rating_comment,
            at=row.rated_at,
            by_user_id=row.rated_by,
        )
    return TicketOut(
        **_summary(row, svc.now()).model_dump(),
        technician=names.get(row.technician_id) if row.technician_id else None,
        work_started_at=row.work_started_at,
        labour_minutes=row.labour_minutes,
        resolution=row.resolution,
        rating=rating,
        timeline=[
            EventOut(
                seq=e.seq,
                from_status=TicketStatus(e.from_status) if e.from_status else None,
                to_status=TicketStatus(e.to_status),
                at=e.at,
                by_user_id=e.by_user_id,
                by=names.get(e.by_user_id, str(e.by_user_id)),
                note=e.note,
            )
            for e in row.events
        ],
        parts=[_part_out(p) for p in row.parts],
        photos=[_photo_out(p) for p in row.photos],
    )


def _commit(session: Session, fn: Callable[[], ServiceTicket]) -> TicketOut:
    row = _run(fn)
    session.commit()
    return _out(session, row)


def _data_dir(request: Request) -> FsPath:
    return FsPath(request.app.state.settings.data_dir)


# -- tickets -------------------------------------------------------------------------------
PRIORITY_RANK = case(
    {p.value: i for i, p in enumerate(TicketPriority)}, value=ServiceTicket.priority
)
SORTS = {
    "opened_at": ServiceTicket.opened_at,
    "updated_at": ServiceTicket.updated_at,
    "priority": PRIORITY_RANK,  # low < normal < high < urgent
    "status": ServiceTicket.status,
    "id": ServiceTicket.id,
}


@router.get("/service/tickets", response_model=PageOut[TicketSummaryOut])
def list_tickets(
    session: DbSession,
    user: ServiceUser,
    page: Annotated[Page, Depends(pagination)],
    status_: Annotated[list[TicketStatus] | None, Query(alias="status")] = None,
    priority: Annotated[list[TicketPriority] | None, Query()] = None,
    dealer_id: Annotated[int | None, Query(ge=1, le=INT_MAX)] = None,
    technician: Annotated[
        int | None, Query(ge=1, le=INT_MAX, description="technician's user id")
    ] = None,
    breached: Annotated[
        bool | None, Query(description="true: an SLA clock has exceeded its limit")
    ] = None,
    sort: Annotated[
        str, Query(pattern=r"^-?(opened_at|updated_at|priority|status|id)$")
    ] = "-opened_at",
) -> PageOut[TicketSummaryOut]:
    at = svc.now()
    query = svc.visible_tickets(user)
    if status_:
        query = query.where(ServiceTicket.status.in_([s.value for s in status_]))
    if priority:
        query = query.where(ServiceTicket.priority.in_([p.value for p in priority]))
    if dealer_id is not None:
        query = query.where(ServiceTicket.dealer_id == dealer_id)
    if technician is not None:
        query = query.where(ServiceTicket.technician_id == technician)
    if breached is not None:
        condition = svc.breached(at)
        query = query.where(condition if breached else ~condition)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    column = SORTS[sort.removeprefix("-")]
    desc = sort.startswith("-")
    rows = session.scalars(
        query.order_by(
            column.desc() if desc else column.asc(),
            ServiceTicket.id.desc() if desc else ServiceTicket.id.asc(),  # stable pages
        )
        .limit(page.size)
        .offset(page.offset)
    ).all()
    return PageOut(
        items=[_summary(r, at) for r in rows], total=total, page=page.page, size=page.size
    )


@router.post("/service/tickets", response_model=TicketOut, status_code=status.HTTP_201_CREATED)
def open_ticket(body: TicketIn, session: DbSession, user: Openers) -> TicketOut:
    data = svc.TicketIn(
        product_id=body.product_id,
        problem=body.problem,
        dealer_id=body.dealer_id,
        customer_id=body.customer_id,
        priority=body.priority,
        lot_code=body.lot_code,
        serial=body.serial,
    )
    return _commit(session, lambda: svc.open_ticket(session, user, data))


@router.get("/service/tickets/{ticket_id}", response_model=TicketOut)
def get_ticket(ticket_id: TicketId, session: DbSession, user: ServiceUser) -> TicketOut:
    return _out(session, _run(lambda: svc.get_ticket(session, user, ticket_id)))


@router.post("/service/tickets/{ticket_id}/assign", response_model=TicketOut)
def assign(ticket_id: TicketId, body: AssignIn, session: DbSession, user: Managers) -> TicketOut:
    return _commit(
        session, lambda: svc.assign(session, user, ticket_id, body.technician_id, body.reason)
    )


@router.post("/service/tickets/{ticket_id}/start", response_model=TicketOut)
def start(ticket_id: TicketId, session: DbSession, user: Technician) -> TicketOut:
    return _commit(session, lambda: svc.start(session, user, ticket_id))


@router.post(
    "/service/tickets/{ticket_id}/parts",
    response_model=PartOut,
    status_code=status.HTTP_201_CREATED,
)
def record_part(ticket_id: TicketId, body: PartIn, session: DbSession, user: Technician) -> PartOut:
    part = svc.PartIn(body.product_id, body.bin_id, body.qty, body.lot_id, body.returned)
    row = _run(lambda: svc.record_part(session, user, ticket_id, part))
    session.commit()
    return _part_out(row)


@router.post("/service/tickets/{ticket_id}/resolve", response_model=TicketOut)
def resolve(
    ticket_id: TicketId, body: ResolveIn, session: DbSession, user: Technician
) -> TicketOut:
    return _commit(
        session,
        lambda: svc.resolve(session, user, ticket_id, body.resolution, body.labour_minutes),
    )


@router.post("/service/tickets/{ticket_id}/close", response_model=TicketOut)
def close(ticket_id: TicketId, body: CloseIn, session: DbSession, user: Openers) -> TicketOut:
    return _commit(
        session,
        lambda: svc.close(
            session,
            user,
            ticket_id,
            rating=body.rating,
            comment=body.comment,
            reason=body.reason,
        ),
    )


@router.post("/service/tickets/{ticket_id}/reopen", response_model=TicketOut)
def reopen(ticket_id: TicketId, body: ReasonIn, session: DbSession, user: Openers) -> TicketOut:
    return _commit(session, lambda: svc.reopen(session, user, ticket_id, body.reason))


# -- photos --------------------------------------------------------------------------------
@router.post(
    "/service/tickets/{ticket_id}/photos",
    response_model=PhotoOut,
    status_code=status.HTTP_201_CREATED,
    responses={200: {"description": "the same photo was already on the ticket"}},
)
def upload_photo(
    ticket_id: TicketId,
    request: Request,
    response: Response,
    session: DbSession,
    user: ServiceUser,
    file: Annotated[UploadFile, File(description="JPEG or PNG, at most 5 MiB")],
) -> PhotoOut:
    # Read one byte past the limit: enough to refuse an oversize file without holding it all.
    data = file.file.read(svc.PHOTOS.max_bytes + 1)
    photo, new = _run(
        lambda: svc.add_photo(session, _data_dir(request), user, ticket_id, data, file.content_type)
    )
    session.commit()
    if not new:
        response.status_code = status.HTTP_200_OK
    return _photo_out(photo)


@router.get("/service/tickets/{ticket_id}/photos", response_model=list[PhotoOut])
def list_photos(ticket_id: TicketId, session: DbSession, user: ServiceUser) -> list[PhotoOut]:
    row = _run(lambda: svc.get_ticket(session, user, ticket_id))
    return [_photo_out(p) for p in row.photos]


@router.get("/service/tickets/{ticket_id}/photos/{photo_id}/file", response_class=FileResponse)
def photo_file(
    ticket_id: TicketId,
    photo_id: Annotated[int, Path(ge=1, le=INT_MAX)],
    request: Request,
    session: DbSession,
    user: ServiceUser,
) -> FileResponse:
    row = _run(lambda: svc.get_ticket(session, user, ticket_id))
    photo = next((p for p in row.photos if p.id == photo_id), None)
    if photo is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, {"code": "not_found", "message": f"no photo {photo_id}"}
        )
    path = svc.photo_file(_data_dir(request), photo)
    if not path.is_file():
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            {"code": "file_missing", "message": f"the file of photo {photo_id} is gone"},
        )
    return FileResponse(
        path,
        media_type=photo.content_type,
        filename=f"ticket-{ticket_id}-photo-{photo.id}",
        headers={"X-Content-Type-Options": "nosniff"},
    )


# -- SLA and people ------------------------------------------------------------------------
@router.get("/service/sla-breaches", response_model=PageOut[BreachOut])
def sla_breaches(
    session: DbSession,
    user: ServiceUser,
    page: Annotated[Page, Depends(pagination)],
    include_stopped: Annotated[
        bool, Query(description="also clocks that already stopped, late")
    ] = False,
    dealer_id: Annotated[int | None, Query(ge=1, le=INT_MAX)] = None,
) -> PageOut[BreachOut]:
    found = svc.breaches(
        session, user, svc.now(), include_stopped=include_stopped, dealer_id=dealer_id
    )
    items = [
        BreachOut(
            ticket_id=row.id,
            dealer_id=row.dealer_id,
            clock=b.clock,
            deadline=b.deadline,
            overdue_s=b.overdue_by.total_seconds(),
            running=b.running,
            priority=TicketPriority(row.priority),
            status=TicketStatus(row.status),
            technician_id=row.technician_id,
        )
        for b, row in found[page.offset : page.offset + page.size]
    ]
    return PageOut(items=items, total=len(found), page=page.page, size=page.size)


@router.get("/service/technicians", response_model=PageOut[TechnicianOut])
def list_technicians(
    session: DbSession, user: Managers, page: Annotated[Page, Depends(pagination)]
) -> PageOut[TechnicianOut]:
    """Technicians a manager can dispatch to dealers of their scope."""
    people = svc.technicians(session, user)
    items = [
        TechnicianOut(
            id=u.id, username=u.username, display_name=u.display_name, org_unit_id=u.org_unit_id
        )
        for u in people[page.offset : page.offset + page.size]
    ]
    return PageOut(items=items, total=len(people), page=page.page, size=page.size)
