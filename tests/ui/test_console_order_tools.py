"""Order tools in NiceGUI's user simulation against the real API: the approval queue shows the
orders waiting for this approver (and exports them), the composer shows the dealer's credit
and the stock per line while the order is put together, and saved filters survive a reload."""

from __future__ import annotations

import asyncio
import json
import uuid
from decimal import Decimal
from typing import Any

import httpx
import pytest
from fastapi.responses import RedirectResponse
from nicegui import ui
from nicegui.testing.user import User
from ui_kit import (  # noqa: F401 - fixtures
    RETRIES,
    Api,
    anyio_backend_fixture,
    api_fixture,
    demo_product,
    login,
    rows,
    user_fixture,
)

from wayhouse.ui import fmt
from wayhouse.ui.frame import frame
from wayhouse.ui.i18n import t
from wayhouse.ui.pages.order_tools import OrderFilters, credit_verdict
from wayhouse.ui.session import require_user

pytestmark = [pytest.mark.integration, pytest.mark.anyio]


def _one(user: User, marker: str) -> Any:
    (element,) = user.find(marker=marker).elements
    return element


async def _rows_when(user: User, marker: str, ready: Any) -> list[dict[str, Any]]:
    """The table's rows once ``ready(rows)`` holds (the page loads them after it shows)."""
    for _ in range(RETRIES):
        found = rows(user, marker)
        if ready(found):
            return found
        await asyncio.sleep(0.1)
    return rows(user, marker)


def _own_dealer(api: Api) -> dict[str, Any]:
    (own,) = httpx.get(f"{api.url}/dealers", headers=api.headers("dealer1")).json()["items"]
    return own  # type: ignore[no-any-return]


def _set_credit(api: Api, dealer_id: int, limit: str) -> dict[str, Any]:
    r = httpx.put(
        f"{api.url}/dealers/{dealer_id}/credit",
        json={"credit_limit": limit, "payment_terms_days": 30, "grace_days": 0},
        headers=api.headers("admin"),
    )
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def test_the_credit_verdict_names_the_hold_the_api_would_make() -> None:
    credit = {"available": "100.00", "overdue_past_grace": "0.00"}
    assert credit_verdict(credit, Decimal("100.00"))[0] == "ok"
    verdict, message = credit_verdict(credit, Decimal("130.00"))
    assert verdict == "short" and fmt.money("30.00", "CNY", "en") in message
    overdue = {"available": "1000.00", "overdue_past_grace": "5.00"}
    assert credit_verdict(overdue, Decimal("1.00"))[0] == "overdue"


async def test_the_approval_queue_lists_what_waits_for_this_manager(user: User, api: Api) -> None:
    own = _own_dealer(api)
    _set_credit(api, own["id"], "10000000.00")
    dealer = api.headers("dealer1")
    r = httpx.post(
        f"{api.url}/orders",
        json={"lines": [{"product_id": demo_product(api)["id"], "qty": 1}]},
        headers=dealer,
    )
    oid = r.json()["id"]
    r = httpx.post(f"{api.url}/orders/{oid}/submit", headers=dealer)
    assert r.json()["status"] == "approval", r.text  # the demo's East rule: its manager signs

    await login(user, api, "east.manager")
    await user.should_see(marker="kpi-orders", retries=RETRIES)
    await user.open("/approvals")
    await user.should_see(marker="approval-queue", retries=RETRIES)
    loaded = await _rows_when(user, "approval-queue", lambda rs: oid in {r["id"] for r in rs})
    queued = {row["id"]: row for row in loaded}
    assert oid in queued and queued[oid]["step"] == 1
    assert queued[oid]["total_text"].startswith("¥")  # money in the user's locale

    user.find(marker="export-approvals").click()
    exported = (await user.download.next(timeout=10)).content.decode("utf-8-sig")
    assert str(oid) in {line.split(",")[0] for line in exported.splitlines()[1:]}

    r = httpx.post(f"{api.url}/orders/{oid}/approve", json={}, headers=api.headers("east.manager"))
    assert r.status_code == 200, r.text
    await user.open("/approvals")
    await user.should_see(marker="approval-queue", retries=RETRIES)
    left = await _rows_when(user, "approval-queue", lambda rs: oid not in {r["id"] for r in rs})
    assert oid not in {row["id"] for row in left}


