"""The catalogue and stock page in NiceGUI's user simulation against the real API: the
catalogue is listed from the API, and choosing a product shows its bins and lots in WH1 with
on-hand equal to what the API reports."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from nicegui.testing.user import User
from ui_kit import (  # noqa: F401 - fixtures
    RETRIES,
    Api,
    anyio_backend_fixture,
    api_fixture,
    login,
    rows,
    user_fixture,
)

from wayhouse.simulators.scenario import default_scenario

pytestmark = [pytest.mark.integration, pytest.mark.anyio]


async def test_operator_browses_catalogue_and_stock(user: User, api: Api) -> None:
    await login(user, api, "operator")
    await user.should_see(marker="whoami", retries=RETRIES)
    await user.open("/stock")
    await user.should_see(marker="products", retries=RETRIES)
    for _ in range(RETRIES):  # the rows arrive from the API after the page is built
        if rows(user, "products"):
            break
        await asyncio.sleep(0.1)
    listed = rows(user, "products")
    assert listed, "the catalogue is empty on the page"
    # A product of the demo warehouse (stocked by the seed), found as a user would: by SKU.
    sku = default_scenario(0).bins[0].sku
    found = httpx.get(
        f"{api.url}/products", params={"q": sku}, headers=api.headers("operator")
    ).json()["items"]
    product = next(p for p in found if p["sku"] == sku)
    await user.open(f"/stock?product_id={product['id']}")  # what the SKU link opens
    wh = next(
        w
        for w in httpx.get(f"{api.url}/warehouses", headers=api.headers("operator")).json()["items"]
        if w["code"] == "WH1"
    )
    expected = httpx.get(
        f"{api.url}/warehouses/{wh['id']}/stock",
        params={"product_id": product["id"]},
        headers=api.headers("operator"),
    ).json()
    await user.should_see(marker="positions", retries=RETRIES)
    for _ in range(RETRIES):
        if len(rows(user, "positions")) == len(expected):
            break
        await asyncio.sleep(0.1)
    assert expected and any(r["on_hand"] > 0 for r in expected)
    shown = {(r["bin_code"], r["on_hand"]) for r in rows(user, "positions")}
    assert shown == {(r["bin_code"], r["on_hand"]) for r in expected}
