"""Dealer contracts on PostgreSQL: load the domain ``Contract`` from rows, apply one rule, write
the versions, their timeline events and the audit trail back in the caller's transaction; and
contract execution, with actual sales taken from delivered orders.

The rules are ``dms.domain.contracts``; this module only translates. Every contract is reached
through its dealer's org unit, so a contract outside the caller's subtree does not exist for
them (``NotFound``, HTTP 404).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from wayhouse.platform.auth.principal import Principal
from wayhouse.platform.dms import audit
from wayhouse.platform.dms.domain.contracts import (
    Contract,
    ContractTerms,
    ContractVersion,
    DeliveredSale,
    ExecutionReport,
    PaymentStage,
    Quarter,
    RebateSchedule,
    RebateTier,
    SalesTarget,
    TrailingAlert,
    TrailingAlertPolicy,
    check_decider,
    evaluate_execution,
)
from wayhouse.platform.dms.domain.dealers import TransitionEvent
from wayhouse.platform.dms.domain.types import (
    ContractStatus,
    DealerStatus,
    DomainError,
    IllegalTransition,
    OrderStatus,
    Role,
)
from wayhouse.platform.dms.models import Dealer, Product
from wayhouse.platform.dms.models_contracts import (
    ContractEventRow,
    ContractRow,
    ContractVersionRow,
)
from wayhouse.platform.dms.models_orders import OrderEventRow, OrderLineRow, SalesOrder
from wayhouse.platform.dms.orders_service import NotFound, visible_dealer
from wayhouse.platform.dms.scope import in_scope

# HQ's default for trailing alerts (10 % behind the pro-rata expectation, 14 grace days);
# callers may ask for another margin. Kept in code until there is a settings page for it.
POLICY = TrailingAlertPolicy()
# An order counts toward its dealer's targets once delivered and for as long as it is not
# returned: a returned order leaves these states, so it drops out of the actuals by itself.
COUNTED = (OrderStatus.DELIVERED.value, OrderStatus.INVOICED.value, OrderStatus.PAID.value)
MANAGERS = frozenset({Role.HQ_ADMIN, Role.REGION_MANAGER})


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def today() -> dt.date:
    return _now().date()


def _by(actor: Principal) -> str:
    return str(actor.user_id)


def _require_manager(actor: Principal) -> None:
    if actor.role not in MANAGERS:
        raise DomainError("not_authorised", "contracts are written by HQ or regional managers")


# -- terms <-> JSON ------------------------------------------------------------------------
def parse_terms(data: Mapping[str, Any]) -> ContractTerms:
    """Terms from the API's/database's JSON shape, validated by the domain (``invalid_contract``
    with the reason when the rules refuse them)."""
    try:
        return ContractTerms(
            period_start=_date(data["period_start"]),
            period_end=_date(data["period_end"]),
            targets=tuple(
                SalesTarget(
                    Quarter.parse(str(t["quarter"])), str(t["product_line"]), _dec(t["amount"])
                )
                for t in data.get("targets", ())
            ),
            rebates=RebateSchedule(
                tuple(
                    RebateTier(_dec(r["min_achievement"]), _dec(r["rate"]))
                    for r in data.get("rebate_tiers", ())
                )
            ),
            payment_stages=tuple(
                PaymentStage(str(p["name"]), _date(p["due_on"]), _dec(p["percent"]))
                for p in data.get("payment_stages", ())
            ),
        )
    except DomainError:
        raise
    except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
        raise DomainError("invalid_contract", f"malformed terms: {exc!r}") from exc


def _date(value: object) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))


def _dec(value: object) -> Decimal:
    return Decimal(str(value))


def terms_json(terms: ContractTerms) -> dict[str, Any]:
    """Targets, tiers and stages as stored (the period lives in columns of its own)."""
    return {
        "targets": [
            {"quarter": str(t.quarter), "product_line": t.product_line, "amount": str(t.amount)}
            for t in terms.targets
        ],
        "rebate_tiers": [
            {"min_achievement": str(r.min_achievement), "rate": str(r.rate)}
            for r in terms.rebates.tiers
        ],
        "payment_stages": [
            {"name": p.name, "due_on": p.due_on.isoformat(), "percent": str(p.percent)}
            for p in terms.payment_stages
        ],
    }


def version_terms(row: ContractVersionRow) -> ContractTerms:
    return parse_terms(
        {**row.terms, "period_start": row.period_start, "period_end": row.period_end}
    )


# -- lookups scoped to the caller ----------------------------------------------------------
def visible_contracts(actor: Principal) -> Select[tuple[ContractRow]]:
    """Every contract the caller may see (list, detail and alerts start here)."""
    return select(ContractRow).join(ContractRow.dealer).join(Dealer.org_unit).where(in_scope(actor))


def get_contract(session: Session, actor: Principal, contract_id: int) -> ContractRow:
    row = session.scalar(
        visible_contracts(actor)
        .where(ContractRow.id == contract_id)
        .options(selectinload(ContractRow.versions).selectinload(ContractVersionRow.events))
    )
    if row is None:
        raise NotFound(f"contract {contract_id}")
    return row


def _locked(session: Session, actor: Principal, contract_id: int) -> ContractRow:
    """The contract, locked: two requests acting on one contract run one after the other."""
    get_contract(session, actor, contract_id)
    session.execute(select(ContractRow.id).where(ContractRow.id == contract_id).with_for_update())
    row = session.scalar(
        select(ContractRow)
        .where(ContractRow.id == contract_id)
        .options(selectinload(ContractRow.versions).selectinload(ContractVersionRow.events))
        .execution_options(populate_existing=True)
    )
    assert row is not None  # seen a moment ago, and contracts are never deleted
    return row


def _version_row(row: ContractRow, number: int, target: ContractStatus) -> ContractVersionRow:
    """Version ``number`` of the contract, which must be its latest (only that one moves)."""
    version = next((v for v in row.versions if v.number == number), None)
    if version is None:
        raise NotFound(f"version {number} of contract {row.id}")
    if number != row.latest_version:
        raise IllegalTransition(
            "contract",
            version.status,
            target,
            f"v{number} is not the latest version (v{row.latest_version})",
        )
    return version


# -- rows <-> domain -----------------------------------------------------------------------
def _entity_id(row: ContractRow, number: int) -> str:
    return f"{row.id}/v{number}"


def _domain(row: ContractRow) -> Contract:
    contract = Contract(str(row.id), str(row.dealer_id))
    for v in row.versions:
        contract.versions.append(
            ContractVersion(
                v.number,
                version_terms(v),
                str(v.author_id),
                ContractStatus(v.status),
                [
                    TransitionEvent(
                        "contract",
                        _entity_id(row, v.number),
                        e.from_status,
                        e.to_status,
                        e.at,
                        e.by,
                        e.reason,
                    )
                    for e in v.events
                ],
            )
        )
    return contract


def _save(session: Session, row: ContractRow, contract: Contract, actor: Principal) -> None:
    """Write the domain's state back: new versions, edited draft terms, statuses, new events,
    and the contract's summary columns (latest status, version in force)."""
    by_number = {v.number: v for v in row.versions}
    for version in contract.versions:
        vrow = by_number.get(version.number)
        if vrow is None:
            vrow = ContractVersionRow(
                number=version.number,
                status=version.status.value,
                author_id=actor.user_id,
                author_role=actor.role.value,
                created_at=version.history[0].at,
            )
            row.versions.append(vrow)
            by_number[version.number] = vrow
        if version.status is ContractStatus.DRAFT:  # only a draft's terms may change
            vrow.period_start = version.terms.period_start
            vrow.period_end = version.terms.period_end
            vrow.terms = terms_json(version.terms)
        for seq, event in enumerate(version.history[len(vrow.events) :], start=len(vrow.events)):
            vrow.events.append(
                ContractEventRow(
                    seq=seq,
                    from_status=event.from_state,
                    to_status=event.to_state,
                    at=event.at,
                    by=event.by,
                    reason=event.reason,
                )
            )
    # Leave the old active version before the new one enters: the one-active index is
    # checked row by row.
    for version in sorted(contract.versions, key=lambda v: v.status is ContractStatus.ACTIVE):
        by_number[version.number].status = version.status.value
        session.flush()
    active = contract.active
    row.active_version_id = by_number[active.number].id if active else None
    row.status = contract.latest.status.value
    row.latest_version = contract.latest.number
    row.updated_at = contract.latest.history[-1].at
    session.flush()
    session.expire(row, ["active"])  # the viewonly relationship follows the new pointer


