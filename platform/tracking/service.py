"""Tracking on PostgreSQL for the API: proof of delivery at a plan's stop, customer tracking
links and the public view behind them, the dispatchers' live fleet and a day's playback.

The public view answers one question for one delivery (where is the truck, when will it be
here, what state is the delivery in) and nothing else: no other stop, no customer, no plan.
The truck's position is shown only until the delivery is reached, so a link cannot be used
to follow the truck to the next customers.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from wayhouse.config import Settings
from wayhouse.platform.auth.principal import Principal
from wayhouse.platform.dispatch.models import DeliveryPlan, PlanRoute, PlanStop, VehicleRow
from wayhouse.platform.dms import audit, fulfilment, orders_service
from wayhouse.platform.dms.domain.orders import ProofOfDelivery
from wayhouse.platform.dms.domain.types import DomainError, IllegalTransition, Role
from wayhouse.platform.dms.models_fulfilment import Shipment
from wayhouse.platform.dms.models_orders import SalesOrder
from wayhouse.platform.dms.orders_service import NotFound

from .models import TrackingLink
from .tokens import TokenError, TokenErrorKind, TrackingLinks

DEFAULT_LINK_TTL_S = 3 * 86_400.0
TRACKABLE = ("allocated", "picking", "shipped", "delivered", "invoiced", "paid")
DONE = ("delivered", "invoiced", "paid")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# ---- proof of delivery at a stop ------------------------------------------------------------


@dataclass(frozen=True)
class StopProof:
    stop: PlanStop
    order: SalesOrder
    shipments: list[Shipment]


def prove_delivery(
    session: Session, actor: Principal, plan_id: int, order_id: int, proof: ProofOfDelivery
) -> StopProof:
    """The driver of the stop's route (or a dispatcher, HQ) proves the delivery: every
    shipment of the order still on its way is delivered (``fulfilment.deliver``, which moves
    the order to delivered once it is complete) and the stop is marked delivered."""
    plan = session.get(DeliveryPlan, plan_id)
    if plan is None:
        raise NotFound(f"plan {plan_id}")
    stop = session.scalar(
        select(PlanStop)
        .where(PlanStop.plan_id == plan_id, PlanStop.order_id == order_id)
        .with_for_update()  # the tracking evaluator writes arrivals to the same row
    )
    route = session.get(PlanRoute, stop.route_id) if stop and stop.route_id else None
    if stop is None or route is None:
        raise NotFound(f"stop for order {order_id} on a route of plan {plan_id}")
    if actor.role is Role.DRIVER and route.driver_id != actor.user_id:
        raise NotFound(f"stop for order {order_id} on your route of plan {plan_id}")
    if plan.published_at is None:
        raise IllegalTransition("plan", plan.status, "delivered at", "the plan is not published")
    if stop.status in ("delivered", "skipped"):
        raise IllegalTransition("stop", stop.status, "delivered", f"the stop is {stop.status}")
    order = orders_service.get_order(session, actor, order_id)  # 404 outside the scope
    on_the_way = list(
        session.scalars(
            select(Shipment)
            .where(Shipment.order_id == order_id, Shipment.status == "shipped")
            .order_by(Shipment.id)
        )
    )
    if not on_the_way:
        raise DomainError(
            "nothing_shipped", f"order {order_id} has no shipment on its way: ship it first"
        )
    now = _now()
    delivered = [fulfilment.deliver(session, actor, s.id, proof, at=now) for s in on_the_way]
    old = {"status": stop.status}
    stop.status = "delivered"
    if stop.actual_arrival is None:  # the geofence missed it: the driver's word is the arrival
        stop.actual_arrival = now
    audit.record(
        session,
        actor.user_id,
        "plan_stop",
        stop.id,
        "proof_of_delivery",
        old,
        {"status": "delivered", "kind": proof.kind, "reference": proof.reference},
    )
    session.flush()
    session.refresh(order)
    return StopProof(stop, order, delivered)


# ---- tracking links -----------------------------------------------------------------------


def links(settings: Settings) -> TrackingLinks:
    return TrackingLinks([settings.secret("tracking_link_secret").encode()])


LINK_ROLES = (Role.HQ_ADMIN, Role.DISPATCHER, Role.DEALER_USER)


def issue_link(
    session: Session,
    settings: Settings,
    actor: Principal,
    order_id: int,
    ttl_s: float = DEFAULT_LINK_TTL_S,
) -> tuple[TrackingLink, str]:
    """A signed, expiring link to one order's delivery. Dispatchers and HQ may issue one for
    any order, a dealer's user for the dealer's own orders (others are 404)."""
    if actor.role not in LINK_ROLES:
        raise DomainError("not_authorised", "tracking links are issued by dispatch, HQ or dealers")
    order = orders_service.get_order(session, actor, order_id)
    if order.status not in TRACKABLE:
        raise DomainError(
            "not_trackable", f"order {order_id} is {order.status}: nothing to deliver yet"
        )
    now = _now()
    link = TrackingLink(
        token_id=secrets.token_urlsafe(12),
        order_id=order_id,
        created_by=actor.user_id,
        created_at=now,
        expires_at=now + dt.timedelta(seconds=ttl_s),
    )
    session.add(link)
    session.flush()
    audit.record(
        session, actor.user_id, "tracking_link", link.id, "issue", None, {"order_id": order_id}
    )
    token = links(settings).issue(link.token_id, now=now.timestamp(), ttl_s=ttl_s)
    return link, token


def get_link(session: Session, actor: Principal, link_id: int) -> TrackingLink:
    link = session.get(TrackingLink, link_id)
    if link is None:
        raise NotFound(f"tracking link {link_id}")
    orders_service.get_order(session, actor, link.order_id)  # 404 outside the caller's scope
    return link


def revoke_link(session: Session, actor: Principal, link_id: int) -> TrackingLink:
    link = get_link(session, actor, link_id)
    if link.revoked_at is None:
        link.revoked_at = _now()
        audit.record(session, actor.user_id, "tracking_link", link.id, "revoke")
    return link


class LinkRefused(DomainError):
    """A token that does not open a page: its kind says why (for the HTTP status)."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(kind, message)
        self.kind = kind