async def test_the_composer_checks_credit_and_stock_while_composing(user: User, api: Api) -> None:
    own = _own_dealer(api)
    product = demo_product(api)
    credit = _set_credit(api, own["id"], "0.00")
    (atp,) = httpx.get(
        f"{api.url}/order-desk/availability",
        params={"product_id": product["id"]},
        headers=api.headers("dealer1"),
    ).json()
    await login(user, api, "dealer1")
    await user.should_see(marker="orders", retries=RETRIES)
    await user.open("/new-order")
    await user.should_see(marker="credit-panel", retries=RETRIES)
    await user.should_see(
        marker="credit_available", content=fmt.money(credit["available"], "CNY", "zh-CN")
    )

    _one(user, "compose-product").value = product["id"]
    qty = atp["available"] + 5
    _one(user, "compose-qty").value = qty
    user.find(marker="compose-add").click()
    short = t("ot.stock_short", "zh-CN", n=fmt.number(5))
    (line,) = await _rows_when(user, "compose-lines", lambda rs: rs and "stock_text" in rs[0])
    assert line["qty"] == qty and short in str(line["stock_text"])
    amount = Decimal(product["list_price"]) * qty
    await user.should_see(
        marker="credit-verdict",
        content=t(
            "ot.credit_short",
            "zh-CN",
            amount=fmt.money(amount - Decimal(credit["available"]), "CNY", "zh-CN"),
        ),
    )
    await user.should_see(marker="compose-total", content=fmt.money(amount, "CNY", "zh-CN"))

    user.find(marker="compose-place").click()
    await user.should_see(marker="order-status", content="draft", retries=RETRIES)


async def test_hq_composes_for_a_chosen_dealer(user: User, api: Api) -> None:
    own = _own_dealer(api)
    credit = _set_credit(api, own["id"], "5000.00")
    await login(user, api, "admin")
    await user.should_see(marker="kpi-orders", retries=RETRIES)
    await user.open("/new-order")
    await user.should_see(marker="credit-panel", retries=RETRIES)
    await user.should_see(marker="credit-verdict", content=t("ot.credit_unknown", "zh-CN"))
    _one(user, "compose-dealer").value = own["id"]
    await user.should_see(
        marker="credit_available",
        content=fmt.money(credit["available"], "CNY", "zh-CN"),
        retries=RETRIES,
    )
    await user.should_see(marker="credit-verdict", content=t("ot.credit_ok", "zh-CN"))


async def test_saved_filters_are_kept_for_the_user(user: User, api: Api) -> None:
    path = f"/test-order-filters-{uuid.uuid4().hex[:6]}"

    @ui.page(path)
    async def filters_page() -> RedirectResponse | None:  # OrderFilters as a list page uses it
        signed = require_user()
        if isinstance(signed, RedirectResponse):
            return signed
        with frame(signed, "filters"):
            shown = ui.label("{}").mark("params")

            async def changed() -> None:
                shown.text = json.dumps(filters.params(), sort_keys=True)

            filters = OrderFilters(signed, changed, dealers={7: "DL-007"})
        return None

    await login(user, api, "admin")
    await user.should_see(marker="kpi-orders", retries=RETRIES)
    await user.open(path)
    await user.should_see(marker="filter-status", retries=RETRIES)
    _one(user, "filter-status").value = ["held", "approval"]
    _one(user, "filter-dealer").value = 7
    held = json.dumps({"dealer_id": 7, "status": ["held", "approval"]}, sort_keys=True)
    await user.should_see(marker="params", content=held, retries=RETRIES)
    user.find(marker="filter-name").type("held of DL-007")
    user.find(marker="save-filter").click()
    _one(user, "filter-status").value = []
    _one(user, "filter-dealer").value = None
    await user.should_see(marker="params", content="{}", retries=RETRIES)

    await user.open(path)  # a new page: the saved filter is still there
    await user.should_see(marker="saved-filters", retries=RETRIES)
    assert "held of DL-007" in _one(user, "saved-filters").options
    _one(user, "saved-filters").value = "held of DL-007"
    await user.should_see(marker="params", content=held, retries=RETRIES)
    user.find(marker="delete-filter").click()
    await user.open(path)
    await user.should_see(marker="saved-filters", retries=RETRIES)
    assert "held of DL-007" not in _one(user, "saved-filters").options
