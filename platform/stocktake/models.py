"""Stocktake sessions and their lines (book, sensed, scanned, hand count per bin and lot),
with the proposed adjustment of each line and its four-eyes decision. Approved adjustments
are posted as ledger ADJUST movements (``movement_id``); the rows here are the review trail.
Registered with the alarm tables (``platform/alarms/models.py``): one migration, 0014."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    Numeric,
    String,
    Text,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from wayhouse.platform.db.base import Base
from wayhouse.platform.dms.models import enum_check
from wayhouse.platform.stocktake.session import AdjustmentStatus, CountSource, SessionStatus


class StocktakeSessionRow(Base):
    __tablename__ = "stocktake_session"
    __table_args__ = (enum_check("status", SessionStatus),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouse.id"), index=True)
    zone_id: Mapped[int | None] = mapped_column(ForeignKey("zone.id"))
    status: Mapped[str] = mapped_column(String(16))
    created_by: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    reason: Mapped[str | None] = mapped_column(Text)
    # The lifecycle steps (TransitionEvent dicts), in order.
    history: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)

    lines: Mapped[list[StocktakeLineRow]] = relationship(
        order_by="StocktakeLineRow.id", cascade="all, delete-orphan"
    )


class StocktakeLineRow(Base):
    __tablename__ = "stocktake_line"
    __table_args__ = (
        enum_check("adj_status", AdjustmentStatus),
        enum_check("adj_source", CountSource),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("stocktake_session.id"), index=True)
    bin_id: Mapped[int] = mapped_column(ForeignKey("bin.id"))
    product_id: Mapped[int] = mapped_column(ForeignKey("product.id"))
    lot_id: Mapped[int | None] = mapped_column(ForeignKey("lot.id"))
    book: Mapped[int] = mapped_column(Integer)
    sensed: Mapped[int | None] = mapped_column(Integer)
    sensed_confidence: Mapped[float] = mapped_column(Float)
    scanned: Mapped[int | None] = mapped_column(Integer)
    manual: Mapped[int | None] = mapped_column(Integer)
    counted_by: Mapped[str | None] = mapped_column(String(64))
    unit_value: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    # The proposed adjustment and its decision (all NULL while none is proposed).
    delta: Mapped[int | None] = mapped_column(Integer)
    adj_source: Mapped[str | None] = mapped_column(String(16))
    adj_value: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    adj_status: Mapped[str | None] = mapped_column(String(16))
    adj_reason: Mapped[str | None] = mapped_column(Text)
    proposed_by: Mapped[str | None] = mapped_column(String(64))
    decided_by: Mapped[str | None] = mapped_column(String(64))
    adj_note: Mapped[str | None] = mapped_column(Text)
    movement_id: Mapped[int | None] = mapped_column(ForeignKey("stock_movement.id"))
