"""The dashboard in NiceGUI's user simulation against the real API: the KPIs show the API's
figures in the user's locale, the charts cover the chosen period, filters reload, a region
manager is kept to its region, and figures with nothing behind them say so."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import httpx
import pytest
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

from wayhouse.ui import fmt
from wayhouse.ui.i18n import t
from wayhouse.ui.pages.dashboard import period_dates

pytestmark = [pytest.mark.integration, pytest.mark.anyio]


def _api(api: Api, who: str, months: str = "12", **params: Any) -> dict[str, Any]:
    start, end = period_dates(months, dt.date.today())
    r = httpx.get(
        f"{api.url}/analytics/dashboard",
        params={"start": start.isoformat(), "end": end.isoformat(), **params},
        headers=api.headers(who),
    )
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def _one(user: User, marker: str) -> Any:
    (element,) = user.find(marker=marker).elements
    return element


def test_preset_periods() -> None:
    today = dt.date(2026, 2, 17)
    assert period_dates("3", today) == (dt.date(2025, 12, 1), today)
    assert period_dates("12", today) == (dt.date(2025, 3, 1), today)
    assert period_dates("24", today) == (dt.date(2024, 3, 1), today)
    assert period_dates("ytd", today) == (dt.date(2026, 1, 1), today)


async def test_hq_sees_the_apis_figures_and_filters_them(user: User, api: Api) -> None:
    dealer = api.headers("dealer1")
    (own,) = httpx.get(f"{api.url}/dealers", headers=dealer).json()["items"]
    r = httpx.post(
        f"{api.url}/orders",
        json={"lines": [{"product_id": demo_product(api)["id"], "qty": 1}]},
        headers=dealer,
    )
    oid = r.json()["id"]
    assert httpx.post(f"{api.url}/orders/{oid}/submit", headers=dealer).status_code == 200
    admin = api.headers("admin")
    dealers = httpx.get(f"{api.url}/dealers", params={"size": 100}, headers=admin).json()
    other = next(d for d in dealers["items"] if d["code"] == "DL-002")
    r = httpx.post(
        f"{api.url}/orders",
        json={
            "dealer_id": other["id"],
            "lines": [{"product_id": demo_product(api)["id"], "qty": 1}],
        },
        headers=admin,
    )
    assert httpx.post(f"{api.url}/orders/{r.json()['id']}/submit", headers=admin).status_code == 200

    await login(user, api, "admin")
    await user.should_see(marker="kpi-orders", retries=RETRIES)
    everyone = _api(api, "admin")
    await user.should_see(marker="kpi-orders", content=fmt.number(everyone["orders"], 0))
    await user.should_see(
        marker="kpi-ordered", content=fmt.money(everyone["ordered"], "CNY", "zh-CN")
    )
    assert everyone["orders"] >= 1
    chart = _one(user, "chart-trend")
    assert isinstance(chart, ui.echart) and len(chart.options["xAxis"]["data"]) == 12
    assert chart.options["xAxis"]["data"][-1] == fmt.month(
        dt.date.today().strftime("%Y-%m"), "zh-CN"
    )
    # Nothing measured yet is said as such, never shown as 0 %.
    if everyone["on_time"]["ratio"] is None:
        await user.should_see(marker="kpi-on-time", content=t("dash.no_data", "zh-CN"))

    _one(user, "dash-dealer").value = own["id"]
    mine = _api(api, "admin", dealer_id=own["id"])
    await user.should_see(marker="kpi-orders", content=fmt.number(mine["orders"]), retries=RETRIES)
    assert mine["orders"] < everyone["orders"]  # the other dealer's order is filtered out
    _one(user, "dash-period").value = "3"
    for _ in range(RETRIES):
        await asyncio.sleep(0.1)
        if len(_one(user, "chart-trend").options["xAxis"]["data"]) == 3:
            break
    assert len(_one(user, "chart-trend").options["xAxis"]["data"]) == 3


async def test_a_region_manager_is_kept_to_its_region(user: User, api: Api) -> None:
    await login(user, api, "east.manager")
    await user.should_see(marker="kpi-orders", retries=RETRIES)
    await user.should_not_see(marker="dash-region")  # its region is the only one it sees
    visible = httpx.get(
        f"{api.url}/dealers", params={"size": 100}, headers=api.headers("east.manager")
    ).json()["items"]
    options = _one(user, "dash-dealer").options
    assert set(options) - {None} == {d["id"] for d in visible}
    regional = _api(api, "east.manager")
    await user.should_see(marker="kpi-orders", content=fmt.number(regional["orders"]))
    assert regional["orders"] <= _api(api, "admin")["orders"]
    await user.should_see(marker="kpi-accuracy")
    await user.should_see(marker="kpi-alarms")
