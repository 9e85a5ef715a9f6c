"""Relational model of orders and credit (SQLAlchemy 2.0 typed ORM).

The rules live in ``dms.domain`` (orders, approval, credit, billing); these rows are their
persisted state. An order's timeline is the ``order_event`` rows; the approval chain is the
``order_approval`` steps; credit exposure is derived from invoices, payment allocations and
open orders, so nothing here is an editable balance.
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
    ApprovalStepStatus,
    CreditHoldStatus,
    OrderStatus,
    Role,
)
from wayhouse.platform.dms.models import Dealer, enum_check

Money = Numeric(14, 2)


class SalesOrder(Base):
    __tablename__ = "sales_order"
    __table_args__ = (
        enum_check("status", OrderStatus),
        Index("ix_sales_order_dealer_created", "dealer_id", "created_at"),
        Index("ix_sales_order_status", "status"),
        # Lists sort by created_at (id breaks ties): walk this instead of sorting every order.
        Index("ix_sales_order_created_id", "created_at", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dealer_id: Mapped[int] = mapped_column(ForeignKey("dealer.id"))
    region_id: Mapped[int] = mapped_column(ForeignKey("org_unit.id"))
    status: Mapped[str] = mapped_column(String(16), default=OrderStatus.DRAFT.value)
    total: Mapped[Decimal] = mapped_column(Money, default=Decimal("0.00"))
    currency: Mapped[str] = mapped_column(String(3), default="CNY")
    hold_reasons: Mapped[list[str]] = mapped_column(JSONB, default=list)
    note: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))

    dealer: Mapped[Dealer] = relationship(lazy="joined")
    lines: Mapped[list[OrderLineRow]] = relationship(
        order_by="OrderLineRow.id", cascade="all, delete-orphan"
    )
    events: Mapped[list[OrderEventRow]] = relationship(
        order_by="OrderEventRow.seq", cascade="all, delete-orphan"
    )
    approvals: Mapped[list[OrderApproval]] = relationship(
        order_by="OrderApproval.step", cascade="all, delete-orphan"
    )


class OrderLineRow(Base):
    __tablename__ = "order_line"
    __table_args__ = (
        UniqueConstraint("order_id", "product_id"),
        CheckConstraint("qty > 0", name="qty_positive"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("sales_order.id"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("product.id"))
    sku: Mapped[str] = mapped_column(String(40))
    product_class: Mapped[str] = mapped_column(String(40))
    qty: Mapped[int] = mapped_column(Integer)
    unit_price: Mapped[Decimal] = mapped_column(Money)
    amount: Mapped[Decimal] = mapped_column(Money)
    # Units that will never ship: the order was closed short after a partial shipment.
    closed_short: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class OrderEventRow(Base):
    """One step of the timeline: a state change, or progress within a state (from == to)."""

    __tablename__ = "order_event"
    __table_args__ = (UniqueConstraint("order_id", "seq"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("sales_order.id"))
    seq: Mapped[int] = mapped_column(Integer)
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    by: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text)


class ApprovalRuleRow(Base):
    """HQ-edited rule data for ``approval.ApprovalRule``."""

    __tablename__ = "approval_rule"
    __table_args__ = (enum_check("role", Role),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    level: Mapped[int] = mapped_column(Integer)
    role: Mapped[str] = mapped_column(String(32))
    min_amount: Mapped[Decimal] = mapped_column(Money, default=Decimal("0.00"))
    max_amount: Mapped[Decimal | None] = mapped_column(Money)
    regions: Mapped[list[str]] = mapped_column(JSONB, default=list)
    product_classes: Mapped[list[str]] = mapped_column(JSONB, default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class OrderApproval(Base):
    """One step of an order's approval chain and its decision, if made."""

    __tablename__ = "order_approval"
    __table_args__ = (
        UniqueConstraint("order_id", "step"),
        enum_check("status", ApprovalStepStatus),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("sales_order.id"))
    step: Mapped[int] = mapped_column(Integer)
    level: Mapped[int] = mapped_column(Integer)
    role: Mapped[str] = mapped_column(String(32))
    region_scope: Mapped[str | None] = mapped_column(String(32))
    rules: Mapped[list[str]] = mapped_column(JSONB, default=list)
    status: Mapped[str] = mapped_column(String(16), default=ApprovalStepStatus.PENDING.value)
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    decided_role: Mapped[str | None] = mapped_column(String(32))
    decided_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    note: Mapped[str | None] = mapped_column(Text)


class CreditAccountRow(Base):
    __tablename__ = "credit_account"
    __table_args__ = (
        CheckConstraint(
            "credit_limit >= 0 AND payment_terms_days >= 0 AND grace_days >= 0",
            name="terms_nonnegative",
        ),
    )

    dealer_id: Mapped[int] = mapped_column(ForeignKey("dealer.id"), primary_key=True)
    credit_limit: Mapped[Decimal] = mapped_column(Money)
    payment_terms_days: Mapped[int] = mapped_column(Integer)
    grace_days: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


class CreditHoldRow(Base):
    __tablename__ = "credit_hold"
    __table_args__ = (
        enum_check("status", CreditHoldStatus),
        Index("ix_credit_hold_dealer_status", "dealer_id", "status", "held_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dealer_id: Mapped[int] = mapped_column(ForeignKey("dealer.id"))
    order_id: Mapped[int] = mapped_column(ForeignKey("sales_order.id"), index=True)
    amount: Mapped[Decimal] = mapped_column(Money)
    reasons: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    status: Mapped[str] = mapped_column(String(16), default=CreditHoldStatus.HELD.value)
    held_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    ended_by: Mapped[str | None] = mapped_column(String(64))
    end_reason: Mapped[str | None] = mapped_column(Text)


class InvoiceRow(Base):
    __tablename__ = "invoice"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        Index("ix_invoice_dealer_issued", "dealer_id", "issued_on"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(40), unique=True)
    dealer_id: Mapped[int] = mapped_column(ForeignKey("dealer.id"))
    order_id: Mapped[int | None] = mapped_column(ForeignKey("sales_order.id"))
    issued_on: Mapped[dt.date] = mapped_column(Date)
    due_on: Mapped[dt.date] = mapped_column(Date)
    amount: Mapped[Decimal] = mapped_column(Money)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )


class PaymentRow(Base):
    __tablename__ = "payment"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("kind IN ('payment', 'credit_note')", name="kind_valid"),
        Index("ix_payment_dealer_received", "dealer_id", "received_on"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dealer_id: Mapped[int] = mapped_column(ForeignKey("dealer.id"))
    received_on: Mapped[dt.date] = mapped_column(Date)
    amount: Mapped[Decimal] = mapped_column(Money)
    reference: Mapped[str] = mapped_column(String(100), default="")
    # A credit note (goods returned after invoicing) settles invoices exactly like money.
    kind: Mapped[str] = mapped_column(String(16), default="payment", server_default="payment")
    created_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )


class PaymentAllocationRow(Base):
    __tablename__ = "payment_allocation"
    __table_args__ = (CheckConstraint("amount > 0", name="amount_positive"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    payment_id: Mapped[int] = mapped_column(ForeignKey("payment.id"), index=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoice.id"), index=True)
    amount: Mapped[Decimal] = mapped_column(Money)
    applied_on: Mapped[dt.date] = mapped_column(Date)
