"""Alarms for people: scoped reads, acknowledge/clear requests, thresholds, webhooks.

Tenancy: an alarm belongs to the org unit of its warehouse (or of the dealer, for a
document); a user sees the alarms of their subtree. An alarm whose site is unknown has no
org unit and is shown to HQ admins only.

Acknowledge and clear go through the engine: the request is a row in ``alarm_command``; the
evaluator applies the commands in id order in its own transaction (the engine is the only
writer of alarms, so its memory and the tables never disagree, and a replay from the saved
state sees the same steps). ``request`` waits briefly for the outcome so the caller gets the
engine's own answer (done, or refused with the reason).
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, false, func, or_, select, true
from sqlalchemy.orm import Session

from wayhouse.platform.alarms.evaluator import _with_default
from wayhouse.platform.alarms.model import AlarmState
from wayhouse.platform.alarms.models import (
    AlarmCommand,
    AlarmRow,
    AlarmRuleConfig,
    AlarmTransitionRow,
    Webhook,
    WebhookDelivery,
)
from wayhouse.platform.alarms.thresholds import ThresholdConfig, Thresholds
from wayhouse.platform.auth.principal import Principal
from wayhouse.platform.dms import audit
from wayhouse.platform.dms.domain.types import DomainError, IllegalTransition
from wayhouse.platform.dms.models import OrgUnit
from wayhouse.platform.dms.orders_service import NotFound
from wayhouse.platform.dms.scope import in_scope

COMMAND_WAIT_S = 5.0


def visible(p: Principal) -> ColumnElement[bool]:
    """Alarms the principal may see (a where-clause on ``AlarmRow``)."""
    mine = AlarmRow.org_unit_id.in_(select(OrgUnit.id).where(in_scope(p)))
    return or_(mine, and_(AlarmRow.org_unit_id.is_(None), true() if p.is_hq else false()))


def get_alarm(session: Session, p: Principal, alarm_id: str) -> AlarmRow:
    row = session.scalar(select(AlarmRow).where(AlarmRow.id == alarm_id, visible(p)))
    if row is None:
        raise NotFound(f"alarm {alarm_id}")
    return row


def transitions(session: Session, alarm_id: str) -> list[AlarmTransitionRow]:
    return list(
        session.scalars(
            select(AlarmTransitionRow)
            .where(AlarmTransitionRow.alarm_id == alarm_id)
            .order_by(AlarmTransitionRow.seq)
        )
    )


@dataclass(frozen=True)
class CommandResult:
    command_id: int
    outcome: str  # applied | refused | pending (the evaluator has not answered yet)
    error: str | None


def request(
    session: Session,
    p: Principal,
    alarm_id: str,
    action: str,
    note: str,
    force: bool = False,
    wait_s: float = COMMAND_WAIT_S,
) -> CommandResult:
    row = get_alarm(session, p, alarm_id)
    # Refuse what is certainly illegal at once; the engine judges the rest.
    if row.state == AlarmState.CLEARED.value:
        raise IllegalTransition("alarm", row.state, action, "it is already cleared")
    if action == "acknowledge" and row.state != AlarmState.ACTIVE.value:
        raise IllegalTransition("alarm", row.state, "acknowledged", "only an active alarm is")
    if action == "clear" and not note.strip():
        raise DomainError("reason_required", "say why the alarm is cleared")
    cmd = AlarmCommand(
        alarm_id=alarm_id, action=action, force=force, note=note, user_id=p.user_id, by=p.username
    )
    session.add(cmd)
    session.flush()
    audit.record(session, p.user_id, "alarm", alarm_id, action, {"state": row.state}, None, note)
    session.commit()
    deadline = time.monotonic() + wait_s
    while True:
        session.expire(cmd)
        if cmd.applied_at is not None:
            return CommandResult(cmd.id, cmd.outcome or "applied", cmd.error)
        if time.monotonic() >= deadline:
            return CommandResult(cmd.id, "pending", None)
        session.rollback()  # end the snapshot: see the evaluator's commit
        time.sleep(0.05)


def commands(session: Session, alarm_id: str) -> list[AlarmCommand]:
    return list(
        session.scalars(
            select(AlarmCommand).where(AlarmCommand.alarm_id == alarm_id).order_by(AlarmCommand.id)
        )
    )


# ---- thresholds --------------------------------------------------------------------------------


def defaults() -> dict[str, Any]:
    from dataclasses import asdict

    return asdict(Thresholds())


def rule_configs(session: Session) -> list[AlarmRuleConfig]:
    return list(
        session.scalars(
            select(AlarmRuleConfig).order_by(AlarmRuleConfig.scope, AlarmRuleConfig.key)
        )
    )


def _validate(scope: str, key: str, values: dict[str, Any]) -> None:
    """Raise DomainError when the override is unknown, mistyped or inconsistent."""
    try:
        if scope == "default":
            _with_default(ThresholdConfig(), values)
        else:
            ThresholdConfig().set(scope, key, **values)  # type: ignore[arg-type]
    except TypeError as exc:
        raise DomainError("invalid_threshold", str(exc)) from None


def put_rule_config(
    session: Session, p: Principal, scope: str, key: str, values: dict[str, Any]
) -> AlarmRuleConfig:
    key = "" if scope == "default" else key
    if scope != "default" and not key:
        raise DomainError("key_required", f"a {scope} override names its {scope}")
    _validate(scope, key, values)
    row = session.scalar(
        select(AlarmRuleConfig).where(AlarmRuleConfig.scope == scope, AlarmRuleConfig.key == key)
    )
    old = dict(row.values) if row is not None else None
    if row is None:
        row = AlarmRuleConfig(scope=scope, key=key, values=values, updated_by=p.user_id)
        session.add(row)
    else:
        row.values = values
        row.updated_by = p.user_id
        row.updated_at = func.now()
    session.flush()
    audit.record(session, p.user_id, "alarm_rule_config", row.id, "put", old, values, None)
    session.commit()
    session.refresh(row)
    return row


def delete_rule_config(session: Session, p: Principal, config_id: int) -> None:
    row = session.get(AlarmRuleConfig, config_id)
    if row is None:
        raise NotFound(f"threshold override {config_id}")
    audit.record(session, p.user_id, "alarm_rule_config", row.id, "delete", row.values, None, None)
    session.delete(row)
    session.commit()


# ---- webhooks ------------------------------------------------------------------------------------


def webhook_scope(p: Principal) -> ColumnElement[bool]:
    return Webhook.org_unit_id.in_(select(OrgUnit.id).where(in_scope(p)))


def get_webhook(session: Session, p: Principal, webhook_id: int) -> Webhook:
    row = session.scalar(select(Webhook).where(Webhook.id == webhook_id, webhook_scope(p)))
    if row is None:
        raise NotFound(f"webhook {webhook_id}")
    return row


def create_webhook(
    session: Session,
    p: Principal,
    name: str,
    url: str,
    event_filter: dict[str, list[str]],
    secret: str | None,
    active: bool,
) -> Webhook:
    row = Webhook(
        name=name,
        url=url,
        secret=secret or secrets.token_urlsafe(32),
        event_filter=event_filter,
        active=active,
        org_unit_id=p.org_unit_id,
        created_by=p.user_id,
    )
    session.add(row)
    session.flush()
    audit.record(
        session, p.user_id, "webhook", row.id, "create", None, {"url": url, "name": name}, None
    )
    session.commit()
    return row


def update_webhook(
    session: Session, p: Principal, webhook_id: int, changes: dict[str, Any]
) -> Webhook:
    row = get_webhook(session, p, webhook_id)
    old = {k: getattr(row, k) for k in changes if k != "secret"}
    for k, v in changes.items():
        setattr(row, k, v)
    audit.record(
        session,
        p.user_id,
        "webhook",
        row.id,
        "update",
        old,
        {k: v for k, v in changes.items() if k != "secret"},
        None,
    )
    session.commit()
    return row


def delete_webhook(session: Session, p: Principal, webhook_id: int) -> None:
    row = get_webhook(session, p, webhook_id)
    session.query(WebhookDelivery).filter(WebhookDelivery.webhook_id == row.id).delete()
    audit.record(session, p.user_id, "webhook", row.id, "delete", {"url": row.url}, None, None)
    session.delete(row)
    session.commit()
