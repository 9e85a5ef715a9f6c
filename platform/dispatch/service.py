"""Dispatch on PostgreSQL: plan a warehouse's day from the orders ready to ship, solve in the
background, edit (move a stop, lock a route, re-optimise the rest), publish to the trucks
(MQTT, retained, one topic per truck) and to the drivers (API), and re-plan during the day.

Solving runs in a worker thread with its own session; the plan row carries status and
progress, so no request ever waits on a solver. A re-plan keeps every stop a truck has
reached (arrived, departed, delivered) where it is and plans the rest from each truck's last
known position.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, sessionmaker

from wayhouse.platform.auth.principal import Principal
from wayhouse.platform.dispatch.models import DeliveryPlan, PlanRoute, PlanStop, VehicleRow
from wayhouse.platform.dispatch.planning import (
    DayPlan,
    Delivery,
    Depot0,
    Truck,
    plan_day,
    schedule,
)
from wayhouse.platform.dms import audit
from wayhouse.platform.dms.domain.types import DomainError, IllegalTransition, OrderStatus
from wayhouse.platform.dms.models import Bin, Dealer, Product, StockReservation, Warehouse
from wayhouse.platform.dms.models_orders import SalesOrder
from wayhouse.platform.dms.orders_service import NotFound
from wayhouse.platform.dms.scope import in_scope

log = logging.getLogger(__name__)
READY = (OrderStatus.ALLOCATED.value, OrderStatus.PICKING.value)
FIXED = ("arrived", "departed", "delivered")  # what a re-plan never moves
DEFAULT_WINDOW = (8 * 3600.0, 18 * 3600.0)
DEFAULT_SERVICE_S = 600.0


@dataclass(frozen=True)
class Clock:
    """Plan-day seconds <-> timestamps in the warehouse's time zone."""

    day: dt.date
    tz: ZoneInfo

    def at(self, seconds: float) -> dt.datetime:
        midnight = dt.datetime.combine(self.day, dt.time(), tzinfo=self.tz)
        return midnight + dt.timedelta(seconds=seconds)

    def seconds(self, when: dt.datetime) -> float:
        midnight = dt.datetime.combine(self.day, dt.time(), tzinfo=self.tz)
        return (when - midnight).total_seconds()


def _warehouse(session: Session, warehouse_id: int, actor: Principal | None = None) -> Warehouse:
    """The plan's warehouse; with ``actor``, only one in the caller's part of the tree."""
    query = select(Warehouse).where(Warehouse.id == warehouse_id)
    if actor is not None:
        query = query.join(Warehouse.org_unit).where(in_scope(actor))
    wh = session.scalar(query)
    if wh is None:
        raise NotFound(f"warehouse {warehouse_id}")
    if wh.lat is None or wh.lon is None:
        raise DomainError("no_location", f"warehouse {wh.code} has no coordinates")
    return wh


def destination(dealer: Dealer) -> tuple[float, float] | None:
    """Where a dealer's goods go: its first address with coordinates."""
    for address in dealer.addresses or ():
        if address.get("lat") is not None and address.get("lon") is not None:
            return float(address["lat"]), float(address["lon"])
    return None


def ready_orders(session: Session, warehouse_id: int) -> list[SalesOrder]:
    """Orders allocated or being picked with stock reserved in this warehouse."""
    reserved_here = (
        select(StockReservation.id)
        .join(Bin, Bin.id == StockReservation.bin_id)
        .where(
            StockReservation.order_ref == func.concat("SO-", SalesOrder.id),
            StockReservation.released_at.is_(None),
            Bin.warehouse_id == warehouse_id,
        )
        .exists()
    )
    return list(
        session.scalars(
            select(SalesOrder)
            .where(SalesOrder.status.in_(READY), reserved_here)
            .order_by(SalesOrder.id)
        )
    )


