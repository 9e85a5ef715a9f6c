"""Dispatch: vehicles, delivery plans (solved in the background: the answer is 202 and the plan
row shows status and progress), moving stops, locking routes, re-optimising, re-planning
during the day from the trucks' last positions, publishing to trucks, and the driver's view."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, status
from pydantic import BaseModel, Field
from sqlalchemy import func, select, text

from wayhouse.platform.api.auth_deps import DbSession, require_role
from wayhouse.platform.api.deps import Page, pagination
from wayhouse.platform.api.errors import INT_MAX, Text, http_error, run_domain
from wayhouse.platform.api.schemas import PageOut
from wayhouse.platform.auth.principal import Principal
from wayhouse.platform.db.base import session_factory
from wayhouse.platform.dispatch import service as svc
from wayhouse.platform.dispatch.models import DeliveryPlan, PlanRoute, VehicleRow
from wayhouse.platform.dispatch.publisher import route_sender
from wayhouse.platform.dms.domain.types import DomainError, Role
from wayhouse.platform.dms.models import Warehouse
from wayhouse.platform.dms.scope import in_scope

router = APIRouter(tags=["dispatch"])

Dispatchers = Annotated[Principal, Depends(require_role(Role.HQ_ADMIN, Role.DISPATCHER))]
Readers = Annotated[
    Principal,
    Depends(require_role(Role.HQ_ADMIN, Role.DISPATCHER, Role.WAREHOUSE_OPERATOR)),
]
Drivers = Annotated[Principal, Depends(require_role(Role.DRIVER))]
PlanId = Annotated[int, Path(ge=1, le=INT_MAX)]
VehicleId = Annotated[int, Path(ge=1, le=INT_MAX)]


class VehicleOut(BaseModel):
    id: int
    code: str
    plate: str
    warehouse_id: int
    agent_id: str | None
    capacity_kg: float
    capacity_m3: float
    shift_start_s: int
    shift_end_s: int
    active: bool


class PlanIn(BaseModel):
    warehouse_id: int = Field(ge=1, le=INT_MAX)
    day: dt.date
    engine: Literal["ortools", "pyvrp", "portfolio"] = "portfolio"
    time_limit_s: float = Field(default=10.0, gt=0, le=600)
    objective: Literal["cost", "vehicles-then-distance", "distance"] = "cost"


class StopOut(BaseModel):
    order_id: int
    vehicle_id: int | None
    seq: int
    lat: float
    lon: float
    weight_kg: float
    volume_m3: float
    window_open_s: float
    window_close_s: float
    planned_arrival: dt.datetime | None
    planned_departure: dt.datetime | None
    eta: dt.datetime | None
    status: str
    actual_arrival: dt.datetime | None
    actual_departure: dt.datetime | None
    unassigned_reason: str | None


class RouteOut(BaseModel):
    vehicle_id: int
    vehicle_code: str
    driver_id: int | None
    locked: bool
    distance_m: float
    start_at: dt.datetime | None
    end_at: dt.datetime | None


class PlanOut(BaseModel):
    id: int
    warehouse_id: int
    day: dt.date
    status: str
    progress: float
    engine: str
    objective: str
    time_limit_s: float
    revision: int
    distance_m: float
    message: str | None
    published_at: dt.datetime | None
    routes: list[RouteOut]
    stops: list[StopOut]


class PlanSummaryOut(BaseModel):
    id: int
    warehouse_id: int
    day: dt.date
    status: str
    progress: float
    revision: int
    distance_m: float
    stops: int


class MoveIn(BaseModel):
    order_id: int = Field(ge=1, le=INT_MAX)
    vehicle_id: int | None = Field(default=None, ge=1, le=INT_MAX, description="null: unassign")
    position: int = Field(default=0, ge=0, le=10_000)


class LockIn(BaseModel):
    locked: bool


class DriverIn(BaseModel):
    driver_id: int | None = Field(default=None, ge=1, le=INT_MAX)


class ReplanIn(BaseModel):
    reason: Annotated[Text, Field(min_length=1, max_length=500)]
    at: dt.datetime | None = Field(default=None, description="default: now")


def _plan_out(plan: DeliveryPlan) -> PlanOut:
    vehicle_of = {r.id: r.vehicle_id for r in plan.routes}
    return PlanOut(
        id=plan.id,
        warehouse_id=plan.warehouse_id,
        day=plan.day,
        status=plan.status,
        progress=plan.progress,
        engine=plan.engine,
        objective=plan.objective,
        time_limit_s=plan.time_limit_s,
        revision=plan.revision,
        distance_m=plan.distance_m,
        message=plan.message,
        published_at=plan.published_at,
        routes=[
            RouteOut(
                vehicle_id=r.vehicle_id,
                vehicle_code=r.vehicle.code,
                driver_id=r.driver_id,
                locked=r.locked,
                distance_m=r.distance_m,
                start_at=r.start_at,
                end_at=r.end_at,
            )
            for r in plan.routes
        ],
        stops=[
            StopOut(
                order_id=s.order_id,
                vehicle_id=vehicle_of.get(s.route_id) if s.route_id else None,
                seq=s.seq,
                lat=s.lat,
                lon=s.lon,
                weight_kg=s.weight_kg,
                volume_m3=s.volume_m3,
                window_open_s=s.window_open_s,
                window_close_s=s.window_close_s,
                planned_arrival=s.planned_arrival,
                planned_departure=s.planned_departure,
                eta=s.eta,
                status=s.status,
                actual_arrival=s.actual_arrival,
                actual_departure=s.actual_departure,
                unassigned_reason=s.unassigned_reason,
            )
            for s in sorted(plan.stops, key=lambda s: (s.route_id or 0, s.seq, s.order_id))
        ],
    )


def _tz(request: Request) -> str:
    return str(request.app.state.settings.timezone)


def _solve_in_background(request: Request, plan_id: int, **kw: object) -> None:
    settings = request.app.state.settings
    svc.start_solving(session_factory(settings.sqlalchemy_url()), plan_id, settings.timezone, **kw)


@router.get("/vehicles", response_model=list[VehicleOut])
def list_vehicles(
    session: DbSession,
    user: Readers,
    warehouse_id: Annotated[int | None, Query(ge=1, le=INT_MAX)] = None,
) -> list[VehicleOut]:
    query = select(VehicleRow).order_by(VehicleRow.code)
    if warehouse_id is not None:
        query = query.where(VehicleRow.warehouse_id == warehouse_id)
    return [VehicleOut.model_validate(v, from_attributes=True) for v in session.scalars(query)]


@router.post("/dispatch/plans", response_model=PlanOut, status_code=status.HTTP_202_ACCEPTED)
def create_plan(body: PlanIn, request: Request, session: DbSession, user: Dispatchers) -> PlanOut:
    """Plan a day from the orders ready to ship; poll the plan for progress."""
    plan = run_domain(
        lambda: svc.create_plan(
            session,
            user,
            body.warehouse_id,
            body.day,
            body.engine,
            body.time_limit_s,
            body.objective,
        )
    )
    session.commit()
    _solve_in_background(request, plan.id)
    return _plan_out(plan)


@router.get("/dispatch/plans", response_model=PageOut[PlanSummaryOut])
def list_plans(
    session: DbSession,
    user: Readers,
    page: Annotated[Page, Depends(pagination)],
    warehouse_id: Annotated[int | None, Query(ge=1, le=INT_MAX)] = None,
    day: dt.date | None = None,
    status_: Annotated[
        Literal["solving", "ready", "failed", "published"] | None, Query(alias="status")
    ] = None,
) -> PageOut[PlanSummaryOut]:
    query = (
        select(DeliveryPlan)
        .join(Warehouse, Warehouse.id == DeliveryPlan.warehouse_id)
        .join(Warehouse.org_unit)
        .where(in_scope(user))
    )
    if warehouse_id is not None:
        query = query.where(DeliveryPlan.warehouse_id == warehouse_id)
    if day is not None:
        query = query.where(DeliveryPlan.day == day)
    if status_ is not None:
        query = query.where(DeliveryPlan.status == status_)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(
        query.order_by(DeliveryPlan.day.desc(), DeliveryPlan.id.desc())
        .offset(page.offset)
        .limit(page.size)
    ).all()
    return PageOut(
        items=[
            PlanSummaryOut(
                id=p.id,
                warehouse_id=p.warehouse_id,
                day=p.day,
                status=p.status,
                progress=p.progress,
                revision=p.revision,
                distance_m=p.distance_m,
                stops=len(p.stops),
            )
            for p in rows
        ],
        total=total,
        page=page.page,
        size=page.size,
    )


@router.get("/dispatch/plans/{plan_id}", response_model=PlanOut)
def get_plan(plan_id: PlanId, session: DbSession, user: Readers) -> PlanOut:
    return _plan_out(run_domain(lambda: svc.get_plan(session, plan_id, user)))


@router.post("/dispatch/plans/{plan_id}/moves", response_model=PlanOut)
def move_stop(
    plan_id: PlanId, body: MoveIn, request: Request, session: DbSession, user: Dispatchers
) -> PlanOut:
    """Move one stop (to a truck at a position, or off every truck); the routes are re-timed
    and anything the move breaks is in ``message``."""
    plan = run_domain(
        lambda: svc.move_stop(
            session, user, plan_id, body.order_id, body.vehicle_id, body.position, _tz(request)
        )
    )
    session.commit()
    return _plan_out(plan)


@router.put("/dispatch/plans/{plan_id}/routes/{vehicle_id}/lock", response_model=PlanOut)
def lock_route(
    plan_id: PlanId, vehicle_id: VehicleId, body: LockIn, session: DbSession, user: Dispatchers
) -> PlanOut:
    plan = run_domain(lambda: svc.lock_route(session, user, plan_id, vehicle_id, body.locked))
    session.commit()
    return _plan_out(plan)


@router.put("/dispatch/plans/{plan_id}/routes/{vehicle_id}/driver", response_model=PlanOut)
def assign_driver(
    plan_id: PlanId, vehicle_id: VehicleId, body: DriverIn, session: DbSession, user: Dispatchers
) -> PlanOut:
    plan = run_domain(lambda: svc.get_plan(session, plan_id, user))
    route = next((r for r in plan.routes if r.vehicle_id == vehicle_id), None)
    if route is None:
        raise http_error(svc.NotFound(f"route of vehicle {vehicle_id}"))
    if body.driver_id is not None:
        role = session.scalar(
            text("SELECT role FROM app_user WHERE id = :id"), {"id": body.driver_id}
        )
        if role != Role.DRIVER.value:
            raise http_error(DomainError("not_a_driver", f"user {body.driver_id} is not a driver"))
    route.driver_id = body.driver_id
    session.commit()
    return _plan_out(plan)


@router.post(
    "/dispatch/plans/{plan_id}/reoptimise",
    response_model=PlanOut,
    status_code=status.HTTP_202_ACCEPTED,
)
def reoptimise(plan_id: PlanId, request: Request, session: DbSession, user: Dispatchers) -> PlanOut:
    """Re-solve every stop outside locked routes with the unlocked trucks."""
    plan = run_domain(lambda: svc.begin_resolve(session, user, plan_id, "re-optimise"))
    session.commit()
    _solve_in_background(request, plan_id)
    return _plan_out(plan)


def truck_positions(session: DbSession, warehouse_id: int) -> dict[int, tuple[float, float]]:
    """Each vehicle's last GPS fix (vehicle -> its agent -> the agent's gps sensor)."""
    rows = session.execute(
        text(
            "SELECT v.id, g.lat, g.lon FROM vehicle v "
            "JOIN agent a ON a.agent_id = v.agent_id "
            "JOIN sensor s ON s.agent_key = a.agent_key AND s.kind = 'gps' "
            "JOIN gps_latest g ON g.sensor_key = s.sensor_key WHERE v.warehouse_id = :w"
        ),
        {"w": warehouse_id},
    ).all()
    return {int(v): (float(lat), float(lon)) for v, lat, lon in rows}


@router.post(
    "/dispatch/plans/{plan_id}/replan",
    response_model=PlanOut,
    status_code=status.HTTP_202_ACCEPTED,
)
def replan(
    plan_id: PlanId, body: ReplanIn, request: Request, session: DbSession, user: Dispatchers
) -> PlanOut:
    """During the day (an urgent order, a breakdown, a late truck): stops already reached stay
    fixed; the rest is planned again from where each truck is now. Take a broken-down truck
    out first (``active`` false) and add new orders by creating them ready to ship."""
    plan = run_domain(lambda: svc.begin_resolve(session, user, plan_id, body.reason))
    positions = truck_positions(session, plan.warehouse_id)
    session.commit()
    at = body.at or dt.datetime.now(dt.UTC)
    _solve_in_background(request, plan_id, replan_at=at, positions=positions)
    return _plan_out(plan)


@router.post("/dispatch/plans/{plan_id}/publish", response_model=PlanOut)
def publish(plan_id: PlanId, request: Request, session: DbSession, user: Dispatchers) -> PlanOut:
    """Send every route to its truck (MQTT, retained) and open them to the drivers."""
    with route_sender(request.app.state.settings) as send:
        plan = run_domain(lambda: svc.publish(session, user, plan_id, send))
    session.commit()
    return _plan_out(plan)


class DriverStopOut(BaseModel):
    order_id: int
    seq: int
    lat: float
    lon: float
    planned_arrival: dt.datetime | None
    eta: dt.datetime | None
    status: str


class DriverRouteOut(BaseModel):
    plan_id: int
    revision: int
    vehicle_code: str
    stops: list[DriverStopOut]


@router.get("/drivers/me/route", response_model=DriverRouteOut)
def my_route(session: DbSession, user: Drivers, day: dt.date | None = None) -> DriverRouteOut:
    """The signed-in driver's route in the latest published plan of the day."""
    when = day or dt.date.today()
    route = session.scalar(
        select(PlanRoute)
        .join(DeliveryPlan, DeliveryPlan.id == PlanRoute.plan_id)
        .where(
            PlanRoute.driver_id == user.user_id,
            DeliveryPlan.day == when,
            DeliveryPlan.status == "published",
        )
        .order_by(DeliveryPlan.published_at.desc())
        .limit(1)
    )
    if route is None:
        raise http_error(svc.NotFound(f"published route on {when}"))
    plan = svc.get_plan(session, route.plan_id)
    stops = sorted((s for s in plan.stops if s.route_id == route.id), key=lambda s: s.seq)
    return DriverRouteOut(
        plan_id=plan.id,
        revision=plan.revision,
        vehicle_code=route.vehicle.code,
        stops=[
            DriverStopOut(
                order_id=s.order_id,
                seq=s.seq,
                lat=s.lat,
                lon=s.lon,
                planned_arrival=s.planned_arrival,
                eta=s.eta,
                status=s.status,
            )
            for s in stops
        ],
    )