def _audit(
    session: Session,
    actor: Principal,
    row: ContractRow,
    action: str,
    new: dict[str, Any],
    old: dict[str, Any] | None = None,
    reason: str | None = None,
) -> None:
    audit.record(session, actor.user_id, "contract", row.id, action, old, new, reason or None)


# -- workflow ------------------------------------------------------------------------------
def create_contract(
    session: Session,
    actor: Principal,
    dealer_id: int,
    terms: ContractTerms,
    number: str | None = None,
) -> ContractRow:
    """A new contract for a dealer in the caller's subtree, with its first version as a draft."""
    _require_manager(actor)
    dealer = visible_dealer(session, actor, dealer_id)
    if dealer.status == DealerStatus.CLOSED:
        raise DomainError("dealer_inactive", f"dealer {dealer.id} is closed")
    contract_id = int(
        session.scalar(text("SELECT nextval(pg_get_serial_sequence('contract', 'id'))"))
    )
    number = number or f"CT-{contract_id:06d}"
    now = _now()
    contract = Contract.draft(str(contract_id), str(dealer.id), terms, now, _by(actor))
    row = ContractRow(
        id=contract_id,
        dealer_id=dealer.id,
        number=number,
        status=ContractStatus.DRAFT.value,
        latest_version=1,
        created_by=actor.user_id,
        created_at=now,
        updated_at=now,
    )
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError as exc:
        raise DomainError("duplicate_number", f"contract number {number!r} is taken") from exc
    _save(session, row, contract, actor)
    _audit(
        session,
        actor,
        row,
        "create",
        {"dealer_id": dealer.id, "number": number, "version": 1, **_terms_audit(terms)},
    )
    return row