def _delivery_of(session: Session, order: SalesOrder) -> Delivery | str:
    where = destination(order.dealer)
    if where is None:
        return f"dealer {order.dealer_id} has no address with coordinates"
    products = {
        p.id: p
        for p in session.scalars(
            select(Product).where(Product.id.in_([ln.product_id for ln in order.lines]))
        )
    }
    weight = sum(ln.qty * products[ln.product_id].unit_weight_g for ln in order.lines) / 1000.0
    volume = sum(ln.qty * products[ln.product_id].unit_volume_l for ln in order.lines) / 1000.0
    return Delivery(order.id, where[0], where[1], weight, volume, DEFAULT_SERVICE_S, DEFAULT_WINDOW)


def _trucks(session: Session, warehouse_id: int) -> list[VehicleRow]:
    return list(
        session.scalars(
            select(VehicleRow)
            .where(VehicleRow.warehouse_id == warehouse_id, VehicleRow.active.is_(True))
            .order_by(VehicleRow.code)
        )
    )


def _truck(v: VehicleRow, **kw: object) -> Truck:
    return Truck(
        v.id,
        v.code,
        v.capacity_kg,
        v.capacity_m3,
        float(v.shift_start_s),
        float(v.shift_end_s),
        v.fixed_cost,
        v.cost_per_km,
        **kw,  # type: ignore[arg-type]
    )


def _stop_delivery(s: PlanStop) -> Delivery:
    return Delivery(
        s.order_id,
        s.lat,
        s.lon,
        s.weight_kg,
        s.volume_m3,
        s.service_s,
        (s.window_open_s, s.window_close_s),
        s.priority,
    )


def create_plan(
    session: Session,
    actor: Principal,
    warehouse_id: int,
    day: dt.date,
    engine: str = "portfolio",
    time_limit_s: float = 10.0,
    objective: str = "cost",
) -> DeliveryPlan:
    """A plan with every ready order as a stop, to be solved (``solve_plan``)."""
    _warehouse(session, warehouse_id, actor)
    if not _trucks(session, warehouse_id):
        raise DomainError("no_vehicles", "no active vehicle at this warehouse")
    plan = DeliveryPlan(
        warehouse_id=warehouse_id,
        day=day,
        status="solving",
        engine=engine,
        objective=objective,
        time_limit_s=time_limit_s,
        progress=0.0,
        revision=1,
        distance_m=0.0,
        created_by=actor.user_id,
    )
    session.add(plan)
    skipped = []
    for order in ready_orders(session, warehouse_id):
        d = _delivery_of(session, order)
        if isinstance(d, str):
            skipped.append(f"order {order.id}: {d}")
            continue
        plan.stops.append(
            PlanStop(
                order_id=d.order_id,
                seq=0,
                lat=d.lat,
                lon=d.lon,
                weight_kg=d.weight_kg,
                volume_m3=d.volume_m3,
                service_s=d.service_s,
                window_open_s=d.window[0],
                window_close_s=d.window[1],
                priority=d.priority,
                status="planned",
            )
        )
    plan.message = "; ".join(skipped) or None
    session.flush()
    audit.record(
        session, actor.user_id, "delivery_plan", plan.id, "create", None, {"stops": len(plan.stops)}
    )
    return plan


def _write(
    session: Session, plan: DeliveryPlan, result: DayPlan, clock: Clock, keep: set[int]
) -> None:
    """Store a solved or re-timed plan; stops in ``keep`` (fixed by a re-plan) stay as they are."""
    routes = {r.vehicle_id: r for r in plan.routes}
    by_order = {s.order_id: s for s in plan.stops}
    for s in plan.stops:
        if s.order_id not in keep:
            s.route_id, s.planned_arrival, s.planned_departure, s.eta = None, None, None, None
            s.unassigned_reason = None
    for r in result.routes:
        route = routes.get(r.vehicle_id)
        if route is None:
            route = PlanRoute(
                plan_id=plan.id, vehicle_id=r.vehicle_id, locked=False, distance_m=0.0
            )
            session.add(route)
            plan.routes.append(route)
            session.flush()
        route.distance_m = r.distance_m
        route.start_at, route.end_at = clock.at(r.start_s), clock.at(r.end_s)
        offset = sum(1 for s in plan.stops if s.route_id == route.id and s.order_id in keep)
        for ps in r.stops:
            stop = by_order[ps.order_id]
            stop.route_id = route.id
            stop.seq = offset + ps.seq
            stop.planned_arrival = clock.at(ps.arrival_s)
            stop.planned_departure = clock.at(ps.departure_s)
            stop.eta = stop.planned_arrival
    for order_id, reason in result.unassigned:
        by_order[order_id].unassigned_reason = reason
    plan.distance_m = sum(r.distance_m for r in plan.routes)
    plan.message = "; ".join(result.violations) or None
    plan.revision += 1
    session.flush()


