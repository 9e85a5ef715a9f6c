"""Order fulfilment: picks (storage bin -> the warehouse's outbound staging bin), shipments
(one order may leave in several), proof of delivery per shipment, returns, and the record of
which scanner reads were posted to the ledger.

Quantities are never stored twice: what an order has shipped is the sum of its shipment lines,
what came back the sum of its return lines; the stock itself is only in ``stock_movement``.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from wayhouse.platform.db.base import Base


class OrderPick(Base):
    """Units of one reservation taken from a storage bin to staging, by hand or by a scan."""

    __tablename__ = "order_pick"
    __table_args__ = (CheckConstraint("qty > 0", name="qty_positive"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("sales_order.id"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("product.id"))
    lot_id: Mapped[int | None] = mapped_column(ForeignKey("lot.id"))
    from_bin_id: Mapped[int] = mapped_column(ForeignKey("bin.id"))
    staging_bin_id: Mapped[int] = mapped_column(ForeignKey("bin.id"))
    qty: Mapped[int] = mapped_column(Integer)
    movement_id: Mapped[int] = mapped_column(ForeignKey("stock_movement.id"))  # the out row
    source: Mapped[str] = mapped_column(String(16))  # api | scan
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))


class Shipment(Base):
    __tablename__ = "shipment"
    __table_args__ = (
        CheckConstraint("status IN ('shipped', 'delivered')", name="status_valid"),
        CheckConstraint(
            "status = 'shipped' OR (pod_kind IS NOT NULL AND pod_reference IS NOT NULL)",
            name="delivered_has_proof",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("sales_order.id"), index=True)
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouse.id"))
    status: Mapped[str] = mapped_column(String(16), default="shipped")
    shipped_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    shipped_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    delivered_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    delivered_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    pod_kind: Mapped[str | None] = mapped_column(String(16))
    pod_reference: Mapped[str | None] = mapped_column(String(200))
    pod_received_by: Mapped[str | None] = mapped_column(String(100))

    lines: Mapped[list[ShipmentLine]] = relationship(
        order_by="ShipmentLine.id", cascade="all, delete-orphan"
    )


class ShipmentLine(Base):
    __tablename__ = "shipment_line"
    __table_args__ = (CheckConstraint("qty > 0", name="qty_positive"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    shipment_id: Mapped[int] = mapped_column(ForeignKey("shipment.id"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("product.id"))
    sku: Mapped[str] = mapped_column(String(40))
    lot_id: Mapped[int | None] = mapped_column(ForeignKey("lot.id"))
    qty: Mapped[int] = mapped_column(Integer)
    movement_id: Mapped[int] = mapped_column(ForeignKey("stock_movement.id"))


class OrderReturn(Base):
    __tablename__ = "order_return"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("sales_order.id"), index=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    reason: Mapped[str] = mapped_column(Text)
    credit_payment_id: Mapped[int | None] = mapped_column(ForeignKey("payment.id"))

    lines: Mapped[list[OrderReturnLine]] = relationship(
        order_by="OrderReturnLine.id", cascade="all, delete-orphan"
    )


class OrderReturnLine(Base):
    __tablename__ = "order_return_line"
    __table_args__ = (CheckConstraint("qty > 0", name="qty_positive"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    return_id: Mapped[int] = mapped_column(ForeignKey("order_return.id"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("product.id"))
    sku: Mapped[str] = mapped_column(String(40))
    lot_id: Mapped[int | None] = mapped_column(ForeignKey("lot.id"))
    bin_id: Mapped[int] = mapped_column(ForeignKey("bin.id"))
    qty: Mapped[int] = mapped_column(Integer)
    movement_id: Mapped[int] = mapped_column(ForeignKey("stock_movement.id"))


class ScanPosting(Base):
    """What became of one scanner read: a ledger movement, or why none was posted. The
    primary key is the read's identity, so replaying the scan stream posts nothing twice."""

    __tablename__ = "scan_posting"
    __table_args__ = (
        CheckConstraint("outcome IN ('posted', 'ignored', 'rejected')", name="outcome_valid"),
        Index("ix_scan_posting_outcome_ts", "outcome", "ts"),
    )

    agent_key: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    idx: Mapped[int] = mapped_column(Integer, primary_key=True)
    ts: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    action: Mapped[str] = mapped_column(String(16))
    code: Mapped[str] = mapped_column(String(128))
    bin_code: Mapped[str | None] = mapped_column(String(64))
    qty: Mapped[int] = mapped_column(Integer)
    outcome: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text)
    order_id: Mapped[int | None] = mapped_column(ForeignKey("sales_order.id"))
    movement_id: Mapped[int | None] = mapped_column(ForeignKey("stock_movement.id"))
    posted_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
