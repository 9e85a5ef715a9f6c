"""The console as one product, in Chromium: an HQ user signs in and works in Chinese, switches
to English (saved on the account), finds an order with the header's search, and exports the
order list as CSV (every row of the filter, headers in the user's language)."""

from __future__ import annotations

import csv
import io
import uuid

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

from wayhouse.ui.export import EXPORTS
from wayhouse.ui.i18n import t
from wayhouse.ui.pages import dashboard  # noqa: F401 - registers the dashboard's labels

pytestmark = [pytest.mark.integration, pytest.mark.browser]
JOURNEY = "4-console"


def _hq_user(console: Console) -> str:
    """A throwaway HQ admin (new accounts start in Chinese); its password joins the console's."""
    admin = console.headers("admin")
    me = httpx.get(f"{console.api}/auth/me", headers=admin).json()
    name, password = f"hq.{uuid.uuid4().hex[:6]}", "console journey 1"
    r = httpx.post(
        f"{console.api}/users",
        json={
            "username": name,
            "password": password,
            "role": "hq_admin",
            "org_unit_id": me["org_unit_id"],
        },
        headers=admin,
    )
    assert r.status_code == 201, r.text
    console.passwords[name] = password
    return name


def _dealer_order(console: Console) -> int:
    dealer = console.headers("dealer1")
    product = httpx.get(f"{console.api}/products", params={"size": 1}, headers=dealer).json()
    r = httpx.post(
        f"{console.api}/orders",
        json={"lines": [{"product_id": product["items"][0]["id"], "qty": 1}]},
        headers=dealer,
    )
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def test_chinese_then_english_search_and_export(page: Page, console: Console) -> None:
    name = _hq_user(console)
    oid = _dealer_order(console)

    sign_in(page, console, name)
    expect(page.get_by_test_id("kpi-orders")).to_be_visible()  # managers land on the dashboard
    expect(page.get_by_test_id("nav-dashboard")).to_have_text(t("nav.dashboard", "zh-CN"))
    shot(page, JOURNEY, "dashboard-zh-CN")

    page.get_by_test_id("user-menu").click()
    page.get_by_test_id("lang-en").click()
    expect(page.get_by_test_id("nav-dashboard")).to_have_text(t("nav.dashboard", "en"))
    expect(page.get_by_text(t("dash.title", "en"), exact=True).first).to_be_visible()
    expect(page.get_by_test_id("kpi-orders")).to_be_visible()
    me = httpx.post(
        f"{console.api}/auth/login", json={"username": name, "password": console.passwords[name]}
    ).json()
    assert me["user"]["locale"] == "en"
    shot(page, JOURNEY, "dashboard-en")

    search = page.get_by_test_id("global-search")
    search.fill(f"#{oid}")
    search.press("Enter")
    hit = page.get_by_test_id(f"hit-order-{oid}")
    expect(hit).to_be_visible()
    shot(page, JOURNEY, "search-order")
    hit.get_by_role("link").click()
    expect(page.get_by_test_id("order-status")).to_contain_text("draft")
    shot(page, JOURNEY, "order-found")

    page.goto(f"{console.ui}/import")
    page.get_by_test_id("tab-export").click()
    with page.expect_download() as info:
        page.get_by_test_id("export-orders").click()
    download = info.value
    assert download.suggested_filename.startswith("orders-")
    text = open(download.path(), encoding="utf-8-sig").read()  # noqa: SIM115 - read at once
    table = list(csv.reader(io.StringIO(text)))
    assert table[0] == [t(f"col.{c}", "en") for c in EXPORTS["orders"].columns]
    assert str(oid) in {row[0] for row in table[1:]}
    total = httpx.get(
        f"{console.api}/orders", params={"size": 1}, headers=console.headers(name)
    ).json()["total"]
    assert len(table) - 1 == total
    shot(page, JOURNEY, "export-done")