def _clock(plan: DeliveryPlan, tz: str) -> Clock:
    return Clock(plan.day, ZoneInfo(tz))


def solve_plan(
    sessions: sessionmaker[Session],
    plan_id: int,
    tz: str,
    replan_at: dt.datetime | None = None,
    positions: dict[int, tuple[float, float]] | None = None,
) -> None:
    """Solve (or re-plan) in this thread; whatever goes wrong ends on the plan row as
    ``failed`` with the reason, never as a silent dead thread."""
    try:
        _solve_plan(sessions, plan_id, tz, replan_at, positions)
    except Exception as exc:
        log.exception("plan %s failed", plan_id)
        _fail(sessions, plan_id, f"{type(exc).__name__}: {exc}")


def _solve_plan(
    sessions: sessionmaker[Session],
    plan_id: int,
    tz: str,
    replan_at: dt.datetime | None,
    positions: dict[int, tuple[float, float]] | None,
) -> None:
    with sessions() as session, session.begin():
        plan = session.get(DeliveryPlan, plan_id)
        assert plan is not None
        wh = _warehouse(session, plan.warehouse_id)
        clock = _clock(plan, tz)
        fixed = {s.order_id for s in plan.stops if s.status in FIXED}
        locked_routes = {r.id for r in plan.routes if r.locked}
        keep = fixed | {s.order_id for s in plan.stops if s.route_id in locked_routes}
        open_stops = [s for s in plan.stops if s.order_id not in keep and s.status != "skipped"]
        deliveries = [_stop_delivery(s) for s in open_stops]
        locked_vehicles = {r.vehicle_id for r in plan.routes if r.locked}
        now_s = clock.seconds(replan_at) if replan_at else None
        trucks = []
        for v in _trucks(session, plan.warehouse_id):
            if v.id in locked_vehicles:
                continue
            kw: dict[str, object] = {}
            if now_s is not None:
                kw["free_from_s"] = now_s
                if positions and v.id in positions:
                    kw["start_at"] = positions[v.id]
            trucks.append(_truck(v, **kw))
        depot = Depot0(wh.lat, wh.lon)  # type: ignore[arg-type]
        engine, limit, objective = plan.engine, plan.time_limit_s, plan.objective
    if not trucks and deliveries:
        _fail(sessions, plan_id, "every vehicle is locked or inactive")
        return
    done = threading.Event()

    def tick() -> None:
        start = time.monotonic()
        while not done.wait(0.5):
            with sessions() as s, s.begin():
                s.execute(
                    text("UPDATE delivery_plan SET progress = :p WHERE id = :id"),
                    {"p": min(0.99, (time.monotonic() - start) / max(limit, 0.1)), "id": plan_id},
                )

    ticker = threading.Thread(target=tick, daemon=True)
    ticker.start()
    try:
        result = plan_day(
            depot, trucks, deliveries, engine=engine, time_limit=limit, objective=objective
        )
    except Exception as exc:  # a solver failure must reach the dispatcher, not vanish
        log.exception("plan %s failed", plan_id)
        done.set()
        _fail(sessions, plan_id, f"{type(exc).__name__}: {exc}")
        return
    finally:
        done.set()
        ticker.join()
    with sessions() as session, session.begin():
        plan = session.get(DeliveryPlan, plan_id, with_for_update=True)
        assert plan is not None
        _write(session, plan, result, clock, keep)
        plan.status = "ready"
        plan.progress = 1.0


