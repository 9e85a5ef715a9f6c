"""Journey 3 in Chromium: a dealer user cannot reach another dealer's order by URL (the page
says it was not found, never what it holds), and reaches its own."""

from __future__ import annotations

import httpx
import pytest
from e2e_kit import (  # noqa: F401 - fixtures
    Console,
    browser_fixture,
    console_fixture,
    page_fixture,
    shot,
    sign_in,
)
from playwright.sync_api import Page, expect

pytestmark = [pytest.mark.integration, pytest.mark.browser]


def _order_for(console: Console, dealer_id: int) -> int:
    hq = console.headers("admin")
    product = httpx.get(f"{console.api}/products", params={"size": 1}, headers=hq).json()
    body = {"dealer_id": dealer_id, "lines": [{"product_id": product["items"][0]["id"], "qty": 1}]}
    r = httpx.post(f"{console.api}/orders", json=body, headers=hq)
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def test_a_dealer_cannot_open_another_dealers_order_by_url(page: Page, console: Console) -> None:
    mine = httpx.get(f"{console.api}/dealers", headers=console.headers("dealer1")).json()
    (own,) = mine["items"]
    everyone = httpx.get(
        f"{console.api}/dealers", params={"size": 100}, headers=console.headers("admin")
    ).json()["items"]
    other = next(d for d in everyone if d["id"] != own["id"])
    foreign, own_order = _order_for(console, other["id"]), _order_for(console, own["id"])

    sign_in(page, console, "dealer1")
    page.goto(f"{console.ui}/orders/{foreign}")
    expect(page.get_by_test_id("page-error")).to_be_visible()
    expect(page.get_by_test_id("order-status")).to_have_count(0)
    assert other["legal_name"] not in page.content()
    shot(page, "3-tenancy", "foreign-order-by-url")

    page.goto(f"{console.ui}/orders/{own_order}")
    expect(page.get_by_test_id("order-status")).to_contain_text("draft")
    shot(page, "3-tenancy", "own-order")
