"""A delivery day to track, shared by the tracking tests: a warehouse with one truck (a GPS
agent), three dealers with one order each, planned (one route, in the order the solver chose),
picked, shipped and published through the API; a driver on the route. Its one test: the
published plan read back from the database is the route tracking follows (stops in order,
windows and times on the unix clock of the sites' time zone)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from zoneinfo import ZoneInfo

import psycopg
import pytest
from conftest import Stack, wait_for
from fastapi.testclient import TestClient

from wayhouse.edge import schema as S
from wayhouse.platform.api.app import create_app
from wayhouse.platform.db.base import unit_of_work
from wayhouse.platform.devices.model import AgentSpec, SensorSpec
from wayhouse.platform.dispatch.models import VehicleRow
from wayhouse.platform.dms import org, stock
from wayhouse.platform.dms.domain.types import MovementKind, OrgLevel, Role
from wayhouse.platform.dms.models import Bin, Lot, Product, Warehouse
from wayhouse.platform.tracking import store
from wayhouse.platform.tracking.plans import latest_per_vehicle, to_route
from wayhouse.platform.tracking.route import PlannedRoute, Waypoint
from wayhouse.platform.tracking.tracker import Fix

pytestmark = pytest.mark.integration
PASSWORD = "tracking password 1"
WHO = ("hq", "disp", "driver", "driver2", "du0", "du1", "rm", "op")
WH = (45.76, 4.95)
# Three dealers a few km apart around the warehouse (one order each).
SHOPS = ((45.78, 4.98), (45.80, 4.94), (45.77, 4.90))


@dataclass
class Day:
    p: str
    tz: ZoneInfo
    day: dt.date
    warehouse: int
    vehicle: int
    agent: str
    sensor: str
    orders: list[int]  # order of dealer i at SHOPS[i]
    plan: int = 0
    sequence: list[int] = field(default_factory=list)  # order ids in visiting order
    tokens: dict[str, str] = field(default_factory=dict)
    user_ids: dict[str, int] = field(default_factory=dict)

    def h(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    def shop(self, order_id: int) -> tuple[float, float]:
        return SHOPS[self.orders.index(order_id)]

    def route(self, depart_at: float) -> PlannedRoute:
        """The published route as a tracking route without windows (a synthetic truck that
        never waits), for driving it with ``tracking.synthetic.drive``."""
        depot = Waypoint("wh", WH[1], WH[0], depot=True)
        stops = [
            Waypoint(f"o{o}", self.shop(o)[1], self.shop(o)[0], service_s=600.0)
            for o in self.sequence
        ]
        return PlannedRoute("test", self.agent, depart_at, (depot, *stops, depot))


def gps_messages(day: Day, fixes: list[Fix], first_seq: int, per_message: int = 6) -> list:  # type: ignore[type-arg]
    """The fixes as the truck unit sends them: ``per_message`` readings a message."""
    out = []
    for k in range(0, len(fixes), per_message):
        readings = [
            S.GpsReading(s=day.sensor, t=f.t, lat=f.lat, lon=f.lon, spd=f.spd, acc=8.0)
            for f in fixes[k : k + per_message]
        ]
        msg = S.GpsMessage(v=1, seq=first_seq + k // per_message, r=readings)
        out.append((S.topic(day.agent, "gps"), S.encode(msg)))
    return out


@pytest.fixture(scope="module")
def client(stack: Stack) -> Iterator[TestClient]:
    with TestClient(create_app(stack.settings)) as c:
        yield c


def build_day(stack: Stack, client: TestClient) -> Day:
    p = f"tk{uuid.uuid4().hex[:6]}"
    agent = f"{p}-truck"
    sensor = f"{agent}.gps"
    stack.provision([AgentSpec(agent, "truck", (SensorSpec(sensor, "gps"),))])
    tz = ZoneInfo(stack.settings.timezone)
    with unit_of_work(stack.settings.sqlalchemy_url()) as s:
        hq = org.create_unit(s, OrgLevel.HQ, f"{p}-HQ", "HQ", None)
        region = org.create_unit(s, OrgLevel.REGION, f"{p}-R", "R", hq)
        other_region = org.create_unit(s, OrgLevel.REGION, f"{p}-R2", "R2", hq)
        dealers = [
            org.create_dealer(
                s,
                region,
                f"{p}-D{i}",
                f"Dealer {i}",
                None,
                addresses=[{"label": "shop", "lat": lat, "lon": lon}],
            )
            for i, (lat, lon) in enumerate(SHOPS)
        ]
        users = {
            "hq": org.create_user(s, f"{p}-hq", PASSWORD, Role.HQ_ADMIN, hq),
            "disp": org.create_user(s, f"{p}-disp", PASSWORD, Role.DISPATCHER, hq),
            "driver": org.create_user(s, f"{p}-driver", PASSWORD, Role.DRIVER, hq),
            "driver2": org.create_user(s, f"{p}-driver2", PASSWORD, Role.DRIVER, hq),
            "du0": org.create_user(s, f"{p}-du0", PASSWORD, Role.DEALER_USER, dealers[0].org_unit),
            "du1": org.create_user(s, f"{p}-du1", PASSWORD, Role.DEALER_USER, dealers[1].org_unit),
            "rm": org.create_user(s, f"{p}-rm", PASSWORD, Role.REGION_MANAGER, other_region),
            "op": org.create_user(s, f"{p}-op", PASSWORD, Role.WAREHOUSE_OPERATOR, hq),
        }
        product = Product(
            sku=f"{p}-tyre",
            name="tyre",
            product_class="tyres",
            unit_weight_g=9000.0,
            unit_volume_l=40.0,
            list_price=Decimal("80.00"),
        )
        wh = Warehouse(org_unit_id=hq.id, code=f"{p}-WH", name="Tracking", lat=WH[0], lon=WH[1])
        s.add_all([product, wh])
        s.flush()
        bin_ = Bin(warehouse_id=wh.id, code="T-1")
        lot = Lot(product_id=product.id, code=f"{p}-L", expires_on=None)
        s.add_all([bin_, lot])
        s.flush()
        stock.post_movement(
            s,
            kind=MovementKind.RECEIVE,
            product_id=product.id,
            bin_id=bin_.id,
            lot_id=lot.id,
            qty=500,
            user_id=None,
        )
        vehicle = VehicleRow(
            code=f"{p}-V1",
            plate="TK-1",
            warehouse_id=wh.id,
            agent_id=agent,
            capacity_kg=2000.0,
            capacity_m3=20.0,
            shift_start_s=0,
            shift_end_s=86_399,
            fixed_cost=50.0,
            cost_per_km=0.5,
            active=True,
        )
        s.add(vehicle)
        s.flush()
        day = Day(
            p,
            tz,
            dt.datetime.now(tz).date(),
            wh.id,
            vehicle.id,
            agent,
            sensor,
            [],
            user_ids={k: u.id for k, u in users.items()},
        )
        dealer_ids, sku, product_id = [d.id for d in dealers], product.sku, product.id
    for who in WHO:
        r = client.post("/auth/login", json={"username": f"{p}-{who}", "password": PASSWORD})
        day.tokens[who] = r.json()["token"]
    for dealer_id in dealer_ids:
        client.put(
            f"/dealers/{dealer_id}/credit",
            json={"credit_limit": "1000000.00", "payment_terms_days": 30, "grace_days": 0},
            headers=day.h("hq"),
        )
        body = {"dealer_id": dealer_id, "lines": [{"product_id": product_id, "qty": 10}]}
        oid = client.post("/orders", json=body, headers=day.h("hq")).json()["id"]
        assert client.post(f"/orders/{oid}/submit", headers=day.h("hq")).status_code == 200
        r = client.post(
            f"/orders/{oid}/allocate", json={"warehouse_id": day.warehouse}, headers=day.h("hq")
        )
        assert r.status_code == 200 and r.json()["status"] == "allocated", r.text
        day.orders.append(oid)
    r = client.post(
        "/dispatch/plans",
        json={
            "warehouse_id": day.warehouse,
            "day": str(day.day),
            "engine": "pyvrp",
            "time_limit_s": 1,
        },
        headers=day.h("disp"),
    )
    assert r.status_code == 202, r.text
    day.plan = r.json()["id"]
    box: dict = {}  # type: ignore[type-arg]

    def solved() -> bool:
        box["plan"] = client.get(f"/dispatch/plans/{day.plan}", headers=day.h("disp")).json()
        return box["plan"]["status"] in ("ready", "failed")

    wait_for(solved, timeout=60, what="the plan to be solved")
    plan = box["plan"]
    assert plan["status"] == "ready", plan["message"]
    stops = sorted((s for s in plan["stops"] if s["vehicle_id"]), key=lambda s: s["seq"])
    day.sequence = [s["order_id"] for s in stops]
    assert sorted(day.sequence) == sorted(day.orders)
    # Any time of day will do for the test: windows open all day.
    with psycopg.connect(stack.settings.database_url(), autocommit=True) as conn:
        conn.execute(
            "UPDATE plan_stop SET window_open_s = 0, window_close_s = 86399 WHERE plan_id = %s",
            (day.plan,),
        )
    for oid in day.orders:
        (task,) = client.get(f"/orders/{oid}/pick-list", headers=day.h("op")).json()
        r = client.post(
            f"/orders/{oid}/picks",
            json={"sku": sku, "bin_code": task["bin_code"], "qty": task["qty"]},
            headers=day.h("op"),
        )
        assert r.status_code == 200, r.text
        r = client.post(f"/orders/{oid}/shipments", headers=day.h("op"))
        assert r.status_code == 201, r.text
    r = client.put(
        f"/dispatch/plans/{day.plan}/routes/{day.vehicle}/driver",
        json={"driver_id": day.user_ids["driver"]},
        headers=day.h("disp"),
    )
    assert r.status_code == 200, r.text
    r = client.post(f"/dispatch/plans/{day.plan}/publish", headers=day.h("disp"))
    assert r.status_code == 200 and r.json()["status"] == "published", r.text
    return day


@pytest.fixture(scope="module")
def day(stack: Stack, client: TestClient) -> Day:
    return build_day(stack, client)


def test_the_published_plan_is_the_route_tracking_follows(stack: Stack, day: Day) -> None:
    with psycopg.connect(stack.settings.database_url()) as conn:
        rows = [r for r in store.route_rows(conn, [day.day]) if r[1].plan_id == day.plan]
        assert store.gps_sensors(conn, [day.agent]) and store.plan_versions(conn, [day.day])
    (row,) = latest_per_vehicle(rows)
    live = to_route(row, day.tz)
    assert live is not None
    wps = live.route.waypoints
    wh = f"wh:{day.p}-WH"
    assert [w.id for w in wps] == [wh, *(f"o{o}" for o in day.sequence), wh]
    assert wps[0].depot and wps[-1].depot and live.stop_ids[0] is None
    midnight = dt.datetime.combine(day.day, dt.time(), tzinfo=day.tz).timestamp()
    by_order = {s.order_id: s for s in row.stops}
    for w, sid in zip(wps[1:-1], live.stop_ids[1:-1], strict=True):
        stop = next(s for s in row.stops if s.id == sid)
        assert w.id == f"o{stop.order_id}" and (w.lat, w.lon) == (stop.lat, stop.lon)
        assert w.windows[0].open == midnight and w.service_s == 600.0
        assert w.planned_arrival == by_order[stop.order_id].planned_arrival.timestamp()  # type: ignore[union-attr]
    assert live.route.truck_id == day.agent and live.route.route_id == f"plan-{day.plan}"
