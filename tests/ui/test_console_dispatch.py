"""The dispatch page in NiceGUI's user simulation against the real API: the dispatcher plans
the day (the solver runs in the background while a progress bar follows it), sees the plan on
the offline map, locks a route and publishes; other roles cannot open the page."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from conftest import Stack
from nicegui import ui
from nicegui.testing.user import User
from ui_kit import (  # noqa: F401 - fixtures
    RETRIES,
    Api,
    allocated_demo_order,
    anyio_backend_fixture,
    api_fixture,
    login,
    user_fixture,
)

from wayhouse.platform.db.base import unit_of_work
from wayhouse.platform.dispatch.service import ensure_demo_vehicles
from wayhouse.simulators.scenario import default_scenario

pytestmark = [pytest.mark.integration, pytest.mark.anyio]


async def test_dispatcher_plans_reviews_and_publishes(user: User, api: Api, stack: Stack) -> None:
    scenario = default_scenario(0)
    with unit_of_work(stack.settings.sqlalchemy_url()) as s:
        ensure_demo_vehicles(s, scenario.site, [t.agent_id for t in scenario.trucks])
    oid, _ = allocated_demo_order(api)

    await login(user, api, "dispatcher")
    await user.should_see(marker="whoami", retries=RETRIES)
    await user.open("/dispatch")
    await user.should_see(marker="plan", retries=RETRIES)
    user.find(marker="plan").click()
    # The page polls the plan; when solved it opens it.
    await user.should_see(marker="plan-status", content="ready", retries=200)
    (leaflet,) = user.find(marker="plan-map").elements
    assert isinstance(leaflet, ui.leaflet)
    layer_types = [layer.to_dict().get("type") for layer in leaflet.layers]
    assert "tileLayer" not in layer_types  # no internet tiles unless configured
    await user.should_see(marker=f"move-{oid}", retries=RETRIES)

    headers = api.headers("dispatcher")
    plans = httpx.get(f"{api.url}/dispatch/plans", headers=headers).json()["items"]
    plan = httpx.get(f"{api.url}/dispatch/plans/{plans[0]['id']}", headers=headers).json()
    assert any(s["order_id"] == oid and s["vehicle_id"] for s in plan["stops"])

    vehicle = next(s["vehicle_id"] for s in plan["stops"] if s["order_id"] == oid)
    user.find(marker=f"lock-{vehicle}").click()
    for _ in range(RETRIES):  # the click's request runs in the page's event loop
        plan = httpx.get(f"{api.url}/dispatch/plans/{plan['id']}", headers=headers).json()
        if next(r for r in plan["routes"] if r["vehicle_id"] == vehicle)["locked"]:
            break
        await asyncio.sleep(0.1)
    await user.should_see(marker="publish", retries=RETRIES)
    user.find(marker="publish").click()
    await user.should_see(marker="published", retries=RETRIES)
    plan = httpx.get(f"{api.url}/dispatch/plans/{plan['id']}", headers=headers).json()
    assert plan["status"] == "published"
    assert next(r for r in plan["routes"] if r["vehicle_id"] == vehicle)["locked"]


@pytest.mark.parametrize("who", ["dealer1", "operator"])
async def test_only_dispatchers_open_the_dispatch_page(user: User, api: Api, who: str) -> None:
    await login(user, api, who)
    await user.should_see(marker="whoami", retries=RETRIES)
    await user.open("/dispatch")
    await user.should_not_see(marker="plan")
