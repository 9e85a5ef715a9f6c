"""Journey 1 in Chromium, each role signing in on its own: a dealer places an order; it is held
for credit; HQ records a payment; the region manager approves; the warehouse picks with a
scanner (a real scan through the broker, ingest and the scan poster) and ships; the
dispatcher plans and publishes; the truck drives (GPS through the broker into the tracking
evaluator); the customer's tracking link shows the ETA; the driver records the proof of
delivery; HQ invoices; the dealer's statement shows the invoice."""

from __future__ import annotations

import datetime as dt
import re
import time
from decimal import Decimal

import httpx
import pytest
from conftest import Stack, wait_for
from e2e_kit import (  # noqa: F401 - fixtures
    Console,
    browser_fixture,
    console_fixture,
    field,
    page_fixture,
    pipeline_fixture,
    shot,
    sign_in,
)
from playwright.sync_api import Browser, Page, expect
from wh_testkit import publish_all

from wayhouse.edge import schema as S
from wayhouse.platform.db.base import unit_of_work
from wayhouse.platform.dms import orders_service
from wayhouse.simulators.scenario import default_scenario

pytestmark = [pytest.mark.integration, pytest.mark.browser, pytest.mark.slow]
J = "1-order-to-cash"


def _order_status(console: Console, order_id: int) -> str:
    r = httpx.get(f"{console.api}/orders/{order_id}", headers=console.headers("admin"))
    return str(r.json()["status"])


def _as(browser: Browser, console: Console, username: str) -> Page:
    context = browser.new_context(viewport={"width": 1024, "height": 768}, locale="zh-CN")
    context.set_default_timeout(30_000)
    page = context.new_page()
    sign_in(page, console, username)
    return page