def _terms_audit(terms: ContractTerms) -> dict[str, Any]:
    return {
        "period_start": terms.period_start.isoformat(),
        "period_end": terms.period_end.isoformat(),
        **terms_json(terms),
    }


def revise(
    session: Session, actor: Principal, contract_id: int, terms: ContractTerms, reason: str
) -> ContractRow:
    """The next version, drafted from an active or rejected one; the active one stays in force
    until the new one is approved."""
    _require_manager(actor)
    row = _locked(session, actor, contract_id)
    contract = _domain(row)
    version = contract.revise(terms, _now(), _by(actor), reason)
    _save(session, row, contract, actor)
    _audit(
        session,
        actor,
        row,
        "revise",
        {"version": version.number, **_terms_audit(terms)},
        None,
        reason,
    )
    return row


def edit_draft(
    session: Session, actor: Principal, contract_id: int, number: int, terms: ContractTerms
) -> ContractRow:
    """Replace the terms of the latest version while it is still a draft."""
    _require_manager(actor)
    row = _locked(session, actor, contract_id)
    vrow = _version_row(row, number, ContractStatus.DRAFT)
    before = _terms_audit(version_terms(vrow))
    contract = _domain(row)
    contract.edit_draft(terms)
    _save(session, row, contract, actor)
    _audit(session, actor, row, f"edit v{number}", _terms_audit(terms), before)
    return row


def submit(session: Session, actor: Principal, contract_id: int, number: int) -> ContractRow:
    _require_manager(actor)
    row = _locked(session, actor, contract_id)
    vrow = _version_row(row, number, ContractStatus.PENDING_APPROVAL)
    before = vrow.status
    contract = _domain(row)
    contract.submit(_now(), _by(actor))
    _save(session, row, contract, actor)
    _audit(
        session, actor, row, "submit", {"version": number, "status": row.status}, {"status": before}
    )
    return row


def _decide(
    session: Session,
    actor: Principal,
    contract_id: int,
    number: int,
    target: ContractStatus,
    reason: str,
) -> ContractRow:
    row = _locked(session, actor, contract_id)
    vrow = _version_row(row, number, target)
    if vrow.status != ContractStatus.PENDING_APPROVAL:
        raise IllegalTransition(
            "contract", vrow.status, target, f"v{number} is {vrow.status}, not pending_approval"
        )
    # A regional manager got here only for a dealer of their region: ``_locked`` is scoped.
    check_decider(str(vrow.author_id), _by(actor), actor.role)
    previous = row.active_version_id
    contract = _domain(row)
    now = _now()
    if target is ContractStatus.ACTIVE:
        contract.approve(now, _by(actor), reason)
    else:
        contract.reject(now, _by(actor), reason)
    _save(session, row, contract, actor)
    action = "approve" if target is ContractStatus.ACTIVE else "reject"
    _audit(
        session,
        actor,
        row,
        action,
        {"version": number, "status": target.value, "active_version_id": row.active_version_id},
        {"status": ContractStatus.PENDING_APPROVAL.value, "active_version_id": previous},
        reason,
    )
    return row


def approve(
    session: Session, actor: Principal, contract_id: int, number: int, reason: str = ""
) -> ContractRow:
    """Put version ``number`` in force; the version it replaces becomes superseded."""
    return _decide(session, actor, contract_id, number, ContractStatus.ACTIVE, reason)


