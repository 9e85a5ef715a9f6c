"""Orders and credit through the API on the real database: credit holds released by a payment,
a limit change or an override; approval by the right region; FEFO allocation; 409 for illegal
steps; 404 across tenants; statements that reconcile; no over-commitment under races."""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal

import pytest
from conftest import Stack
from fastapi.testclient import TestClient
from sqlalchemy import select

from wayhouse.platform.api.app import create_app
from wayhouse.platform.auth.principal import Principal
from wayhouse.platform.db.base import unit_of_work
from wayhouse.platform.dms import orders_service as svc
from wayhouse.platform.dms import org, stock
from wayhouse.platform.dms.domain.types import DomainError, MovementKind, OrgLevel, Role
from wayhouse.platform.dms.models import (
    AppUser,
    AuditLog,
    Bin,
    Dealer,
    Lot,
    OrgUnit,
    Product,
    StockReservation,
    Warehouse,
)
from wayhouse.platform.dms.models_orders import ApprovalRuleRow

pytestmark = pytest.mark.integration
PASSWORD = "orders password 1"
TODAY = dt.datetime.now(dt.UTC).date()


@dataclass
class World:
    p: str
    url: str
    dealers: dict[str, int]
    products: dict[str, int]
    lots: dict[str, int]
    warehouse: int
    tokens: dict[str, str]
    principals: dict[str, Principal]


@pytest.fixture(scope="module")
def client(stack: Stack) -> Iterator[TestClient]:
    with TestClient(create_app(stack.settings)) as c:
        yield c


def _principal(u: AppUser) -> Principal:
    return Principal(u.id, u.username, Role(u.role), u.org_unit_id, u.org_unit.path)


@pytest.fixture(scope="module")
def world(stack: Stack, client: TestClient) -> World:
    p = f"o{uuid.uuid4().hex[:6]}"
    url = stack.settings.sqlalchemy_url()
    with unit_of_work(url) as s:
        hq = org.create_unit(s, OrgLevel.HQ, f"{p}-HQ", "HQ", None)
        r1 = org.create_unit(s, OrgLevel.REGION, f"{p}-R1", "East", hq)
        r2 = org.create_unit(s, OrgLevel.REGION, f"{p}-R2", "West", hq)
        dealers = {
            "d1": org.create_dealer(s, r1, f"{p}-D1", "Dealer One", None),
            "d2": org.create_dealer(s, r1, f"{p}-D2", "Dealer Two", None),
            "d3": org.create_dealer(s, r2, f"{p}-D3", "Dealer Three", None),
            "d4": org.create_dealer(s, r2, f"{p}-D4", "Dealer Four", None),
        }
        users = {
            "hq": org.create_user(s, f"{p}-hq", PASSWORD, Role.HQ_ADMIN, hq),
            "rm1": org.create_user(s, f"{p}-rm1", PASSWORD, Role.REGION_MANAGER, r1),
            "rm2": org.create_user(s, f"{p}-rm2", PASSWORD, Role.REGION_MANAGER, r2),
            "du1": org.create_user(
                s, f"{p}-du1", PASSWORD, Role.DEALER_USER, dealers["d1"].org_unit
            ),
            "du2": org.create_user(
                s, f"{p}-du2", PASSWORD, Role.DEALER_USER, dealers["d2"].org_unit
            ),
            "op": org.create_user(s, f"{p}-op", PASSWORD, Role.WAREHOUSE_OPERATOR, hq),
        }
        products = {
            name: Product(
                sku=f"{p}-{name}",
                name=name,
                product_class="parts",
                unit_weight_g=100.0,
                unit_volume_l=0.1,
                shelf_life_days=365,
                list_price=Decimal(price),
            )
            for name, price in (("pads", "100.00"), ("filter", "10.00"), ("belt", "50.00"))
        }
        wh = Warehouse(org_unit_id=hq.id, code=f"{p}-WH", name="Central")
        s.add_all([*products.values(), wh])
        s.flush()
        bins = [Bin(warehouse_id=wh.id, code=f"A-{i}") for i in range(2)]
        lots = {
            "soon": Lot(
                product_id=products["pads"].id,
                code="L-SOON",
                expires_on=TODAY + dt.timedelta(days=30),
            ),
            "late": Lot(
                product_id=products["pads"].id,
                code="L-LATE",
                expires_on=TODAY + dt.timedelta(days=200),
            ),
            "belt": Lot(product_id=products["belt"].id, code="L-BELT", expires_on=None),
        }
        s.add_all([*bins, *lots.values()])
        s.flush()
        for lot, bin_, pid, qty in (
            ("late", bins[0], products["pads"].id, 12),
            ("soon", bins[1], products["pads"].id, 8),
            ("belt", bins[0], products["belt"].id, 10),
        ):
            stock.post_movement(
                s,
                kind=MovementKind.RECEIVE,
                product_id=pid,
                bin_id=bin_.id,
                lot_id=lots[lot].id,
                qty=qty,
                user_id=None,
            )
        # Region East needs its manager's approval; region West needs none.
        s.add(
            ApprovalRuleRow(
                name=f"{p}-east-manager",
                level=1,
                role=Role.REGION_MANAGER.value,
                regions=[str(r1.id)],
            )
        )
        world = World(
            p,
            url,
            {k: d.id for k, d in dealers.items()},
            {k: v.id for k, v in products.items()},
            {k: v.id for k, v in lots.items()},
            wh.id,
            {},
            {k: _principal(u) for k, u in users.items()},
        )
    for who in ("hq", "rm1", "rm2", "du1", "du2", "op"):
        r = client.post("/auth/login", json={"username": f"{p}-{who}", "password": PASSWORD})
        assert r.status_code == 200, r.text
        world.tokens[who] = r.json()["token"]
    return world


