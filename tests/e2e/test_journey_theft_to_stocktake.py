"""Journey 2 in Chromium: units vanish from a bin without a scan (the shelf scale's readings go
through the broker, ingest and the evaluation worker); the alarm appears live on the
operator's list; the operator opens the evidence and starts a stocktake; the proposed
adjustment is approved by HQ (four eyes) and posted; the warehouse's stock accuracy is back
to 100%."""

from __future__ import annotations

import random
import time

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
from wayhouse.simulators.scenario import default_scenario

pytestmark = [pytest.mark.integration, pytest.mark.browser, pytest.mark.slow]
J = "2-theft-to-stocktake"
STOLEN = 3


def _alarm(console: Console, subject: str) -> dict | None:  # type: ignore[type-arg]
    r = httpx.get(
        f"{console.api}/alarms",
        params={"type": "weight_loss_unexplained", "size": 100},
        headers=console.headers("admin"),
    )
    return next((a for a in r.json()["items"] if a["subject"] == subject), None)


def test_theft_alarm_to_stocktake(
    stack: Stack, console: Console, browser: Browser, pipeline: None, page: Page
) -> None:
    scenario = default_scenario(0)
    # A heavy product on a quiet cell, and not the one journey 1 orders.
    spec = max(scenario.bins[1:], key=lambda b: b.unit_weight_g / b.noise_sigma_g)
    hq = console.headers("admin")
    wh = next(
        w
        for w in httpx.get(f"{console.api}/warehouses", headers=hq).json()["items"]
        if w["code"] == scenario.site
    )
    product = next(
        p
        for p in httpx.get(f"{console.api}/products", params={"q": spec.sku}, headers=hq).json()[
            "items"
        ]
        if p["sku"] == spec.sku
    )
    positions = httpx.get(
        f"{console.api}/warehouses/{wh['id']}/stock",
        params={"product_id": product["id"]},
        headers=hq,
    ).json()
    book = sum(p["on_hand"] for p in positions if p["bin_code"] == spec.code)
    assert book > STOLEN

    # The shelf scale reports the bin steady at its book count, then STOLEN units lighter,
    # with no pick scan: readings every 5 s over the last minutes.
    agent = spec.agent_id
    rng = random.Random(7)
    t0 = time.time() - 400
    messages = []
    for i in range(80):
        units = book if i < 30 else book - STOLEN
        w = spec.tare_g + units * spec.unit_weight_g + rng.gauss(0.0, spec.noise_sigma_g * 0.5)
        msg = S.ShelfMessage(
            v=1,
            seq=int(t0 * 1000) + i,
            r=[S.ShelfReading(s=spec.sensor_id, t=t0 + i * 5, w=round(w, 1))],
        )
        messages.append((S.topic(agent, "shelf"), S.encode(msg)))
    target = stack.settings.mqtt(agent, stack.settings.sim_password(agent))

    operator = page
    sign_in(operator, console, "operator")
    operator.goto(f"{console.ui}/alarms")
    expect(operator.get_by_test_id("alarms")).to_be_visible()
    assert publish_all(target, f"{agent}-e2e", messages).ok == len(messages)

    subject = f"bin:{scenario.site}/{spec.code}"
    wait_for(lambda: _alarm(console, subject) is not None, 90, "the theft alarm")
    alarm = _alarm(console, subject)
    assert alarm is not None
    detail = httpx.get(f"{console.api}/alarms/{alarm['id']}", headers=hq).json()
    assert detail["evidence"]["units"] == STOLEN
    # The list shows it without a reload (it follows the stream).
    expect(operator.get_by_test_id("alarms")).to_contain_text(spec.code, timeout=30_000)
    shot(operator, J, "01-alarm-live")

    operator.goto(f"{console.ui}/alarms/{alarm['id']}")
    expect(operator.get_by_test_id("evidence-chart")).to_be_visible()
    shot(operator, J, "02-alarm-evidence")

    # A stocktake of the warehouse: snapshot, proposed adjustment, HQ approves, posted.
    operator.goto(f"{console.ui}/alarms/stocktakes")
    operator.get_by_test_id("new-stocktake").click()
    expect(operator.get_by_test_id("stocktake-status")).to_be_visible(timeout=30_000)
    session_url = operator.url
    field(operator, "stocktake-reason").fill("scale shows units missing")
    operator.get_by_test_id("propose").click()
    expect(operator.get_by_test_id("stocktake-status")).to_contain_text("approval", timeout=30_000)
    shot(operator, J, "03-stocktake-proposed")

    admin = browser.new_context(viewport={"width": 1024, "height": 768}, locale="zh-CN").new_page()
    admin.set_default_timeout(30_000)
    sign_in(admin, console, "admin")
    admin.goto(session_url)
    session_id = int(session_url.rstrip("/").rsplit("/", 1)[1])

    def decided() -> bool:
        r = httpx.get(f"{console.api}/stocktakes/{session_id}", headers=hq)
        items = [i for i in r.json()["items"] if i["delta"]]
        return bool(items) and all(i["decided_by"] for i in items)

    admin.get_by_test_id("approve").click()
    wait_for(decided, 30, "the adjustments approved")
    admin.get_by_test_id("post").click()

    def posted() -> bool:
        r = httpx.get(f"{console.api}/stocktakes/{session_id}", headers=hq)
        return bool(r.json()["status"] == "posted")

    wait_for(posted, 30, "the stocktake posted")
    admin.reload()
    expect(admin.get_by_test_id("stocktake-status")).to_contain_text("posted")
    shot(admin, J, "04-stocktake-posted")

    positions = httpx.get(
        f"{console.api}/warehouses/{wh['id']}/stock",
        params={"product_id": product["id"]},
        headers=hq,
    ).json()
    assert sum(p["on_hand"] for p in positions if p["bin_code"] == spec.code) == book - STOLEN

    def accurate() -> bool:
        acc = httpx.get(f"{console.api}/warehouses/{wh['id']}/accuracy", headers=hq).json()
        # ``bins`` are the bins counted (sensed); the others are ``uncounted_bins``.
        return acc["bins"] > 0 and acc["exact_ratio"] == 1.0

    wait_for(accurate, 60, "stock accuracy back to 100%")
    operator.goto(f"{console.ui}/alarms/bin-map")
    expect(operator.get_by_test_id("accuracy")).to_contain_text("100")
    shot(operator, J, "05-accuracy-restored")