def test_order_to_cash(
    stack: Stack, console: Console, browser: Browser, pipeline: None, page: Page
) -> None:
    scenario = default_scenario(0)
    sku = scenario.bins[0].sku
    hq = console.headers("admin")
    (own,) = httpx.get(f"{console.api}/dealers", headers=console.headers("dealer1")).json()["items"]
    dealer_id = own["id"]
    # The dealer's credit is nearly used up by an earlier delivery's unpaid bill of 990.
    credit = httpx.get(f"{console.api}/dealers/{dealer_id}/credit", headers=hq).json()
    exposure = Decimal(credit["balance"]) + Decimal(credit["committed"])
    r = httpx.put(
        f"{console.api}/dealers/{dealer_id}/credit",
        json={
            "credit_limit": str(max(exposure, Decimal(0)) + Decimal("1000.00")),
            "payment_terms_days": 30,
            "grace_days": 0,
        },
        headers=hq,
    )
    assert r.status_code == 200, r.text
    with unit_of_work(stack.settings.sqlalchemy_url()) as s:
        orders_service.issue_invoice(
            s, None, dealer_id, Decimal("990.00"), dt.date.today(), f"E2E-{time.time_ns()}"
        )

    # 1. The dealer places an order from the catalogue and submits it: held for credit.
    sign_in(page, console, "dealer1")
    page.goto(f"{console.ui}/orders/new")
    page.get_by_test_id("order-product").click()
    page.keyboard.type(sku)
    page.get_by_role("option").filter(has_text=sku).first.click()
    page.get_by_test_id("add-line").click()
    page.get_by_test_id("place-order").click()
    expect(page.get_by_test_id("order-status")).to_contain_text("draft")
    order_id = int(re.search(r"/orders/(\d+)", page.url).group(1))  # type: ignore[union-attr]
    page.get_by_test_id("act-submit").click()
    expect(page.get_by_test_id("order-status")).to_contain_text("held")
    shot(page, J, "01-dealer-order-held-for-credit")

    # 2. HQ records the dealer's payment; the hold is released.
    admin = _as(browser, console, "admin")
    admin.goto(f"{console.ui}/dealers/{dealer_id}")
    field(admin, "payment-amount").fill("990.00")
    field(admin, "payment-reference").fill("BANK-E2E-1")
    admin.get_by_test_id("payment-record").click()
    wait_for(lambda: _order_status(console, order_id) == "approval", 30, "the hold released")
    shot(admin, J, "02-hq-payment-recorded")

    # 3. The region manager approves; the warehouse reserves the stock.
    manager = _as(browser, console, "east.manager")
    manager.goto(f"{console.ui}/orders/{order_id}")
    manager.get_by_test_id("act-approve").click()
    expect(manager.get_by_test_id("allocate")).to_be_visible()
    shot(manager, J, "03-region-manager-approved")
    operator = _as(browser, console, "operator")
    operator.goto(f"{console.ui}/orders/{order_id}")
    operator.get_by_test_id("allocate").click()
    expect(operator.get_by_test_id("order-status")).to_contain_text("allocated")
    tasks = httpx.get(f"{console.api}/orders/{order_id}/pick-list", headers=hq).json()
    (task,) = tasks

    # 4. The picker scans the bin: a real scan through broker, ingest and the scan poster.
    scanner = next(s for s in scenario.scanners if s.barcode_sensor)
    scan = S.ScanMessage(
        v=1,
        seq=int(time.time() * 1000),
        r=[
            S.ScanReading(
                s=scanner.barcode_sensor,  # type: ignore[arg-type]
                t=time.time(),
                k="barcode",
                c=task["sku"],
                a="pick",
                q=task["qty"],
                b=task["bin_code"],
            )
        ],
    )
    target = stack.settings.mqtt(scanner.agent_id, stack.settings.sim_password(scanner.agent_id))
    assert (
        publish_all(
            target, f"{scanner.agent_id}-e2e", [(S.topic(scanner.agent_id, "scan"), S.encode(scan))]
        ).ok
        == 1
    )
    wait_for(lambda: _order_status(console, order_id) == "picking", 60, "the scan posted")
    operator.reload()
    expect(operator.get_by_test_id("ship")).to_be_visible()
    shot(operator, J, "04-picked-by-scan")

    # 5. The dispatcher plans the day and publishes the routes.
    dispatcher = _as(browser, console, "dispatcher")
    dispatcher.goto(f"{console.ui}/dispatch")
    dispatcher.get_by_test_id("plan").click()
    expect(dispatcher.get_by_test_id("plan-status")).to_contain_text("ready", timeout=90_000)
    shot(dispatcher, J, "05-dispatch-plan")
    dispatcher.get_by_test_id("publish").click()
    expect(dispatcher.get_by_test_id("published")).to_be_visible()
    plans = httpx.get(f"{console.api}/dispatch/plans", headers=hq).json()["items"]
    plan = httpx.get(f"{console.api}/dispatch/plans/{plans[0]['id']}", headers=hq).json()
    stop = next(s for s in plan["stops"] if s["order_id"] == order_id)
    vehicle = next(
        v
        for v in httpx.get(f"{console.api}/vehicles", headers=hq).json()
        if v["id"] == stop["vehicle_id"]
    )
    # The goods are loaded: the warehouse ships what was picked.
    operator.reload()
    operator.get_by_test_id("ship").click()
    wait_for(lambda: _order_status(console, order_id) == "shipped", 30, "shipped")

    # 6. The truck drives towards the dealer: GPS fixes from its unit, through the broker.
    wh = next(
        w
        for w in httpx.get(f"{console.api}/warehouses", headers=hq).json()["items"]
        if w["code"] == scenario.site
    )
    agent, gps = vehicle["agent_id"], f"{vehicle['agent_id']}.gps"
    truck = next(t for t in scenario.trucks if t.agent_id == agent)
    now, fixes = time.time(), []
    for i in range(12):
        f = i / 20  # the first part of the way
        lat = wh["lat"] + (stop["lat"] - wh["lat"]) * f
        lon = wh["lon"] + (stop["lon"] - wh["lon"]) * f
        reading = S.GpsReading(s=truck.sensor_id or gps, t=now + i * 5, lat=lat, lon=lon, spd=12.0)
        fixes.append(
            (
                S.topic(agent, "gps"),
                S.encode(S.GpsMessage(v=1, seq=int(now * 1000) + i, r=[reading])),
            )
        )
    target = stack.settings.mqtt(agent, stack.settings.sim_password(agent))
    assert publish_all(target, f"{agent}-e2e", fixes).ok == len(fixes)

    def eta_known() -> bool:
        p = httpx.get(f"{console.api}/dispatch/plans/{plan['id']}", headers=hq).json()
        return any(s["order_id"] == order_id and s["eta"] for s in p["stops"])

    wait_for(eta_known, 60, "an ETA from the tracking evaluator")

    # 7. The customer's link shows the truck and the ETA of this delivery only.
    link = httpx.post(
        f"{console.api}/tracking/links",
        json={"order_id": order_id},
        headers=console.headers("dispatcher"),
    )
    assert link.status_code == 201, link.text
    customer = browser.new_context(
        viewport={"width": 390, "height": 844}, locale="zh-CN"
    ).new_page()
    customer.goto(f"{console.ui}/track/{link.json()['token']}")
    expect(customer.get_by_test_id("public-eta")).not_to_have_text("–", timeout=30_000)
    assert own["legal_name"] not in customer.content()
    shot(customer, J, "06-customer-tracking-link")

    # 8. The driver records the proof of delivery; HQ invoices.
    driver = _as(browser, console, "driver")
    driver.goto(f"{console.ui}/orders/{order_id}")
    (shipment,) = httpx.get(f"{console.api}/orders/{order_id}/shipments", headers=hq).json()
    field(driver, f"pod-ref-{shipment['id']}").fill("SIG-E2E-1")
    driver.get_by_test_id(f"deliver-{shipment['id']}").click()
    wait_for(lambda: _order_status(console, order_id) == "delivered", 30, "delivered")
    shot(driver, J, "07-proof-of-delivery")
    admin.goto(f"{console.ui}/orders/{order_id}")
    admin.get_by_test_id("invoice").click()
    wait_for(lambda: _order_status(console, order_id) == "invoiced", 30, "invoiced")

    # 9. The dealer's statement shows the invoice, and it reconciles.
    page.goto(f"{console.ui}/dealers/{dealer_id}")
    expect(page.get_by_test_id("statement")).to_contain_text(f"INV-{order_id:08d}")
    expect(page.get_by_test_id("statement-closing")).to_contain_text("✓")
    shot(page, J, "08-dealer-statement")
