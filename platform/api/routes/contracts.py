"""Dealer contracts: list, detail with every version, drafting and revising (HQ and regional
managers), submit/approve/reject, execution against delivered orders and trailing alerts.

Thin: each route validates, calls ``dms.contracts_service`` and commits. A contract outside
the caller's subtree is 404; terms the domain refuses are 422 with its reason; a step the
approval flow refuses is 409; every 4xx body is {code, message}."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Annotated, TypeVar

from fastapi import APIRouter, Depends, HTTPException, Path, Query, status
from pydantic import AfterValidator, BaseModel, Field, StringConstraints
from sqlalchemy import func, select

from wayhouse.platform.api.auth_deps import DbSession, require_role
from wayhouse.platform.api.deps import Page, like_contains, pagination
from wayhouse.platform.api.schemas import PageOut
from wayhouse.platform.auth.principal import Principal
from wayhouse.platform.dms import contracts_service as svc
from wayhouse.platform.dms.domain.contracts import (
    ContractTerms,
    TrailingAlertPolicy,
    payment_schedule,
)
from wayhouse.platform.dms.domain.types import ContractStatus, DomainError, Role
from wayhouse.platform.dms.models_contracts import ContractRow, ContractVersionRow
from wayhouse.platform.dms.orders_service import NotFound

router = APIRouter(tags=["contracts"])
T = TypeVar("T")

Readers = Annotated[
    Principal, Depends(require_role(Role.HQ_ADMIN, Role.REGION_MANAGER, Role.DEALER_USER))
]
Managers = Annotated[Principal, Depends(require_role(Role.HQ_ADMIN, Role.REGION_MANAGER))]
INT_MAX = 2**31 - 1  # ids are PostgreSQL integers: a larger one is a 422, not a 500
ContractId = Annotated[int, Path(ge=1, le=INT_MAX)]
VersionNo = Annotated[int, Path(ge=1, le=INT_MAX)]
# The domain's invalid-input codes; every other refusal conflicts with the contract's state.
INVALID = frozenset({"invalid_contract", "invalid_policy"})
FIRST_DAY, LAST_DAY = dt.date(2000, 1, 1), dt.date(2100, 12, 31)


def _no_nul(value: str) -> str:
    # PostgreSQL text cannot hold NUL: refuse it here rather than fail in the database.
    if "\x00" in value:
        raise ValueError("text may not contain NUL characters")
    return value


def _sane_day(value: dt.date) -> dt.date:
    # Contract dates far outside this range are typing errors, and 9999-12-31 has no next day.
    if not FIRST_DAY <= value <= LAST_DAY:
        raise ValueError(f"must lie between {FIRST_DAY} and {LAST_DAY}")
    return value


Text = Annotated[str, AfterValidator(_no_nul)]
Line = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=40),
    AfterValidator(_no_nul),
]
Day = Annotated[dt.date, AfterValidator(_sane_day)]


def _run(fn: Callable[[], T]) -> T:
    """Domain refusals become HTTP answers: 404 unseen, 403 not this role, 422 invalid terms,
    409 anything the contract's state refuses."""
    try:
        return fn()
    except DomainError as exc:
        body = {"code": exc.code, "message": exc.message}
        if isinstance(exc, NotFound):
            raise HTTPException(status.HTTP_404_NOT_FOUND, body) from exc
        if exc.code == "not_authorised":
            raise HTTPException(status.HTTP_403_FORBIDDEN, body) from exc
        if exc.code in INVALID:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, body) from exc
        raise HTTPException(status.HTTP_409_CONFLICT, body) from exc


# -- schemas -------------------------------------------------------------------------------
class TargetIn(BaseModel):
    quarter: str = Field(pattern=r"^(19|20)\d{2}[Qq][1-4]$", examples=["2025Q3"])
    product_line: Line = Field(description="a product class of the catalogue")
    amount: Decimal = Field(gt=0, le=Decimal("1e11"), decimal_places=2)


class RebateTierIn(BaseModel):
    min_achievement: Decimal = Field(
        ge=0,
        le=100,
        decimal_places=4,
        description="actual / target from which it applies (1 = 100 %)",
    )
    rate: Decimal = Field(ge=0, le=1, decimal_places=4, description="share of actual sales")


class PaymentStageIn(BaseModel):
    name: Text = Field(min_length=1, max_length=100)
    due_on: Day
    percent: Decimal = Field(gt=0, le=100, decimal_places=4)


class TermsIn(BaseModel):
    period_start: Day
    period_end: Day
    targets: list[TargetIn] = Field(min_length=1, max_length=400)
    rebate_tiers: list[RebateTierIn] = Field(default_factory=list, max_length=20)
    payment_stages: list[PaymentStageIn] = Field(default_factory=list, max_length=24)

    def terms(self) -> ContractTerms:
        return svc.parse_terms(self.model_dump())


