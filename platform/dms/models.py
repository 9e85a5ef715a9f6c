"""Relational model of the dealer network (SQLAlchemy 2.0 typed ORM).

Tenancy is a tree: HQ > region > dealer (> sub-dealer). Every org unit keeps its
materialised ``path`` ('/1/4/17/'); a row is visible to a user when its org unit's path
starts with the user's own, which makes scoping one indexed prefix comparison.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from wayhouse.platform.db.base import Base
from wayhouse.platform.dms.domain.types import (
    DealerStatus,
    DealerTier,
    MovementKind,
    OrgLevel,
    Role,
)


def enum_check(column: str, values: type) -> CheckConstraint:
    """A CHECK that keeps ``column`` to the values of an enum (shared by every model module)."""
    allowed = ", ".join(f"'{v.value}'" for v in values)  # type: ignore[attr-defined]
    return CheckConstraint(f"{column} IN ({allowed})", name=f"{column}_valid")


class OrgUnit(Base):
    __tablename__ = "org_unit"
    __table_args__ = (
        enum_check("level", OrgLevel),
        Index("ix_org_unit_path_prefix", "path", postgresql_ops={"path": "text_pattern_ops"}),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("org_unit.id"))
    level: Mapped[str] = mapped_column(String(16))
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    path: Mapped[str] = mapped_column(String(400), unique=True)


class AppUser(Base):
    __tablename__ = "app_user"
    __table_args__ = (enum_check("role", Role),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(Text)
    role: Mapped[str] = mapped_column(String(32))
    org_unit_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id"))
    locale: Mapped[str] = mapped_column(String(8), default="zh-CN")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )

    org_unit: Mapped[OrgUnit] = relationship(lazy="joined")


class UserSession(Base):
    """An opaque bearer token; only its SHA-256 is stored."""

    __tablename__ = "user_session"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class LoginAttempt(Base):
    __tablename__ = "login_attempt"
    __table_args__ = (Index("ix_login_attempt_username_at", "username", "at"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    username: Mapped[str] = mapped_column(String(64))
    client: Mapped[str | None] = mapped_column(String(64))
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    success: Mapped[bool] = mapped_column(Boolean)


class AuditLog(Base):
    """Who changed what, when, with old and new values. Append-only."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_entity", "entity", "entity_id", "at"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    user_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    entity: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32))
    old: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    new: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    reason: Mapped[str | None] = mapped_column(Text)


class Dealer(Base):
    __tablename__ = "dealer"
    __table_args__ = (enum_check("status", DealerStatus), enum_check("tier", DealerTier))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_unit_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id"), unique=True)
    legal_name: Mapped[str] = mapped_column(String(200))
    tier: Mapped[str] = mapped_column(String(16), default=DealerTier.STANDARD.value)
    status: Mapped[str] = mapped_column(String(16), default=DealerStatus.APPLICANT.value)
    status_reason: Mapped[str | None] = mapped_column(Text)
    business_scope: Mapped[str | None] = mapped_column(Text)
    contacts: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    addresses: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    updated_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )

    org_unit: Mapped[OrgUnit] = relationship(lazy="joined")


class Product(Base):
    __tablename__ = "product"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sku: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    product_class: Mapped[str] = mapped_column(String(40))
    unit: Mapped[str] = mapped_column(String(16), default="pcs")
    unit_weight_g: Mapped[float] = mapped_column(Float)
    unit_volume_l: Mapped[float] = mapped_column(Float)
    shelf_life_days: Mapped[int | None] = mapped_column(Integer)
    list_price: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Warehouse(Base):
    """A warehouse belongs to an org unit (HQ's central one, or a dealer's own)."""

    __tablename__ = "warehouse"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_unit_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id"), index=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)

    org_unit: Mapped[OrgUnit] = relationship(lazy="joined")


class Zone(Base):
    __tablename__ = "zone"
    __table_args__ = (UniqueConstraint("warehouse_id", "code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouse.id"))
    code: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(200))


class Bin(Base):
    """A storage bin, or the warehouse's outbound ``staging`` bin where picked goods wait for
    their shipment (still on hand, still reserved for the order, never allocated again)."""

    __tablename__ = "bin"
    __table_args__ = (
        UniqueConstraint("warehouse_id", "code"),
        CheckConstraint("role IN ('storage', 'staging')", name="role_valid"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouse.id"), index=True)
    zone_id: Mapped[int | None] = mapped_column(ForeignKey("zone.id"))
    code: Mapped[str] = mapped_column(String(32))
    # The shelf-scale load cell weighing this bin (sensor.sensor_id of the device registry).
    scale_sensor_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16), default="storage", server_default="storage")


class Lot(Base):
    __tablename__ = "lot"
    __table_args__ = (UniqueConstraint("product_id", "code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("product.id"), index=True)
    code: Mapped[str] = mapped_column(String(40))
    expires_on: Mapped[dt.date | None] = mapped_column(Date)


class StockMovement(Base):
    """One immutable ledger row: a signed quantity of a product lot in a bin.
    A transfer is two rows sharing ``transfer_ref``. On-hand is the sum of these rows."""

    __tablename__ = "stock_movement"
    __table_args__ = (
        enum_check("kind", MovementKind),
        CheckConstraint("qty <> 0", name="qty_nonzero"),
        Index("ix_stock_movement_product_bin_lot", "product_id", "bin_id", "lot_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    kind: Mapped[str] = mapped_column(String(16))
    product_id: Mapped[int] = mapped_column(ForeignKey("product.id"))
    lot_id: Mapped[int | None] = mapped_column(ForeignKey("lot.id"))
    bin_id: Mapped[int] = mapped_column(ForeignKey("bin.id"))
    qty: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str | None] = mapped_column(Text)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    transfer_ref: Mapped[str | None] = mapped_column(String(40))
    source: Mapped[str] = mapped_column(String(16), default="api")  # api | scan | stocktake


class StockReservation(Base):
    """Stock promised to an order line; released or consumed by the pick."""

    __tablename__ = "stock_reservation"
    __table_args__ = (CheckConstraint("qty > 0", name="qty_positive"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    product_id: Mapped[int] = mapped_column(ForeignKey("product.id"), index=True)
    lot_id: Mapped[int | None] = mapped_column(ForeignKey("lot.id"))
    bin_id: Mapped[int] = mapped_column(ForeignKey("bin.id"))
    qty: Mapped[int] = mapped_column(Integer)
    order_ref: Mapped[str] = mapped_column(String(40), index=True)
    released_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