@dataclass(frozen=True)
class PublicView:
    status: str  # preparing | scheduled | on_the_way | arrived | departed | delivered
    eta: dt.datetime | None
    truck: tuple[float, float, dt.datetime] | None  # lat, lon, fix time
    expires_at: dt.datetime


def open_link(session: Session, settings: Settings, token: str) -> PublicView:
    """What a tracking link shows, or ``LinkRefused`` (malformed, tampered, expired, revoked)."""
    now = _now()
    try:
        claims = links(settings).verify(token, now=now.timestamp())
    except TokenError as exc:
        raise LinkRefused(exc.kind.value, exc.message) from exc
    link = session.scalar(select(TrackingLink).where(TrackingLink.token_id == claims.delivery_id))
    if link is None:
        raise LinkRefused("unknown", "this tracking link does not exist (any more)")
    if link.revoked_at is not None:
        raise LinkRefused("revoked", "this tracking link was withdrawn")
    if link.expires_at <= now:
        raise LinkRefused(TokenErrorKind.EXPIRED.value, "this tracking link has expired")
    return _view(session, link)


def _view(session: Session, link: TrackingLink) -> PublicView:
    order_status = session.scalar(select(SalesOrder.status).where(SalesOrder.id == link.order_id))
    row = session.execute(
        select(PlanStop, PlanRoute)
        .join(DeliveryPlan, DeliveryPlan.id == PlanStop.plan_id)
        .join(PlanRoute, PlanRoute.id == PlanStop.route_id)
        .where(PlanStop.order_id == link.order_id, DeliveryPlan.published_at.is_not(None))
        .order_by(DeliveryPlan.day.desc(), DeliveryPlan.published_at.desc())
        .limit(1)
    ).first()
    if order_status in DONE or (row is not None and row[0].status == "delivered"):
        return PublicView("delivered", None, None, link.expires_at)
    if row is None or row[0].status == "skipped":
        return PublicView("preparing", None, None, link.expires_at)
    stop, route = row
    eta = stop.eta or stop.planned_arrival
    if stop.status == "departed":
        return PublicView("departed", None, None, link.expires_at)
    fix = _latest_fix(session, route.vehicle)
    if stop.status == "arrived":
        return PublicView("arrived", None, fix, link.expires_at)
    started = fix is not None and route.start_at is not None and fix[2] >= route.start_at
    return PublicView("on_the_way" if started else "scheduled", eta, fix, link.expires_at)


