"""The fulfilment part of the order page in NiceGUI's user simulation against the real API:
the warehouse operator picks from the pick list and ships; the driver records the proof of
delivery; HQ invoices. The ledger and the order's state are checked through the API."""

from __future__ import annotations

import httpx
import pytest
from nicegui.testing.user import User
from ui_kit import (  # noqa: F401 - fixtures
    RETRIES,
    Api,
    allocated_demo_order,
    anyio_backend_fixture,
    api_fixture,
    login,
    switch_user,
    user_fixture,
)

pytestmark = [pytest.mark.integration, pytest.mark.anyio]


async def test_operator_picks_and_ships_driver_delivers_hq_invoices(user: User, api: Api) -> None:
    oid, bin_code = allocated_demo_order(api)
    await login(user, api, "operator")
    await user.should_see(marker="orders", retries=RETRIES)
    await user.open(f"/orders/{oid}")
    await user.should_see(marker="pick-list", retries=RETRIES)
    user.find(marker=f"pick-{bin_code}").click()
    await user.should_see(marker="order-status", content="picking", retries=RETRIES)
    await user.should_see(marker="ship", retries=RETRIES)  # the panel renders after the status
    user.find(marker="ship").click()
    await user.should_see(marker="order-status", content="shipped", retries=RETRIES)

    headers = {"Authorization": f"Bearer {api.token('driver')}"}
    (shipment,) = httpx.get(f"{api.url}/orders/{oid}/shipments", headers=headers).json()
    await switch_user(user, api, "driver")
    await user.should_see(marker="whoami", content="driver", retries=RETRIES)
    await user.open(f"/orders/{oid}")
    await user.should_see(marker=f"deliver-{shipment['id']}", retries=RETRIES)
    user.find(marker=f"pod-ref-{shipment['id']}").type("SIG-UI-1")
    user.find(marker=f"deliver-{shipment['id']}").click()
    await user.should_see(marker="order-status", content="delivered", retries=RETRIES)

    await switch_user(user, api, "admin")
    await user.should_see(marker="whoami", content="admin", retries=RETRIES)
    await user.open(f"/orders/{oid}")
    await user.should_see(marker="invoice", retries=RETRIES)
    user.find(marker="invoice").click()
    await user.should_see(marker="order-status", content="invoiced", retries=RETRIES)
    hq = {"Authorization": f"Bearer {api.token('admin')}"}
    order = httpx.get(f"{api.url}/orders/{oid}", headers=hq).json()
    assert order["status"] == "invoiced"
    assert any("SIG-UI-1" in e["reason"] for e in order["timeline"])
