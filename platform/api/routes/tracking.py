"""Tracking: proof of delivery at a plan's stop, customer tracking links (issue, list, revoke)
and the public view a link opens (no login), the dispatchers' live fleet and a past day's
playback. Thin: validate, call ``tracking.service``, commit."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, status
from pydantic import BaseModel, Field
from sqlalchemy import func, select, text

from wayhouse.platform.api.auth_deps import DbSession, require_role
from wayhouse.platform.api.deps import Page, like_contains, order_by, pagination
from wayhouse.platform.api.errors import INT_MAX, Text, http_error, run_domain
from wayhouse.platform.api.schemas import PageOut
from wayhouse.platform.auth.principal import Principal
from wayhouse.platform.dispatch.models import VehicleRow
from wayhouse.platform.dms import orders_service
from wayhouse.platform.dms.domain.orders import ProofOfDelivery
from wayhouse.platform.dms.domain.types import Role
from wayhouse.platform.dms.models_orders import SalesOrder
from wayhouse.platform.tracking import service as svc
from wayhouse.platform.tracking.models import TrackingLink

router = APIRouter(tags=["tracking"])

Dispatchers = Annotated[Principal, Depends(require_role(Role.HQ_ADMIN, Role.DISPATCHER))]
Provers = Annotated[Principal, Depends(require_role(Role.HQ_ADMIN, Role.DISPATCHER, Role.DRIVER))]
LinkIssuers = Annotated[Principal, Depends(require_role(*svc.LINK_ROLES))]
PlanId = Annotated[int, Path(ge=1, le=INT_MAX)]
OrderId = Annotated[int, Path(ge=1, le=INT_MAX)]
LinkId = Annotated[int, Path(ge=1, le=INT_MAX)]
# Refused links: the status says which way (a page can then explain it).
LINK_STATUS = {
    "malformed": status.HTTP_400_BAD_REQUEST,
    "tampered": status.HTTP_403_FORBIDDEN,
    "expired": status.HTTP_410_GONE,
    "revoked": status.HTTP_410_GONE,
    "unknown": status.HTTP_404_NOT_FOUND,
}


def _tz(request: Request) -> ZoneInfo:
    return ZoneInfo(request.app.state.settings.timezone)


# ---- proof of delivery ----------------------------------------------------------------------


class StopProofIn(BaseModel):
    kind: Literal["scan", "signature"]
    reference: Annotated[Text, Field(min_length=1, max_length=200)]
    received_by: Annotated[Text, Field(max_length=100)] = ""


class StopProofOut(BaseModel):
    plan_id: int
    order_id: int
    stop_status: str
    actual_arrival: dt.datetime | None
    order_status: str
    shipments_delivered: list[int]


@router.post("/dispatch/plans/{plan_id}/stops/{order_id}/proof", response_model=StopProofOut)
def prove_delivery(
    plan_id: PlanId, order_id: OrderId, body: StopProofIn, session: DbSession, user: Provers
) -> StopProofOut:
    """Proof of delivery at a stop (scan or signature), by the driver of that route, a
    dispatcher or HQ: the order's shipments on their way are delivered, which moves the order
    to delivered once it is complete."""
    proof = run_domain(lambda: ProofOfDelivery(body.kind, body.reference, body.received_by))
    done = run_domain(lambda: svc.prove_delivery(session, user, plan_id, order_id, proof))
    session.commit()
    return StopProofOut(
        plan_id=plan_id,
        order_id=order_id,
        stop_status=done.stop.status,
        actual_arrival=done.stop.actual_arrival,
        order_status=done.order.status,
        shipments_delivered=[s.id for s in done.shipments],
    )


# ---- tracking links -------------------------------------------------------------------------


class LinkIn(BaseModel):
    order_id: int = Field(ge=1, le=INT_MAX)
    ttl_hours: float = Field(default=72.0, gt=0, le=24 * 30)


class LinkOut(BaseModel):
    id: int
    order_id: int
    created_at: dt.datetime
    expires_at: dt.datetime
    revoked_at: dt.datetime | None


class IssuedLinkOut(LinkOut):
    token: str
    url: str = Field(description="the public page (console)")
    api_url: str = Field(description="the same as JSON (no login)")


def _link_out(link: TrackingLink) -> LinkOut:
    return LinkOut.model_validate(link, from_attributes=True)


def _console_url(request: Request) -> str:
    settings = request.app.state.settings
    return f"http://{settings.ui_host}:{settings.ui_port}"


@router.post("/tracking/links", response_model=IssuedLinkOut, status_code=status.HTTP_201_CREATED)
def issue_link(
    body: LinkIn, request: Request, session: DbSession, user: LinkIssuers
) -> IssuedLinkOut:
    """A signed link to one order's delivery, for its customer: the truck on a map and the
    ETA, nothing else. It expires after ``ttl_hours``; it can be revoked sooner."""
    settings = request.app.state.settings
    link, token = run_domain(
        lambda: svc.issue_link(session, settings, user, body.order_id, body.ttl_hours * 3600)
    )
    session.commit()
    return IssuedLinkOut(
        **_link_out(link).model_dump(),
        token=token,
        url=f"{_console_url(request)}/track/{token}",
        api_url=f"/public/tracking/{token}",
    )


LINK_SORT = {
    "id": "tracking_link.id",
    "created_at": "tracking_link.created_at",
    "expires_at": "tracking_link.expires_at",
}


@router.get("/tracking/links", response_model=PageOut[LinkOut])
def list_links(
    session: DbSession,
    user: LinkIssuers,
    page: Annotated[Page, Depends(pagination)],
    order_id: Annotated[int | None, Query(ge=1, le=INT_MAX)] = None,
    active: bool | None = None,
    sort: Annotated[str | None, Query(description="id, created_at, expires_at; -x: desc")] = None,
) -> PageOut[LinkOut]:
    """Links issued for the orders the caller may see (never the tokens themselves)."""
    clause = order_by(sort, LINK_SORT, "id", tiebreak="tracking_link.id")
    visible = orders_service.visible_orders(user).with_only_columns(SalesOrder.id)
    query = select(TrackingLink).where(TrackingLink.order_id.in_(visible))
    if order_id is not None:
        query = query.where(TrackingLink.order_id == order_id)
    if active is not None:
        live = (TrackingLink.revoked_at.is_(None)) & (TrackingLink.expires_at > func.now())
        query = query.where(live if active else ~live)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(query.order_by(text(clause)).offset(page.offset).limit(page.size)).all()
    return PageOut(items=[_link_out(r) for r in rows], total=total, page=page.page, size=page.size)


@router.post("/tracking/links/{link_id}/revoke", response_model=LinkOut)
def revoke_link(link_id: LinkId, session: DbSession, user: LinkIssuers) -> LinkOut:
    link = run_domain(lambda: svc.revoke_link(session, user, link_id))
    session.commit()
    return _link_out(link)


class TruckDot(BaseModel):
    lat: float
    lon: float
    at: dt.datetime


class PublicTrackingOut(BaseModel):
    """Everything a tracking link shows: nothing names the customer, the order or the plan."""

    status: Literal["preparing", "scheduled", "on_the_way", "arrived", "departed", "delivered"]
    eta: dt.datetime | None
    truck: TruckDot | None
    expires_at: dt.datetime


@router.get("/public/tracking/{token}", response_model=PublicTrackingOut)
def public_tracking(
    token: Annotated[str, Path(max_length=2048)], request: Request, session: DbSession
) -> PublicTrackingOut:
    """No login: the token is the permission. A malformed token is 400, a tampered one 403,
    an expired or revoked one 410, one naming no link 404."""
    try:
        view = svc.open_link(session, request.app.state.settings, token)
    except svc.LinkRefused as exc:
        raise HTTPException(
            LINK_STATUS.get(exc.kind, status.HTTP_400_BAD_REQUEST),
            {"code": exc.kind, "message": exc.message},
        ) from exc
    truck = TruckDot(lat=view.truck[0], lon=view.truck[1], at=view.truck[2]) if view.truck else None
    return PublicTrackingOut(
        status=view.status,  # type: ignore[arg-type]
        eta=view.eta,
        truck=truck,
        expires_at=view.expires_at,
    )


# ---- the live fleet and playback -------------------------------------------------------------


class FleetTruckOut(BaseModel):
    vehicle_id: int
    code: str
    plate: str
    warehouse_id: int
    agent_id: str | None
    lat: float | None
    lon: float | None
    at: dt.datetime | None
    speed: float | None
    heading: float | None
    plan_id: int | None
    route_index: int | None = Field(description="the route's number in its plan (its colour)")
    stops: int
    stops_done: int


FLEET_SORT = {"code": "v.code", "at": "g.ts", "plan": "tr.plan_id"}
FLEET_SQL = """
WITH tr AS (
    SELECT DISTINCT ON (r.vehicle_id) r.vehicle_id, r.plan_id, r.id AS route_id,
           (SELECT count(*) FROM plan_route r2
             WHERE r2.plan_id = r.plan_id AND r2.id < r.id) AS route_index
    FROM plan_route r JOIN delivery_plan p ON p.id = r.plan_id
    WHERE p.day = :day AND p.published_at IS NOT NULL
    ORDER BY r.vehicle_id, p.published_at DESC
), gps AS (
    SELECT a.agent_id, min(s.sensor_key) AS sensor_key
    FROM agent a JOIN sensor s ON s.agent_key = a.agent_key AND s.kind = 'gps'
    WHERE a.agent_id IN (SELECT agent_id FROM vehicle WHERE agent_id IS NOT NULL)
    GROUP BY a.agent_id
)
SELECT v.id AS vehicle_id, v.code, v.plate, v.warehouse_id, v.agent_id,
       g.lat, g.lon, g.ts AS at, g.speed, g.heading, tr.plan_id, tr.route_index,
       (SELECT count(*) FROM plan_stop ps WHERE ps.route_id = tr.route_id) AS stops,
       (SELECT count(*) FROM plan_stop ps WHERE ps.route_id = tr.route_id
           AND ps.status IN ('arrived', 'departed', 'delivered')) AS stops_done
