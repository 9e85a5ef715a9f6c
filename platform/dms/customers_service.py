"""Customers on PostgreSQL: create (a lead without a dealer is assigned by the stored region
rules), lifecycle steps, the interaction log, reassignment, scoped queries and HQ's rules.

The rules are ``dms.domain.customers``; this module only translates rows to and from them, in
the caller's transaction, with an audit row for every change. Scoping: a customer belongs to
``owner_unit_id`` (its dealer's unit, or the region's / HQ's queue while unassigned), so a
dealer sees its own, a region manager the region's, HQ all; anything else is ``NotFound``.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, func, select, text, update
from sqlalchemy.orm import Session

from wayhouse.platform.auth.principal import Principal
from wayhouse.platform.dms import audit
from wayhouse.platform.dms.domain.customers import (
    Customer,
    InteractionKind,
    LeadAssignment,
    LeadAssignmentRules,
    RegionRule,
    assign_lead,
    normalise_region,
)
from wayhouse.platform.dms.domain.types import (
    CustomerStage,
    DealerStatus,
    DomainError,
    OrgLevel,
    Role,
)
from wayhouse.platform.dms.models import AuditLog, Dealer, OrgUnit
from wayhouse.platform.dms.models_customers import (
    CustomerInteractionRow,
    CustomerRow,
    LeadRuleRow,
)
from wayhouse.platform.dms.scope import in_scope

ENTITY = "customer"
RULE_ENTITY = "lead_rule"
# One lead assignment at a time per organisation tree: the open-lead counts that spread the
# load stay true when two leads arrive together. Apart from the credit and stock lock spaces.
ASSIGN_LOCK_NAMESPACE = 0x574C41  # 'WLA'


class NotFound(DomainError):
    """Missing, or outside the caller's subtree: the two are indistinguishable (HTTP 404)."""

    def __init__(self, what: str) -> None:
        super().__init__("not_found", f"no {what}")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _by(actor: Principal) -> str:
    return str(actor.user_id)


# -- scoped lookups ------------------------------------------------------------------------
def visible_customers(actor: Principal) -> Select[tuple[CustomerRow]]:
    """Every customer the caller may see: the list and detail endpoints start here."""
    return (
        select(CustomerRow)
        .join(OrgUnit, OrgUnit.id == CustomerRow.owner_unit_id)
        .where(in_scope(actor))
    )


def get_customer(
    session: Session, actor: Principal, customer_id: int, lock: bool = False
) -> CustomerRow:
    query = visible_customers(actor).where(CustomerRow.id == customer_id)
    if lock:
        # Two requests changing one customer run one after the other, on fresh values.
        query = query.with_for_update(of=CustomerRow).execution_options(populate_existing=True)
    row = session.scalar(query)
    if row is None:
        raise NotFound(f"customer {customer_id}")
    return row


def _visible_dealer(session: Session, actor: Principal, dealer_id: int) -> Dealer:
    dealer = session.scalar(
        select(Dealer).join(Dealer.org_unit).where(Dealer.id == dealer_id, in_scope(actor))
    )
    if dealer is None:
        raise NotFound(f"dealer {dealer_id}")
    return dealer


def _own_dealer(session: Session, actor: Principal) -> Dealer | None:
    return session.scalar(select(Dealer).where(Dealer.org_unit_id == actor.org_unit_id))


def _require_active(dealer: Dealer) -> None:
    if dealer.status != DealerStatus.ACTIVE.value:
        raise DomainError(
            "dealer_inactive", f"dealer {dealer.id} is {dealer.status}: only active dealers serve"
        )


def _place(row: CustomerRow, dealer: Dealer) -> None:
    """Hand the row to ``dealer``: its unit owns the row from now on."""
    row.dealer = dealer
    row.dealer_id = dealer.id
    row.region_id = dealer.org_unit.parent_id
    row.owner_unit_id = dealer.org_unit_id


def _to_domain(row: CustomerRow) -> Customer:
    return Customer(
        str(row.id),
        row.name,
        row.area_code,
        str(row.dealer_id) if row.dealer_id is not None else None,
        CustomerStage(row.status),
        row.purchases,
        row.source,
    )


def snapshot(row: CustomerRow) -> dict[str, Any]:
    return {
        "code": row.code,
        "name": row.name,
        "dealer_id": row.dealer_id,
        "region_id": row.region_id,
        "status": row.status,
        "phone": row.phone,
        "email": row.email,
        "address": row.address,
        "area_code": row.area_code,
        "lat": row.lat,
        "lon": row.lon,
    }


# -- lead assignment by the stored rules ---------------------------------------------------
@dataclass
class RuleSet:
    """The rules the caller's subtree holds, as the domain wants them."""

    config: LeadAssignmentRules
    dealers: dict[str, Dealer]  # eligible (active) dealers by domain id


