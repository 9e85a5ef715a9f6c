"""The generated dealer network loaded into the real database: the right rows, once; scoping of
the loaded orders through the API; and a smoke run of the API benchmark's measurement."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import pytest
from conftest import Stack
from fastapi.testclient import TestClient

from wayhouse.bench import api as bench_api
from wayhouse.platform.api.app import create_app
from wayhouse.platform.dms import loader
from wayhouse.simulators import dealer_network

pytestmark = pytest.mark.integration

NET = dealer_network.small()
ORDERS = list(NET.orders())


@pytest.fixture(scope="module")
def loaded(stack: Stack) -> loader.LoadResult:
    lines: list[str] = []
    result = loader.load_network(stack.settings, NET, progress=lines.append)
    assert result.loaded, lines
    assert any("sales_order" in ln for ln in lines)  # a progress line per table
    return result


@pytest.fixture(scope="module")
def client(stack: Stack, loaded: loader.LoadResult) -> Iterator[TestClient]:
    with TestClient(create_app(stack.settings)) as c:
        yield c


def _net_orders(stack: Stack, where: str = "", params: tuple[object, ...] = ()) -> int:
    return int(
        stack.scalar(  # type: ignore[arg-type]
            "SELECT count(*) FROM sales_order o JOIN dealer d ON d.id = o.dealer_id "
            f"JOIN org_unit u ON u.id = d.org_unit_id WHERE u.code LIKE 'NET-%%' {where}",
            params,
        )
    )


def test_loads_the_generated_counts(stack: Stack, loaded: loader.LoadResult) -> None:
    n_lines = sum(len(o.lines) for o in ORDERS)
    assert loaded.counts == {
        "org_unit": 1 + 4 + 8,
        "dealer": 8,
        "credit_account": 8,
        "app_user": 1 + 4 + 8,
        "product": 60,
        "warehouse": 5,
        "customer": 120,
        "sales_order": 1500,
        "order_line": n_lines,
        "order_event": 1500,
    }
    # And the database agrees (the counts are not just what the loader meant to write).
    assert stack.scalar("SELECT count(*) FROM org_unit WHERE code LIKE 'NET-%%'") == 13
    assert stack.scalar("SELECT count(*) FROM app_user WHERE username LIKE 'net.%%'") == 13
    assert _net_orders(stack) == 1500
    assert (
        stack.scalar(
            "SELECT count(*) FROM order_line l JOIN sales_order o ON o.id = l.order_id "
            "WHERE o.note LIKE 'imported SO-%%'"
        )
        == n_lines
    )
    # Totals survive the binary COPY exactly (numeric, not float).
    first = ORDERS[0]
    assert stack.scalar(
        "SELECT total FROM sales_order WHERE note = %s", (f"imported {first.ref}",)
    ) == (first.total)
    # Every order's timeline starts with one event at its placing time.
    assert (
        stack.scalar(
            "SELECT count(*) FROM sales_order o JOIN order_event e ON e.order_id = o.id "
            "AND e.seq = 1 AND e.at = o.created_at WHERE o.note LIKE 'imported SO-%%'"
        )
        == 1500
    )


def test_loading_again_changes_nothing(stack: Stack, loaded: loader.LoadResult) -> None:
    before = loader.sizes(stack.settings)
    again = loader.load_network(stack.settings, NET, progress=lambda _: None)
    assert not again.loaded and again.counts == {}
    assert loader.sizes(stack.settings) == before


def _login(client: TestClient, stack: Stack, username: str) -> dict[str, str]:
    return bench_api.login(client, username, loader.password_for(stack.settings, username))


def _all_orders(client: TestClient, headers: dict[str, str]) -> list[dict[str, object]]:
    items: list[dict[str, object]] = []
    page = 1
    while True:
        body = client.get("/orders", headers=headers, params={"size": 500, "page": page}).json()
        items += body["items"]
        if len(items) >= body["total"]:
            return items
        page += 1


def test_dealer_user_sees_only_its_orders(client: TestClient, stack: Stack) -> None:
    per_dealer = Counter(o.dealer for o in ORDERS)
    code = NET.dealers[1].code
    headers = _login(client, stack, loader.dealer_username(code))
    orders = _all_orders(client, headers)
    own_dealer = stack.scalar(
        "SELECT d.id FROM dealer d JOIN org_unit u ON u.id = d.org_unit_id WHERE u.code = %s",
        (loader.PREFIX + code,),
    )
    assert len(orders) == per_dealer[code] > 0
    assert {o["dealer_id"] for o in orders} == {own_dealer}
    # Another dealer's order is a 404 (not theirs, so it does not exist for them).
    foreign = stack.scalar(
        "SELECT o.id FROM sales_order o JOIN dealer d ON d.id = o.dealer_id "
        "JOIN org_unit u ON u.id = d.org_unit_id WHERE u.code = %s LIMIT 1",
        (loader.PREFIX + NET.dealers[0].code,),
    )
    assert client.get(f"/orders/{foreign}", headers=headers).status_code == 404
    assert client.get(f"/orders/{orders[0]['id']}", headers=headers).status_code == 200


def test_region_manager_sees_its_region(client: TestClient, stack: Stack) -> None:
    region = NET.regions[2]
    in_region = {d.code for d in NET.dealers if d.region == region.code}
    expected = sum(1 for o in ORDERS if o.dealer in in_region)
    headers = _login(client, stack, loader.manager_username(region.code))
    body = client.get("/orders", headers=headers, params={"size": 1}).json()
    assert body["total"] == expected
    dealers = client.get("/dealers", headers=headers, params={"size": 100}).json()
    assert {d["code"] for d in dealers["items"]} == {loader.PREFIX + c for c in in_region}


def test_bench_measurement_shape(client: TestClient, stack: Stack) -> None:
    endpoints = bench_api.measure(
        client, bench_api.network_users(stack.settings, NET), requests=3, warmup=1
    )
    assert "place_order" in endpoints and "orders_list_hq_deep_page" in endpoints
    for name, r in endpoints.items():
        assert set(r) == {"p50_ms", "p99_ms", "n"}, name
        assert r["n"] == 3 and 0 < r["p50_ms"] <= r["p99_ms"], name
    assert set(bench_api.over_target(endpoints)) <= set(endpoints)


def test_percentile_is_nearest_rank() -> None:
    samples = [float(x) for x in range(1, 201)]
    assert bench_api.percentile(samples, 50) == 100.0
    assert bench_api.percentile(samples, 99) == 198.0
    assert bench_api.percentile([7.0], 99) == 7.0
