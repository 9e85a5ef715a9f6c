"""A small tenant tree of its own for the console's API tests (search, analytics, order desk,
imports, users): HQ with regions r1 (dealers d11, d12) and r2 (dealer d21), a user per role,
two products stocked in a central warehouse, a regional approval rule for r1, and tokens.
Every code carries a random prefix, so test modules never see each other's rows.

Import the fixtures a module uses (``client_fixture``, ``world_fixture``)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

import pytest
from conftest import Stack
from fastapi.testclient import TestClient

from wayhouse.platform.api.app import create_app
from wayhouse.platform.db.base import unit_of_work
from wayhouse.platform.dms import org, stock
from wayhouse.platform.dms.domain.types import MovementKind, OrgLevel, Role
from wayhouse.platform.dms.models import Bin, Lot, Product, Warehouse
from wayhouse.platform.dms.models_orders import ApprovalRuleRow

PASSWORD = "console password 1"
USERS = {
    "hq": (Role.HQ_ADMIN, "hq"),
    "rm1": (Role.REGION_MANAGER, "r1"),
    "rm2": (Role.REGION_MANAGER, "r2"),
    "du11": (Role.DEALER_USER, "d11"),
    "du21": (Role.DEALER_USER, "d21"),
    "op": (Role.WAREHOUSE_OPERATOR, "hq"),
    "disp": (Role.DISPATCHER, "hq"),
}


@dataclass
class World:
    p: str
    url: str
    units: dict[str, int]
    dealers: dict[str, int]
    products: dict[str, int]
    warehouse: int
    bin: int
    tokens: dict[str, str]

    def h(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}


@pytest.fixture(name="client", scope="module")
def client_fixture(stack: Stack) -> Iterator[TestClient]:
    with TestClient(create_app(stack.settings)) as c:
        yield c


@pytest.fixture(name="world", scope="module")
def world_fixture(stack: Stack, client: TestClient) -> World:
    p = f"c{uuid.uuid4().hex[:6]}"
    url = stack.settings.sqlalchemy_url()
    with unit_of_work(url) as s:
        hq = org.create_unit(s, OrgLevel.HQ, f"{p}-HQ", "HQ", None)
        r1 = org.create_unit(s, OrgLevel.REGION, f"{p}-R1", "East", hq)
        r2 = org.create_unit(s, OrgLevel.REGION, f"{p}-R2", "West", hq)
        dealers = {
            "d11": org.create_dealer(s, r1, f"{p}-D11", f"{p} Alpha Trading", None),
            "d12": org.create_dealer(s, r1, f"{p}-D12", f"{p} Beta Supply", None),
            "d21": org.create_dealer(s, r2, f"{p}-D21", f"{p} Gamma Parts", None),
        }
        for d in dealers.values():
            d.status = "active"
        units = {"hq": hq, "r1": r1, "r2": r2, **{k: d.org_unit for k, d in dealers.items()}}
        for name, (role, unit) in USERS.items():
            org.create_user(s, f"{p}-{name}", PASSWORD, role, units[unit])
        products = {
            name: Product(
                sku=f"{p}-{name}",
                name=f"{p} {name} part",
                product_class="parts",
                unit_weight_g=100.0,
                unit_volume_l=0.1,
                shelf_life_days=None,
                list_price=Decimal(price),
            )
            for name, price in (("P1", "100.00"), ("P2", "10.00"))
        }
        wh = Warehouse(org_unit_id=hq.id, code=f"{p}-WH", name="Central")
        s.add_all([*products.values(), wh])
        s.flush()
        bin_ = Bin(warehouse_id=wh.id, code=f"{p}-A1")
        lot = Lot(product_id=products["P1"].id, code=f"{p}-L1", expires_on=None)
        s.add_all([bin_, lot])
        s.flush()
        stock.post_movement(
            s,
            kind=MovementKind.RECEIVE,
            product_id=products["P1"].id,
            bin_id=bin_.id,
            lot_id=lot.id,
            qty=20,
            user_id=None,
        )
        # Orders of region r1 wait for its manager; r2 needs no approval.
        s.add(
            ApprovalRuleRow(
                name=f"{p}-r1-manager",
                level=1,
                role=Role.REGION_MANAGER.value,
                regions=[str(r1.id)],
            )
        )
        world = World(
            p,
            url,
            {k: u.id for k, u in units.items()},
            {k: d.id for k, d in dealers.items()},
            {k: v.id for k, v in products.items()},
            wh.id,
            bin_.id,
            {},
        )
    for name in USERS:
        r = client.post("/auth/login", json={"username": f"{p}-{name}", "password": PASSWORD})
        assert r.status_code == 200, r.text
        world.tokens[name] = r.json()["token"]
    for dealer in dealers:
        r = client.put(
            f"/dealers/{world.dealers[dealer]}/credit",
            json={"credit_limit": "100000.00", "payment_terms_days": 30, "grace_days": 0},
            headers=world.h("hq"),
        )
        assert r.status_code == 200, r.text
    return world


def place(client: TestClient, world: World, dealer: str, lines: list[tuple[str, int]]) -> int:
    """HQ places a draft order for ``dealer``; its id."""
    body = {
        "dealer_id": world.dealers[dealer],
        "lines": [{"product_id": world.products[n], "qty": q} for n, q in lines],
    }
    r = client.post("/orders", json=body, headers=world.h("hq"))
    assert r.status_code == 201, r.text
    return int(r.json()["id"])