def load_rules(session: Session, actor: Principal) -> RuleSet:
    rows = list(
        session.scalars(
            select(LeadRuleRow)
            .join(OrgUnit, OrgUnit.id == LeadRuleRow.region_id)
            .where(LeadRuleRow.active, in_scope(actor))
            .order_by(LeadRuleRow.id)  # configuration order among equally specific rules
        )
    )
    region_ids = {r.region_id for r in rows}
    active = list(
        session.scalars(
            select(Dealer)
            .join(Dealer.org_unit)
            .where(
                OrgUnit.parent_id.in_(region_ids),
                Dealer.status == DealerStatus.ACTIVE.value,
                in_scope(actor),
            )
            .order_by(Dealer.id)
        )
    )
    by_region: dict[int, list[int]] = defaultdict(list)
    for d in active:
        by_region[d.org_unit.parent_id or 0].append(d.id)
    rules = []
    for r in rows:
        in_region = by_region.get(r.region_id, [])
        # An empty list means "any active dealer of the region"; a listed dealer that is no
        # longer active (or not in the region) is skipped, so the rule falls through.
        members = [d for d in r.dealer_ids if d in in_region] if r.dealer_ids else in_region
        members = list(dict.fromkeys(members))
        if members:
            rules.append(RegionRule(r.area_prefix, tuple(str(d) for d in members)))
    return RuleSet(LeadAssignmentRules(tuple(rules)), {str(d.id): d for d in active})


def _open_leads(session: Session, dealer_ids: list[int]) -> dict[str, int]:
    counts = session.execute(
        select(CustomerRow.dealer_id, func.count())
        .where(
            CustomerRow.status == CustomerStage.LEAD.value, CustomerRow.dealer_id.in_(dealer_ids)
        )
        .group_by(CustomerRow.dealer_id)
    ).all()
    return {str(d): int(n) for d, n in counts}


def _lock_assignment(session: Session, actor: Principal) -> None:
    root = int(actor.org_path.strip("/").split("/")[0])
    session.execute(
        text("SELECT pg_advisory_xact_lock(:ns, :root)"),
        {"ns": ASSIGN_LOCK_NAMESPACE, "root": root},
    )


def choose_dealer(
    session: Session, actor: Principal, area_code: str
) -> tuple[LeadAssignment, Dealer | None]:
    """Which dealer the stored rules give a lead from ``area_code`` (caller holds the lock)."""
    rules = load_rules(session, actor)
    open_leads = _open_leads(session, [d.id for d in rules.dealers.values()])
    assignment = assign_lead(area_code, rules.config, set(rules.dealers), open_leads)
    dealer = rules.dealers.get(assignment.dealer_id) if assignment.dealer_id else None
    return assignment, dealer


# -- customers -----------------------------------------------------------------------------
@dataclass(frozen=True)
class CustomerData:
    name: str
    phone: str | None = None
    email: str | None = None
    address: str | None = None
    area_code: str = ""
    lat: float | None = None
    lon: float | None = None
    source: str = ""
    code: str | None = None


def _check_code(session: Session, code: str | None, own_id: int | None = None) -> None:
    if code is None:
        return
    other = session.scalar(select(CustomerRow.id).where(CustomerRow.code == code))
    if other is not None and other != own_id:
        raise DomainError("duplicate_code", f"customer code {code!r} is taken")


def create_customer(
    session: Session, actor: Principal, data: CustomerData, dealer_id: int | None = None
) -> CustomerRow:
    """A new lead. A dealer user's lead is its own; HQ or a region manager may name the dealer,
    or leave it to the rules, and a lead no rule places waits in the caller's queue."""
    now = _now()
    area = normalise_region(data.area_code)
    lead = Customer.new_lead("new", data.name.strip(), area, now, _by(actor), source=data.source)
    _check_code(session, data.code)
    dealer: Dealer | None = None
    reason = "created"
    if dealer_id is None and actor.role is Role.DEALER_USER:
        dealer = _own_dealer(session, actor)
        if dealer is None:
            raise DomainError("dealer_required", "say which dealer the customer is for")
    elif dealer_id is not None:
        dealer = _visible_dealer(session, actor, dealer_id)
    if dealer is not None:
        _require_active(dealer)
        reason = "created for the dealer"
    else:
        _lock_assignment(session, actor)
        assignment, dealer = choose_dealer(session, actor, area)
        reason = f"lead assignment: {assignment.reason}"
    row = CustomerRow(
        code=data.code,
        owner_unit_id=actor.org_unit_id,
        region_id=actor.org_unit_id if actor.role is Role.REGION_MANAGER else None,
        name=lead.name,
        phone=data.phone,
        email=data.email,
        address=data.address,
        area_code=area,
        lat=data.lat,
        lon=data.lon,
        status=lead.stage.value,
        purchases=0,
        source=data.source,
        created_by=actor.user_id,
        created_at=now,
        updated_at=now,
    )
    if dealer is not None:
        _place(row, dealer)
    session.add(row)
    session.flush()
    audit.record(session, actor.user_id, ENTITY, row.id, "create", None, snapshot(row), reason)
    return row


