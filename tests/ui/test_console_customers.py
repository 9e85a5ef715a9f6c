"""The customers pages in NiceGUI's user simulation against the real API (demo network seeded,
with its customers): login required, a dealer sees only its own customers and not another
dealer's, search and paging go to the API, and a lead is worked through the detail page
(interaction logged, qualified, first purchase recorded with its order reference)."""

from __future__ import annotations

import uuid

import httpx
import pytest
from nicegui import ui
from nicegui.testing.user import User
from ui_kit import (  # noqa: F401 - fixtures
    RETRIES,
    Api,
    anyio_backend_fixture,
    api_fixture,
    login,
    rows,
    user_fixture,
)

from wayhouse.ui.i18n import STRINGS, t
from wayhouse.ui.pages.customers import next_action

pytestmark = [pytest.mark.integration, pytest.mark.anyio]
ZH = "zh-CN"


def _customers(api: Api, who: str, **params: object) -> list[dict[str, object]]:
    r = httpx.get(f"{api.url}/customers", params={"size": 500, **params}, headers=api.headers(who))
    r.raise_for_status()
    return list(r.json()["items"])


def _dealer_id(api: Api, code: str) -> int:
    r = httpx.get(f"{api.url}/dealers", params={"q": code}, headers=api.headers("admin"))
    return int(next(d["id"] for d in r.json()["items"] if d["code"] == code))


@pytest.mark.parametrize("path", ["/customers", "/customers/1"])
async def test_customer_pages_require_login(user: User, path: str) -> None:
    await user.open(path)
    await user.should_see(marker="username")
    await user.should_not_see(marker="customers")


async def test_dealer_sees_only_its_customers(user: User, api: Api) -> None:
    own = _dealer_id(api, "DL-001")
    foreign = next(c for c in _customers(api, "admin") if c["dealer_id"] not in (own, None))
    await login(user, api, "dealer1")
    await user.should_see(marker="whoami", retries=RETRIES)
    await user.open("/customers")
    await user.should_see(marker="customers", retries=RETRIES)
    listed = rows(user, "customers")
    assert listed and all(r["dealer_id"] == own for r in listed)
    assert {r["code"] for r in listed} >= {"DEMO-C01", "DEMO-C07"}  # the seed's, near WH1
    # The stage filter goes to the API.
    status = user.find(marker="customer-status-filter").elements.pop()
    assert isinstance(status, ui.select)
    status.value = "prospect"
    await user.should_see(content=t("page.of", ZH, page=1, pages=1, total=1), retries=RETRIES)
    assert [r["code"] for r in rows(user, "customers")] == ["DEMO-C07"]

    await user.open(f"/customers/{foreign['id']}")
    await user.should_see(marker="page-error", content=t("error.not_found", ZH))
    await user.should_not_see(marker="customer-status")


async def test_search_and_pages_come_from_the_api(user: User, api: Api) -> None:
    tag = f"pg{uuid.uuid4().hex[:6]}"
    dealer = _dealer_id(api, "DL-001")
    admin = api.headers("admin")
    for n in range(23):
        r = httpx.post(
            f"{api.url}/customers",
            json={"name": f"{tag} shop {n:02d}", "dealer_id": dealer},
            headers=admin,
        )
        assert r.status_code == 201, r.text
    await login(user, api, "east.manager")
    await user.should_see(marker="whoami", retries=RETRIES)
    await user.open("/customers")
    await user.should_see(marker="customers", retries=RETRIES)
    user.find(marker="customer-search").type(tag).trigger("keydown.enter")
    await user.should_see(content=t("page.of", ZH, page=1, pages=2, total=23), retries=RETRIES)
    assert len(rows(user, "customers")) == 20
    user.find(t("page.next", ZH)).click()
    await user.should_see(content=t("page.of", ZH, page=2, pages=2, total=23), retries=RETRIES)
    assert len(rows(user, "customers")) == 3


async def test_a_lead_is_worked_through_the_detail_page(user: User, api: Api) -> None:
    name = f"Lead {uuid.uuid4().hex[:6]}"
    r = httpx.post(
        f"{api.url}/customers",
        json={"name": name, "phone": "+33 4 78 00 00 00", "lat": 45.75, "lon": 4.85},
        headers=api.headers("dealer1"),
    )
    assert r.status_code == 201, r.text
    cid = r.json()["id"]
    await login(user, api, "dealer1")
    await user.should_see(marker="whoami", retries=RETRIES)
    await user.open(f"/customers/{cid}")
    await user.should_see(marker="customer-name", content=name, retries=RETRIES)
    await user.should_see(marker="customer-status", content=t("customers.stage.lead", ZH))
    await user.should_see(content="45.75000, 4.85000")

    user.find(marker="interaction-summary").type("asked for brake pads")
    user.find(marker="interaction-next").type("send a quote")
    user.find(marker="add-interaction").click()
    await user.should_see(t("customers.logged", ZH), retries=RETRIES)
    (logged,) = rows(user, "interactions")
    assert (logged["kind"], logged["next_step"], logged["by"]) == (
        t("customers.kind.call", ZH),
        "send a quote",
        "dealer1",
    )

    user.find(marker="act-advance").click()
    prospect = t("customers.stage.prospect", ZH)
    await user.should_see(t("customers.moved", ZH, id=cid, stage=prospect), retries=RETRIES)
    await user.should_see(marker="customer-status", content=prospect)
    user.find(marker="act-advance").click()  # now: record the first purchase
    user.find(marker="order-ref").type("SO-4711")
    user.find(marker="confirm").click()
    stage = t("customers.stage.customer", ZH)
    await user.should_see(t("customers.moved", ZH, id=cid, stage=stage), retries=RETRIES)
    await user.should_see(marker="customer-status", content=stage)
    # The history says why.
    entries = {e.props.get("body") for e in user.find(ui.timeline_entry).elements}
    assert "order SO-4711" in entries
    detail = httpx.get(f"{api.url}/customers/{cid}", headers=api.headers("dealer1")).json()
    assert (detail["status"], detail["purchases"]) == ("customer", 1)


def test_labels_and_lifecycle_hints() -> None:
    keys = {k for k in STRINGS["en"] if k.startswith("customers.")}
    assert keys and keys == {k for k in STRINGS[ZH] if k.startswith("customers.")}
    assert t("customers.stage.repeat_customer", ZH) == "回头客"
    assert [next_action("dealer_user", s) for s in ("lead", "prospect", "customer")] == [
        "prospect",
        "customer",
        "repeat_customer",
    ]
    assert next_action("dealer_user", "repeat_customer") is None
    assert next_action("driver", "lead") is None
