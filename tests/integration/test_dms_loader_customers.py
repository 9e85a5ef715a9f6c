"""The generated customers in the real database: the `data load` network's 2,000 (here the
small network's 120) with their dealer, region and a delivery position near the dealer, seen
through the API by the right users only; and the demo seed's customers near the warehouse."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import pytest
from conftest import Stack
from fastapi.testclient import TestClient
from pyproj import Geod

from wayhouse.bench import api as bench_api
from wayhouse.platform.api.app import create_app
from wayhouse.platform.dms import loader
from wayhouse.platform.dms.seed import DEMO_CUSTOMERS, seed_demo
from wayhouse.simulators import dealer_network
from wayhouse.simulators.scenario import DEPOT

pytestmark = pytest.mark.integration

NET = dealer_network.small()
GEOD = Geod(ellps="WGS84")


@pytest.fixture(scope="module")
def loaded(stack: Stack) -> None:
    # Another module may have loaded the same network first: either way it is there once.
    loader.load_network(stack.settings, NET, progress=lambda _: None)


@pytest.fixture(scope="module")
def client(stack: Stack, loaded: None) -> Iterator[TestClient]:
    with TestClient(create_app(stack.settings)) as c:
        yield c


def _km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    return float(GEOD.inv(lon1, lat1, lon2, lat2)[2]) / 1000


def test_every_generated_customer_is_loaded_with_dealer_and_position(
    stack: Stack, loaded: None
) -> None:
    with stack.db() as conn:
        rows = conn.execute(
            "SELECT c.code, u.code, c.region_id = u.parent_id, c.owner_unit_id = u.id, c.status, "
            "c.purchases, c.lat, c.lon, c.area_code FROM customer c "
            "JOIN dealer d ON d.id = c.dealer_id JOIN org_unit u ON u.id = d.org_unit_id "
            "WHERE u.code LIKE 'NET-%%'"
        ).fetchall()
    by_code = {r[0]: r for r in rows}
    assert len(rows) == len(by_code) == len(NET.customers) == 120
    dealers = {d.code: d for d in NET.dealers}
    for c in NET.customers:
        _, unit, same_region, owned, status, purchases, lat, lon, area = by_code[c.code]
        assert (unit, status, same_region, owned) == (loader.PREFIX + c.dealer, c.stage, True, True)
        assert (purchases == 0) == (c.stage in ("lead", "prospect"))
        assert (purchases >= 2) == (c.stage == "repeat_customer")
        dealer = dealers[c.dealer]
        # A day trip from the dealer's warehouse (flat-earth offsets stay within 1% here).
        assert 1.9 <= _km(dealer.lat, dealer.lon, lat, lon) <= 40.5, c.code
        assert area == f"CN-{dealer.region.removeprefix('R-')}"
    assert loader.sizes(stack.settings)["customers"] == 120


def test_customers_are_scoped_like_the_rest_of_the_network(
    client: TestClient, stack: Stack
) -> None:
    code = NET.dealers[3].code
    headers = bench_api.login(
        client,
        loader.dealer_username(code),
        loader.password_for(stack.settings, loader.dealer_username(code)),
    )
    mine = client.get("/customers", params={"size": 500}, headers=headers).json()
    expected = Counter(c.dealer for c in NET.customers)[code]
    assert mine["total"] == expected > 0
    assert {c["code"] for c in mine["items"]} == {c.code for c in NET.customers if c.dealer == code}
    region = NET.regions[1]
    manager = loader.manager_username(region.code)
    headers = bench_api.login(client, manager, loader.password_for(stack.settings, manager))
    in_region = {d.code for d in NET.dealers if d.region == region.code}
    body = client.get("/customers", params={"size": 1}, headers=headers).json()
    assert body["total"] == sum(1 for c in NET.customers if c.dealer in in_region)
    leads = client.get("/customers", params={"size": 1, "status": "lead"}, headers=headers).json()
    assert leads["total"] == sum(
        1 for c in NET.customers if c.dealer in in_region and c.stage == "lead"
    )


def test_the_demo_seed_has_customers_near_the_warehouse(stack: Stack) -> None:
    seed_demo(stack.settings)
    seed_demo(stack.settings)  # idempotent: the second run adds nothing
    with stack.db() as conn:
        rows = conn.execute(
            "SELECT c.code, c.lat, c.lon, u.code, d.status, "
            "(SELECT count(*) FROM customer_interaction i WHERE i.customer_id = c.id) "
            "FROM customer c JOIN dealer d ON d.id = c.dealer_id "
            "JOIN org_unit u ON u.id = d.org_unit_id WHERE c.code LIKE 'DEMO-%%' ORDER BY c.code"
        ).fetchall()
    assert len(rows) == len(DEMO_CUSTOMERS)
    for code, lat, lon, _, status, interactions in rows:
        assert 2.9 <= _km(DEPOT.lat, DEPOT.lon, lat, lon) <= 25.3, code
        assert status == "active" and interactions == 1
    assert Counter(r[3] for r in rows)["DL-001"] == 2  # dealer1 has customers to work with
