"""After-sales service tickets, their timeline, photos and the parts used on the work order.

The rules are ``dms.domain.service``; these rows are its persisted state. The ticket keeps its
SLA clocks (``response_stop_at``, ``resolution_stop_at``) beside the timeline they are derived
from, so a list can filter breached tickets in SQL; the service layer rewrites them from the
domain on every change. ``customer_id`` refers to the CRM's customer table by value only: that
table arrives in another migration, and a ticket must not wait for it.
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
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from wayhouse.platform.db.base import Base
from wayhouse.platform.dms.domain.service import TicketPriority
from wayhouse.platform.dms.domain.types import TicketStatus
from wayhouse.platform.dms.models import Dealer, Product, enum_check


class ServiceTicket(Base):
    __tablename__ = "service_ticket"
    __table_args__ = (
        enum_check("status", TicketStatus),
        enum_check("priority", TicketPriority),
        CheckConstraint("rating_score BETWEEN 1 AND 5", name="rating_score_range"),
        CheckConstraint("labour_minutes >= 0", name="labour_nonnegative"),
        Index("ix_service_ticket_dealer_opened", "dealer_id", "opened_at"),
        Index("ix_service_ticket_technician_status", "technician_id", "status"),
        Index("ix_service_ticket_status", "status"),
        Index("ix_service_ticket_customer", "customer_id"),  # a customer's service history
        # Lists sort by opened_at (id breaks ties).
        Index("ix_service_ticket_opened_id", "opened_at", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dealer_id: Mapped[int] = mapped_column(ForeignKey("dealer.id"))
    customer_id: Mapped[int | None] = mapped_column(Integer)  # customer.id, no FK (see above)
    product_id: Mapped[int] = mapped_column(ForeignKey("product.id"))
    lot_code: Mapped[str] = mapped_column(String(40), default="")
    serial: Mapped[str] = mapped_column(String(80), default="")
    problem: Mapped[str] = mapped_column(Text)
    priority: Mapped[str] = mapped_column(String(16), default=TicketPriority.NORMAL.value)
    status: Mapped[str] = mapped_column(String(16), default=TicketStatus.OPEN.value)
    technician_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    opened_by: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    opened_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    # SLA clocks (domain ``SlaClocks``): when the response and the resolution timers stopped.
    response_stop_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    resolution_stop_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    # The work order: opened when the technician starts on site.
    work_started_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    labour_minutes: Mapped[int] = mapped_column(Integer, default=0)
    resolution: Mapped[str] = mapped_column(Text, default="")
    rating_score: Mapped[int | None] = mapped_column(SmallInteger)
    rating_comment: Mapped[str | None] = mapped_column(Text)
    rated_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    rated_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))

    dealer: Mapped[Dealer] = relationship(lazy="joined")
    product: Mapped[Product] = relationship(lazy="joined")
    events: Mapped[list[TicketEvent]] = relationship(
        order_by="TicketEvent.seq", cascade="all, delete-orphan"
    )
    parts: Mapped[list[WorkOrderPart]] = relationship(
        order_by="WorkOrderPart.id", cascade="all, delete-orphan"
    )
    photos: Mapped[list[TicketPhoto]] = relationship(
        order_by="TicketPhoto.id", cascade="all, delete-orphan"
    )


class TicketEvent(Base):
    """One lifecycle step of a ticket: who moved it from which status to which, when and why."""

    __tablename__ = "ticket_event"
    __table_args__ = (UniqueConstraint("ticket_id", "seq"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("service_ticket.id"))
    seq: Mapped[int] = mapped_column(Integer)
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    by_user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    note: Mapped[str] = mapped_column(Text, default="")


class TicketPhoto(Base):
    """A photo of the fault; the file lives under the data dir, named by its content hash."""

    __tablename__ = "ticket_photo"
    __table_args__ = (
        CheckConstraint("size_bytes > 0", name="size_positive"),
        UniqueConstraint("ticket_id", "sha256"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("service_ticket.id"))
    file_path: Mapped[str] = mapped_column(String(200))
    sha256: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    content_type: Mapped[str] = mapped_column(String(64))
    uploaded_by: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    uploaded_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class WorkOrderPart(Base):
    """A part fitted (qty > 0) or brought back unused (qty < 0), and the ledger row it posted."""

    __tablename__ = "work_order_part"
    __table_args__ = (CheckConstraint("qty <> 0", name="qty_nonzero"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("service_ticket.id"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("product.id"))
    sku: Mapped[str] = mapped_column(String(40))
    lot_id: Mapped[int | None] = mapped_column(ForeignKey("lot.id"))
    bin_id: Mapped[int] = mapped_column(ForeignKey("bin.id"))
    qty: Mapped[int] = mapped_column(Integer)
    stock_movement_id: Mapped[int] = mapped_column(ForeignKey("stock_movement.id"), unique=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    by_user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
