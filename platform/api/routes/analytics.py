"""Dashboard aggregates (``dms.analytics``), scoped to the caller's subtree like every list:
a region or dealer filter outside it simply finds nothing."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from pydantic import BaseModel

from wayhouse.platform.api.auth_deps import DbSession, require_role
from wayhouse.platform.api.errors import INT_MAX
from wayhouse.platform.auth.principal import Principal
from wayhouse.platform.dms import analytics
from wayhouse.platform.dms.domain.types import Role

router = APIRouter(tags=["analytics"])

Analysts = Annotated[
    Principal, Depends(require_role(Role.HQ_ADMIN, Role.REGION_MANAGER, Role.DEALER_USER))
]
MAX_DAYS = 3 * 366  # a bounded scan, and a chart that still reads


class MonthOut(BaseModel):
    month: str
    orders: int
    ordered: Decimal
    delivered: Decimal
    invoiced: Decimal


class StatusOut(BaseModel):
    status: str
    orders: int
    value: Decimal


class DealerValueOut(BaseModel):
    dealer_id: int
    name: str
    delivered: Decimal


class RatioOut(BaseModel):
    """``ratio`` is None when there is nothing to measure yet (never a made-up 0 or 100%)."""

    count: int
    hits: int
    ratio: float | None


class TargetsOut(BaseModel):
    contracts: int
    target: Decimal
    expected_to_date: Decimal
    actual: Decimal
    achievement: float | None  # actual / target
    pace: float | None  # actual / expected to date


class DashboardOut(BaseModel):
    start: dt.date
    end: dt.date
    currency: str
    orders: int
    ordered: Decimal
    delivered: Decimal
    invoiced: Decimal
    average_order: Decimal | None
    open_orders: int
    held_orders: int
    trend: list[MonthOut]
    by_status: list[StatusOut]
    top_dealers: list[DealerValueOut]
    on_time: RatioOut
    targets: TargetsOut


def default_start(end: dt.date) -> dt.date:
    """The first day of the month eleven months before ``end``: twelve chart months."""
    y, m = end.year, end.month - 11
    if m < 1:
        y, m = y - 1, m + 12
    return dt.date(y, m, 1)


def _ratio(part: Decimal | int, whole: Decimal | int) -> float | None:
    return round(float(part) / float(whole), 4) if whole else None


@router.get("/analytics/dashboard", response_model=DashboardOut)
def dashboard(
    request: Request,
    session: DbSession,
    user: Analysts,
    start: Annotated[dt.date | None, Query(description="first day (default: 12 months)")] = None,
    end: Annotated[
        dt.date | None, Query(description="last day, inclusive (default: today)")
    ] = None,
    region_id: Annotated[int | None, Query(ge=1, le=INT_MAX)] = None,
    dealer_id: Annotated[int | None, Query(ge=1, le=INT_MAX)] = None,
) -> DashboardOut:
    """KPIs of the orders created in the period (in the caller's subtree): sales by month,
    orders by status, the dealers that delivered most, on-time arrivals of planned stops and
    contract targets in force at the period's end."""
    today = dt.datetime.now(dt.UTC).date()
    end = end or today
    start = start or default_start(end)
    if end < start:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            {"code": "invalid_period", "message": "the period ends before it starts"},
        )
    if (end - start).days > MAX_DAYS:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            {"code": "period_too_long", "message": f"choose at most {MAX_DAYS} days"},
        )
    filters = analytics.Filters(start, end, region_id, dealer_id)
    d = analytics.dashboard(session, user, filters, str(request.app.state.settings.timezone), today)
    return DashboardOut(
        start=start,
        end=end,
        currency="CNY",
        orders=d.orders,
        ordered=d.ordered,
        delivered=d.delivered,
        invoiced=d.invoiced,
        average_order=(d.ordered / d.orders).quantize(Decimal("0.01")) if d.orders else None,
        open_orders=d.open_orders,
        held_orders=d.held_orders,
        trend=[MonthOut(**m.__dict__) for m in d.trend],
        by_status=[
            StatusOut(status=s, orders=n, value=v) for s, (n, v) in sorted(d.by_status.items())
        ],
        top_dealers=[DealerValueOut(dealer_id=i, name=n, delivered=v) for i, n, v in d.top_dealers],
        on_time=RatioOut(
            count=d.stops_arrived,
            hits=d.stops_on_time,
            ratio=_ratio(d.stops_on_time, d.stops_arrived),
        ),
        targets=TargetsOut(
            contracts=d.contracts,
            target=d.target,
            expected_to_date=d.expected,
            actual=d.actual,
            achievement=_ratio(d.actual, d.target),
            pace=_ratio(d.actual, d.expected),
        ),
    )