FROM vehicle v
LEFT JOIN gps ON gps.agent_id = v.agent_id
LEFT JOIN gps_latest g ON g.sensor_key = gps.sensor_key
LEFT JOIN tr ON tr.vehicle_id = v.id
"""


@router.get("/tracking/trucks", response_model=PageOut[FleetTruckOut])
def fleet(
    request: Request,
    session: DbSession,
    user: Dispatchers,
    page: Annotated[Page, Depends(pagination)],
    warehouse_id: Annotated[int | None, Query(ge=1, le=INT_MAX)] = None,
    q: Annotated[str | None, Query(max_length=32, description="vehicle code contains")] = None,
    day: Annotated[dt.date | None, Query(description="whose routes; default today")] = None,
    sort: Annotated[str | None, Query(description="code, at, plan; -x: descending")] = None,
) -> PageOut[FleetTruckOut]:
    """Every active truck's latest position and its route of the day (for the live map)."""
    where, params = ["v.active"], {"day": day or dt.datetime.now(_tz(request)).date()}
    if warehouse_id is not None:
        where.append("v.warehouse_id = :wh")
        params["wh"] = warehouse_id
    if q:
        where.append("v.code ILIKE :q")
        params["q"] = like_contains(q)
    clause = " AND ".join(where)
    ordering = order_by(sort, FLEET_SORT, "code", tiebreak="v.id")
    total = session.scalar(
        text(f"SELECT count(*) FROM vehicle v WHERE {clause}"),
        {k: v for k, v in params.items() if k != "day"},
    )
    rows = session.execute(
        text(
            f"{FLEET_SQL} WHERE {clause} ORDER BY {ordering} NULLS LAST LIMIT :limit OFFSET :offset"
        ),
        {**params, "limit": page.size, "offset": page.offset},
    ).mappings()
    return PageOut(
        items=[FleetTruckOut.model_validate(dict(r)) for r in rows],
        total=int(total or 0),
        page=page.page,
        size=page.size,
    )


