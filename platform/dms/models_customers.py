"""Customers (end clients of dealers), their interactions and lead-assignment rules.

The rules live in ``dms.domain.customers``; these rows are their persisted state. A customer's
lifecycle steps and owner changes are in the audit log; its interactions are an immutable log
of their own (rows are only ever added). ``owner_unit_id`` is the org unit the row belongs to
for tenant scoping: the dealer's unit once assigned, else the region's or HQ's queue.
"""

from __future__ import annotations

import datetime as dt

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
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from wayhouse.platform.db.base import Base
from wayhouse.platform.dms.domain.customers import InteractionKind
from wayhouse.platform.dms.domain.types import CustomerStage
from wayhouse.platform.dms.models import AppUser, Dealer, enum_check


class CustomerRow(Base):
    __tablename__ = "customer"
    __table_args__ = (
        enum_check("status", CustomerStage),
        CheckConstraint("purchases >= 0", name="purchases_nonnegative"),
        # Deliveries are routed to customers: a position is both coordinates or neither.
        CheckConstraint("(lat IS NULL) = (lon IS NULL)", name="position_paired"),
        CheckConstraint(
            "lat BETWEEN -90 AND 90 AND lon BETWEEN -180 AND 180", name="position_valid"
        ),
        Index("ix_customer_dealer_status", "dealer_id", "status"),
        Index("ix_customer_owner_unit_id", "owner_unit_id"),
        # Lists sort by created_at (id breaks ties): walk this instead of sorting every row.
        Index("ix_customer_created_id", "created_at", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str | None] = mapped_column(String(32), unique=True)  # import / CRM reference
    dealer_id: Mapped[int | None] = mapped_column(ForeignKey("dealer.id"))  # None: unassigned
    region_id: Mapped[int | None] = mapped_column(ForeignKey("org_unit.id"))
    owner_unit_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id"))
    name: Mapped[str] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(40))
    email: Mapped[str | None] = mapped_column(String(200))
    address: Mapped[str | None] = mapped_column(Text)
    # Province/city code ('CN-GD-SZ') the lead rules match on; '' when not known.
    area_code: Mapped[str] = mapped_column(String(32), default="")
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(16), default=CustomerStage.LEAD.value)
    purchases: Mapped[int] = mapped_column(Integer, default=0)
    source: Mapped[str] = mapped_column(String(40), default="")
    last_interaction_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))

    dealer: Mapped[Dealer | None] = relationship(lazy="joined")


class CustomerInteractionRow(Base):
    """One contact with a customer. Never updated or deleted: a correction is a new row."""

    __tablename__ = "customer_interaction"
    __table_args__ = (
        enum_check("kind", InteractionKind),
        Index("ix_customer_interaction_customer_at", "customer_id", "at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"))
    kind: Mapped[str] = mapped_column(String(16))
    summary: Mapped[str] = mapped_column(Text)
    next_step: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))  # when it happened
    by_user_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    recorded_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )

    by_user: Mapped[AppUser | None] = relationship(lazy="joined")


class LeadRuleRow(Base):
    """HQ-edited data for ``domain.customers.RegionRule``: leads whose area code starts with
    ``area_prefix`` go to ``region_id``, to the least loaded of ``dealer_ids`` (in that order on
    ties), or of all the region's active dealers when the list is empty."""

    __tablename__ = "lead_rule"
    __table_args__ = (UniqueConstraint("region_id", "area_prefix"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    area_prefix: Mapped[str] = mapped_column(String(32))  # normalised: 'CN-GD', or '*'
    region_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id"))
    dealer_ids: Mapped[list[int]] = mapped_column(JSONB, default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    note: Mapped[str | None] = mapped_column(Text)
    updated_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