def update_customer(
    session: Session, actor: Principal, customer_id: int, changes: dict[str, Any]
) -> CustomerRow:
    """Correct contact details, address or position (not the stage or the owner)."""
    row = get_customer(session, actor, customer_id, lock=True)
    before = snapshot(row)
    if "name" in changes:
        changes["name"] = (changes["name"] or "").strip()
        if not changes["name"]:
            raise DomainError("invalid_customer", "a customer needs a name")
    if "area_code" in changes:
        changes["area_code"] = normalise_region(changes["area_code"] or "")
    if "code" in changes:
        _check_code(session, changes["code"], row.id)
    lat = changes.get("lat", row.lat)
    lon = changes.get("lon", row.lon)
    if (lat is None) != (lon is None):
        raise DomainError("invalid_position", "give both lat and lon, or neither")
    for key, value in changes.items():
        setattr(row, key, value)
    row.updated_at = _now()
    session.flush()
    audit.record(session, actor.user_id, ENTITY, row.id, "update", before, snapshot(row))
    return row


def transition(
    session: Session,
    actor: Principal,
    customer_id: int,
    target: CustomerStage,
    reason: str = "",
    order_ref: str = "",
) -> CustomerRow:
    row = get_customer(session, actor, customer_id, lock=True)
    customer = _to_domain(row)
    before = {"status": row.status, "purchases": row.purchases}
    event = customer.advance(target, _now(), _by(actor), reason, order_ref)
    row.status = customer.stage.value
    row.purchases = customer.purchases
    row.updated_at = event.at
    session.flush()
    after = {"status": row.status, "purchases": row.purchases}
    audit.record(
        session, actor.user_id, ENTITY, row.id, "transition", before, after, event.reason or None
    )
    return row


def reassign(
    session: Session, actor: Principal, customer_id: int, dealer_id: int | None, reason: str
) -> CustomerRow:
    """Hand the customer to ``dealer_id``, or to whom the rules choose when it is None."""
    if actor.role not in (Role.HQ_ADMIN, Role.REGION_MANAGER):
        raise DomainError("not_authorised", "only HQ and region managers reassign customers")
    row = get_customer(session, actor, customer_id, lock=True)
    customer = _to_domain(row)
    if dealer_id is not None:
        dealer = _visible_dealer(session, actor, dealer_id)
        how = ""
    else:
        _lock_assignment(session, actor)
        assignment, chosen = choose_dealer(session, actor, row.area_code)
        if chosen is None:
            raise DomainError(
                "no_eligible_dealer", f"the rules place no dealer: {assignment.reason}"
            )
        dealer, how = chosen, f" ({assignment.reason})"
    _require_active(dealer)
    if dealer.id == row.dealer_id:
        raise DomainError("same_owner", f"customer {row.id} already belongs to dealer {dealer.id}")
    event = customer.assign_owner(str(dealer.id), _now(), _by(actor), reason)
    before = snapshot(row)
    _place(row, dealer)
    row.updated_at = event.at
    session.flush()
    audit.record(
        session, actor.user_id, ENTITY, row.id, "assign", before, snapshot(row), reason + how
    )
    return row


def log_interaction(
    session: Session,
    actor: Principal,
    customer_id: int,
    kind: InteractionKind,
    summary: str,
    next_step: str = "",
    at: dt.datetime | None = None,
) -> CustomerInteractionRow:
    row = get_customer(session, actor, customer_id)
    now = _now()
    entry = _to_domain(row).log_interaction(
        at or now, _by(actor), kind, summary, next_step, now=now
    )
    interaction = CustomerInteractionRow(
        customer_id=row.id,
        kind=entry.kind.value,
        summary=entry.summary,
        next_step=entry.next_step,
        at=entry.at,
        by_user_id=actor.user_id,
    )
    session.add(interaction)
    # GREATEST in SQL: two interactions logged at once both count, in any order.
    session.execute(
        update(CustomerRow)
        .where(CustomerRow.id == row.id)
        .values(last_interaction_at=func.greatest(CustomerRow.last_interaction_at, entry.at))
        .execution_options(synchronize_session=False)
    )
    session.flush()
    return interaction


def interactions_of(
    session: Session, actor: Principal, customer_id: int
) -> Select[tuple[CustomerInteractionRow]]:
    """The interaction log of a customer the caller may see (``NotFound`` otherwise)."""
    get_customer(session, actor, customer_id)
    return select(CustomerInteractionRow).where(CustomerInteractionRow.customer_id == customer_id)


