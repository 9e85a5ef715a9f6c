"""What tracking keeps in the database: each truck's tracker state on its route (so a restart
of the evaluation worker continues where it stopped), and the customer tracking links issued.

A link's token carries only the link's random id (``token_id``); the row says which order it
shows, until when, and whether it was revoked. So a token names no order or plan, and a link
can be withdrawn before it expires.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import DateTime, ForeignKey, Integer, String, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from wayhouse.platform.db.base import Base


class TrackerStateRow(Base):
    """One truck on one plan's route: the tracker state as of the last committed batch."""

    __tablename__ = "tracker_state"

    plan_id: Mapped[int] = mapped_column(
        ForeignKey("delivery_plan.id", ondelete="CASCADE"), primary_key=True
    )
    vehicle_id: Mapped[int] = mapped_column(
        ForeignKey("vehicle.id", ondelete="CASCADE"), primary_key=True
    )
    revision: Mapped[int] = mapped_column(Integer)  # the plan revision the state belongs to
    waypoints: Mapped[list[str]] = mapped_column(JSONB)  # waypoint ids, in route order
    state: Mapped[dict[str, Any]] = mapped_column(JSONB)  # TrackerState.to_dict()
    updated_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )


class TrackingLink(Base):
    __tablename__ = "tracking_link"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_id: Mapped[str] = mapped_column(String(32), unique=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("sales_order.id"), index=True)
    created_by: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
