"""Vehicles, delivery plans and their routes and stops.

A plan belongs to a warehouse and a day; it is solved in the background (status and progress
on the row, so the console never waits on a request), reviewed and edited (moved stops,
locked routes), then published to the trucks and drivers. Stops carry both the planned times
and what tracking observed (arrival, departure), which is what a re-plan keeps fixed.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
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
from sqlalchemy.orm import Mapped, mapped_column, relationship

from wayhouse.platform.db.base import Base


class VehicleRow(Base):
    __tablename__ = "vehicle"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    plate: Mapped[str] = mapped_column(String(32))
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouse.id"), index=True)
    agent_id: Mapped[str | None] = mapped_column(String(64), unique=True)  # its GPS unit
    capacity_kg: Mapped[float] = mapped_column(Float)
    capacity_m3: Mapped[float] = mapped_column(Float)
    shift_start_s: Mapped[int] = mapped_column(Integer, default=7 * 3600)
    shift_end_s: Mapped[int] = mapped_column(Integer, default=19 * 3600)
    fixed_cost: Mapped[float] = mapped_column(Float, default=0.0)
    cost_per_km: Mapped[float] = mapped_column(Float, default=0.0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


PLAN_STATUSES = ("solving", "ready", "failed", "published")
STOP_STATUSES = ("planned", "arrived", "departed", "delivered", "skipped")


class DeliveryPlan(Base):
    __tablename__ = "delivery_plan"
    __table_args__ = (
        CheckConstraint(
            "status IN ('solving', 'ready', 'failed', 'published')", name="status_valid"
        ),
        Index("ix_delivery_plan_warehouse_day", "warehouse_id", "day"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouse.id"))
    day: Mapped[dt.date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), default="solving")
    engine: Mapped[str] = mapped_column(String(16))
    objective: Mapped[str] = mapped_column(String(16))
    time_limit_s: Mapped[float] = mapped_column(Float)
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    message: Mapped[str | None] = mapped_column(Text)
    revision: Mapped[int] = mapped_column(Integer, default=1)  # bumped by every change
    distance_m: Mapped[float] = mapped_column(Float, default=0.0)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    published_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))

    routes: Mapped[list[PlanRoute]] = relationship(
        order_by="PlanRoute.id", cascade="all, delete-orphan"
    )
    stops: Mapped[list[PlanStop]] = relationship(
        order_by="PlanStop.id", cascade="all, delete-orphan"
    )


class PlanRoute(Base):
    __tablename__ = "plan_route"
    __table_args__ = (UniqueConstraint("plan_id", "vehicle_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("delivery_plan.id"))
    vehicle_id: Mapped[int] = mapped_column(ForeignKey("vehicle.id"))
    driver_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    locked: Mapped[bool] = mapped_column(Boolean, default=False)
    distance_m: Mapped[float] = mapped_column(Float, default=0.0)
    start_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    end_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))

    vehicle: Mapped[VehicleRow] = relationship(lazy="joined")


class PlanStop(Base):
    """One order's delivery in a plan; ``route_id`` NULL means unassigned (with the reason)."""

    __tablename__ = "plan_stop"
    __table_args__ = (
        CheckConstraint(
            "status IN ('planned', 'arrived', 'departed', 'delivered', 'skipped')",
            name="status_valid",
        ),
        UniqueConstraint("plan_id", "order_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("delivery_plan.id"))
    route_id: Mapped[int | None] = mapped_column(ForeignKey("plan_route.id"), index=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("sales_order.id"), index=True)
    seq: Mapped[int] = mapped_column(Integer, default=0)
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    weight_kg: Mapped[float] = mapped_column(Float)
    volume_m3: Mapped[float] = mapped_column(Float)
    service_s: Mapped[float] = mapped_column(Float)
    window_open_s: Mapped[float] = mapped_column(Float)
    window_close_s: Mapped[float] = mapped_column(Float)
    priority: Mapped[int] = mapped_column(Integer, default=0)
    planned_arrival: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    planned_departure: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    eta: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(16), default="planned")
    actual_arrival: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    actual_departure: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    unassigned_reason: Mapped[str | None] = mapped_column(Text)