class ContractIn(TermsIn):
    dealer_id: int = Field(ge=1, le=INT_MAX)
    number: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9/_.-]{1,39}$",
        description="defaults to CT-<id>",
    )


class RevisionIn(TermsIn):
    reason: Text = Field(min_length=1, max_length=1000)


class ReasonIn(BaseModel):
    reason: Text = Field(min_length=1, max_length=1000)


class NoteIn(BaseModel):
    reason: Text = Field(default="", max_length=1000)


class TargetOut(BaseModel):
    quarter: str
    product_line: str
    amount: Decimal


class RebateTierOut(BaseModel):
    min_achievement: Decimal
    rate: Decimal


class PaymentStageOut(BaseModel):
    name: str
    due_on: dt.date
    percent: Decimal
    amount: Decimal  # of the committed value


class EventOut(BaseModel):
    seq: int
    from_status: ContractStatus | None
    to_status: ContractStatus
    at: dt.datetime
    by: str
    reason: str


class VersionOut(BaseModel):
    number: int
    status: ContractStatus
    period_start: dt.date
    period_end: dt.date
    committed_value: Decimal
    targets: list[TargetOut]
    rebate_tiers: list[RebateTierOut]
    payment_stages: list[PaymentStageOut]
    author_id: int | None
    author_role: Role
    created_at: dt.datetime
    timeline: list[EventOut]


class ContractSummaryOut(BaseModel):
    id: int
    number: str
    dealer_id: int
    dealer_name: str
    status: ContractStatus = Field(description="state of the latest version")
    latest_version: int
    active_version: int | None = Field(description="the version in force, if any")
    period_start: dt.date | None = Field(description="of the version in force")
    period_end: dt.date | None
    created_at: dt.datetime
    updated_at: dt.datetime


class ContractOut(ContractSummaryOut):
    versions: list[VersionOut]


class ProgressOut(BaseModel):
    quarter: str
    product_line: str
    target: Decimal
    actual: Decimal
    achievement_pct: Decimal
    expected_to_date: Decimal
    trailing: bool
    rebate_rate: Decimal
    accrued_rebate: Decimal


class ShortfallOut(BaseModel):
    quarter: str
    product_line: str
    expected: Decimal
    actual: Decimal
    shortfall: Decimal


class ExecutionOut(BaseModel):
    contract_id: int
    number: str
    dealer_id: int
    version: int
    as_of: dt.date
    margin: Decimal
    lines: list[ProgressOut]
    total_target: Decimal
    total_actual: Decimal
    accrued_rebate: Decimal
    alerts: list[ShortfallOut]


class AlertOut(ShortfallOut):
    contract_id: int
    number: str
    dealer_id: int
    dealer_name: str
    version: int
    margin: Decimal


def _pct(ratio: Decimal) -> Decimal:
    return (ratio * 100).quantize(Decimal("0.01"))


def _summary(c: ContractRow) -> ContractSummaryOut:
    active = c.active
    return ContractSummaryOut(
        id=c.id,
        number=c.number,
        dealer_id=c.dealer_id,
        dealer_name=c.dealer.legal_name,
        status=ContractStatus(c.status),
        latest_version=c.latest_version,
        active_version=active.number if active else None,
        period_start=active.period_start if active else None,
        period_end=active.period_end if active else None,
        created_at=c.created_at,
        updated_at=c.updated_at,
    )


def _version(v: ContractVersionRow) -> VersionOut:
    terms = svc.version_terms(v)
    schedule = payment_schedule(terms)
    return VersionOut(
        number=v.number,
        status=ContractStatus(v.status),
        period_start=v.period_start,
        period_end=v.period_end,
        committed_value=terms.committed_value,
        targets=[
            TargetOut(quarter=str(t.quarter), product_line=t.product_line, amount=t.amount)
            for t in terms.targets
        ],
        rebate_tiers=[
            RebateTierOut(min_achievement=r.min_achievement, rate=r.rate)
            for r in terms.rebates.tiers
        ],
        payment_stages=[
            PaymentStageOut(name=s.name, due_on=s.due_on, percent=s.percent, amount=p.amount)
            for s, p in zip(terms.payment_stages, schedule, strict=True)
        ],
        author_id=v.author_id,
        author_role=Role(v.author_role),
        created_at=v.created_at,
        timeline=[
            EventOut(
                seq=e.seq,
                from_status=ContractStatus(e.from_status) if e.from_status else None,
                to_status=ContractStatus(e.to_status),
                at=e.at,
                by=e.by,
                reason=e.reason,
            )
            for e in v.events
        ],
    )