def _fail(sessions: sessionmaker[Session], plan_id: int, message: str) -> None:
    with sessions() as session, session.begin():
        plan = session.get(DeliveryPlan, plan_id)
        assert plan is not None
        plan.status, plan.message, plan.progress = "failed", message, 1.0


def start_solving(
    sessions: sessionmaker[Session], plan_id: int, tz: str, **kw: object
) -> threading.Thread:
    thread = threading.Thread(
        target=solve_plan,
        args=(sessions, plan_id, tz),
        kwargs=kw,
        daemon=True,
        name=f"plan-{plan_id}",
    )
    thread.start()
    return thread


def get_plan(session: Session, plan_id: int, actor: Principal | None = None) -> DeliveryPlan:
    plan = session.get(DeliveryPlan, plan_id)
    if plan is None or (actor is not None and not _in_scope(session, plan.warehouse_id, actor)):
        raise NotFound(f"plan {plan_id}")
    return plan


def _in_scope(session: Session, warehouse_id: int, actor: Principal) -> bool:
    try:
        _warehouse(session, warehouse_id, actor)
    except NotFound:
        return False
    except DomainError:
        return True  # visible, only without coordinates
    return True


def _editable(plan: DeliveryPlan) -> None:
    if plan.status == "solving":
        raise IllegalTransition("plan", "solving", "edited", "wait until the solver is done")
    if plan.status == "failed":
        raise IllegalTransition("plan", "failed", "edited", "re-plan it first")


def move_stop(
    session: Session,
    actor: Principal,
    plan_id: int,
    order_id: int,
    vehicle_id: int | None,
    position: int,
    tz: str,
) -> DeliveryPlan:
    """Put one stop on a truck at a position (or take it off every truck), re-time the
    routes, and report what that breaks."""
    plan = get_plan(session, plan_id, actor)
    _editable(plan)
    stop = next((s for s in plan.stops if s.order_id == order_id), None)
    if stop is None:
        raise NotFound(f"stop for order {order_id} in plan {plan_id}")
    if stop.status in FIXED:
        raise IllegalTransition("stop", stop.status, "moved", "the truck already reached it")
    vehicles = {v.id: v for v in _trucks(session, plan.warehouse_id)}
    if vehicle_id is not None and vehicle_id not in vehicles:
        raise NotFound(f"vehicle {vehicle_id} at this warehouse")
    route_vehicle = {r.id: r.vehicle_id for r in plan.routes}
    for r in plan.routes:
        if r.locked and r.vehicle_id in (vehicle_id, route_vehicle.get(stop.route_id or -1)):
            raise IllegalTransition(
                "route", "locked", "changed", f"route of vehicle {r.vehicle_id} is locked"
            )
    sequences: dict[int, list[int]] = {vid: [] for vid in vehicles}
    for s in sorted(plan.stops, key=lambda s: (s.route_id or 0, s.seq)):
        if s.route_id is not None and s.order_id != order_id:
            sequences[route_vehicle[s.route_id]].append(s.order_id)
    if vehicle_id is not None:
        seq = sequences[vehicle_id]
        seq.insert(max(0, min(position, len(seq))), order_id)
    wh = _warehouse(session, plan.warehouse_id)
    deliveries = [_stop_delivery(s) for s in plan.stops]
    trucks = [_truck(v) for v in vehicles.values()]
    result = schedule(Depot0(wh.lat, wh.lon), trucks, deliveries, sequences)  # type: ignore[arg-type]
    _write(session, plan, result, _clock(plan, tz), keep=set())
    for r in plan.routes:
        if not any(s.route_id == r.id for s in plan.stops):
            r.distance_m, r.start_at, r.end_at = 0.0, None, None
    audit.record(
        session,
        actor.user_id,
        "delivery_plan",
        plan.id,
        "move_stop",
        None,
        {"order_id": order_id, "vehicle_id": vehicle_id, "position": position},
    )
    return plan