def _latest_fix(session: Session, vehicle: VehicleRow) -> tuple[float, float, dt.datetime] | None:
    if vehicle.agent_id is None:
        return None
    row = session.execute(
        text(
            "SELECT g.lat, g.lon, g.ts FROM agent a "
            "JOIN sensor s ON s.agent_key = a.agent_key AND s.kind = 'gps' "
            "JOIN gps_latest g ON g.sensor_key = s.sensor_key "
            "WHERE a.agent_id = :agent ORDER BY g.ts DESC LIMIT 1"
        ),
        {"agent": vehicle.agent_id},
    ).first()
    return (float(row[0]), float(row[1]), row[2]) if row else None


# ---- live fleet and playback --------------------------------------------------------------


def day_bounds(day: dt.date, tz: ZoneInfo) -> tuple[dt.datetime, dt.datetime]:
    start = dt.datetime.combine(day, dt.time(), tzinfo=tz)
    return start, dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=tz)


def gps_sensor_key(session: Session, agent_id: str | None) -> int | None:
    if agent_id is None:
        return None
    key = session.scalar(
        text(
            "SELECT min(s.sensor_key) FROM agent a JOIN sensor s "
            "ON s.agent_key = a.agent_key AND s.kind = 'gps' WHERE a.agent_id = :agent"
        ),
        {"agent": agent_id},
    )
    return int(key) if key is not None else None


@dataclass(frozen=True)
class TrackFix:
    at: dt.datetime
    lat: float
    lon: float
    speed: float | None


def track(
    session: Session, vehicle: VehicleRow, day: dt.date, tz: ZoneInfo, every_s: float
) -> list[TrackFix]:
    """The truck's fixes of a day (local), at most one per ``every_s`` seconds."""
    key = gps_sensor_key(session, vehicle.agent_id)
    if key is None:
        return []
    start, end = day_bounds(day, tz)
    rows = session.execute(
        text(
            "SELECT ts, lat, lon, speed FROM gps_fix "
            "WHERE sensor_key = :k AND ts >= :a AND ts < :b ORDER BY ts"
        ),
        {"k": key, "a": start, "b": end},
    ).all()
    out: list[TrackFix] = []
    for ts, lat, lon, speed in rows:
        if out and (ts - out[-1].at).total_seconds() < every_s:
            continue
        out.append(TrackFix(ts, float(lat), float(lon), None if speed is None else float(speed)))
    return out


def route_of_day(session: Session, vehicle_id: int, day: dt.date) -> list[PlanStop]:
    """The vehicle's stops in the plan of that day published last, in order."""
    route_id = session.scalar(
        select(PlanRoute.id)
        .join(DeliveryPlan, DeliveryPlan.id == PlanRoute.plan_id)
        .where(
            PlanRoute.vehicle_id == vehicle_id,
            DeliveryPlan.day == day,
            DeliveryPlan.published_at.is_not(None),
        )
        .order_by(DeliveryPlan.published_at.desc())
        .limit(1)
    )
    if route_id is None:
        return []
    return list(
        session.scalars(
            select(PlanStop).where(PlanStop.route_id == route_id).order_by(PlanStop.seq)
        )
    )
