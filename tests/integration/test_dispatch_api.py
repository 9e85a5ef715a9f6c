"""Dispatch through the API on the real database and broker: a day planned in the background
from the orders ready to ship, a stop moved by hand, a locked route kept by re-optimisation,
routes published to the truck over MQTT (retained), the driver's view, and a mid-day re-plan
that keeps the stops already reached where they are."""

from __future__ import annotations

import datetime as dt
import json
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

import paho.mqtt.client as mqtt
import pytest
from conftest import Stack, wait_for
from fastapi.testclient import TestClient
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import update

from wayhouse.platform.api.app import create_app
from wayhouse.platform.db.base import unit_of_work
from wayhouse.platform.devices.model import AgentSpec, SensorSpec
from wayhouse.platform.dispatch.models import PlanStop, VehicleRow
from wayhouse.platform.dms import org, stock
from wayhouse.platform.dms.domain.types import MovementKind, OrgLevel, Role
from wayhouse.platform.dms.models import Bin, Lot, Product, Warehouse

pytestmark = pytest.mark.integration
PASSWORD = "dispatch password 1"
DAY = dt.date.today()
WHO = ("hq", "disp", "du", "driver")


@dataclass
class World:
    p: str
    warehouse: int
    vehicles: list[int]
    truck_agent: str
    orders: list[int]
    driver_id: int
    tokens: dict[str, str]


@pytest.fixture(scope="module")
def client(stack: Stack) -> Iterator[TestClient]:
    with TestClient(create_app(stack.settings)) as c:
        yield c