class FixOut(BaseModel):
    at: dt.datetime
    lat: float
    lon: float
    speed: float | None


class PlaybackStopOut(BaseModel):
    order_id: int
    seq: int
    lat: float
    lon: float
    status: str
    planned_arrival: dt.datetime | None
    actual_arrival: dt.datetime | None
    actual_departure: dt.datetime | None


class PlaybackOut(BaseModel):
    vehicle_id: int
    code: str
    day: dt.date
    fixes: list[FixOut]
    stops: list[PlaybackStopOut]


@router.get("/tracking/playback", response_model=PlaybackOut)
def playback(
    request: Request,
    session: DbSession,
    user: Dispatchers,
    vehicle_id: Annotated[int, Query(ge=1, le=INT_MAX)],
    day: dt.date,
    every_s: Annotated[float, Query(ge=1, le=3600, description="at most one fix per")] = 10.0,
) -> PlaybackOut:
    """A truck's GPS track of a day (local time), and the stops of its route that day."""
    vehicle = session.get(VehicleRow, vehicle_id)
    if vehicle is None:
        raise http_error(svc.NotFound(f"vehicle {vehicle_id}"))
    fixes = svc.track(session, vehicle, day, _tz(request), every_s)
    stops = svc.route_of_day(session, vehicle_id, day)
    return PlaybackOut(
        vehicle_id=vehicle.id,
        code=vehicle.code,
        day=day,
        fixes=[FixOut(at=f.at, lat=f.lat, lon=f.lon, speed=f.speed) for f in fixes],
        stops=[PlaybackStopOut.model_validate(s, from_attributes=True) for s in stops],
    )
