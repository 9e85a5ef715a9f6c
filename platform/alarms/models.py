"""Alarm tables: the alarms and every transition the engine recorded, the engine's saved
state, people's acknowledge/clear commands (applied by the evaluator, in order), editable
thresholds, and webhooks with their delivery log. Plus the latest sensed count per bin that
the evaluator publishes for stocktaking.

Only the evaluation worker writes ``alarm``, ``alarm_transition``, ``alarm_state`` and
``bin_sensed`` (one writer: transition ids become visible in id order, which the websocket
and the webhook outbox rely on). The API writes commands, thresholds and webhooks.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from wayhouse.platform.alarms.model import Action, AlarmState, AlarmType, Severity
from wayhouse.platform.db.base import Base
from wayhouse.platform.dms.models import enum_check

# The stocktake tables come with this migration (0014) and register with these models.
from wayhouse.platform.stocktake import models as _stocktake_models  # noqa: F401

ALARM_ID_LEN = 20  # blake2b digest_size=10, hex
RULE_SCOPES = ("default", "site", "product_class", "device")
DELIVERY_STATUSES = ("pending", "delivered", "failed")


class AlarmRow(Base):
    __tablename__ = "alarm"
    __table_args__ = (
        enum_check("type", AlarmType),
        enum_check("severity", Severity),
        enum_check("state", AlarmState),
        Index("ix_alarm_state_raised_at", "state", "raised_at"),
        Index("ix_alarm_raised_at", "raised_at"),
        # One open alarm per rule and subject, kept by the database as well as the engine.
        Index(
            "ux_alarm_open_type_subject",
            "type",
            "subject",
            unique=True,
            postgresql_where=text("state <> 'cleared'"),
        ),
    )

    id: Mapped[str] = mapped_column(String(ALARM_ID_LEN), primary_key=True)
    type: Mapped[str] = mapped_column(String(32))
    subject: Mapped[str] = mapped_column(String(200))
    severity: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16))
    message: Mapped[str] = mapped_column(Text)
    evidence: Mapped[dict[str, Any]] = mapped_column(JSONB)
    occurrences: Mapped[int] = mapped_column(Integer)
    steps: Mapped[int] = mapped_column(Integer)  # transitions recorded
    raised_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    last_seen: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    acknowledged_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    acknowledged_by: Mapped[str | None] = mapped_column(String(64))
    cleared_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    cleared_by: Mapped[str | None] = mapped_column(String(64))
    clear_reason: Mapped[str | None] = mapped_column(Text)
    site: Mapped[str | None] = mapped_column(String(64))
    warehouse_id: Mapped[int | None] = mapped_column(ForeignKey("warehouse.id"), index=True)
    # Whose alarm it is (tenancy): the warehouse's org unit, the dealer's for a document;
    # None when the site is unknown (then only HQ admins see it).
    org_unit_id: Mapped[int | None] = mapped_column(ForeignKey("org_unit.id"), index=True)
    product_class: Mapped[str | None] = mapped_column(String(40))
    device: Mapped[str | None] = mapped_column(String(64))
    updated_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )


class AlarmTransitionRow(Base):
    """Every recorded step; ``id`` orders them for live push and webhooks."""

    __tablename__ = "alarm_transition"
    __table_args__ = (
        UniqueConstraint("alarm_id", "seq"),
        enum_check("action", Action),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    alarm_id: Mapped[str] = mapped_column(ForeignKey("alarm.id"))
    seq: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(16))
    from_state: Mapped[str | None] = mapped_column(String(16))
    to_state: Mapped[str] = mapped_column(String(16))
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    by: Mapped[str] = mapped_column(String(64))
    severity: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text)
    message: Mapped[str] = mapped_column(Text)
    evidence: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    occurrences: Mapped[int] = mapped_column(Integer)
    recorded_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )


class AlarmStateRow(Base):
    """The evaluator's saved state, one row per part (``engine``, ``slot:<key>``,
    ``bin:<code>``, ``agent:<id>``, ``env:<sensor>``, ``eval:<what>``): a batch rewrites only
    the parts it changed, in the transaction that records its messages as evaluated."""

    __tablename__ = "alarm_state"

    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    state: Mapped[dict[str, Any]] = mapped_column(JSONB)
    updated_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )


class AlarmCommand(Base):
    """A person's acknowledge or clear, applied by the evaluator in id order (so the engine
    stays the only writer of alarms); ``outcome`` says what came of it."""

    __tablename__ = "alarm_command"
    __table_args__ = (
        CheckConstraint("action IN ('acknowledge', 'clear')", name="action_valid"),
        CheckConstraint("outcome IN ('applied', 'refused')", name="outcome_valid"),
        Index("ix_alarm_command_pending", "id", postgresql_where=text("applied_at IS NULL")),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    alarm_id: Mapped[str] = mapped_column(ForeignKey("alarm.id"), index=True)
    action: Mapped[str] = mapped_column(String(16))
    force: Mapped[bool] = mapped_column(Boolean, default=False)
    note: Mapped[str] = mapped_column(Text, default="")
    user_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    by: Mapped[str] = mapped_column(String(64))
    requested_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    applied_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    outcome: Mapped[str | None] = mapped_column(String(16))
    error: Mapped[str | None] = mapped_column(Text)


class AlarmRuleConfig(Base):
    """Threshold overrides: scope ``default`` (key ''), ``site`` (warehouse code),
    ``product_class`` or ``device`` (sensor or agent id); ``values`` is partial."""

    __tablename__ = "alarm_rule_config"
    __table_args__ = (
        UniqueConstraint("scope", "key"),
        CheckConstraint(
            "scope IN (" + ", ".join(f"'{s}'" for s in RULE_SCOPES) + ")", name="scope_valid"
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    scope: Mapped[str] = mapped_column(String(16))
    key: Mapped[str] = mapped_column(String(64))
    values: Mapped[dict[str, Any]] = mapped_column(JSONB)
    updated_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    updated_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))


class Webhook(Base):
    """An HTTP endpoint told about alarm transitions of its owner's subtree (signed)."""

    __tablename__ = "webhook"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    url: Mapped[str] = mapped_column(String(500))
    secret: Mapped[str] = mapped_column(String(128))
    # {"types": [...], "severities": [...], "actions": [...]}: a missing or empty list is "all".
    event_filter: Mapped[dict[str, Any]] = mapped_column(JSONB)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    org_unit_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id"))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )


class WebhookDelivery(Base):
    """The outbox and the delivery log: queued with the transition, in its transaction."""

    __tablename__ = "webhook_delivery"
    __table_args__ = (
        UniqueConstraint("webhook_id", "transition_id"),
        CheckConstraint(
            "status IN (" + ", ".join(f"'{s}'" for s in DELIVERY_STATUSES) + ")",
            name="status_valid",
        ),
        Index(
            "ix_webhook_delivery_due", "next_try_at", postgresql_where=text("status = 'pending'")
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    webhook_id: Mapped[int] = mapped_column(ForeignKey("webhook.id"))
    transition_id: Mapped[int] = mapped_column(ForeignKey("alarm_transition.id"))
    event: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_try_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    last_attempt_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    response_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    delivered_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class BinSensed(Base):
    """The scale's latest count per instrumented bin, as the evaluator sees it (with the book
    it compares against and the RFID count of the bin): what snapshots and the bin map read."""

    __tablename__ = "bin_sensed"

    bin_id: Mapped[int] = mapped_column(ForeignKey("bin.id"), primary_key=True)
    product_id: Mapped[int | None] = mapped_column(ForeignKey("product.id"))
    count: Mapped[int] = mapped_column(Integer)
    confidence: Mapped[float] = mapped_column(Float)
    confident: Mapped[bool] = mapped_column(Boolean)
    settled: Mapped[bool] = mapped_column(Boolean)
    mean_g: Mapped[float] = mapped_column(Float)
    readings: Mapped[int] = mapped_column(Integer)
    book: Mapped[int | None] = mapped_column(Integer)
    scanned: Mapped[int | None] = mapped_column(Integer)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