def _out(c: ContractRow) -> ContractOut:
    return ContractOut(**_summary(c).model_dump(), versions=[_version(v) for v in c.versions])


def _commit(session: DbSession, fn: Callable[[], ContractRow]) -> ContractOut:
    row = _run(fn)
    session.commit()
    return _out(row)


def _policy(margin: Decimal | None) -> TrailingAlertPolicy:
    if margin is None:
        return svc.POLICY
    return _run(lambda: TrailingAlertPolicy(margin, svc.POLICY.pro_rata, svc.POLICY.grace_days))


Margin = Annotated[
    Decimal | None,
    Query(
        ge=0,
        lt=1,
        decimal_places=4,
        description=f"alert when more than this share behind (default {svc.POLICY.margin})",
    ),
]
OnDay = Annotated[dt.date | None, Query(description="evaluate as of this day (default today)")]


# -- list and alerts (before /contracts/{id}, which would swallow 'alerts') -----------------
SORTS = {
    "id": ContractRow.id,
    "number": ContractRow.number,
    "created_at": ContractRow.created_at,
    "updated_at": ContractRow.updated_at,
    "status": ContractRow.status,
    "dealer_id": ContractRow.dealer_id,
}


@router.get("/contracts", response_model=PageOut[ContractSummaryOut])
def list_contracts(
    session: DbSession,
    user: Readers,
    page: Annotated[Page, Depends(pagination)],
    dealer_id: Annotated[int | None, Query(ge=1, le=INT_MAX)] = None,
    status_: Annotated[
        list[ContractStatus] | None, Query(alias="status", description="of the latest version")
    ] = None,
    active_on: Annotated[
        dt.date | None, Query(description="only contracts with a version in force on this day")
    ] = None,
    q: Annotated[str | None, Query(max_length=40, description="number contains")] = None,
    sort: Annotated[
        str, Query(pattern=r"^-?(id|number|created_at|updated_at|status|dealer_id)$")
    ] = "-updated_at",
) -> PageOut[ContractSummaryOut]:
    query = svc.visible_contracts(user)
    if dealer_id is not None:
        query = query.where(ContractRow.dealer_id == dealer_id)
    if status_:
        query = query.where(ContractRow.status.in_([s.value for s in status_]))
    if active_on is not None:
        query = query.join(
            ContractVersionRow, ContractVersionRow.id == ContractRow.active_version_id
        ).where(
            ContractVersionRow.period_start <= active_on,
            ContractVersionRow.period_end >= active_on,
        )
    if q:
        query = query.where(ContractRow.number.ilike(like_contains(q.replace("\x00", ""))))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    column = SORTS[sort.removeprefix("-")]
    desc = sort.startswith("-")
    rows = session.scalars(
        query.order_by(
            column.desc() if desc else column.asc(),
            ContractRow.id.desc() if desc else ContractRow.id.asc(),  # stable pages
        )
        .limit(page.size)
        .offset(page.offset)
    ).all()
    return PageOut(items=[_summary(c) for c in rows], total=total, page=page.page, size=page.size)


ALERT_SORTS: dict[str, Callable[[AlertOut], tuple[object, ...]]] = {
    "shortfall": lambda a: (a.shortfall,),
    "dealer_id": lambda a: (a.dealer_id,),
    "contract_id": lambda a: (a.contract_id,),
    "quarter": lambda a: (a.quarter,),
}


@router.get("/contracts/alerts", response_model=PageOut[AlertOut])
def contract_alerts(
    session: DbSession,
    user: Readers,
    page: Annotated[Page, Depends(pagination)],
    on: OnDay = None,
    margin: Margin = None,
    dealer_id: Annotated[int | None, Query(ge=1, le=INT_MAX)] = None,
    sort: Annotated[
        str, Query(pattern=r"^-?(shortfall|dealer_id|contract_id|quarter)$")
    ] = "-shortfall",
) -> PageOut[AlertOut]:
    """Targets that dealers in the caller's subtree trail by more than ``margin`` on ``on``,
    over the contracts in force that day."""
    policy = _policy(margin)
    found = svc.trailing_alerts(session, user, on or svc.today(), policy, dealer_id)
    items = [
        AlertOut(
            contract_id=a.contract.id,
            number=a.contract.number,
            dealer_id=a.contract.dealer_id,
            dealer_name=a.contract.dealer.legal_name,
            version=a.version.number,
            quarter=str(a.alert.quarter),
            product_line=a.alert.product_line,
            expected=a.alert.expected,
            actual=a.alert.actual,
            shortfall=a.alert.shortfall,
            margin=a.alert.margin,
        )
        for a in found
    ]
    # Sorted in Python: alerts are computed, not stored. A fixed tie-break keeps pages stable.
    items.sort(key=lambda a: (a.contract_id, a.quarter, a.product_line))
    key = ALERT_SORTS[sort.removeprefix("-")]
    items.sort(key=key, reverse=sort.startswith("-"))
    window = items[page.offset : page.offset + page.size]
    return PageOut(items=window, total=len(items), page=page.page, size=page.size)


