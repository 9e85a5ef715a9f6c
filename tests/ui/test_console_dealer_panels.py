"""A dealer's page in NiceGUI's user simulation against the real API: documents with their
expiry badge, the credit section (HQ edits the terms, the dealer only reads them) and a
statement that reconciles."""

from __future__ import annotations

import datetime as dt

import httpx
import pytest
from nicegui.testing.user import User
from ui_kit import (  # noqa: F401 - fixtures
    RETRIES,
    Api,
    anyio_backend_fixture,
    api_fixture,
    login,
    user_fixture,
)

pytestmark = [pytest.mark.integration, pytest.mark.anyio]
PDF = b"%PDF-1.4\n% test licence\n"


def _own_dealer(api: Api) -> int:
    (own,) = httpx.get(f"{api.url}/dealers", headers=api.headers("dealer1")).json()["items"]
    return int(own["id"])


async def test_dealer_sees_documents_credit_and_statement(user: User, api: Api) -> None:
    dealer_id = _own_dealer(api)
    soon = dt.date.today() + dt.timedelta(days=10)
    r = httpx.post(
        f"{api.url}/dealers/{dealer_id}/documents",
        headers=api.headers("admin"),
        data={
            "doc_type": "operating_permit",
            "number": "OP-UI-1",
            "valid_from": str(dt.date.today() - dt.timedelta(days=300)),
            "valid_until": str(soon),
        },
        files={"file": ("permit.pdf", PDF, "application/pdf")},
    )
    assert r.status_code == 201, r.text
    await login(user, api, "dealer1")
    await user.should_see(marker="whoami", retries=RETRIES)
    await user.open(f"/dealers/{dealer_id}")
    await user.should_see(content="OP-UI-1", retries=RETRIES)
    await user.should_see(marker="credit", retries=RETRIES)
    await user.should_not_see(marker="credit-save")  # a dealer reads its terms only
    await user.should_see(marker="statement-closing", retries=RETRIES)


async def test_hq_edits_credit_terms_from_the_dealer_page(user: User, api: Api) -> None:
    dealer_id = _own_dealer(api)
    await login(user, api, "admin")
    await user.should_see(marker="whoami", retries=RETRIES)
    await user.open(f"/dealers/{dealer_id}")
    await user.should_see(marker="credit-save", retries=RETRIES)
    (limit,) = user.find(marker="credit-limit-input").elements
    limit.set_value(12345.0)
    user.find(marker="credit-save").click()
    await user.should_see(marker="credit-credit_limit", content="12345.00", retries=RETRIES)
    credit = httpx.get(f"{api.url}/dealers/{dealer_id}/credit", headers=api.headers("admin"))
    assert credit.json()["credit_limit"] == "12345.00"
