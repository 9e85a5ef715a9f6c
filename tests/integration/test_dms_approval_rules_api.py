"""Approval rules edited by HQ through the API change the chain new orders get; invalid rules
are refused with the domain's reason; managers may read, not write; every change audited."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from decimal import Decimal

import pytest
from conftest import Stack
from fastapi.testclient import TestClient
from sqlalchemy import select

from wayhouse.platform.api.app import create_app
from wayhouse.platform.db.base import unit_of_work
from wayhouse.platform.dms import org
from wayhouse.platform.dms.domain.types import OrgLevel, Role
from wayhouse.platform.dms.models import AuditLog, Product

pytestmark = pytest.mark.integration
PASSWORD = "rules password 1"


@pytest.fixture(scope="module")
def client(stack: Stack) -> Iterator[TestClient]:
    with TestClient(create_app(stack.settings)) as c:
        yield c


def test_hq_rules_drive_new_orders_approval(stack: Stack, client: TestClient) -> None:
    p = f"ar{uuid.uuid4().hex[:6]}"
    with unit_of_work(stack.settings.sqlalchemy_url()) as s:
        hq = org.create_unit(s, OrgLevel.HQ, f"{p}-HQ", "HQ", None)
        region = org.create_unit(s, OrgLevel.REGION, f"{p}-R", "R", hq)
        dealer = org.create_dealer(s, region, f"{p}-D", "Dealer", None)
        for who, role, unit in (
            ("hq", Role.HQ_ADMIN, hq),
            ("rm", Role.REGION_MANAGER, region),
            ("du", Role.DEALER_USER, dealer.org_unit),
        ):
            org.create_user(s, f"{p}-{who}", PASSWORD, role, unit)
        product = Product(
            sku=f"{p}-kit",
            name="kit",
            product_class=f"{p}-class",
            unit_weight_g=1.0,
            unit_volume_l=1.0,
            list_price=Decimal("300.00"),
        )
        s.add(product)
        s.flush()
        region_id, dealer_id, product_id = str(region.id), dealer.id, product.id
    tokens = {
        who: client.post(
            "/auth/login", json={"username": f"{p}-{who}", "password": PASSWORD}
        ).json()["token"]
        for who in ("hq", "rm", "du")
    }

    def h(who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {tokens[who]}"}

    rule = {
        "name": f"{p}-big-kits",
        "level": 1,
        "role": "region_manager",
        "min_amount": "500.00",
        "regions": [region_id],
        "product_classes": [f"{p}-class"],
    }
    assert client.post("/approval-rules", json=rule, headers=h("rm")).status_code == 403
    created = client.post("/approval-rules", json=rule, headers=h("hq"))
    assert created.status_code == 201, created.text
    rule_id = created.json()["id"]
    dup = client.post("/approval-rules", json=rule, headers=h("hq"))
    assert dup.status_code == 409 and dup.json()["detail"]["code"] == "duplicate_rule"
    bad = client.patch(f"/approval-rules/{rule_id}", json={"max_amount": "100.00"}, headers=h("hq"))
    assert bad.status_code == 409 and bad.json()["detail"]["code"] == "invalid_rule"
    assert client.post(
        "/approval-rules", json={**rule, "name": f"{p}-x", "role": "driver"}, headers=h("hq")
    ).status_code in (409, 422)
    assert client.get(f"/approval-rules/{rule_id}", headers=h("rm")).status_code == 200
    assert client.get("/approval-rules/999999999", headers=h("hq")).status_code == 404
    assert client.get("/approval-rules", headers=h("du")).status_code == 403

    client.put(
        f"/dealers/{dealer_id}/credit",
        json={"credit_limit": "100000.00", "payment_terms_days": 30, "grace_days": 0},
        headers=h("hq"),
    )

    def submit(qty: int) -> dict:  # type: ignore[type-arg]
        body = {"lines": [{"product_id": product_id, "qty": qty}]}
        oid = client.post("/orders", json=body, headers=h("du")).json()["id"]
        r = client.post(f"/orders/{oid}/submit", headers=h("du"))
        assert r.status_code == 200, r.text
        return r.json()

    small, big = submit(1), submit(2)  # 300 under the threshold, 600 over it
    assert small["approvals"] == [] and [a["role"] for a in big["approvals"]] == ["region_manager"]

    retired = client.patch(f"/approval-rules/{rule_id}", json={"active": False}, headers=h("hq"))
    assert retired.status_code == 200 and retired.json()["active"] is False
    assert submit(3)["approvals"] == []  # retired: new orders no longer need it

    with unit_of_work(stack.settings.sqlalchemy_url()) as s:
        actions = s.scalars(
            select(AuditLog.action).where(
                AuditLog.entity == "approval_rule", AuditLog.entity_id == str(rule_id)
            )
        ).all()
    assert sorted(actions) == ["create", "update"]