# -- one contract --------------------------------------------------------------------------
@router.post("/contracts", response_model=ContractOut, status_code=status.HTTP_201_CREATED)
def create_contract(body: ContractIn, session: DbSession, user: Managers) -> ContractOut:
    return _commit(
        session,
        lambda: svc.create_contract(session, user, body.dealer_id, body.terms(), body.number),
    )


@router.get("/contracts/{contract_id}", response_model=ContractOut)
def get_contract(contract_id: ContractId, session: DbSession, user: Readers) -> ContractOut:
    return _out(_run(lambda: svc.get_contract(session, user, contract_id)))


@router.post(
    "/contracts/{contract_id}/versions",
    response_model=ContractOut,
    status_code=status.HTTP_201_CREATED,
)
def revise_contract(
    contract_id: ContractId, body: RevisionIn, session: DbSession, user: Managers
) -> ContractOut:
    """A new version from an active or rejected one (the active one stays in force until the
    new one is approved)."""
    return _commit(
        session, lambda: svc.revise(session, user, contract_id, body.terms(), body.reason)
    )


@router.put("/contracts/{contract_id}/versions/{number}", response_model=ContractOut)
def edit_draft(
    contract_id: ContractId, number: VersionNo, body: TermsIn, session: DbSession, user: Managers
) -> ContractOut:
    """Replace the terms of the latest version while it is a draft."""
    return _commit(
        session, lambda: svc.edit_draft(session, user, contract_id, number, body.terms())
    )


@router.post("/contracts/{contract_id}/versions/{number}/submit", response_model=ContractOut)
def submit_version(
    contract_id: ContractId, number: VersionNo, session: DbSession, user: Managers
) -> ContractOut:
    return _commit(session, lambda: svc.submit(session, user, contract_id, number))


@router.post("/contracts/{contract_id}/versions/{number}/approve", response_model=ContractOut)
def approve_version(
    contract_id: ContractId,
    number: VersionNo,
    session: DbSession,
    user: Managers,
    body: NoteIn | None = None,
) -> ContractOut:
    """By an HQ admin or the dealer's regional manager, never by the version's author or
    submitter; the version it replaces becomes superseded."""
    reason = body.reason if body else ""
    return _commit(session, lambda: svc.approve(session, user, contract_id, number, reason))


@router.post("/contracts/{contract_id}/versions/{number}/reject", response_model=ContractOut)
def reject_version(
    contract_id: ContractId, number: VersionNo, body: ReasonIn, session: DbSession, user: Managers
) -> ContractOut:
    return _commit(session, lambda: svc.reject(session, user, contract_id, number, body.reason))


@router.get("/contracts/{contract_id}/execution", response_model=ExecutionOut)
def contract_execution(
    contract_id: ContractId,
    session: DbSession,
    user: Readers,
    on: OnDay = None,
    margin: Margin = None,
) -> ExecutionOut:
    """The version in force against delivered orders up to ``on``: per quarter and product
    line the target, actual, achievement, pro-rata expectation, trailing flag and rebate."""
    policy = _policy(margin)
    ex = _run(lambda: svc.execution(session, user, contract_id, on or svc.today(), policy))
    r = ex.report
    return ExecutionOut(
        contract_id=ex.contract.id,
        number=ex.contract.number,
        dealer_id=ex.contract.dealer_id,
        version=ex.version.number,
        as_of=r.as_of,
        margin=policy.margin,
        lines=[
            ProgressOut(
                quarter=str(ln.quarter),
                product_line=ln.product_line,
                target=ln.target,
                actual=ln.actual,
                achievement_pct=_pct(ln.achievement),
                expected_to_date=ln.expected_to_date,
                trailing=ln.trailing,
                rebate_rate=ln.rebate_rate,
                accrued_rebate=ln.accrued_rebate,
            )
            for ln in r.lines
        ],
        total_target=r.total_target,
        total_actual=r.total_actual,
        accrued_rebate=r.accrued_rebate,
        alerts=[
            ShortfallOut(
                quarter=str(a.quarter),
                product_line=a.product_line,
                expected=a.expected,
                actual=a.actual,
                shortfall=a.shortfall,
            )
            for a in r.alerts
        ],
    )