def _h(world: World, who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {world.tokens[who]}"}


@pytest.fixture(scope="module")
def world(stack: Stack, client: TestClient) -> World:
    p = f"dp{uuid.uuid4().hex[:6]}"
    truck_agent = f"{p}-truck1"
    stack.provision([AgentSpec(truck_agent, "truck", (SensorSpec(f"{truck_agent}.gps", "gps"),))])
    with unit_of_work(stack.settings.sqlalchemy_url()) as s:
        hq = org.create_unit(s, OrgLevel.HQ, f"{p}-HQ", "HQ", None)
        region = org.create_unit(s, OrgLevel.REGION, f"{p}-R", "R", hq)
        dealers = [
            org.create_dealer(
                s,
                region,
                f"{p}-D{i}",
                f"Dealer {i}",
                None,
                addresses=[{"label": "shop", "lat": 45.70 + 0.03 * i, "lon": 4.90 + 0.02 * i}],
            )
            for i in range(4)
        ]
        users = {
            "hq": org.create_user(s, f"{p}-hq", PASSWORD, Role.HQ_ADMIN, hq),
            "disp": org.create_user(s, f"{p}-disp", PASSWORD, Role.DISPATCHER, hq),
            "du": org.create_user(s, f"{p}-du", PASSWORD, Role.DEALER_USER, dealers[0].org_unit),
            "driver": org.create_user(s, f"{p}-driver", PASSWORD, Role.DRIVER, hq),
        }
        product = Product(
            sku=f"{p}-tyre",
            name="tyre",
            product_class="tyres",
            unit_weight_g=9000.0,
            unit_volume_l=40.0,
            list_price=Decimal("80.00"),
        )
        wh = Warehouse(org_unit_id=hq.id, code=f"{p}-WH", name="Dispatch test", lat=45.76, lon=4.95)
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
        vehicles = [
            VehicleRow(
                code=f"{p}-V{i}",
                plate=f"P{i}",
                warehouse_id=wh.id,
                agent_id=truck_agent if i == 1 else None,
                capacity_kg=1000.0,
                capacity_m3=10.0,
                shift_start_s=7 * 3600,
                shift_end_s=19 * 3600,
                fixed_cost=50.0,
                cost_per_km=0.5,
                active=True,
            )
            for i in (1, 2)
        ]
        s.add_all(vehicles)
        s.flush()
        world = World(p, wh.id, [v.id for v in vehicles], truck_agent, [], users["driver"].id, {})
        dealer_ids, product_id = [d.id for d in dealers], product.id
    for who in WHO:
        r = client.post("/auth/login", json={"username": f"{p}-{who}", "password": PASSWORD})
        world.tokens[who] = r.json()["token"]
    for dealer_id in dealer_ids:
        client.put(
            f"/dealers/{dealer_id}/credit",
            json={"credit_limit": "1000000.00", "payment_terms_days": 30, "grace_days": 0},
            headers=_h(world, "hq"),
        )
        body = {"dealer_id": dealer_id, "lines": [{"product_id": product_id, "qty": 30}]}
        oid = client.post("/orders", json=body, headers=_h(world, "hq")).json()["id"]
        assert client.post(f"/orders/{oid}/submit", headers=_h(world, "hq")).status_code == 200
        r = client.post(
            f"/orders/{oid}/allocate", json={"warehouse_id": wh.id}, headers=_h(world, "hq")
        )
        assert r.status_code == 200 and r.json()["status"] == "allocated", r.text
        world.orders.append(oid)
    return world


def _wait_ready(client: TestClient, world: World, plan_id: int) -> dict:  # type: ignore[type-arg]
    box: dict = {}  # type: ignore[type-arg]

    def ready() -> bool:
        box["plan"] = client.get(f"/dispatch/plans/{plan_id}", headers=_h(world, "disp")).json()
        return box["plan"]["status"] in ("ready", "failed")

    wait_for(ready, timeout=60, what="the plan to be solved")
    assert box["plan"]["status"] == "ready", box["plan"]["message"]
    return box["plan"]


def _routes(plan: dict) -> dict[int, list[int]]:  # type: ignore[type-arg]
    out: dict[int, list[int]] = {}
    for s in sorted(plan["stops"], key=lambda s: s["seq"]):
        if s["vehicle_id"] is not None:
            out.setdefault(s["vehicle_id"], []).append(s["order_id"])
    return out


def _retained_route(stack: Stack, agent: str) -> dict:  # type: ignore[type-arg]
    got: list[bytes] = []
    event = threading.Event()
    c = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    c.username_pw_set(agent, stack.settings.sim_password(agent))
    c.on_connect = lambda cl, u, f, rc, pr: cl.subscribe(f"wh/v1/{agent}/route", qos=1)
    c.on_message = lambda cl, u, m: (got.append(m.payload), event.set())
    c.connect("127.0.0.1", stack.settings.mqtt_port)
    c.loop_start()
    try:
        assert event.wait(20), "no retained route for the truck"
    finally:
        c.disconnect()
        c.loop_stop()
    return json.loads(got[0])


def test_plan_edit_publish_and_replan(stack: Stack, client: TestClient, world: World) -> None:
    r = client.post(
        "/dispatch/plans",
        json={
            "warehouse_id": world.warehouse,
            "day": str(DAY),
            "engine": "pyvrp",
            "time_limit_s": 1,
        },
        headers=_h(world, "du"),
    )
    assert r.status_code == 403
    r = client.post(
        "/dispatch/plans",
        json={
            "warehouse_id": world.warehouse,
            "day": str(DAY),
            "engine": "pyvrp",
            "time_limit_s": 1,
        },
        headers=_h(world, "disp"),
    )
    assert r.status_code == 202, r.text
    assert r.json()["status"] == "solving"
    plan = _wait_ready(client, world, r.json()["id"])
    pid = plan["id"]
    # 4 orders of 270 kg on 1 t trucks: all served, no truck over capacity.
    routes = _routes(plan)
    assert sorted(o for seq in routes.values() for o in seq) == sorted(world.orders), [
        (s["order_id"], s["unassigned_reason"]) for s in plan["stops"]
    ]
    assert all(len(seq) * 270 <= 1000 for seq in routes.values())
    assert plan["message"] is None

    # Move one order onto the other truck, first.
    v1, v2 = world.vehicles
    order = routes.get(v1, routes.get(v2))[0]  # type: ignore[index]
    target = v2 if order in routes.get(v1, []) else v1
    moved = client.post(
        f"/dispatch/plans/{pid}/moves",
        json={"order_id": order, "vehicle_id": target, "position": 0},
        headers=_h(world, "disp"),
    )
    assert moved.status_code == 200, moved.text
    assert _routes(moved.json())[target][0] == order
    assert moved.json()["revision"] > plan["revision"]

    # Lock v1's route, re-optimise: v1's stops stay exactly as they were.
    before = _routes(moved.json()).get(v1, [])
    assert (
        client.put(
            f"/dispatch/plans/{pid}/routes/{v1}/lock",
            json={"locked": True},
            headers=_h(world, "disp"),
        ).status_code
        == 200
    )
    r = client.post(f"/dispatch/plans/{pid}/reoptimise", headers=_h(world, "disp"))
    assert r.status_code == 202
    plan = _wait_ready(client, world, pid)
    assert _routes(plan).get(v1, []) == before
    assert sorted(o for seq in _routes(plan).values() for o in seq) == sorted(world.orders)
    locked_move = client.post(
        f"/dispatch/plans/{pid}/moves",
        json={"order_id": order, "vehicle_id": v1, "position": 0},
        headers=_h(world, "disp"),
    )
    assert locked_move.status_code == 409

    # Publish: the truck gets its route, retained; the driver sees it once assigned.
    assert client.get("/drivers/me/route", headers=_h(world, "driver")).status_code == 404
    assert (
        client.put(
            f"/dispatch/plans/{pid}/routes/{v1}/driver",
            json={"driver_id": world.driver_id},
            headers=_h(world, "disp"),
        ).status_code
        == 200
    )
    published = client.post(f"/dispatch/plans/{pid}/publish", headers=_h(world, "disp"))
    assert published.status_code == 200, published.text
    assert published.json()["status"] == "published"
    message = _retained_route(stack, world.truck_agent)
    assert message["plan"] == pid and [s["order"] for s in message["stops"]] == _routes(plan).get(
        v1, []
    )
    assert "name" not in json.dumps(message)  # no customer names go to the truck
    mine = client.get("/drivers/me/route", headers=_h(world, "driver"))
    assert mine.status_code == 200 and [s["order_id"] for s in mine.json()["stops"]] == before

    # Mid-day: the first stop of v2 was reached; re-plan keeps it fixed, plans the rest.
    assert (
        client.put(
            f"/dispatch/plans/{pid}/routes/{v1}/lock",
            json={"locked": False},
            headers=_h(world, "disp"),
        ).status_code
        == 200
    )
    v2_first = _routes(plan)[v2][0]
    with unit_of_work(stack.settings.sqlalchemy_url()) as s:
        s.execute(
            update(PlanStop)
            .where(PlanStop.plan_id == pid, PlanStop.order_id == v2_first)
            .values(status="departed")
        )
    noon = dt.datetime.combine(DAY, dt.time(12, 0), tzinfo=dt.UTC)
    r = client.post(
        f"/dispatch/plans/{pid}/replan",
        json={"reason": "truck 1 late", "at": noon.isoformat()},
        headers=_h(world, "disp"),
    )
    assert r.status_code == 202, r.text
    plan = _wait_ready(client, world, pid)
    routes = _routes(plan)
    assert routes[v2][0] == v2_first
    assert sorted(o for seq in routes.values() for o in seq) == sorted(world.orders)
    for stop in plan["stops"]:
        if stop["order_id"] != v2_first:
            assert dt.datetime.fromisoformat(stop["planned_arrival"]) >= noon


def test_bad_dispatch_requests_get_a_reason(client: TestClient, world: World) -> None:
    h = _h(world, "disp")
    bad = {"warehouse_id": world.warehouse, "day": str(DAY), "time_limit_s": 0}
    assert client.post("/dispatch/plans", json=bad, headers=h).status_code == 422
    assert (
        client.post(
            "/dispatch/plans", json={**bad, "time_limit_s": 1, "engine": "magic"}, headers=h
        ).status_code
        == 422
    )
    assert client.get("/dispatch/plans/999999999", headers=h).status_code == 404
    r = client.post(
        "/dispatch/plans",
        json={"warehouse_id": 999999999, "day": str(DAY), "time_limit_s": 1},
        headers=h,
    )
    assert r.status_code == 404
    assert client.get("/dispatch/plans", headers=_h(world, "du")).status_code == 403