def _h(world: World, who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {world.tokens[who]}"}


def _set_credit(client: TestClient, world: World, dealer: str, limit: str) -> dict:  # type: ignore[type-arg]
    r = client.put(
        f"/dealers/{world.dealers[dealer]}/credit",
        json={"credit_limit": limit, "payment_terms_days": 30, "grace_days": 0},
        headers=_h(world, "hq"),
    )
    assert r.status_code == 200, r.text
    return r.json()


def _place(client: TestClient, world: World, who: str, lines: list[tuple[str, int]], **kw):  # type: ignore[no-untyped-def]
    body = {"lines": [{"product_id": world.products[n], "qty": q} for n, q in lines], **kw}
    r = client.post("/orders", json=body, headers=_h(world, who))
    assert r.status_code == 201, r.text
    return r.json()


def _post(client: TestClient, world: World, who: str, path: str, body: dict | None = None):  # type: ignore[no-untyped-def,type-arg]
    return client.post(path, json=body, headers=_h(world, who))


def test_held_for_credit_released_by_payment_then_approved_and_allocated_fefo(
    client: TestClient, world: World
) -> None:
    _set_credit(client, world, "d1", "1000.00")
    with unit_of_work(world.url) as s:  # an earlier delivery's bill (delivery is not wired yet)
        svc.issue_invoice(s, None, world.dealers["d1"], Decimal("800.00"), TODAY, f"{world.p}-I1")

    order = _place(client, world, "du1", [("pads", 5)])
    assert order["status"] == "draft" and order["total"] == "500.00"
    assert order["dealer_id"] == world.dealers["d1"]  # a dealer user orders for itself
    oid = order["id"]

    held = _post(client, world, "du1", f"/orders/{oid}/submit")
    assert held.status_code == 200, held.text
    held = held.json()
    assert held["status"] == "held"
    assert "exceeds available credit 200.00 by 300.00" in held["hold_reasons"][0]
    credit = client.get(f"/dealers/{world.dealers['d1']}/credit", headers=_h(world, "du1")).json()
    assert credit["held_orders"] == [oid] and credit["available"] == "200.00"

    paid = _post(
        client,
        world,
        "hq",
        "/payments",
        {"dealer_id": world.dealers["d1"], "amount": "800.00", "received_on": str(TODAY)},
    )
    assert paid.status_code == 201, paid.text
    assert paid.json()["released_orders"] == [oid]
    assert [a["amount"] for a in paid.json()["allocations"]] == ["800.00"]

    waiting = client.get(f"/orders/{oid}", headers=_h(world, "du1")).json()
    assert waiting["status"] == "approval" and waiting["hold_reasons"] == []
    assert [(a["role"], a["status"]) for a in waiting["approvals"]] == [
        ("region_manager", "pending")
    ]
    # Not yet approved: allocation refuses with the reason.
    early = _post(client, world, "op", f"/orders/{oid}/allocate", {"warehouse_id": world.warehouse})
    assert early.status_code == 409 and "approval pending" in early.json()["detail"]["message"]
    # The other region's manager cannot even see it; a dealer user may not approve.
    assert _post(client, world, "rm2", f"/orders/{oid}/approve").status_code == 404
    assert _post(client, world, "du1", f"/orders/{oid}/approve").status_code == 403
    approved = _post(client, world, "rm1", f"/orders/{oid}/approve", {"note": "ok"})
    assert approved.status_code == 200, approved.text
    assert approved.json()["approvals"][0]["status"] == "approved"

    allocated = _post(
        client, world, "op", f"/orders/{oid}/allocate", {"warehouse_id": world.warehouse}
    )
    assert allocated.status_code == 200, allocated.text
    body = allocated.json()
    assert body["status"] == "allocated"
    assert [(e["from_status"], e["to_status"]) for e in body["timeline"]] == [
        (None, "draft"),
        ("draft", "submitted"),
        ("submitted", "credit_check"),
        ("credit_check", "held"),
        ("held", "approval"),
        ("approval", "approval"),  # level 1 approved
        ("approval", "allocated"),
    ]
    assert "credit released" in body["timeline"][4]["reason"]
    with unit_of_work(world.url) as s:
        res = s.scalars(
            select(StockReservation).where(StockReservation.order_ref == svc.ref(oid))
        ).all()
        assert [(r.lot_id, r.qty) for r in res] == [(world.lots["soon"], 5)]  # FEFO
        actions = s.scalars(
            select(AuditLog.action).where(
                AuditLog.entity == "order", AuditLog.entity_id == str(oid)
            )
        ).all()
        # One audit row per request that changed the order (submit held it in one step).
        assert actions == ["create", "transition", "transition", "approve", "transition"]


def test_limit_raise_and_manager_override_release_holds(client: TestClient, world: World) -> None:
    _set_credit(client, world, "d2", "100.00")
    first = _place(client, world, "du2", [("filter", 20)])  # 200.00
    second = _place(client, world, "du2", [("filter", 30)])  # 300.00
    for o in (first, second):
        assert _post(client, world, "du2", f"/orders/{o['id']}/submit").json()["status"] == "held"
    # 250 fits the first hold only; the second stays, first come first served.
    raised = _set_credit(client, world, "d2", "250.00")
    assert raised["released_orders"] == [first["id"]] and raised["held_orders"] == [second["id"]]
    assert (
        _post(
            client, world, "du2", f"/orders/{second['id']}/override-hold", {"reason": "x"}
        ).status_code
        == 403
    )
    over = _post(
        client, world, "rm1", f"/orders/{second['id']}/override-hold", {"reason": "key account"}
    )
    assert over.status_code == 200, over.text
    assert over.json()["status"] == "approval"
    assert "credit override: key account" in over.json()["timeline"][-1]["reason"]
    with unit_of_work(world.url) as s:
        entry = s.scalars(
            select(AuditLog)
            .where(AuditLog.entity == "credit_hold", AuditLog.action == "override")
            .order_by(AuditLog.id.desc())
        ).first()
        assert entry is not None and entry.reason == "key account"
        assert entry.user_id == world.principals["rm1"].user_id
        assert entry.new is not None and entry.new["order_id"] == second["id"]
    # Cancelling frees the approved order's reservations and its credit.
    cancelled = _post(client, world, "du2", f"/orders/{second['id']}/cancel", {"reason": "dup"})
    assert cancelled.json()["status"] == "cancelled"
    credit = client.get(f"/dealers/{world.dealers['d2']}/credit", headers=_h(world, "hq")).json()
    assert credit["committed"] == "200.00"


def test_illegal_transitions_answer_409_with_the_reason(client: TestClient, world: World) -> None:
    draft = _place(client, world, "du1", [("filter", 1)])
    r = _post(client, world, "rm1", f"/orders/{draft['id']}/approve")
    assert r.status_code == 409
    assert r.json()["detail"]["code"] == "illegal_transition"
    assert "draft" in r.json()["detail"]["message"]
    assert (
        _post(client, world, "du1", f"/orders/{draft['id']}/cancel", {"reason": "no"}).status_code
        == 200
    )
    again = _post(client, world, "du1", f"/orders/{draft['id']}/submit")
    assert again.status_code == 409
    assert (
        again.json()["detail"]["message"]
        == "order cannot go from cancelled to submitted: order is cancelled"
    )
    bad = client.post("/orders", json={"lines": []}, headers=_h(world, "du1"))
    assert bad.status_code == 422


def test_dealers_cannot_see_or_touch_each_others_orders(client: TestClient, world: World) -> None:
    mine = _place(client, world, "du1", [("filter", 2)])
    theirs = _place(client, world, "du2", [("filter", 3)])
    for path in ("submit", "cancel"):
        r = _post(client, world, "du2", f"/orders/{mine['id']}/{path}", {"reason": "x"})
        assert r.status_code == 404 and r.json()["detail"]["code"] == "not_found"
    assert client.get(f"/orders/{mine['id']}", headers=_h(world, "du2")).status_code == 404
    # Placing an order for another dealer is a 404 too.
    foreign = client.post(
        "/orders",
        json={
            "dealer_id": world.dealers["d1"],
            "lines": [{"product_id": world.products["filter"], "qty": 1}],
        },
        headers=_h(world, "du2"),
    )
    assert foreign.status_code == 404
    assert (
        client.get(
            f"/dealers/{world.dealers['d1']}/statement",
            params={"start": "2026-01-01", "end": "2026-12-31"},
            headers=_h(world, "du2"),
        ).status_code
        == 404
    )
    listed = client.get("/orders", params={"size": 500}, headers=_h(world, "du2")).json()
    ids = {o["id"] for o in listed["items"]}
    assert theirs["id"] in ids and mine["id"] not in ids
    assert {o["dealer_id"] for o in listed["items"]} == {world.dealers["d2"]}
    region = client.get(
        "/orders", params={"status": "draft", "size": 500, "sort": "id"}, headers=_h(world, "rm1")
    ).json()
    region_ids = [o["id"] for o in region["items"]]
    assert {mine["id"], theirs["id"]} <= set(region_ids) and region_ids == sorted(region_ids)
    assert all(o["status"] == "draft" for o in region["items"])
    west = client.get("/orders", params={"size": 500}, headers=_h(world, "rm2")).json()
    assert {o["dealer_id"] for o in west["items"]} <= {world.dealers["d3"], world.dealers["d4"]}
    r = client.put(
        f"/dealers/{world.dealers['d1']}/credit",
        json={"credit_limit": "1", "payment_terms_days": 1, "grace_days": 1},
        headers=_h(world, "rm1"),
    )
    assert r.status_code == 403


def test_statement_reconciles_for_a_period(client: TestClient, world: World) -> None:
    d = world.dealers["d3"]
    with unit_of_work(world.url) as s:  # invoices issued directly: delivery is not wired yet
        svc.issue_invoice(s, None, d, Decimal("500.00"), dt.date(2026, 9, 5), f"{world.p}-A")
        svc.issue_invoice(s, None, d, Decimal("300.00"), dt.date(2026, 10, 3), f"{world.p}-B")
    for on, amount in ((dt.date(2026, 9, 20), "200.00"), (dt.date(2026, 10, 10), "400.00")):
        r = _post(
            client,
            world,
            "hq",
            "/payments",
            {"dealer_id": d, "amount": amount, "received_on": str(on), "reference": "bank"},
        )
        assert r.status_code == 201, r.text
    st = client.get(
        f"/dealers/{d}/statement",
        params={"start": "2026-10-01", "end": "2026-10-31"},
        headers=_h(world, "rm2"),
    )
    assert st.status_code == 200, st.text
    body = st.json()
    assert (body["opening_balance"], body["invoiced"], body["paid"], body["closing_balance"]) == (
        "300.00",
        "300.00",
        "400.00",
        "200.00",
    )
    assert body["reconciles"] is True
    assert [(ln["kind"], ln["balance"]) for ln in body["lines"]] == [
        ("invoice", "600.00"),
        ("payment", "200.00"),
    ]
    # Oldest first: A is settled, B still owes 200.
    assert [(i["invoice"], i["outstanding"]) for i in body["open_items"]] == [
        (f"{world.p}-B", "200.00")
    ]
    bad = client.get(
        f"/dealers/{d}/statement",
        params={"start": "2026-10-31", "end": "2026-10-01"},
        headers=_h(world, "hq"),
    )
    assert bad.status_code == 422


def test_money_paid_ahead_waits_as_credit_and_settles_the_next_invoice(
    client: TestClient, world: World
) -> None:
    with unit_of_work(world.url) as s:  # a dealer of its own: its balance is this test's
        region = s.get(OrgUnit, s.get(Dealer, world.dealers["d3"]).org_unit.parent_id)  # type: ignore[union-attr]
        d = org.create_dealer(s, region, f"{world.p}-D5", "Dealer Five", None).id  # type: ignore[arg-type]
    r = _post(
        client,
        world,
        "hq",
        "/payments",
        {"dealer_id": d, "amount": "50.00", "received_on": "2026-11-20"},
    )
    assert r.status_code == 201 and r.json()["unapplied"] == "50.00"
    assert r.json()["allocations"] == []
    with unit_of_work(world.url) as s:
        svc.issue_invoice(s, None, d, Decimal("80.00"), dt.date(2026, 11, 21), f"{world.p}-C")
    credit = client.get(f"/dealers/{d}/credit", headers=_h(world, "hq")).json()
    assert credit["balance"] == "30.00"
    st = client.get(
        f"/dealers/{d}/statement",
        params={"start": "2026-11-01", "end": "2026-11-30"},
        headers=_h(world, "hq"),
    ).json()
    assert (st["opening_balance"], st["invoiced"], st["paid"], st["closing_balance"]) == (
        "0.00",
        "80.00",
        "50.00",
        "30.00",
    )
    assert st["reconciles"] and st["unapplied_credit"] == "0.00"


def _race(n: int, fn) -> list[str]:  # type: ignore[no-untyped-def]
    barrier = threading.Barrier(n)
    outcomes: list[str] = []

    def run(i: int) -> None:
        barrier.wait()
        try:
            outcomes.append(fn(i))
        except DomainError as exc:
            outcomes.append(exc.code)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return sorted(outcomes)


def test_concurrent_submits_and_allocations_never_overcommit(
    client: TestClient, world: World
) -> None:
    du = world.principals["hq"]
    d4 = world.dealers["d4"]
    _set_credit(client, world, "d4", "1000.00")
    with unit_of_work(world.url) as s:
        ids = [
            svc.place_order(s, du, [svc.LineIn(world.products["belt"], 8)], d4).id  # 400 each
            for _ in range(4)
        ]

    def submit(i: int) -> str:
        with unit_of_work(world.url) as s:
            return svc.submit(s, du, ids[i]).status

    # 1000 fits two orders of 400: the per-dealer lock makes the others wait and see that.
    assert _race(4, submit) == ["approval", "approval", "held", "held"]
    approved = [
        o["id"]
        for o in client.get(
            "/orders", params={"dealer_id": d4, "status": "approval"}, headers=_h(world, "hq")
        ).json()["items"]
    ]
    assert len(approved) == 2

    def allocate(i: int) -> str:
        with unit_of_work(world.url) as s:
            return svc.allocate(s, du, approved[i], world.warehouse).status

    # 10 belts on hand, 8 per order: exactly one gets them, the other waits with the reason.
    assert _race(2, allocate) == ["allocated", "approval"]
    with unit_of_work(world.url) as s:
        reserved = sum(p.reserved for p in stock.positions(s, world.products["belt"]))
        assert reserved == 8
        waiting = svc.get_order(s, du, approved[0])
        if waiting.status == "allocated":
            waiting = svc.get_order(s, du, approved[1])
        assert "awaiting stock" in waiting.events[-1].reason
        assert "belt: 2 of 8 available" in waiting.events[-1].reason
