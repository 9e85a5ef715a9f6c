"""Approval rules: HQ edits them (amount thresholds, regions, product classes, levels);
managers may read them to see why an order waits for whom. A rule is retired by setting
``active`` false, never deleted, so past chains stay explainable."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, status
from pydantic import BaseModel, Field

from wayhouse.platform.api.auth_deps import DbSession, require_role
from wayhouse.platform.api.errors import INT_MAX, Text, run_domain
from wayhouse.platform.auth.principal import Principal
from wayhouse.platform.dms import approval_rules as svc
from wayhouse.platform.dms.domain.types import Role
from wayhouse.platform.dms.models_orders import ApprovalRuleRow

router = APIRouter(tags=["approval rules"])

HqOnly = Annotated[Principal, Depends(require_role(Role.HQ_ADMIN))]
Readers = Annotated[Principal, Depends(require_role(Role.HQ_ADMIN, Role.REGION_MANAGER))]
RuleId = Annotated[int, Path(ge=1, le=INT_MAX)]
Amount = Annotated[Decimal, Field(ge=0, le=Decimal("1e11"), decimal_places=2)]
Key = Annotated[Text, Field(min_length=1, max_length=40)]
ApproverRole = Annotated[Role, Field(description="hq_admin or region_manager")]


class RuleIn(BaseModel):
    name: Annotated[Text, Field(min_length=1, max_length=100)]
    level: int = Field(ge=1, le=10)
    role: ApproverRole
    min_amount: Amount = Decimal("0.00")
    max_amount: Amount | None = None
    regions: list[Key] = Field(default_factory=list, max_length=100)
    product_classes: list[Key] = Field(default_factory=list, max_length=100)
    active: bool = True


class RulePatch(BaseModel):
    name: Annotated[Text, Field(min_length=1, max_length=100)] | None = None
    level: int | None = Field(default=None, ge=1, le=10)
    role: ApproverRole | None = None
    min_amount: Amount | None = None
    max_amount: Amount | None = None
    regions: list[Key] | None = Field(default=None, max_length=100)
    product_classes: list[Key] | None = Field(default=None, max_length=100)
    active: bool | None = None


class RuleOut(BaseModel):
    id: int
    name: str
    level: int
    role: Role
    min_amount: Decimal
    max_amount: Decimal | None
    regions: list[str]
    product_classes: list[str]
    active: bool


def _out(r: ApprovalRuleRow) -> RuleOut:
    return RuleOut(
        id=r.id,
        name=r.name,
        level=r.level,
        role=Role(r.role),
        min_amount=r.min_amount,
        max_amount=r.max_amount,
        regions=list(r.regions or ()),
        product_classes=list(r.product_classes or ()),
        active=r.active,
    )


@router.get("/approval-rules", response_model=list[RuleOut])
def list_rules(
    session: DbSession, user: Readers, active: Annotated[bool | None, Query()] = None
) -> list[RuleOut]:
    return [_out(r) for r in svc.list_rules(session, active)]


@router.get("/approval-rules/{rule_id}", response_model=RuleOut)
def get_rule(rule_id: RuleId, session: DbSession, user: Readers) -> RuleOut:
    return _out(run_domain(lambda: svc.get_rule(session, rule_id)))


@router.post("/approval-rules", response_model=RuleOut, status_code=status.HTTP_201_CREATED)
def create_rule(body: RuleIn, session: DbSession, user: HqOnly) -> RuleOut:
    row = run_domain(lambda: svc.create_rule(session, user, body.model_dump()))
    session.commit()
    return _out(row)


@router.patch("/approval-rules/{rule_id}", response_model=RuleOut)
def update_rule(rule_id: RuleId, body: RulePatch, session: DbSession, user: HqOnly) -> RuleOut:
    # null clears max_amount; for every other field it means "leave as is".
    changes = {
        k: v
        for k, v in body.model_dump(exclude_unset=True).items()
        if v is not None or k == "max_amount"
    }
    row = run_domain(lambda: svc.update_rule(session, user, rule_id, changes))
    session.commit()
    return _out(row)
