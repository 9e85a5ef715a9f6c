"""HQ's approval rules on PostgreSQL: list, create, change, retire. Each rule is validated by
the domain (``approval.ApprovalRule``) before it is stored, and every change is audited.
Orders already in approval keep the chain they were given; new submissions use the new rules."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from wayhouse.platform.auth.principal import Principal
from wayhouse.platform.dms import audit
from wayhouse.platform.dms.domain.approval import ApprovalRule
from wayhouse.platform.dms.domain.types import DomainError, Role
from wayhouse.platform.dms.models_orders import ApprovalRuleRow
from wayhouse.platform.dms.orders_service import NotFound


def snapshot(r: ApprovalRuleRow) -> dict[str, object]:
    return {
        "name": r.name,
        "level": r.level,
        "role": r.role,
        "min_amount": str(r.min_amount),
        "max_amount": None if r.max_amount is None else str(r.max_amount),
        "regions": list(r.regions or ()),
        "product_classes": list(r.product_classes or ()),
        "active": r.active,
    }


def _validated(fields: dict[str, object]) -> ApprovalRule:
    rule = ApprovalRule(**fields)  # type: ignore[arg-type]  # raises DomainError with the reason
    if rule.role not in (Role.HQ_ADMIN, Role.REGION_MANAGER):
        raise DomainError("invalid_rule", "approvals are given by hq_admin or region_manager")
    return rule


def _apply(row: ApprovalRuleRow, rule: ApprovalRule) -> None:
    row.name = rule.name
    row.level = rule.level
    row.role = rule.role.value
    row.min_amount = rule.min_amount
    row.max_amount = rule.max_amount
    row.regions = sorted(rule.regions)
    row.product_classes = sorted(rule.product_classes)
    row.active = rule.active


def _flush(session: Session, name: str) -> None:
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError as exc:
        raise DomainError("duplicate_rule", f"a rule named {name!r} exists") from exc


def list_rules(session: Session, active: bool | None = None) -> list[ApprovalRuleRow]:
    query = select(ApprovalRuleRow).order_by(ApprovalRuleRow.level, ApprovalRuleRow.name)
    if active is not None:
        query = query.where(ApprovalRuleRow.active.is_(active))
    return list(session.scalars(query))


def get_rule(session: Session, rule_id: int) -> ApprovalRuleRow:
    row = session.get(ApprovalRuleRow, rule_id)
    if row is None:
        raise NotFound(f"approval rule {rule_id}")
    return row


def create_rule(session: Session, actor: Principal, fields: dict[str, object]) -> ApprovalRuleRow:
    rule = _validated(fields)
    row = ApprovalRuleRow(min_amount=Decimal("0.00"), regions=[], product_classes=[])
    _apply(row, rule)
    session.add(row)
    _flush(session, rule.name)
    audit.record(session, actor.user_id, "approval_rule", row.id, "create", None, snapshot(row))
    return row


def update_rule(
    session: Session, actor: Principal, rule_id: int, changes: dict[str, object]
) -> ApprovalRuleRow:
    row = get_rule(session, rule_id)
    before = snapshot(row)
    merged = {**before, **changes}
    merged["min_amount"] = Decimal(str(merged["min_amount"]))
    if merged["max_amount"] is not None:
        merged["max_amount"] = Decimal(str(merged["max_amount"]))
    rule = _validated(merged)
    _apply(row, rule)
    _flush(session, rule.name)
    audit.record(session, actor.user_id, "approval_rule", row.id, "update", before, snapshot(row))
    return row
