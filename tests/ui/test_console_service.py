"""The after-sales console pages in NiceGUI's user simulation against the real API (uvicorn in a
thread on the test stack's PostgreSQL, demo network seeded): a dealer opens a ticket, the
regional manager dispatches it, the technician starts, fits a part (the stock drops) and
resolves, the dealer closes it with the customer's rating; SLA badges; tickets out of scope."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from nicegui import ui
from nicegui.elements.upload_files import SmallFileUpload
from nicegui.testing.user import User
from sqlalchemy import update
from ui_kit import (  # noqa: F401 - fixtures
    RETRIES,
    Api,
    anyio_backend_fixture,
    api_fixture,
    demo_product,
    login,
    switch_user,
    user_fixture,
)

from wayhouse.platform.db.base import unit_of_work
from wayhouse.platform.dms.models_service import ServiceTicket, TicketEvent
from wayhouse.ui.i18n import STRINGS, t
from wayhouse.ui.pages.service import actions_for

if TYPE_CHECKING:
    from conftest import Stack

pytestmark = [pytest.mark.integration, pytest.mark.anyio]
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32


def _get(api: Api, who: str, path: str, **params: Any) -> Any:
    r = httpx.get(f"{api.url}{path}", params=params, headers=api.headers(who))
    assert r.status_code == 200, r.text
    return r.json()


def _post(api: Api, who: str, path: str, body: Any) -> Any:
    r = httpx.post(f"{api.url}{path}", json=body, headers=api.headers(who))
    assert r.status_code in (200, 201), r.text
    return r.json()


async def _login(user: User, api: Api, username: str, first: bool = False) -> None:
    """Sign in as ``username`` (signing out whoever was signed in, unless ``first``)."""
    if first:
        await login(user, api, username)
    else:
        await switch_user(user, api, username)
    await user.should_see(marker="whoami", retries=RETRIES)  # every demo role but HQ lands here


def _one(user: User, marker: str) -> Any:
    (element,) = user.find(marker=marker).elements
    return element


async def _until(predicate: Any, what: str) -> None:
    """Wait for a background update of the page (an option list loading from the API)."""
    for _ in range(200):
        if predicate():
            return
        await asyncio.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")


def _ticket_id(user: User) -> int:
    title = next(
        e for e in user.find(ui.label).elements if e.text.startswith(t("svc.ticket", "zh-CN"))
    )
    return int(title.text.split()[-1])


def _stock_slot(api: Api) -> tuple[int, int, int, str, int]:
    """A (warehouse, product, bin, lot key, on hand) of the demo stock with units free."""
    for wh in _get(api, "admin", "/warehouses", size=10)["items"]:
        for product in [demo_product(api, i) for i in range(5)]:
            for pos in _get(
                api, "admin", f"/warehouses/{wh['id']}/stock", product_id=product["id"]
            ):
                if pos["available"] >= 2:
                    key = f"{pos['bin_id']}:{pos['lot_id'] or ''}"
                    return wh["id"], product["id"], pos["bin_id"], key, pos["on_hand"]
    pytest.fail("the demo network has no stock")


def _on_hand(api: Api, warehouse: int, product: int, bin_id: int) -> int:
    rows = _get(api, "admin", f"/warehouses/{warehouse}/stock", product_id=product)
    return sum(r["on_hand"] for r in rows if r["bin_id"] == bin_id)


def test_labels_and_actions_follow_the_role() -> None:
    keys = [k for k in STRINGS["en"] if k.startswith("svc.")]
    assert keys and all(STRINGS["zh-CN"].get(k) for k in keys)
    assert t("svc.title", "zh-CN") == "售后服务"
    assert actions_for("region_manager", "open") == ["assign", "close"]
    assert actions_for("dealer_user", "open") == ["close"]
    assert actions_for("technician", "dispatched") == ["start"]
    assert actions_for("technician", "in_progress") == ["part", "resolve"]
    assert actions_for("dealer_user", "resolved") == ["close", "reopen"]
    assert actions_for("technician", "resolved") == []
    assert actions_for("hq_admin", "closed") == []


async def test_a_ticket_through_the_console_from_dealer_to_rating(user: User, api: Api) -> None:
    warehouse, product, bin_id, slot, _ = _stock_slot(api)
    before = _on_hand(api, warehouse, product, bin_id)

    # The dealer opens the ticket for a customer.
    await _login(user, api, "dealer1", first=True)
    await user.open("/service")
    await user.should_see(marker="new-ticket", retries=RETRIES)
    await user.open("/service/new")
    await user.should_see(marker="open-ticket", retries=RETRIES)
    _one(user, "ticket-product").value = product
    user.find(marker="ticket-serial").type("SN-4711")
    user.find(marker="ticket-problem").type("motor hums but does not turn")
    _one(user, "ticket-priority").value = "high"
    user.find(marker="open-ticket").click()
    await user.should_see(marker="ticket-status", content="open", retries=RETRIES)
    tid = _ticket_id(user)
    await (
        user.find(marker="photo-upload")
        .elements.pop()
        .handle_uploads([SmallFileUpload("motor.png", "image/png", PNG)])
    )
    await user.should_see(marker="ticket-photo", content="image/png", retries=RETRIES)

    # The regional manager dispatches it to the technician.
    await _login(user, api, "east.manager")
    await user.open(f"/service/{tid}")
    await user.should_see(marker="act-assign", retries=RETRIES)
    user.find(marker="act-assign").click()
    tech = _one(user, "technician")
    tech.value = next(k for k, v in tech.options.items() if "(technician)" in v)
    user.find(marker="confirm-assign").click()
    await user.should_see(marker="ticket-status", content="dispatched", retries=RETRIES)
    await user.should_see(marker="ticket-technician", content="technician")

    # The technician starts, fits a part from the warehouse and resolves.
    await _login(user, api, "technician")
    await user.open("/service")
    await user.should_see(marker="tickets", retries=RETRIES)
    assert tid in [row["id"] for row in _one(user, "tickets").rows]
    await user.open(f"/service/{tid}")
    await user.should_see(marker="act-start", retries=RETRIES)
    user.find(marker="act-start").click()
    await user.should_see(marker="ticket-status", content="in_progress", retries=RETRIES)
    user.find(marker="act-part").click()
    _one(user, "part-warehouse").value = warehouse
    _one(user, "part-product").value = product
    position = _one(user, "part-position")
    await _until(lambda: slot in position.options, "the bins holding the part")
    position.value = slot
    _one(user, "part-qty").value = 2
    user.find(marker="confirm-part").click()
    await _until(lambda: len(_one(user, "ticket-parts").rows) == 1, "the part on the work order")
    assert _on_hand(api, warehouse, product, bin_id) == before - 2
    user.find(marker="act-resolve").click()
    user.find(marker="resolution").type("replaced the capacitor")
    user.find(marker="confirm-resolve").click()
    await user.should_see(marker="ticket-status", content="resolved", retries=RETRIES)

    # The dealer closes it with the customer's rating; the timeline shows every step.
    await _login(user, api, "dealer1")
    await user.open(f"/service/{tid}")
    await user.should_see(marker="act-close", retries=RETRIES)
    user.find(marker="act-close").click()
    _one(user, "rating").value = 4
    user.find(marker="rating-comment").type("quick visit")
    user.find(marker="confirm-close").click()
    await user.should_see(marker="ticket-status", content="closed", retries=RETRIES)
    await user.should_see(marker="ticket-rating", content="4/5 quick visit")
    await user.should_not_see(marker="act-close")
    await user.should_not_see(marker="photo-upload")
    detail = _get(api, "admin", f"/service/tickets/{tid}")
    assert [e["to_status"] for e in detail["timeline"]] == [
        "open",
        "dispatched",
        "in_progress",
        "resolved",
        "closed",
    ]
    assert [p["qty"] for p in detail["parts"]] == [2] and detail["serial"] == "SN-4711"


async def test_sla_badge_and_breach_filter_in_the_list(user: User, api: Api, stack: Stack) -> None:
    product = _get(api, "admin", "/products", size=1)["items"][0]["id"]
    late = _post(api, "dealer1", "/service/tickets", {"product_id": product, "problem": "late"})[
        "id"
    ]
    shift = dt.timedelta(hours=30)  # a normal ticket must get a response within 8 h
    with unit_of_work(stack.settings.sqlalchemy_url()) as s:
        s.execute(
            update(ServiceTicket)
            .where(ServiceTicket.id == late)
            .values(opened_at=ServiceTicket.opened_at - shift)
        )
        s.execute(
            update(TicketEvent)
            .where(TicketEvent.ticket_id == late)
            .values(at=TicketEvent.at - shift)
        )
    fresh = _post(api, "dealer1", "/service/tickets", {"product_id": product, "problem": "new"})[
        "id"
    ]

    await _login(user, api, "dealer1", first=True)
    await user.open("/service")
    await user.should_see(marker="tickets", retries=RETRIES)
    rows = {row["id"]: row for row in _one(user, "tickets").rows}
    assert rows[late]["sla_state"] == "breached"
    assert rows[late]["sla_label"] == t("svc.sla.breached", "zh-CN")
    assert rows[fresh]["sla_state"] == "running"
    _one(user, "filter-breached").value = True
    await _until(
        lambda: fresh not in {r["id"] for r in _one(user, "tickets").rows}, "the filtered list"
    )
    breached = {r["id"] for r in _one(user, "tickets").rows}
    assert late in breached and all(
        r["sla_state"] == "breached" for r in _one(user, "tickets").rows
    )
    await user.open(f"/service/{late}")
    await user.should_see(
        marker="sla-response", content=t("svc.sla.breached", "zh-CN"), retries=RETRIES
    )


async def test_tickets_out_of_scope_are_not_found(user: User, api: Api) -> None:
    dealers = _get(api, "admin", "/dealers", size=100)["items"]
    other = next(d for d in dealers if d["code"] == "DL-002")
    product = _get(api, "admin", "/products", size=1)["items"][0]["id"]
    foreign = _post(
        api,
        "admin",
        "/service/tickets",
        {"dealer_id": other["id"], "product_id": product, "problem": "not yours"},
    )["id"]

    await _login(user, api, "dealer1", first=True)
    await user.open("/service")
    await user.should_see(marker="tickets", retries=RETRIES)
    assert foreign not in {r["id"] for r in _one(user, "tickets").rows}
    await user.open(f"/service/{foreign}")
    await user.should_see(marker="page-error", content=t("error.not_found", "zh-CN"))
    # Not dispatched to the technician: invisible to them too; a driver has no service page.
    await _login(user, api, "technician")
    await user.open(f"/service/{foreign}")
    await user.should_see(marker="page-error", content=t("error.not_found", "zh-CN"))
    await _login(user, api, "driver")
    await user.open("/service")
    await user.should_not_see(marker="tickets")
