"""Console pages in NiceGUI's user simulation against the real API (uvicorn in a thread on the
test stack's PostgreSQL, demo network seeded): sign-in, login required, tenant scoping as the
dealer sees it, and an order placed and submitted through the pages."""

from __future__ import annotations

import asyncio
import os

import httpx
import pytest
from nicegui import ui
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

from wayhouse.ui.i18n import t

pytestmark = [pytest.mark.integration, pytest.mark.anyio]


@pytest.mark.parametrize("path", ["/", "/dealers", "/orders", "/orders/1", "/operations"])
async def test_every_page_requires_login(user: User, path: str) -> None:
    await user.open(path)
    await user.should_see(marker="username")
    await user.should_not_see(marker="dealers")


async def test_wrong_password_shows_the_api_reason(user: User, api: Api) -> None:
    await login(user, api, "east.manager", "not the password")
    await user.should_see(content="wrong username or password", retries=RETRIES)
    await user.should_see(marker="login")  # still on the sign-in form


async def test_dealer_user_sees_only_its_own_dealer_and_orders(user: User, api: Api) -> None:
    # Another dealer's order, placed by HQ, must never show up for dealer1.
    admin = {"Authorization": f"Bearer {api.token('admin')}"}
    dealers = httpx.get(f"{api.url}/dealers", params={"size": 100}, headers=admin).json()
    other = next(d for d in dealers["items"] if d["code"] == "DL-002")
    products = httpx.get(f"{api.url}/products", params={"size": 1}, headers=admin).json()
    pid = products["items"][0]["id"]
    r = httpx.post(
        f"{api.url}/orders",
        json={"dealer_id": other["id"], "lines": [{"product_id": pid, "qty": 1}]},
        headers=admin,
    )
    assert r.status_code == 201, r.text
    foreign_order = r.json()["id"]

    await login(user, api, "dealer1")
    await user.should_see(marker="orders", retries=RETRIES)  # a dealer lands on its orders
    assert all(row["dealer_id"] != other["id"] for row in rows(user, "orders"))

    await user.open("/dealers")
    await user.should_see(marker="dealers", retries=RETRIES)
    assert [row["code"] for row in rows(user, "dealers")] == ["DL-001"]

    await user.open(f"/dealers/{other['id']}")
    await user.should_see(marker="page-error", content=t("error.not_found", "zh-CN"))
    await user.open(f"/orders/{foreign_order}")
    await user.should_see(marker="page-error", content=t("error.not_found", "zh-CN"))
    await user.should_not_see(marker="dealers")


async def test_dealer_places_and_submits_an_order(user: User, api: Api) -> None:
    # No credit line for the demo dealer (other pages' tests may have given it one).
    (own,) = httpx.get(f"{api.url}/dealers", headers=api.headers("dealer1")).json()["items"]
    r = httpx.put(
        f"{api.url}/dealers/{own['id']}/credit",
        json={"credit_limit": "0.00", "payment_terms_days": 30, "grace_days": 0},
        headers=api.headers("admin"),
    )
    assert r.status_code == 200, r.text
    await login(user, api, "dealer1")
    await user.should_see(marker="orders", retries=RETRIES)
    await user.open("/orders/new")
    product = user.find(ui.select).elements.pop()
    assert isinstance(product, ui.select)
    product.value = next(iter(product.options))  # type: ignore[call-overload]
    user.find(t("order.add_line", "zh-CN")).click()
    user.find(marker="place-order").click()
    await user.should_see(marker="order-status", content="draft", retries=RETRIES)
    user.find(marker="act-submit").click()
    # No credit: the API holds the order and says why.
    await user.should_see(marker="order-status", content="held", retries=RETRIES)
    await user.should_see(content=t("order.holds", "zh-CN"))
    await user.should_see(t("order.timeline", "zh-CN"))
    user.find(marker="act-cancel").click()
    user.find(marker="reason").type("changed my mind")
    user.find(marker="confirm").click()
    await user.should_see(marker="order-status", content="cancelled", retries=RETRIES)
    await user.should_not_see(marker="act-cancel")


async def test_hq_admin_sees_operations_and_every_dealer(user: User, api: Api) -> None:
    await login(user, api, "admin")
    await user.should_see(marker="whoami", retries=RETRIES)
    await user.open("/operations")
    await user.should_see(marker="msgs_in", retries=RETRIES)
    await user.open("/dealers")
    await user.should_see(marker="dealers", retries=RETRIES)
    for _ in range(RETRIES):  # the rows arrive from the API after the page is built
        if len(rows(user, "dealers")) >= 8:
            break
        await asyncio.sleep(0.1)
    assert len(rows(user, "dealers")) >= 8
    # The search goes to the API (server-side), Enter in the field runs it.
    user.find(marker="dealer-search").type("DL-003").trigger("keydown.enter")
    await user.should_see(content=t("page.of", "zh-CN", page=1, pages=1, total=1), retries=RETRIES)
    assert [row["code"] for row in rows(user, "dealers")] == ["DL-003"]
    assert os.environ["WAYHOUSE_UI_TEST_API_URL"] == api.url
