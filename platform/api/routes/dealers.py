"""Dealers: list and detail scoped to the caller's subtree; creation and profile edits by HQ,
recorded in the audit log. A dealer outside the caller's subtree is a 404, never a 403."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from wayhouse.platform.api.auth_deps import CurrentUser, DbSession, require_role
from wayhouse.platform.api.deps import Page, like_contains, pagination
from wayhouse.platform.api.schemas import PageOut
from wayhouse.platform.auth.principal import Principal
from wayhouse.platform.dms import audit, org
from wayhouse.platform.dms.domain.types import DealerStatus, DealerTier, DomainError, OrgLevel, Role
from wayhouse.platform.dms.models import AuditLog, Dealer, OrgUnit
from wayhouse.platform.dms.scope import in_scope

router = APIRouter(tags=["dealers"])


class Contact(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    phone: str | None = Field(default=None, max_length=40)
    email: str | None = Field(default=None, max_length=200)
    role: str | None = Field(default=None, max_length=60)


class Address(BaseModel):
    label: str = Field(min_length=1, max_length=60)
    line: str = Field(min_length=1, max_length=300)
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)


class DealerOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    code: str
    region_id: int | None
    legal_name: str
    tier: DealerTier
    status: DealerStatus
    status_reason: str | None
    business_scope: str | None
    contacts: list[Contact]
    addresses: list[Address]
    created_at: dt.datetime
    updated_at: dt.datetime


class DealerIn(BaseModel):
    region_id: int
    code: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{1,31}$")
    legal_name: str = Field(min_length=2, max_length=200)
    tier: DealerTier = DealerTier.STANDARD
    business_scope: str | None = Field(default=None, max_length=2000)
    contacts: list[Contact] = Field(default_factory=list, max_length=20)
    addresses: list[Address] = Field(default_factory=list, max_length=20)


class DealerPatch(BaseModel):
    legal_name: str | None = Field(default=None, min_length=2, max_length=200)
    tier: DealerTier | None = None
    business_scope: str | None = Field(default=None, max_length=2000)
    contacts: list[Contact] | None = Field(default=None, max_length=20)
    addresses: list[Address] | None = Field(default=None, max_length=20)


class AuditOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    at: dt.datetime
    user_id: int | None
    entity: str
    entity_id: str
    action: str
    old: dict[str, Any] | None
    new: dict[str, Any] | None
    reason: str | None


def _out(d: Dealer) -> DealerOut:
    return DealerOut(
        id=d.id,
        code=d.org_unit.code,
        region_id=d.org_unit.parent_id,
        legal_name=d.legal_name,
        tier=DealerTier(d.tier),
        status=DealerStatus(d.status),
        status_reason=d.status_reason,
        business_scope=d.business_scope,
        contacts=[Contact(**c) for c in d.contacts],
        addresses=[Address(**a) for a in d.addresses],
        created_at=d.created_at,
        updated_at=d.updated_at,
    )


def _visible(user: Principal):  # type: ignore[no-untyped-def]
    return in_scope(user)


def _get_visible(session: Session, user: Principal, dealer_id: int) -> Dealer:
    dealer = session.scalar(
        select(Dealer).join(Dealer.org_unit).where(Dealer.id == dealer_id, _visible(user))
    )
    if dealer is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no dealer {dealer_id}")
    return dealer


SORTS = {
    "legal_name": Dealer.legal_name,
    "created_at": Dealer.created_at,
    "status": Dealer.status,
    "tier": Dealer.tier,
    "code": OrgUnit.code,
}


@router.get("/dealers", response_model=PageOut[DealerOut])
def list_dealers(
    session: DbSession,
    user: CurrentUser,
    page: Annotated[Page, Depends(pagination)],
    status_: Annotated[DealerStatus | None, Query(alias="status")] = None,
    tier: DealerTier | None = None,
    region_id: int | None = None,
    q: Annotated[
        str | None, Query(max_length=100, description="legal name or code contains")
    ] = None,
    sort: Annotated[
        str, Query(pattern=r"^-?(legal_name|created_at|status|tier|code)$")
    ] = "legal_name",
) -> PageOut[DealerOut]:
    query = select(Dealer).join(Dealer.org_unit).where(_visible(user))
    if status_:
        query = query.where(Dealer.status == status_.value)
    if tier:
        query = query.where(Dealer.tier == tier.value)
    if region_id is not None:
        query = query.where(OrgUnit.parent_id == region_id)
    if q:
        pattern = like_contains(q)
        query = query.where(Dealer.legal_name.ilike(pattern) | OrgUnit.code.ilike(pattern))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    column = SORTS[sort.removeprefix("-")]
    order = column.desc() if sort.startswith("-") else column.asc()
    rows = session.scalars(
        query.order_by(order, Dealer.id).limit(page.size).offset(page.offset)
    ).all()
    return PageOut(items=[_out(d) for d in rows], total=total, page=page.page, size=page.size)


@router.get("/dealers/{dealer_id}", response_model=DealerOut)
def get_dealer(dealer_id: int, session: DbSession, user: CurrentUser) -> DealerOut:
    return _out(_get_visible(session, user, dealer_id))


HqOnly = Annotated[Principal, Depends(require_role(Role.HQ_ADMIN))]


@router.post("/dealers", response_model=DealerOut, status_code=status.HTTP_201_CREATED)
def create_dealer(body: DealerIn, session: DbSession, user: HqOnly) -> DealerOut:
    region = session.get(OrgUnit, body.region_id)
    if region is None or region.level != OrgLevel.REGION.value or not user.can_see(region.path):
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"no region {body.region_id}")
    try:
        dealer = org.create_dealer(
            session,
            region,
            body.code,
            body.legal_name,
            user.user_id,
            tier=body.tier,
            business_scope=body.business_scope,
            contacts=[c.model_dump() for c in body.contacts],
            addresses=[a.model_dump() for a in body.addresses],
        )
    except DomainError as exc:
        raise HTTPException(
            status.HTTP_409_CONFLICT, {"code": exc.code, "message": exc.message}
        ) from exc
    session.commit()
    session.refresh(dealer)
    return _out(dealer)


@router.patch("/dealers/{dealer_id}", response_model=DealerOut)
def update_dealer(
    dealer_id: int, body: DealerPatch, session: DbSession, user: CurrentUser
) -> DealerOut:
    dealer = _get_visible(session, user, dealer_id)  # 404 first: never reveal what exists
    if user.role is not Role.HQ_ADMIN:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "only HQ edits dealer profiles")
    before = org.dealer_snapshot(dealer)
    changes = body.model_dump(exclude_unset=True, mode="json")
    for field, value in changes.items():
        setattr(dealer, field, value)
    audit.record(
        session, user.user_id, "dealer", dealer.id, "update", before, org.dealer_snapshot(dealer)
    )
    session.commit()
    session.refresh(dealer)
    return _out(dealer)


@router.get("/audit", response_model=PageOut[AuditOut])
def audit_log(
    session: DbSession,
    user: HqOnly,
    page: Annotated[Page, Depends(pagination)],
    entity: Annotated[str | None, Query(max_length=32)] = None,
    entity_id: Annotated[str | None, Query(max_length=64)] = None,
) -> PageOut[AuditOut]:
    query = select(AuditLog)
    if entity:
        query = query.where(AuditLog.entity == entity)
    if entity_id:
        query = query.where(AuditLog.entity_id == entity_id)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(
        query.order_by(AuditLog.id.desc()).limit(page.size).offset(page.offset)
    ).all()
    return PageOut(
        items=[AuditOut.model_validate(r) for r in rows],
        total=total,
        page=page.page,
        size=page.size,
    )
