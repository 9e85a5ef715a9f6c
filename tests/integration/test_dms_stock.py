"""The stock ledger on the real database: FEFO reservations, no negative stock, and
reservations that never exceed availability when orders race for the last units."""

from __future__ import annotations

import datetime as dt
import random
import threading
import uuid
from dataclasses import dataclass
from decimal import Decimal

import pytest
from conftest import Stack

from wayhouse.platform.db.base import unit_of_work
from wayhouse.platform.dms import org, stock
from wayhouse.platform.dms.domain.types import DomainError, MovementKind, OrgLevel
from wayhouse.platform.dms.models import Bin, Lot, Product, Warehouse

pytestmark = pytest.mark.integration
TODAY = dt.date(2026, 11, 25)


@dataclass
class Site:
    product_id: int
    sku: str
    warehouse_id: int
    bins: list[int]
    lots: dict[str, int]


def _site(stack: Stack, n_bins: int = 2) -> Site:
    p = uuid.uuid4().hex[:6]
    with unit_of_work(stack.settings.sqlalchemy_url()) as s:
        hq = org.create_unit(s, OrgLevel.HQ, f"s{p}-HQ", "HQ", None)
        product = Product(
            sku=f"SKU-{p}",
            name="Brake pads",
            product_class="parts",
            unit_weight_g=850.0,
            unit_volume_l=1.2,
            shelf_life_days=365,
            list_price=Decimal("129.00"),
        )
        wh = Warehouse(org_unit_id=hq.id, code=f"WH-{p}", name="Central")
        s.add_all([product, wh])
        s.flush()
        bins = [Bin(warehouse_id=wh.id, code=f"A-{i:02d}") for i in range(n_bins)]
        lots = {
            "soon": Lot(
                product_id=product.id, code="L-SOON", expires_on=TODAY + dt.timedelta(days=30)
            ),
            "late": Lot(
                product_id=product.id, code="L-LATE", expires_on=TODAY + dt.timedelta(days=90)
            ),
            "dead": Lot(
                product_id=product.id, code="L-DEAD", expires_on=TODAY - dt.timedelta(days=1)
            ),
        }
        s.add_all([*bins, *lots.values()])
        s.flush()
        return Site(
            product.id, product.sku, wh.id, [b.id for b in bins], {k: v.id for k, v in lots.items()}
        )


def _receive(stack: Stack, site: Site, bin_id: int, lot: str, qty: int) -> None:
    with unit_of_work(stack.settings.sqlalchemy_url()) as s:
        stock.post_movement(
            s,
            kind=MovementKind.RECEIVE,
            product_id=site.product_id,
            bin_id=bin_id,
            lot_id=site.lots[lot],
            qty=qty,
            user_id=None,
        )


def test_reservations_are_first_expiry_first_out_and_skip_expired_lots(stack: Stack) -> None:
    site = _site(stack)
    _receive(stack, site, site.bins[0], "late", 12)
    _receive(stack, site, site.bins[1], "soon", 8)
    _receive(stack, site, site.bins[0], "dead", 5)
    with unit_of_work(stack.settings.sqlalchemy_url()) as s:
        result = stock.reserve(
            s,
            product_id=site.product_id,
            sku=site.sku,
            qty=10,
            order_ref="O-1",
            warehouse_id=site.warehouse_id,
            today=TODAY,
        )
    picks = [(int(p.lot), p.qty) for p in result.picks]
    assert picks == [(site.lots["soon"], 8), (site.lots["late"], 2)]
    with unit_of_work(stack.settings.sqlalchemy_url()) as s, pytest.raises(DomainError) as err:
        # 25 on hand, 10 reserved, 5 expired: 10 usable, not 11
        stock.reserve(
            s,
            product_id=site.product_id,
            sku=site.sku,
            qty=11,
            order_ref="O-2",
            warehouse_id=site.warehouse_id,
            today=TODAY,
        )
    assert err.value.code == "insufficient_stock" and "excluded" in err.value.message


