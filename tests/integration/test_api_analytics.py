"""GET /analytics/dashboard on the real database: figures computed by hand for a small set of
orders in a past quarter (by month, by status, by dealer), invoices, on-time stops and a
contract target; each role sees its subtree only; filters; bad input 422."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from conftest import Stack
from console_world import (  # noqa: F401 - fixtures
    World,
    client_fixture,
    place,
    world_fixture,
)
from fastapi.testclient import TestClient

from wayhouse.platform.api.routes.analytics import default_start
from wayhouse.platform.db.base import unit_of_work
from wayhouse.platform.dispatch.models import DeliveryPlan, PlanStop
from wayhouse.platform.dms import orders_service
from wayhouse.platform.dms.analytics import months

pytestmark = pytest.mark.integration
Q1 = {"start": "2024-01-01", "end": "2024-03-31"}

# (key, dealer, lines, status, created at UTC)
ORDERS = [
    ("o1", "d11", [("P1", 1)], "delivered", "2024-01-15 10:00"),
    ("o2", "d11", [("P2", 3)], "invoiced", "2024-02-10 10:00"),
    ("o3", "d12", [("P1", 2)], "held", "2024-02-20 10:00"),
    ("o4", "d21", [("P1", 5)], "paid", "2024-03-05 10:00"),
    ("o5", "d21", [("P2", 1)], "cancelled", "2024-03-06 10:00"),
    ("o6", "d11", [("P2", 1)], "draft", "2024-03-07 10:00"),
    ("o7", "d21", [("P1", 1)], "delivered", "2023-12-31 23:00"),  # before the period
]


@pytest.fixture(scope="module")
def orders(stack: Stack, client: TestClient, world: World) -> dict[str, int]:
    ids = {key: place(client, world, dealer, lines) for key, dealer, lines, _, _ in ORDERS}
    with stack.db() as conn:
        for key, _, _, status, at in ORDERS:
            conn.execute(
                "UPDATE sales_order SET status = %s, created_at = %s::timestamptz WHERE id = %s",
                (status, f"{at}+00", ids[key]),
            )
        # o1 became delivered on Jan 20th: what contract execution counts.
        conn.execute(
            "INSERT INTO order_event (order_id, seq, from_status, to_status, at, by, reason) "
            "VALUES (%s, 99, 'shipped', 'delivered', '2024-01-20 12:00+00', 'test', 'pod')",
            (ids["o1"],),
        )
    with unit_of_work(world.url) as s:
        orders_service.issue_invoice(
            s, None, world.dealers["d11"], Decimal("30.00"), dt.date(2024, 2, 11), f"{world.p}-I1"
        )
        plan = DeliveryPlan(
            warehouse_id=world.warehouse,
            day=dt.date(2024, 2, 1),
            status="published",
            engine="ortools",
            objective="distance",
            time_limit_s=1.0,
        )
        s.add(plan)
        s.flush()
        # Windows end at noon, Paris time (11:00 UTC in February): o1 on time, o4 late,
        # o2 not reached yet (not counted).
        for key, arrived in (("o1", "10:30"), ("o4", "11:30"), ("o2", None)):
            s.add(
                PlanStop(
                    plan_id=plan.id,
                    order_id=ids[key],
                    lat=48.8,
                    lon=2.3,
                    weight_kg=1.0,
                    volume_m3=0.01,
                    service_s=300.0,
                    window_open_s=8 * 3600.0,
                    window_close_s=12 * 3600.0,
                    actual_arrival=dt.datetime.fromisoformat(f"2024-02-01 {arrived}+00:00")
                    if arrived
                    else None,
                )
            )
    # A contract in force for d11: 1,000 of "parts" in 2024Q1.
    body = {
        "dealer_id": world.dealers["d11"],
        "period_start": "2024-01-01",
        "period_end": "2024-12-31",
        "targets": [{"quarter": "2024Q1", "product_line": "parts", "amount": "1000.00"}],
    }
    r = client.post("/contracts", json=body, headers=world.h("rm1"))
    assert r.status_code == 201, r.text
    cid = r.json()["id"]
    r = client.post(f"/contracts/{cid}/versions/1/submit", headers=world.h("rm1"))
    assert r.status_code == 200, r.text
    r = client.post(f"/contracts/{cid}/versions/1/approve", json={}, headers=world.h("hq"))
    assert r.status_code == 200, r.text
    return ids


def _dash(client: TestClient, world: World, who: str, **params: object) -> dict:  # type: ignore[type-arg]
    r = client.get("/analytics/dashboard", params={**Q1, **params}, headers=world.h(who))
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def test_hq_figures_by_month_status_and_dealer(
    client: TestClient, world: World, orders: dict[str, int]
) -> None:
    d = _dash(client, world, "hq")
    # Sales exclude drafts and cancelled orders; o7 lies before the period.
    assert (d["orders"], d["ordered"], d["delivered"], d["invoiced"]) == (
        4,
        "830.00",
        "630.00",
        "30.00",
    )
    assert d["average_order"] == "207.50"
    assert (d["open_orders"], d["held_orders"]) == (1, 1)
    assert [
        (m["month"], m["orders"], m["ordered"], m["delivered"], m["invoiced"]) for m in d["trend"]
    ] == [
        ("2024-01", 1, "100.00", "100.00", "0.00"),
        ("2024-02", 2, "230.00", "30.00", "30.00"),
        ("2024-03", 1, "500.00", "500.00", "0.00"),
    ]
    assert {s["status"]: (s["orders"], s["value"]) for s in d["by_status"]} == {
        "delivered": (1, "100.00"),
        "invoiced": (1, "30.00"),
        "held": (1, "200.00"),
        "paid": (1, "500.00"),
        "cancelled": (1, "10.00"),
        "draft": (1, "10.00"),
    }
    assert [(x["dealer_id"], x["delivered"]) for x in d["top_dealers"]] == [
        (world.dealers["d21"], "500.00"),
        (world.dealers["d11"], "130.00"),
    ]
    assert d["on_time"] == {"count": 2, "hits": 1, "ratio": 0.5}
    t = d["targets"]
    assert (t["contracts"], t["target"], t["expected_to_date"], t["actual"]) == (
        1,
        "1000.00",
        "1000.00",
        "100.00",
    )
    assert t["achievement"] == 0.1 and t["pace"] == 0.1


def test_each_role_sees_its_subtree_only(
    client: TestClient, world: World, orders: dict[str, int]
) -> None:
    rm1 = _dash(client, world, "rm1")
    assert (rm1["orders"], rm1["ordered"], rm1["delivered"]) == (3, "330.00", "130.00")
    assert [x["dealer_id"] for x in rm1["top_dealers"]] == [world.dealers["d11"]]
    assert rm1["on_time"] == {"count": 1, "hits": 1, "ratio": 1.0}
    du21 = _dash(client, world, "du21")
    assert (du21["orders"], du21["ordered"], du21["invoiced"]) == (1, "500.00", "0.00")
    assert du21["on_time"] == {"count": 1, "hits": 0, "ratio": 0.0}
    assert du21["targets"]["contracts"] == 0 and du21["targets"]["achievement"] is None
    # Filters outside the caller's subtree find nothing (as list filters do).
    assert _dash(client, world, "rm1", region_id=world.units["r2"])["orders"] == 0
    assert _dash(client, world, "du11", dealer_id=world.dealers["d21"])["orders"] == 0


def test_region_and_dealer_filters(
    client: TestClient, world: World, orders: dict[str, int]
) -> None:
    r2 = _dash(client, world, "hq", region_id=world.units["r2"])
    assert (r2["orders"], r2["ordered"], r2["invoiced"]) == (1, "500.00", "0.00")
    d11 = _dash(client, world, "hq", dealer_id=world.dealers["d11"])
    assert (d11["orders"], d11["ordered"], d11["invoiced"]) == (2, "130.00", "30.00")
    assert d11["targets"]["contracts"] == 1
    assert _dash(client, world, "hq", region_id=2**31 - 1)["orders"] == 0
    nothing = _dash(client, world, "hq", start="2020-01-01", end="2020-02-29")
    assert nothing["orders"] == 0 and nothing["average_order"] is None
    assert nothing["on_time"]["ratio"] is None
    assert [m["month"] for m in nothing["trend"]] == ["2020-01", "2020-02"]


def test_bad_input_and_roles(client: TestClient, world: World) -> None:
    h = world.h("hq")
    r = client.get(
        "/analytics/dashboard", params={"start": "2024-02-01", "end": "2024-01-01"}, headers=h
    )
    assert r.status_code == 422 and r.json()["detail"]["code"] == "invalid_period"
    r = client.get(
        "/analytics/dashboard", params={"start": "2010-01-01", "end": "2024-01-01"}, headers=h
    )
    assert r.status_code == 422 and r.json()["detail"]["code"] == "period_too_long"
    for params in ({"region_id": 0}, {"dealer_id": 2**31}, {"start": "2024-13-01"}):
        assert client.get("/analytics/dashboard", params=params, headers=h).status_code == 422
    assert client.get("/analytics/dashboard", headers=world.h("op")).status_code == 403
    assert client.get("/analytics/dashboard").status_code == 401
    default = client.get("/analytics/dashboard", headers=h).json()
    assert dt.date.fromisoformat(default["start"]) == default_start(
        dt.date.fromisoformat(default["end"])
    )
    assert len(default["trend"]) == 12


def test_period_helpers() -> None:
    assert default_start(dt.date(2026, 3, 15)) == dt.date(2025, 4, 1)
    assert default_start(dt.date(2026, 12, 31)) == dt.date(2026, 1, 1)
    assert months(dt.date(2025, 11, 30), dt.date(2026, 2, 1)) == [
        "2025-11",
        "2025-12",
        "2026-01",
        "2026-02",
    ]
    assert months(dt.date(2026, 2, 1), dt.date(2026, 1, 1)) == []
