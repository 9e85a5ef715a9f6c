"""GET /search on the real database: each kind of hit scoped like its own list (dealers,
orders by number, customers, products, trucks), nothing from another tenant, bad input 422."""

from __future__ import annotations

import pytest
from console_world import (  # noqa: F401 - fixtures
    World,
    client_fixture,
    place,
    world_fixture,
)
from fastapi.testclient import TestClient

from wayhouse.platform.api.routes.search import order_number
from wayhouse.platform.db.base import unit_of_work
from wayhouse.platform.dispatch.models import VehicleRow

pytestmark = pytest.mark.integration


def _hits(client: TestClient, world: World, who: str, q: str, kind: str) -> list[dict]:  # type: ignore[type-arg]
    r = client.get("/search", params={"q": q, "limit": 20}, headers=world.h(who))
    assert r.status_code == 200, r.text
    return [h for h in r.json()["hits"] if h["kind"] == kind]


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        *[("123", 123), ("#123", 123), ("SO-000123", 123), ("so123", 123), (" 7 ", 7)],
        *[("0", None), ("12a", None), ("SO-", None), ("99999999999", None), ("-5", None)],
    ],
)
def test_order_numbers_are_read_from_the_query(q: str, expected: int | None) -> None:
    assert order_number(q) == expected


def test_dealers_are_found_within_the_callers_subtree(client: TestClient, world: World) -> None:
    def ids(who: str) -> set[int]:
        return {h["id"] for h in _hits(client, world, who, f"{world.p}-D", "dealer")}

    d = world.dealers
    assert ids("hq") == {d["d11"], d["d12"], d["d21"]}
    assert ids("rm1") == {d["d11"], d["d12"]}
    assert ids("du11") == {d["d11"]}
    assert ids("du21") == {d["d21"]}
    by_name = _hits(client, world, "hq", "gamma parts", "dealer")  # case-insensitive, by name
    assert [h["id"] for h in by_name] == [d["d21"]]
    assert "Gamma" in by_name[0]["label"] and by_name[0]["detail"] == "active"


def test_an_order_is_found_by_its_number_only_by_who_may_see_it(
    client: TestClient, world: World
) -> None:
    oid = place(client, world, "d11", [("P2", 1)])
    for q in (str(oid), f"#{oid}", f"SO-{oid:06d}"):
        (hit,) = _hits(client, world, "du11", q, "order")
        assert hit["id"] == oid and hit["label"] == f"#{oid}"
        assert "draft" in hit["detail"] and "Alpha" in hit["detail"]
    assert _hits(client, world, "rm1", str(oid), "order")
    assert _hits(client, world, "du21", str(oid), "order") == []  # another dealer's: no hit
    assert _hits(client, world, "rm2", str(oid), "order") == []  # another region's: no hit


def test_products_for_everyone_trucks_for_the_fleet_roles(client: TestClient, world: World) -> None:
    with unit_of_work(world.url) as s:
        s.add(
            VehicleRow(
                code=f"{world.p}-TRUCK",
                plate="沪A-12345",
                warehouse_id=world.warehouse,
                capacity_kg=1000.0,
                capacity_m3=10.0,
            )
        )
    (product,) = _hits(client, world, "du21", f"{world.p}-p1", "product")
    assert product["id"] == world.products["P1"] and product["label"].startswith(f"{world.p}-P1")
    for who in ("hq", "op", "disp"):
        (truck,) = _hits(client, world, who, f"{world.p}-truck", "vehicle")
        assert "沪A-12345" in truck["label"]
    assert _hits(client, world, "du11", f"{world.p}-truck", "vehicle") == []
    assert _hits(client, world, "rm1", "沪A-12345", "vehicle") == []


def test_customers_are_found_in_scope(client: TestClient, world: World) -> None:
    body = {
        "name": f"{world.p} Zeta Garage",
        "code": f"{world.p}-C1",
        "dealer_id": world.dealers["d11"],
    }
    r = client.post("/customers", json=body, headers=world.h("hq"))
    assert r.status_code == 201, r.text
    (hit,) = _hits(client, world, "du11", "zeta garage", "customer")
    assert hit["id"] == r.json()["id"] and hit["label"].startswith(f"{world.p}-C1")
    assert _hits(client, world, "du21", "zeta garage", "customer") == []


def test_bad_queries_are_refused_with_a_reason(client: TestClient, world: World) -> None:
    for params in ({}, {"q": ""}, {"q": "x" * 101}, {"q": "a\x00b"}, {"q": "a", "limit": 0}):
        r = client.get("/search", params=params, headers=world.h("hq"))
        assert r.status_code == 422, params
    assert client.get("/search", params={"q": "a"}).status_code == 401
    blank = client.get("/search", params={"q": "   "}, headers=world.h("hq"))
    assert blank.status_code == 200 and blank.json()["hits"] == []
    # '%' and '_' are literal characters, not wildcards that match everything.
    assert _hits(client, world, "hq", "%", "dealer") == []