def lock_route(
    session: Session, actor: Principal, plan_id: int, vehicle_id: int, locked: bool
) -> DeliveryPlan:
    plan = get_plan(session, plan_id, actor)
    _editable(plan)
    route = next((r for r in plan.routes if r.vehicle_id == vehicle_id), None)
    if route is None:
        raise NotFound(f"route of vehicle {vehicle_id} in plan {plan_id}")
    route.locked = locked
    plan.revision += 1
    audit.record(
        session,
        actor.user_id,
        "delivery_plan",
        plan.id,
        "lock" if locked else "unlock",
        None,
        {"vehicle_id": vehicle_id},
    )
    return plan


def begin_resolve(session: Session, actor: Principal, plan_id: int, reason: str) -> DeliveryPlan:
    """Mark a plan for re-solving (re-optimise the unlocked rest, or re-plan mid-day)."""
    plan = get_plan(session, plan_id, actor)
    _editable(plan)
    plan.status = "solving"  # a published plan that changes is published again afterwards
    plan.progress = 0.0
    audit.record(
        session, actor.user_id, "delivery_plan", plan.id, "resolve", None, {"reason": reason}
    )
    return plan


def route_message(plan: DeliveryPlan, route: PlanRoute) -> dict[str, object]:
    """What a truck receives: its stops in order with planned times (no customer names)."""
    stops = sorted((s for s in plan.stops if s.route_id == route.id), key=lambda s: s.seq)
    return {
        "v": 1,
        "plan": plan.id,
        "revision": plan.revision,
        "vehicle": route.vehicle.code,
        "stops": [
            {
                "order": s.order_id,
                "seq": s.seq,
                "lat": s.lat,
                "lon": s.lon,
                "service_s": s.service_s,
                "arrive": s.planned_arrival.isoformat() if s.planned_arrival else None,
                "depart": s.planned_departure.isoformat() if s.planned_departure else None,
                "status": s.status,
            }
            for s in stops
        ],
    }


def publish(
    session: Session,
    actor: Principal,
    plan_id: int,
    send: Callable[[str, bytes], None],
) -> DeliveryPlan:
    """Publish every route to its truck (``send(agent_id, payload)``) and mark the plan
    published; the drivers read theirs through the API."""
    plan = get_plan(session, plan_id, actor)
    _editable(plan)
    if plan.message and any(k in plan.message for k in ("capacity", "shift")):
        raise DomainError("plan_infeasible", f"fix the plan before publishing: {plan.message}")
    for route in plan.routes:
        if route.vehicle.agent_id and any(s.route_id == route.id for s in plan.stops):
            send(route.vehicle.agent_id, json.dumps(route_message(plan, route)).encode())
    plan.status = "published"
    plan.published_at = dt.datetime.now(dt.UTC)
    audit.record(
        session,
        actor.user_id,
        "delivery_plan",
        plan.id,
        "publish",
        None,
        {"revision": plan.revision},
    )
    return plan


def ensure_demo_vehicles(session: Session, warehouse_code: str, agents: list[str]) -> int:
    """The demo warehouse's trucks (one per simulated GPS unit), created once."""
    wh = session.scalar(select(Warehouse).where(Warehouse.code == warehouse_code))
    if wh is None:
        return 0
    added = 0
    for agent in agents:
        if session.scalar(select(VehicleRow.id).where(VehicleRow.agent_id == agent)) is None:
            session.add(
                VehicleRow(
                    code=agent.upper(),
                    plate=f"WH-{agent[-2:]}",
                    warehouse_id=wh.id,
                    agent_id=agent,
                    capacity_kg=3000.0,
                    capacity_m3=20.0,
                    shift_start_s=7 * 3600,
                    shift_end_s=19 * 3600,
                    fixed_cost=80.0,
                    cost_per_km=0.6,
                    active=True,
                )
            )
            added += 1
    session.flush()
    return added
