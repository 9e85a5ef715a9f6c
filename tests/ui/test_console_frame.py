"""The frame in NiceGUI's user simulation against the real API: managers land on the dashboard,
navigation follows the role, the header's search finds an order and a dealer, the alarm badge
shows the API's count of active alarms, and the language switch is saved on the account."""

from __future__ import annotations

import uuid

import httpx
import pytest
from conftest import Stack
from nicegui import ui
from nicegui.testing.user import User
from ui_kit import (  # noqa: F401 - fixtures
    RETRIES,
    Api,
    anyio_backend_fixture,
    api_fixture,
    demo_product,
    login,
    user_fixture,
)

from wayhouse.ui.frame import nav_for
from wayhouse.ui.i18n import t
from wayhouse.ui.session import home_for

pytestmark = [pytest.mark.integration, pytest.mark.anyio]


def _search(user: User, text: str) -> None:
    user.find(marker="global-search").type(text).trigger("keydown.enter")


def _new_hq_user(api: Api) -> tuple[str, str]:
    """A throwaway HQ admin, so switching its language changes no shared demo user."""
    admin = api.headers("admin")
    me = httpx.get(f"{api.url}/auth/me", headers=admin).json()
    name, password = f"lang.{uuid.uuid4().hex[:6]}", "language test 1"
    r = httpx.post(
        f"{api.url}/users",
        json={
            "username": name,
            "password": password,
            "role": "hq_admin",
            "org_unit_id": me["org_unit_id"],
        },
        headers=admin,
    )
    assert r.status_code == 201, r.text
    return name, password


def test_homes_and_navigation_follow_the_role() -> None:
    assert home_for("hq_admin") == home_for("region_manager") == "/dashboard"
    assert home_for("dealer_user") == home_for("driver") == "/orders"
    hq = [p for p, _ in nav_for("hq_admin")]
    assert hq[0] == "/dashboard" and {"/import", "/admin", "/approvals"} <= set(hq)
    assert [p for p, _ in nav_for("region_manager")][:2] == ["/dashboard", "/dealers"]
    dealer = {p for p, _ in nav_for("dealer_user")}
    assert dealer.isdisjoint({"/dashboard", "/approvals", "/import", "/admin", "/alarms"})


async def test_a_manager_lands_on_the_dashboard_and_searches_an_order(user: User, api: Api) -> None:
    dealer = api.headers("dealer1")
    (own,) = httpx.get(f"{api.url}/dealers", headers=dealer).json()["items"]
    product = demo_product(api)
    r = httpx.post(
        f"{api.url}/orders",
        json={"lines": [{"product_id": product["id"], "qty": 1}]},
        headers=dealer,
    )
    assert r.status_code == 201, r.text
    oid = r.json()["id"]

    await login(user, api, "east.manager")
    await user.should_see(marker="kpi-orders", retries=RETRIES)  # the dashboard is home
    await user.should_see(marker="whoami", content="east.manager")
    _search(user, f"#{oid}")
    await user.should_see(marker=f"hit-order-{oid}", retries=RETRIES)
    await user.should_see(t("search.kind.order", "zh-CN"))
    user.find(marker=f"hit-order-{oid}-link").click()
    await user.should_see(marker="order-status", content="draft", retries=RETRIES)

    _search(user, own["code"])
    await user.should_see(marker=f"hit-dealer-{own['id']}", retries=RETRIES)
    _search(user, "no such thing 42")
    await user.should_see(marker="search-none", retries=RETRIES)


async def test_a_dealer_has_no_manager_pages_and_no_alarm_badge(user: User, api: Api) -> None:
    await login(user, api, "dealer1")
    await user.should_see(marker="orders", retries=RETRIES)
    await user.should_not_see(marker="alarm-badge")
    await user.open("/dashboard")  # not for this role: back to its home
    await user.should_see(marker="orders", retries=RETRIES)
    await user.open("/admin")
    await user.should_see(marker="orders", retries=RETRIES)
    # A dealer's search never shows another dealer.
    await user.open("/search?q=DL-00")
    await user.should_see(marker="search-results", retries=RETRIES)
    mine = httpx.get(f"{api.url}/dealers", headers=api.headers("dealer1")).json()["items"][0]
    found = httpx.get(
        f"{api.url}/search", params={"q": "DL-00"}, headers=api.headers("dealer1")
    ).json()
    assert [h["id"] for h in found["hits"] if h["kind"] == "dealer"] == [mine["id"]]


def _raise_alarm(stack: Stack, api: Api, subject: str) -> None:
    """An active alarm of the demo HQ, written as the alarm engine would store it."""
    me = httpx.get(f"{api.url}/auth/me", headers=api.headers("operator")).json()
    with stack.db() as conn:
        conn.execute(
            "INSERT INTO alarm (id, type, subject, severity, state, message, evidence, "
            "occurrences, steps, raised_at, last_seen, org_unit_id) VALUES (%s, 'below_reorder_point', "
            "%s, 'warning', 'active', 'console test', '{}', 1, 1, now(), now(), %s)",
            (uuid.uuid4().hex[:20], subject, me["org_unit_id"]),
        )


def _active(api: Api) -> int:
    r = httpx.get(
        f"{api.url}/alarms", params={"state": "active", "size": 1}, headers=api.headers("operator")
    )
    assert r.status_code == 200, r.text
    return int(r.json()["total"])


async def test_the_alarm_badge_counts_active_alarms_live(
    user: User, api: Api, stack: Stack
) -> None:
    tag = uuid.uuid4().hex[:6]
    _raise_alarm(stack, api, f"console-{tag}-1")
    await login(user, api, "operator")
    await user.should_see(marker="alarm-count", content=str(_active(api)), retries=RETRIES)
    _raise_alarm(stack, api, f"console-{tag}-2")  # the badge follows within its refresh
    await user.should_see(marker="alarm-count", content=str(_active(api)), retries=100)
    (button,) = user.find(marker="alarm-badge").elements
    tips = [e for e in button.descendants() if isinstance(e, ui.tooltip)]
    assert len(tips) == 1 and tips[0].text == t("header.alarms", "zh-CN", n=_active(api))
    with stack.db() as conn:
        conn.execute(
            "UPDATE alarm SET state = 'cleared' WHERE subject LIKE %s", (f"console-{tag}-%",)
        )


async def test_the_language_switch_is_saved_for_the_user(user: User, api: Api) -> None:
    name, password = _new_hq_user(api)
    await login(user, api, name, password)
    await user.should_see(marker="kpi-orders", retries=RETRIES)
    await user.should_see(t("logout", "zh-CN"))  # a new account starts in Chinese
    user.find(marker="lang-en").click()
    await user.should_see(t("dash.title", "en"), retries=RETRIES)
    await user.should_see(t("logout", "en"))
    token = httpx.post(
        f"{api.url}/auth/login", json={"username": name, "password": password}
    ).json()
    assert token["user"]["locale"] == "en"
    user.find(marker="lang-zh-CN").click()
    await user.should_see(t("dash.title", "zh-CN"), retries=RETRIES)
