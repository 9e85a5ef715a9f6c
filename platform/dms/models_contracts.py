"""Relational model of dealer contracts (SQLAlchemy 2.0 typed ORM).

The rules live in ``dms.domain.contracts``; these rows are their persisted state. A contract
is a list of versions; a version's terms are written once (while a draft) and then only read,
so they are kept as one JSONB document validated through the domain on the way in and out.
The period sits in plain columns too: lists filter on "in force on date X".
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from wayhouse.platform.db.base import Base
from wayhouse.platform.dms.domain.types import ContractStatus, Role
from wayhouse.platform.dms.models import Dealer, enum_check


class ContractRow(Base):
    """One dealer contract. ``status`` is the state of its latest version (what is being
    worked on); ``active_version_id`` points at the version in force, if one was approved."""

    __tablename__ = "contract"
    __table_args__ = (
        enum_check("status", ContractStatus),
        Index("ix_contract_dealer_id", "dealer_id"),
        Index("ix_contract_status", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dealer_id: Mapped[int] = mapped_column(ForeignKey("dealer.id"))
    number: Mapped[str] = mapped_column(String(40), unique=True)
    status: Mapped[str] = mapped_column(String(20))
    latest_version: Mapped[int] = mapped_column(Integer)
    # Versions point back at their contract: the cycle is closed by ALTER after both exist.
    active_version_id: Mapped[int | None] = mapped_column(
        ForeignKey("contract_version.id", use_alter=True)
    )
    created_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))

    dealer: Mapped[Dealer] = relationship(lazy="joined")
    versions: Mapped[list[ContractVersionRow]] = relationship(
        order_by="ContractVersionRow.number",
        foreign_keys="ContractVersionRow.contract_id",
        back_populates="contract",
    )
    # Read-only: the service sets ``active_version_id`` itself, after the versions are flushed.
    active: Mapped[ContractVersionRow | None] = relationship(
        foreign_keys=[active_version_id], viewonly=True, lazy="joined"
    )


class ContractVersionRow(Base):
    """One version of the terms and where it stands in approval."""

    __tablename__ = "contract_version"
    __table_args__ = (
        UniqueConstraint("contract_id", "number"),
        enum_check("status", ContractStatus),
        enum_check("author_role", Role),
        CheckConstraint("period_end >= period_start", name="period_ordered"),
        CheckConstraint("number >= 1", name="number_positive"),
        # At most one version in force per contract, whatever the application does.
        Index(
            "ix_contract_version_one_active",
            "contract_id",
            unique=True,
            postgresql_where=text("status = 'active'"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    contract_id: Mapped[int] = mapped_column(ForeignKey("contract.id"))
    number: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20))
    period_start: Mapped[dt.date] = mapped_column(Date)
    period_end: Mapped[dt.date] = mapped_column(Date)
    # {"targets": [...], "rebate_tiers": [...], "payment_stages": [...]}, amounts as strings.
    terms: Mapped[dict[str, Any]] = mapped_column(JSONB)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    author_role: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))

    contract: Mapped[ContractRow] = relationship(
        foreign_keys=[contract_id], back_populates="versions"
    )
    events: Mapped[list[ContractEventRow]] = relationship(
        order_by="ContractEventRow.seq", cascade="all, delete-orphan"
    )


class ContractEventRow(Base):
    """One step of a version's timeline (the domain's ``TransitionEvent``)."""

    __tablename__ = "contract_event"
    __table_args__ = (
        UniqueConstraint("version_id", "seq"),
        enum_check("to_status", ContractStatus),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("contract_version.id"))
    seq: Mapped[int] = mapped_column(Integer)
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str] = mapped_column(String(20))
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    by: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text)
