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
    anyio_backend_fixture,
    api_fixture,
    login,
    switch_user,
    user_fixture,
)

pytestmark = [pytest.mark.integration, pytest.mark.anyio]


def _allocated_demo_order(api: Api) -> tuple[int, str]:
    """dealer1 orders 2 units of a product stocked in WH1; HQ gives credit; it is approved
    (by whoever the rules ask) and allocated. Returns the order id and the bin to pick from."""
    hq = {"Authorization": f"Bearer {api.token('admin')}"}
    dealer = {"Authorization": f"Bearer {api.token('dealer1')}"}
    op = {"Authorization": f"Bearer {api.token('operator')}"}
    (own,) = httpx.get(f"{api.url}/dealers", headers=dealer).json()["items"]
    dealer_id = own["id"]
    r = httpx.put(
        f"{api.url}/dealers/{dealer_id}/credit",
        json={"credit_limit": "10000000.00", "payment_terms_days": 30, "grace_days": 0},
        headers=hq,
    )
    assert r.status_code == 200, r.text
    wh = httpx.get(f"{api.url}/warehouses", headers=hq).json()["items"]
    wh1 = next(w for w in wh if w["code"] == "WH1")
    product = httpx.get(f"{api.url}/products", params={"size": 1, "sort": "sku"}, headers=hq)
    pid = product.json()["items"][0]["id"]
    order = httpx.post(
        f"{api.url}/orders", json={"lines": [{"product_id": pid, "qty": 2}]}, headers=dealer
    ).json()
    oid = order["id"]
    status = httpx.post(f"{api.url}/orders/{oid}/submit", headers=dealer).json()["status"]
    for who in ("east.manager", "admin"):
        if status != "approval":
            break
        r = httpx.post(
            f"{api.url}/orders/{oid}/approve",
            json={},
            headers={"Authorization": f"Bearer {api.token(who)}"},
        )
        if r.status_code == 200:
            status = r.json()["status"]
    r = httpx.post(f"{api.url}/orders/{oid}/allocate", json={"warehouse_id": wh1["id"]}, headers=op)
    assert r.status_code == 200 and r.json()["status"] == "allocated", r.text
    tasks = httpx.get(f"{api.url}/orders/{oid}/pick-list", headers=op).json()
    return oid, tasks[0]["bin_code"]


async def test_operator_picks_and_ships_driver_delivers_hq_invoices(user: User, api: Api) -> None:
    oid, bin_code = _allocated_demo_order(api)
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
