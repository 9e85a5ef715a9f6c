"""Customers (end clients of dealers) and HQ's lead-assignment rules. Thin: each route
validates, calls ``dms.customers_service`` and commits. A customer outside the caller's subtree
is a 404; a lifecycle step the rules refuse is 409 with the reason; every 4xx body is
{code, message}."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Annotated, Any, Self, TypeVar

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Response, status
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from wayhouse.platform.api.auth_deps import CurrentUser, DbSession, require_role
from wayhouse.platform.api.deps import Page, like_contains, pagination
from wayhouse.platform.api.schemas import PageOut
from wayhouse.platform.auth.principal import Principal
from wayhouse.platform.dms import customers_service as svc
from wayhouse.platform.dms.domain.customers import InteractionKind
from wayhouse.platform.dms.domain.types import CustomerStage, DomainError, Role
from wayhouse.platform.dms.models_customers import (
    CustomerInteractionRow,
    CustomerRow,
    LeadRuleRow,
)

router = APIRouter(tags=["customers"])
T = TypeVar("T")

HqOnly = Annotated[Principal, Depends(require_role(Role.HQ_ADMIN))]
Managers = Annotated[Principal, Depends(require_role(Role.HQ_ADMIN, Role.REGION_MANAGER))]
CrmUsers = Annotated[
    Principal, Depends(require_role(Role.HQ_ADMIN, Role.REGION_MANAGER, Role.DEALER_USER))
]
INT_MAX = 2**31 - 1  # ids are PostgreSQL integers: a larger one is a 422, not a 500
CustomerId = Annotated[int, Path(ge=1, le=INT_MAX)]
RuleId = Annotated[int, Path(ge=1, le=INT_MAX)]
# Refusals that say the input itself is wrong (422); every other refusal conflicts with the
# state of things (409), like an illegal lifecycle step.
INVALID_INPUT = frozenset(
    {
        "invalid_customer",
        "invalid_position",
        "invalid_interaction",
        "interaction_in_future",
        "order_ref_required",
        "reason_required",
        "invalid_rule",
        "unknown_region",
        "naive_datetime",
        "dealer_required",
    }
)
AREA = r"^[A-Za-z0-9]{1,12}(-[A-Za-z0-9]{1,12}){0,4}$"


def _plain(value: str) -> str:
    # PostgreSQL text holds neither NUL nor lone surrogates: refuse them here, not in the DB.
    if "\x00" in value or any("\ud800" <= c <= "\udfff" for c in value):
        raise ValueError("text may not contain NUL characters or lone surrogates")
    return value


Text = Annotated[str, AfterValidator(_plain)]


def _run(fn: Callable[[], T]) -> T:
    """Domain refusals become HTTP answers: missing/foreign 404, not allowed 403, bad input
    422, else 409."""
    try:
        return fn()
    except DomainError as exc:
        body = {"code": exc.code, "message": exc.message}
        if isinstance(exc, svc.NotFound):
            raise HTTPException(status.HTTP_404_NOT_FOUND, body) from exc
        if exc.code == "not_authorised":
            raise HTTPException(status.HTTP_403_FORBIDDEN, body) from exc
        if exc.code in INVALID_INPUT:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, body) from exc
        raise HTTPException(status.HTTP_409_CONFLICT, body) from exc


def _page(session: Session, query: Any, order: list[Any], page: Page) -> tuple[list[Any], int]:
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(*order).limit(page.size).offset(page.offset)).all()
    return list(rows), total


# -- schemas -------------------------------------------------------------------------------
class Position(BaseModel):
    model_config = ConfigDict(allow_inf_nan=False)

    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)

    @model_validator(mode="after")
    def _paired(self) -> Self:
        if ("lat" in self.model_fields_set or "lon" in self.model_fields_set) and (
            self.lat is None
        ) != (self.lon is None):
            raise ValueError("give both lat and lon, or neither")
        return self


class CustomerIn(Position):
    name: Text = Field(min_length=1, max_length=200)
    dealer_id: int | None = Field(
        default=None,
        ge=1,
        le=INT_MAX,
        description="a dealer user's default is its own dealer; HQ and region managers may "
        "leave it out to let the lead rules assign the lead",
    )
    code: Text | None = Field(default=None, pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$")
    phone: Text | None = Field(default=None, pattern=r"^[0-9+()./ -]{3,40}$")
    email: Text | None = Field(default=None, max_length=200, pattern=r"^[^@\s]+@[^@\s]+$")
    address: Text | None = Field(default=None, max_length=1000)
    area_code: Text = Field(default="", pattern=AREA + "|^$", description="e.g. CN-GD-SZ")
    source: Text = Field(default="", max_length=40)


class CustomerPatch(Position):
    name: Text | None = Field(default=None, min_length=1, max_length=200)
    code: Text | None = Field(default=None, pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$")
    phone: Text | None = Field(default=None, pattern=r"^[0-9+()./ -]{3,40}$")
    email: Text | None = Field(default=None, max_length=200, pattern=r"^[^@\s]+@[^@\s]+$")
    address: Text | None = Field(default=None, max_length=1000)
    area_code: Text | None = Field(default=None, pattern=AREA + "|^$")


class CustomerOut(BaseModel):
    id: int
    code: str | None
    name: str
    status: CustomerStage
    purchases: int
    dealer_id: int | None
    dealer_name: str | None
    region_id: int | None
    phone: str | None
    email: str | None
    address: str | None
    area_code: str
    lat: float | None
    lon: float | None
    source: str
    last_interaction_at: dt.datetime | None
    created_at: dt.datetime
    updated_at: dt.datetime


class HistoryOut(BaseModel):
    at: dt.datetime
    action: str
    user_id: int | None
    old: dict[str, Any] | None
    new: dict[str, Any] | None
    reason: str | None


class CustomerDetailOut(CustomerOut):
    history: list[HistoryOut]


class TransitionIn(BaseModel):
    to: CustomerStage
    reason: Text = Field(default="", max_length=1000)
    order_ref: Text = Field(
        default="",
        max_length=40,
        description="the order that made the purchase (to customer or repeat_customer)",
    )


class AssignIn(BaseModel):
    dealer_id: int | None = Field(
        default=None, ge=1, le=INT_MAX, description="leave out to let the lead rules choose"
    )
    reason: Text = Field(min_length=1, max_length=1000)


class InteractionIn(BaseModel):
    kind: InteractionKind
    summary: Text = Field(min_length=1, max_length=4000)
    next_step: Text = Field(default="", max_length=1000)
    at: dt.datetime | None = Field(default=None, description="when it happened; default now")


class InteractionOut(BaseModel):
    id: int
    customer_id: int
    kind: InteractionKind
    summary: str
    next_step: str
    at: dt.datetime
    by_user_id: int | None
    by_username: str | None
    recorded_at: dt.datetime


class LeadRuleIn(BaseModel):
    area_prefix: Text = Field(
        pattern=AREA + r"|^\*$", description="area code prefix, whole segments (CN-GD), or *"
    )
    region_id: int = Field(ge=1, le=INT_MAX)
    dealer_ids: list[Annotated[int, Field(ge=1, le=INT_MAX)]] = Field(
        default_factory=list,
        max_length=100,
        description="in order of preference on ties; empty: every active dealer of the region",
    )
    active: bool = True
    note: Text | None = Field(default=None, max_length=1000)


class LeadRuleOut(BaseModel):
    id: int
    area_prefix: str
    region_id: int
    dealer_ids: list[int]
    active: bool
    note: str | None
    updated_by: int | None
    updated_at: dt.datetime


def _out(c: CustomerRow) -> CustomerOut:
    return CustomerOut(
        id=c.id,
        code=c.code,
        name=c.name,
        status=CustomerStage(c.status),
        purchases=c.purchases,
        dealer_id=c.dealer_id,
        dealer_name=c.dealer.legal_name if c.dealer is not None else None,
        region_id=c.region_id,
        phone=c.phone,
        email=c.email,
        address=c.address,
        area_code=c.area_code,
        lat=c.lat,
        lon=c.lon,
        source=c.source,
        last_interaction_at=c.last_interaction_at,
        created_at=c.created_at,
        updated_at=c.updated_at,
    )


def _detail(session: Session, c: CustomerRow) -> CustomerDetailOut:
    session.refresh(c)  # values the database computed (last interaction) and fresh relations
    return CustomerDetailOut(
        **_out(c).model_dump(),
        history=[
            HistoryOut(
                at=a.at, action=a.action, user_id=a.user_id, old=a.old, new=a.new, reason=a.reason
            )
            for a in svc.history(session, c.id)
        ],
    )


def _interaction_out(i: CustomerInteractionRow) -> InteractionOut:
    return InteractionOut(
        id=i.id,
        customer_id=i.customer_id,
        kind=InteractionKind(i.kind),
        summary=i.summary,
        next_step=i.next_step,
        at=i.at,
        by_user_id=i.by_user_id,
        by_username=i.by_user.username if i.by_user is not None else None,
        recorded_at=i.recorded_at,
    )


def _rule_out(r: LeadRuleRow) -> LeadRuleOut:
    return LeadRuleOut(
        id=r.id,
        area_prefix=r.area_prefix,
        region_id=r.region_id,
        dealer_ids=list(r.dealer_ids),
        active=r.active,
        note=r.note,
        updated_by=r.updated_by,
        updated_at=r.updated_at,
    )


def _commit(session: Session, fn: Callable[[], CustomerRow]) -> CustomerDetailOut:
    row = _run(fn)
    session.commit()
    return _detail(session, row)


# -- customers -----------------------------------------------------------------------------
SORTS = {
    "created_at": CustomerRow.created_at,
    "updated_at": CustomerRow.updated_at,
    "name": CustomerRow.name,
    "status": CustomerRow.status,
    "last_interaction_at": CustomerRow.last_interaction_at,
    "id": CustomerRow.id,
}
SORT_PATTERN = r"^-?(" + "|".join(SORTS) + ")$"


@router.get("/customers", response_model=PageOut[CustomerOut])
def list_customers(
    session: DbSession,
    user: CurrentUser,
    page: Annotated[Page, Depends(pagination)],
    status_: Annotated[list[CustomerStage] | None, Query(alias="status")] = None,
    dealer_id: Annotated[int | None, Query(ge=1, le=INT_MAX)] = None,
    region_id: Annotated[int | None, Query(ge=1, le=INT_MAX)] = None,
    unassigned: Annotated[bool | None, Query(description="true: leads no dealer has")] = None,
    q: Annotated[
        Text | None, Query(max_length=100, description="name, code, phone or email contains")
    ] = None,
    sort: Annotated[str, Query(pattern=SORT_PATTERN)] = "-created_at",
) -> PageOut[CustomerOut]:
    query = svc.visible_customers(user)
    if status_:
        query = query.where(CustomerRow.status.in_([s.value for s in status_]))
    if dealer_id is not None:
        query = query.where(CustomerRow.dealer_id == dealer_id)
    if region_id is not None:
        query = query.where(CustomerRow.region_id == region_id)
    if unassigned is not None:
        query = query.where(
            CustomerRow.dealer_id.is_(None) if unassigned else CustomerRow.dealer_id.is_not(None)
        )
    if q:
        pattern = like_contains(q)
        query = query.where(
            CustomerRow.name.ilike(pattern)
            | CustomerRow.code.ilike(pattern)
            | CustomerRow.phone.ilike(pattern)
            | CustomerRow.email.ilike(pattern)
        )
    column = SORTS[sort.removeprefix("-")]
    desc = sort.startswith("-")
    order = [
        column.desc().nulls_last() if desc else column.asc().nulls_last(),
        CustomerRow.id.desc() if desc else CustomerRow.id.asc(),  # stable pages
    ]
    rows, total = _page(session, query, order, page)
    return PageOut(items=[_out(c) for c in rows], total=total, page=page.page, size=page.size)


@router.post("/customers", response_model=CustomerDetailOut, status_code=status.HTTP_201_CREATED)
def create_customer(body: CustomerIn, session: DbSession, user: CrmUsers) -> CustomerDetailOut:
    data = svc.CustomerData(
        name=body.name,
        phone=body.phone,
        email=body.email,
        address=body.address,
        area_code=body.area_code,
        lat=body.lat,
        lon=body.lon,
        source=body.source,
        code=body.code,
    )
    return _commit(session, lambda: svc.create_customer(session, user, data, body.dealer_id))


@router.get("/customers/{customer_id}", response_model=CustomerDetailOut)
def get_customer(
    customer_id: CustomerId, session: DbSession, user: CurrentUser
) -> CustomerDetailOut:
    return _detail(session, _run(lambda: svc.get_customer(session, user, customer_id)))


@router.patch("/customers/{customer_id}", response_model=CustomerDetailOut)
def update_customer(
    customer_id: CustomerId, body: CustomerPatch, session: DbSession, user: CrmUsers
) -> CustomerDetailOut:
    changes = body.model_dump(exclude_unset=True)
    return _commit(session, lambda: svc.update_customer(session, user, customer_id, changes))


@router.post("/customers/{customer_id}/transition", response_model=CustomerDetailOut)
def transition(
    customer_id: CustomerId, body: TransitionIn, session: DbSession, user: CrmUsers
) -> CustomerDetailOut:
    return _commit(
        session,
        lambda: svc.transition(session, user, customer_id, body.to, body.reason, body.order_ref),
    )


@router.post("/customers/{customer_id}/assign", response_model=CustomerDetailOut)
def assign(
    customer_id: CustomerId, body: AssignIn, session: DbSession, user: Managers
) -> CustomerDetailOut:
    return _commit(
        session, lambda: svc.reassign(session, user, customer_id, body.dealer_id, body.reason)
    )


@router.get("/customers/{customer_id}/interactions", response_model=PageOut[InteractionOut])
def list_interactions(
    customer_id: CustomerId,
    session: DbSession,
    user: CurrentUser,
    page: Annotated[Page, Depends(pagination)],
    kind: Annotated[list[InteractionKind] | None, Query()] = None,
    sort: Annotated[str, Query(pattern=r"^-?at$")] = "-at",
) -> PageOut[InteractionOut]:
    query = _run(lambda: svc.interactions_of(session, user, customer_id))
    if kind:
        query = query.where(CustomerInteractionRow.kind.in_([k.value for k in kind]))
    desc = sort.startswith("-")
    at, iid = CustomerInteractionRow.at, CustomerInteractionRow.id
    order = [at.desc(), iid.desc()] if desc else [at.asc(), iid.asc()]
    rows, total = _page(session, query, order, page)
    return PageOut(
        items=[_interaction_out(i) for i in rows], total=total, page=page.page, size=page.size
    )


@router.post(
    "/customers/{customer_id}/interactions",
    response_model=InteractionOut,
    status_code=status.HTTP_201_CREATED,
)
def log_interaction(
    customer_id: CustomerId, body: InteractionIn, session: DbSession, user: CrmUsers
) -> InteractionOut:
    row = _run(
        lambda: svc.log_interaction(
            session, user, customer_id, body.kind, body.summary, body.next_step, body.at
        )
    )
    session.commit()
    session.refresh(row)
    return _interaction_out(row)


# -- lead rules (HQ) -----------------------------------------------------------------------
RULE_SORTS = {
    "area_prefix": LeadRuleRow.area_prefix,
    "region_id": LeadRuleRow.region_id,
    "updated_at": LeadRuleRow.updated_at,
    "id": LeadRuleRow.id,
}


@router.get("/lead-rules", response_model=PageOut[LeadRuleOut])
def list_rules(
    session: DbSession,
    user: HqOnly,
    page: Annotated[Page, Depends(pagination)],
    region_id: Annotated[int | None, Query(ge=1, le=INT_MAX)] = None,
    active: bool | None = None,
    sort: Annotated[str, Query(pattern=r"^-?(" + "|".join(RULE_SORTS) + ")$")] = "area_prefix",
) -> PageOut[LeadRuleOut]:
    query = svc.visible_rules(user)
    if region_id is not None:
        query = query.where(LeadRuleRow.region_id == region_id)
    if active is not None:
        query = query.where(LeadRuleRow.active.is_(active))
    column = RULE_SORTS[sort.removeprefix("-")]
    desc = sort.startswith("-")
    order = [column.desc() if desc else column.asc(), LeadRuleRow.id]
    rows, total = _page(session, query, order, page)
    return PageOut(items=[_rule_out(r) for r in rows], total=total, page=page.page, size=page.size)


def _rule_data(body: LeadRuleIn) -> svc.RuleData:
    return svc.RuleData(
        body.area_prefix, body.region_id, tuple(body.dealer_ids), body.active, body.note
    )


@router.post("/lead-rules", response_model=LeadRuleOut, status_code=status.HTTP_201_CREATED)
def create_rule(body: LeadRuleIn, session: DbSession, user: HqOnly) -> LeadRuleOut:
    row = _run(lambda: svc.create_rule(session, user, _rule_data(body)))
    session.commit()
    return _rule_out(row)


@router.get("/lead-rules/{rule_id}", response_model=LeadRuleOut)
def get_rule(rule_id: RuleId, session: DbSession, user: HqOnly) -> LeadRuleOut:
    return _rule_out(_run(lambda: svc.get_rule(session, user, rule_id)))


@router.put("/lead-rules/{rule_id}", response_model=LeadRuleOut)
def update_rule(rule_id: RuleId, body: LeadRuleIn, session: DbSession, user: HqOnly) -> LeadRuleOut:
    row = _run(lambda: svc.update_rule(session, user, rule_id, _rule_data(body)))
    session.commit()
    return _rule_out(row)


@router.delete("/lead-rules/{rule_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_rule(rule_id: RuleId, session: DbSession, user: HqOnly) -> Response:
    _run(lambda: svc.delete_rule(session, user, rule_id))
    session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)