def history(session: Session, customer_id: int) -> list[AuditLog]:
    """Creation, lifecycle steps, owner changes and edits, oldest first (from the audit log)."""
    return list(
        session.scalars(
            select(AuditLog)
            .where(AuditLog.entity == ENTITY, AuditLog.entity_id == str(customer_id))
            .order_by(AuditLog.at, AuditLog.id)
        )
    )


# -- lead rules (HQ) -----------------------------------------------------------------------
def visible_rules(actor: Principal) -> Select[tuple[LeadRuleRow]]:
    return (
        select(LeadRuleRow)
        .join(OrgUnit, OrgUnit.id == LeadRuleRow.region_id)
        .where(in_scope(actor))
    )


def get_rule(session: Session, actor: Principal, rule_id: int) -> LeadRuleRow:
    row = session.scalar(visible_rules(actor).where(LeadRuleRow.id == rule_id))
    if row is None:
        raise NotFound(f"lead rule {rule_id}")
    return row


@dataclass(frozen=True)
class RuleData:
    area_prefix: str
    region_id: int
    dealer_ids: tuple[int, ...] = ()
    active: bool = True
    note: str | None = None


def _checked_rule(session: Session, actor: Principal, data: RuleData) -> RuleData:
    """The rule as stored: normalised prefix, a region of the caller's tree, dealers of it."""
    prefix = normalise_region(data.area_prefix)
    if not prefix:
        raise DomainError("invalid_rule", "a lead rule needs an area prefix (or '*')")
    region = session.scalar(
        select(OrgUnit).where(
            OrgUnit.id == data.region_id,
            OrgUnit.level == OrgLevel.REGION.value,
            in_scope(actor),
        )
    )
    if region is None:
        raise DomainError("unknown_region", f"no region {data.region_id}")
    if data.dealer_ids:
        RegionRule(prefix, tuple(str(d) for d in data.dealer_ids))  # distinct dealers
        found = set(
            session.scalars(
                select(Dealer.id)
                .join(Dealer.org_unit)
                .where(Dealer.id.in_(data.dealer_ids), OrgUnit.parent_id == region.id)
            )
        )
        stray = [d for d in data.dealer_ids if d not in found]
        if stray:
            raise DomainError(
                "invalid_rule", f"dealers {stray} are not dealers of region {region.code}"
            )
    return RuleData(prefix, region.id, tuple(data.dealer_ids), data.active, data.note)


def _rule_snapshot(row: LeadRuleRow) -> dict[str, Any]:
    return {
        "area_prefix": row.area_prefix,
        "region_id": row.region_id,
        "dealer_ids": list(row.dealer_ids),
        "active": row.active,
        "note": row.note,
    }


def _check_unique(session: Session, data: RuleData, own_id: int | None = None) -> None:
    other = session.scalar(
        select(LeadRuleRow.id).where(
            LeadRuleRow.region_id == data.region_id, LeadRuleRow.area_prefix == data.area_prefix
        )
    )
    if other is not None and other != own_id:
        raise DomainError(
            "duplicate_rule", f"rule {other} already maps {data.area_prefix} to this region"
        )


def create_rule(session: Session, actor: Principal, data: RuleData) -> LeadRuleRow:
    data = _checked_rule(session, actor, data)
    _check_unique(session, data)
    row = LeadRuleRow(
        area_prefix=data.area_prefix,
        region_id=data.region_id,
        dealer_ids=list(data.dealer_ids),
        active=data.active,
        note=data.note,
        updated_by=actor.user_id,
        updated_at=_now(),
    )
    session.add(row)
    session.flush()
    audit.record(session, actor.user_id, RULE_ENTITY, row.id, "create", None, _rule_snapshot(row))
    return row


def update_rule(session: Session, actor: Principal, rule_id: int, data: RuleData) -> LeadRuleRow:
    row = get_rule(session, actor, rule_id)
    data = _checked_rule(session, actor, data)
    _check_unique(session, data, row.id)
    before = _rule_snapshot(row)
    row.area_prefix = data.area_prefix
    row.region_id = data.region_id
    row.dealer_ids = list(data.dealer_ids)
    row.active = data.active
    row.note = data.note
    row.updated_by = actor.user_id
    row.updated_at = _now()
    session.flush()
    audit.record(session, actor.user_id, RULE_ENTITY, row.id, "update", before, _rule_snapshot(row))
    return row


def delete_rule(session: Session, actor: Principal, rule_id: int) -> None:
    row = get_rule(session, actor, rule_id)
    audit.record(session, actor.user_id, RULE_ENTITY, row.id, "delete", _rule_snapshot(row), None)
    session.delete(row)
    session.flush()