def test_stock_never_goes_negative_nor_into_reserved_units(stack: Stack) -> None:
    site = _site(stack, n_bins=1)
    b = site.bins[0]
    _receive(stack, site, b, "late", 5)
    url = stack.settings.sqlalchemy_url()
    with unit_of_work(url) as s, pytest.raises(DomainError) as err:
        stock.post_movement(
            s,
            kind=MovementKind.PICK,
            product_id=site.product_id,
            bin_id=b,
            lot_id=site.lots["late"],
            qty=-6,
            user_id=None,
        )
    assert err.value.code == "negative_stock"
    with unit_of_work(url) as s:
        stock.reserve(
            s,
            product_id=site.product_id,
            sku=site.sku,
            qty=4,
            order_ref="O-9",
            warehouse_id=site.warehouse_id,
            today=TODAY,
        )
    with unit_of_work(url) as s, pytest.raises(DomainError) as err:
        stock.post_movement(
            s,
            kind=MovementKind.PICK,
            product_id=site.product_id,
            bin_id=b,
            lot_id=site.lots["late"],
            qty=-2,
            user_id=None,
        )
    assert err.value.code == "reserved_stock"
    with unit_of_work(url) as s:  # the order's own pick may take its reserved units
        stock.post_movement(
            s,
            kind=MovementKind.PICK,
            product_id=site.product_id,
            bin_id=b,
            lot_id=site.lots["late"],
            qty=-4,
            user_id=None,
            fulfils="O-9",
        )
        stock.release(s, "O-9", dt.datetime.now(dt.UTC))
    with unit_of_work(url) as s:
        [pos] = stock.positions(s, site.product_id)
        assert (pos.on_hand, pos.reserved) == (1, 0)


