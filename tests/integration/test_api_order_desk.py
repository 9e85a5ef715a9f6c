"""The order desk on the real database: the approval queue lists exactly the orders whose
next step the caller may decide (role, region, chain order), and stock available to promise
counts the warehouses that supply the caller and no others."""

from __future__ import annotations

from decimal import Decimal

import pytest
from console_world import (  # noqa: F401 - fixtures
    World,
    client_fixture,
    place,
    world_fixture,
)
from fastapi.testclient import TestClient

from wayhouse.platform.db.base import unit_of_work
from wayhouse.platform.dms import stock
from wayhouse.platform.dms.domain.types import MovementKind, Role
from wayhouse.platform.dms.models import Bin, Warehouse
from wayhouse.platform.dms.models_orders import ApprovalRuleRow

pytestmark = pytest.mark.integration


def _queue(client: TestClient, world: World, who: str, **params: object) -> list[int]:
    r = client.get("/order-desk/approvals", params={"size": 100, **params}, headers=world.h(who))
    assert r.status_code == 200, r.text
    return [o["id"] for o in r.json()["items"]]


def _submitted(client: TestClient, world: World, dealer: str, lines: list[tuple[str, int]]) -> int:
    oid = place(client, world, dealer, lines)
    r = client.post(f"/orders/{oid}/submit", headers=world.h("hq"))
    assert r.status_code == 200 and r.json()["status"] == "approval", r.text
    return oid


def test_the_queue_follows_role_region_and_step(client: TestClient, world: World) -> None:
    with unit_of_work(world.url) as s:  # big r1 orders also need HQ, after the manager
        s.add(
            ApprovalRuleRow(
                name=f"{world.p}-r1-hq-big",
                level=2,
                role=Role.HQ_ADMIN.value,
                min_amount=Decimal("500.00"),
                regions=[str(world.units["r1"])],
            )
        )
    small = _submitted(client, world, "d11", [("P2", 2)])
    big = _submitted(client, world, "d12", [("P1", 6)])

    assert {small, big} <= set(_queue(client, world, "rm1"))
    assert small not in _queue(client, world, "hq") and big not in _queue(client, world, "hq")
    assert {small, big}.isdisjoint(_queue(client, world, "rm2"))  # another region's
    assert _queue(client, world, "rm1", dealer_id=world.dealers["d12"]) == [big]
    r = client.get("/order-desk/approvals", params={"size": 100}, headers=world.h("rm1"))
    item = next(o for o in r.json()["items"] if o["id"] == big)
    assert (item["step"], item["level"], item["total"]) == (1, 1, "600.00")
    assert item["dealer_name"] == f"{world.p} Beta Supply" and item["rules"]

    r = client.post(f"/orders/{big}/approve", json={}, headers=world.h("rm1"))
    assert r.status_code == 200 and r.json()["status"] == "approval", r.text
    assert big not in _queue(client, world, "rm1")  # decided: HQ's turn now
    assert big in _queue(client, world, "hq")
    r = client.post(f"/orders/{small}/approve", json={}, headers=world.h("rm1"))
    assert r.status_code == 200, r.text
    assert [a["status"] for a in r.json()["approvals"]] == ["approved"]  # the chain is done
    assert small not in _queue(client, world, "rm1") and small not in _queue(client, world, "hq")


def test_the_queue_is_for_approvers_with_valid_input(client: TestClient, world: World) -> None:
    for who in ("du11", "op", "disp"):
        assert client.get("/order-desk/approvals", headers=world.h(who)).status_code == 403
    h = world.h("rm1")
    for params in ({"sort": "dealer"}, {"dealer_id": 0}, {"size": 501}):
        assert client.get("/order-desk/approvals", params=params, headers=h).status_code == 422
    r = client.get("/order-desk/approvals", params={"sort": "-total", "size": 1}, headers=h)
    assert r.status_code == 200 and len(r.json()["items"]) <= 1


def test_available_to_promise_counts_the_supplying_warehouses(
    client: TestClient, world: World
) -> None:
    with unit_of_work(world.url) as s:  # d21 keeps 7 of P2 in its own warehouse
        wh = Warehouse(org_unit_id=world.units["d21"], code=f"{world.p}-WH21", name="Own")
        s.add(wh)
        s.flush()
        b = Bin(warehouse_id=wh.id, code=f"{world.p}-B21")
        s.add(b)
        s.flush()
        stock.post_movement(
            s,
            kind=MovementKind.RECEIVE,
            product_id=world.products["P2"],
            bin_id=b.id,
            lot_id=None,
            qty=7,
            user_id=None,
        )

    def atp(who: str) -> dict[int, int]:
        r = client.get(
            "/order-desk/availability",
            params={"product_id": [world.products["P1"], world.products["P2"]]},
            headers=world.h(who),
        )
        assert r.status_code == 200, r.text
        return {a["product_id"]: a["available"] for a in r.json()}

    p1, p2 = world.products["P1"], world.products["P2"]
    central = atp("hq")[p1]
    assert 0 < central <= 20  # HQ's stock, less what approved orders reserved
    assert atp("du11") == {p1: central, p2: 0}  # HQ supplies d11; d21's own stock does not
    assert atp("du21") == {p1: central, p2: 7}
    assert atp("hq")[p2] == 7 and atp("rm2")[p2] == 7 and atp("rm1")[p2] == 0


def test_availability_refuses_bad_input(client: TestClient, world: World) -> None:
    h = world.h("du11")
    for params in ({}, {"product_id": 0}, {"product_id": 2**31}, {"product_id": "x"}):
        r = client.get("/order-desk/availability", params=params, headers=h)
        assert r.status_code == 422, params
    too_many = {"product_id": list(range(1, 202))}
    assert client.get("/order-desk/availability", params=too_many, headers=h).status_code == 422
    r = client.get("/order-desk/availability", params={"product_id": 1}, headers=world.h("op"))
    assert r.status_code == 403