def reject(
    session: Session, actor: Principal, contract_id: int, number: int, reason: str
) -> ContractRow:
    return _decide(session, actor, contract_id, number, ContractStatus.REJECTED, reason)


# -- execution -----------------------------------------------------------------------------
def _day_start(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), dt.UTC)


def delivered_sales(
    session: Session, dealer_ids: Iterable[int], start: dt.date, end: dt.date
) -> dict[int, list[DeliveredSale]]:
    """Delivered value per dealer, order and product line (``product.product_class``) for
    orders delivered from ``start`` through ``end``. An order counts on the day it first
    became delivered (its ``order_event``), in UTC, and only while delivered, invoiced or
    paid: a returned order does not count."""
    ids = sorted(set(dealer_ids))
    out: dict[int, list[DeliveredSale]] = defaultdict(list)
    if not ids or end < start:
        return out
    delivered_at = (
        select(func.min(OrderEventRow.at))
        .where(
            OrderEventRow.order_id == SalesOrder.id,
            OrderEventRow.to_status == OrderStatus.DELIVERED.value,
        )
        .correlate(SalesOrder)
        .scalar_subquery()
    )
    orders = (
        select(SalesOrder.id, SalesOrder.dealer_id, delivered_at.label("at"))
        .where(SalesOrder.dealer_id.in_(ids), SalesOrder.status.in_(COUNTED))
        .subquery()
    )
    query = (
        select(
            orders.c.dealer_id, orders.c.at, Product.product_class, func.sum(OrderLineRow.amount)
        )
        .join(OrderLineRow, OrderLineRow.order_id == orders.c.id)
        .join(Product, Product.id == OrderLineRow.product_id)
        .where(orders.c.at >= _day_start(start))
        .group_by(orders.c.id, orders.c.dealer_id, orders.c.at, Product.product_class)
    )
    if end < dt.date.max:
        query = query.where(orders.c.at < _day_start(end + dt.timedelta(days=1)))
    for dealer_id, at, product_class, amount in session.execute(query):
        out[dealer_id].append(DeliveredSale(at.astimezone(dt.UTC).date(), product_class, amount))
    return out


@dataclass(frozen=True)
class Execution:
    contract: ContractRow
    version: ContractVersionRow
    report: ExecutionReport
    policy: TrailingAlertPolicy


def _active(row: ContractRow) -> ContractVersionRow:
    if row.active is None:
        raise DomainError(
            "no_active_version", f"contract {row.number} has no approved version in force yet"
        )
    return row.active


def execution(
    session: Session,
    actor: Principal,
    contract_id: int,
    on: dt.date,
    policy: TrailingAlertPolicy = POLICY,
) -> Execution:
    """The version in force against the dealer's delivered sales up to ``on``."""
    row = get_contract(session, actor, contract_id)
    version = _active(row)
    terms = version_terms(version)
    sales = delivered_sales(session, [row.dealer_id], terms.period_start, min(terms.period_end, on))
    return Execution(
        row, version, evaluate_execution(terms, sales[row.dealer_id], on, policy), policy
    )


@dataclass(frozen=True)
class ContractAlert:
    contract: ContractRow
    version: ContractVersionRow
    alert: TrailingAlert


def trailing_alerts(
    session: Session,
    actor: Principal,
    on: dt.date,
    policy: TrailingAlertPolicy = POLICY,
    dealer_id: int | None = None,
) -> list[ContractAlert]:
    """Every target a dealer trails on ``on``, over the contracts in force that day in the
    caller's subtree (one query for all their sales)."""
    query = (
        visible_contracts(actor)
        .join(ContractVersionRow, ContractVersionRow.id == ContractRow.active_version_id)
        .where(ContractVersionRow.period_start <= on, ContractVersionRow.period_end >= on)
    )
    if dealer_id is not None:
        query = query.where(ContractRow.dealer_id == dealer_id)
    rows = session.scalars(query).all()
    if not rows:
        return []
    versions = {r.id: _active(r) for r in rows}
    terms = {r.id: version_terms(versions[r.id]) for r in rows}
    sales = delivered_sales(
        session, [r.dealer_id for r in rows], min(t.period_start for t in terms.values()), on
    )
    out = []
    for r in rows:
        report = evaluate_execution(terms[r.id], sales[r.dealer_id], on, policy)
        out.extend(ContractAlert(r, versions[r.id], a) for a in report.alerts)
    return out