def test_concurrent_orders_never_reserve_more_than_is_available(stack: Stack) -> None:
    site = _site(stack, n_bins=2)
    _receive(stack, site, site.bins[0], "soon", 4)
    _receive(stack, site, site.bins[1], "late", 6)
    url = stack.settings.sqlalchemy_url()
    outcomes: list[str] = []
    barrier = threading.Barrier(12)

    def order(i: int) -> None:
        barrier.wait()  # all twelve transactions race at once
        try:
            with unit_of_work(url) as s:
                stock.reserve(
                    s,
                    product_id=site.product_id,
                    sku=site.sku,
                    qty=2,
                    order_ref=f"race-{i}",
                    warehouse_id=site.warehouse_id,
                    today=TODAY,
                )
            outcomes.append("ok")
        except DomainError as exc:
            outcomes.append(exc.code)

    threads = [threading.Thread(target=order, args=(i,)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(outcomes) == ["insufficient_stock"] * 7 + ["ok"] * 5
    with unit_of_work(url) as s:
        total_reserved = sum(p.reserved for p in stock.positions(s, site.product_id))
        assert total_reserved == 10
        assert all(p.available >= 0 for p in stock.positions(s, site.product_id))


def test_on_hand_is_the_sum_of_movements_through_a_random_history(stack: Stack) -> None:
    site = _site(stack, n_bins=3)
    rng = random.Random(42)
    url = stack.settings.sqlalchemy_url()
    refused = 0
    for step in range(60):
        b, lot = rng.choice(site.bins), rng.choice(["soon", "late"])
        kind = rng.choice([MovementKind.RECEIVE, MovementKind.PICK, MovementKind.ADJUST])
        qty = rng.randint(1, 6) * (
            1
            if kind is MovementKind.RECEIVE
            else rng.choice([-1, 1])
            if kind is MovementKind.ADJUST
            else -1
        )
        try:
            with unit_of_work(url) as s:
                stock.post_movement(
                    s,
                    kind=kind,
                    product_id=site.product_id,
                    bin_id=b,
                    lot_id=site.lots[lot],
                    qty=qty,
                    user_id=None,
                    reason=f"step {step}",
                )
        except DomainError:
            refused += 1
        with unit_of_work(url) as s:
            sums = dict(
                ((r[0], r[1]), r[2])
                for r in s.execute(
                    stock.text(
                        "SELECT bin_id, lot_id, sum(qty) FROM stock_movement WHERE product_id = :p GROUP BY 1, 2"
                    ),
                    {"p": site.product_id},
                )
            )
            for pos in stock.positions(s, site.product_id):
                assert pos.on_hand == sums[(pos.bin_id, pos.lot_id)]
                assert pos.on_hand >= 0
    assert 0 < refused < 60  # the history did try to overdraw, and mostly went through


def test_stock_api_scopes_warehouses_and_explains_refusals(stack: Stack) -> None:
    from fastapi.testclient import TestClient

    from wayhouse.platform.api.app import create_app
    from wayhouse.platform.dms.domain.types import Role

    p = uuid.uuid4().hex[:6]
    pw = "operator password 1"
    with unit_of_work(stack.settings.sqlalchemy_url()) as s:
        hq = org.create_unit(s, OrgLevel.HQ, f"a{p}-HQ", "HQ", None)
        region = org.create_unit(s, OrgLevel.REGION, f"a{p}-R", "North", hq)
        d1 = org.create_dealer(s, region, f"a{p}-D1", "Dealer One", None)
        d2 = org.create_dealer(s, region, f"a{p}-D2", "Dealer Two", None)
        product = Product(
            sku=f"API-{p}",
            name="Oil filter",
            product_class="parts",
            unit_weight_g=300.0,
            unit_volume_l=0.4,
            shelf_life_days=None,
            list_price=Decimal("35.50"),
        )
        w1 = Warehouse(org_unit_id=d1.org_unit_id, code=f"W1-{p}", name="D1 store")
        w2 = Warehouse(org_unit_id=d2.org_unit_id, code=f"W2-{p}", name="D2 store")
        s.add_all([product, w1, w2])
        s.flush()
        b1, b2 = Bin(warehouse_id=w1.id, code="B-01"), Bin(warehouse_id=w2.id, code="B-01")
        s.add_all([b1, b2])
        s.flush()
        org.create_user(s, f"a{p}-op1", pw, Role.WAREHOUSE_OPERATOR, d1.org_unit)
        org.create_user(s, f"a{p}-du1", pw, Role.DEALER_USER, d1.org_unit)
        ids = {"product": product.id, "w1": w1.id, "w2": w2.id, "b1": b1.id, "b2": b2.id}
    with TestClient(create_app(stack.settings)) as client:

        def auth(user: str) -> dict[str, str]:
            token = client.post(
                "/auth/login", json={"username": f"a{p}-{user}", "password": pw}
            ).json()["token"]
            return {"Authorization": f"Bearer {token}"}

        op, du = auth("op1"), auth("du1")
        move = {"kind": "receive", "product_id": ids["product"], "bin_id": ids["b1"], "qty": 10}
        assert client.post("/stock/movements", json=move, headers=du).status_code == 403
        assert client.post("/stock/movements", json=move, headers=op).status_code == 201
        other = client.post("/stock/movements", json=move | {"bin_id": ids["b2"]}, headers=op)
        assert other.status_code == 404  # another dealer's warehouse: not found
        over = client.post("/stock/movements", json=move | {"kind": "pick", "qty": -11}, headers=op)
        assert over.status_code == 409 and over.json()["detail"]["code"] == "negative_stock"
        wrong_sign = client.post(
            "/stock/movements", json=move | {"kind": "receive", "qty": -1}, headers=op
        )
        assert (
            wrong_sign.status_code == 409
            and wrong_sign.json()["detail"]["code"] == "invalid_quantity"
        )
        no_reason = client.post(
            "/stock/movements", json=move | {"kind": "adjust", "qty": -1}, headers=op
        )
        assert no_reason.status_code == 422
        pos = client.get(
            f"/warehouses/{ids['w1']}/stock", params={"product_id": ids["product"]}, headers=du
        )
        assert pos.status_code == 200 and pos.json()[0]["on_hand"] == 10
        assert (
            client.get(
                f"/warehouses/{ids['w2']}/stock", params={"product_id": ids["product"]}, headers=du
            ).status_code
            == 404
        )
        listed = client.get("/warehouses", headers=du).json()
        assert [w["id"] for w in listed["items"]] == [ids["w1"]]
        products = client.get("/products", params={"q": f"API-{p}"}, headers=du).json()
        assert products["total"] == 1 and products["items"][0]["list_price"] == "35.50"


def test_demo_seed_is_idempotent_and_binds_bins_to_load_cells(stack: Stack) -> None:
    from wayhouse.platform.dms.seed import seed_demo
    from wayhouse.simulators.scenario import default_scenario

    first = seed_demo(stack.settings)
    second = seed_demo(stack.settings)
    assert first == second and "admin" in first
    scenario = default_scenario(0)
    assert stack.scalar(
        "SELECT count(*) FROM bin b JOIN warehouse w ON w.id = b.warehouse_id WHERE w.code = 'WH1' AND b.role = 'storage'"
    ) == len(scenario.bins)
    with stack.db() as conn:
        cells = {
            r[0]
            for r in conn.execute(
                "SELECT scale_sensor_id FROM bin WHERE scale_sensor_id IS NOT NULL"
            )
        }
    assert {
        b.sensor_id for b in scenario.bins
    } <= cells  # every bin weighed by its scenario load cell
    opening = stack.scalar("SELECT sum(qty) FROM stock_movement WHERE source = 'seed'")
    assert opening == sum(b.initial_count for b in scenario.bins)
