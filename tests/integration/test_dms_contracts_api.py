"""Dealer contracts through the API on the real database: versions approved by HQ or the dealer's
regional manager (never by the author or submitter), execution against delivered orders (a
returned one and an undelivered one excluded), a rebate tier reached, trailing alerts with a
configurable margin, 404 across tenants on every endpoint, 422 with the domain's reason."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from conftest import Stack
from fastapi.testclient import TestClient
from sqlalchemy import select

from wayhouse.platform.api.app import create_app
from wayhouse.platform.db.base import unit_of_work
from wayhouse.platform.dms import org
from wayhouse.platform.dms.domain.types import OrderStatus, OrgLevel, Role
from wayhouse.platform.dms.models import AuditLog, Dealer, Product
from wayhouse.platform.dms.models_contracts import ContractVersionRow
from wayhouse.platform.dms.models_orders import OrderEventRow, OrderLineRow, SalesOrder

pytestmark = pytest.mark.integration
PASSWORD = "contracts password 1"
USERS = ("hq", "hq2", "rm1", "rm2", "du1", "du3", "op")


@dataclass
class World:
    p: str
    url: str
    dealers: dict[str, int]
    products: dict[str, int]
    tokens: dict[str, str]
    user_ids: dict[str, int]


@pytest.fixture(scope="module")
def client(stack: Stack) -> Iterator[TestClient]:
    with TestClient(create_app(stack.settings)) as c:
        yield c


@pytest.fixture(scope="module")
def world(stack: Stack, client: TestClient) -> World:
    p = f"k{uuid.uuid4().hex[:6]}"
    url = stack.settings.sqlalchemy_url()
    with unit_of_work(url) as s:
        hq = org.create_unit(s, OrgLevel.HQ, f"{p}-HQ", "HQ", None)
        r1 = org.create_unit(s, OrgLevel.REGION, f"{p}-R1", "East", hq)
        r2 = org.create_unit(s, OrgLevel.REGION, f"{p}-R2", "West", hq)
        dealers = {
            "d1": org.create_dealer(s, r1, f"{p}-D1", "Dealer One", None),
            "d2": org.create_dealer(s, r1, f"{p}-D2", "Dealer Two", None),
            "d3": org.create_dealer(s, r2, f"{p}-D3", "Dealer Three", None),
            "closed": org.create_dealer(s, r1, f"{p}-D4", "Dealer Closed", None),
        }
        dealers["closed"].status = "closed"
        units = {"hq": hq, "hq2": hq, "rm1": r1, "rm2": r2, "op": hq}
        units |= {"du1": dealers["d1"].org_unit, "du3": dealers["d3"].org_unit}
        roles = {"hq": Role.HQ_ADMIN, "hq2": Role.HQ_ADMIN, "rm1": Role.REGION_MANAGER}
        roles |= {"rm2": Role.REGION_MANAGER, "du1": Role.DEALER_USER, "du3": Role.DEALER_USER}
        roles |= {"op": Role.WAREHOUSE_OPERATOR}
        users = {u: org.create_user(s, f"{p}-{u}", PASSWORD, roles[u], units[u]) for u in USERS}
        products = {
            line: Product(
                sku=f"{p}-{line}",
                name=line,
                product_class=f"{p}-{line}",
                unit_weight_g=100.0,
                unit_volume_l=0.1,
                list_price=Decimal("1.00"),
            )
            for line in ("pumps", "valves", "hoses")
        }
        s.add_all(products.values())
        s.flush()
        world = World(
            p,
            url,
            {k: d.id for k, d in dealers.items()},
            {k: v.id for k, v in products.items()},
            {},
            {k: u.id for k, u in users.items()},
        )
    for who in USERS:
        r = client.post("/auth/login", json={"username": f"{p}-{who}", "password": PASSWORD})
        assert r.status_code == 200, r.text
        world.tokens[who] = r.json()["token"]
    return world


def _h(world: World, who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {world.tokens[who]}"}


def _line(world: World, name: str) -> str:
    return f"{world.p}-{name}"


def _terms(world: World, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "period_start": "2025-01-01",
        "period_end": "2025-12-31",
        "targets": [
            {"quarter": "2025Q1", "product_line": _line(world, "pumps"), "amount": "10000.00"},
            {"quarter": "2025Q1", "product_line": _line(world, "valves"), "amount": "5000.00"},
            {"quarter": "2025Q2", "product_line": _line(world, "pumps"), "amount": "12000.00"},
        ],
        "rebate_tiers": [
            {"min_achievement": "0.9", "rate": "0.02"},
            {"min_achievement": "1.0", "rate": "0.03"},
            {"min_achievement": "1.2", "rate": "0.05"},
        ],
        "payment_stages": [
            {"name": "deposit", "due_on": "2025-01-15", "percent": "30"},
            {"name": "final", "due_on": "2025-12-15", "percent": "70"},
        ],
    }
    body.update(changes)
    return body


def _create(client: TestClient, world: World, who: str, dealer: str, **kw: Any) -> dict[str, Any]:
    body = {"dealer_id": world.dealers[dealer], **_terms(world), **kw}
    r = client.post("/contracts", json=body, headers=_h(world, who))
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


def _post(client: TestClient, world: World, who: str, path: str, body: Any = None):  # type: ignore[no-untyped-def]
    return client.post(path, json=body, headers=_h(world, who))


def _approved(client: TestClient, world: World, dealer: str = "d1") -> dict[str, Any]:
    """A contract drafted and submitted by the region's manager, approved by HQ."""
    c = _create(client, world, "rm1" if dealer != "d3" else "rm2", dealer)
    author = "rm1" if dealer != "d3" else "rm2"
    assert (
        _post(client, world, author, f"/contracts/{c['id']}/versions/1/submit").status_code == 200
    )
    r = _post(client, world, "hq", f"/contracts/{c['id']}/versions/1/approve")
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


# -- versions and approval -----------------------------------------------------------------
def test_hq_approves_a_regional_draft_and_the_regional_manager_an_hq_revision(
    client: TestClient, world: World
) -> None:
    c = _create(client, world, "rm1", "d1")
    cid = c["id"]
    assert (c["status"], c["latest_version"], c["active_version"]) == ("draft", 1, None)
    assert c["number"] == f"CT-{cid:06d}" and c["dealer_name"] == "Dealer One"
    (v1,) = c["versions"]
    assert v1["author_role"] == "region_manager" and v1["committed_value"] == "27000.00"
    assert [(s["name"], s["amount"]) for s in v1["payment_stages"]] == [
        ("deposit", "8100.00"),
        ("final", "18900.00"),
    ]

    # Approving a draft is not a step the flow has.
    r = _post(client, world, "hq", f"/contracts/{cid}/versions/1/approve")
    assert r.status_code == 409 and r.json()["detail"]["code"] == "illegal_transition"
    r = _post(client, world, "rm1", f"/contracts/{cid}/versions/1/submit")
    assert r.status_code == 200 and r.json()["status"] == "pending_approval"
    # The author may not decide on their own draft.
    r = _post(client, world, "rm1", f"/contracts/{cid}/versions/1/approve")
    assert r.status_code == 403 and r.json()["detail"]["code"] == "not_authorised"
    r = _post(client, world, "hq", f"/contracts/{cid}/versions/1/approve", {"reason": "ok"})
    assert r.status_code == 200, r.text
    c = r.json()
    assert (c["status"], c["active_version"]) == ("active", 1)
    assert (c["period_start"], c["period_end"]) == ("2025-01-01", "2025-12-31")
    steps = [(e["from_status"], e["to_status"], e["by"]) for e in c["versions"][0]["timeline"]]
    ids = world.user_ids
    assert steps == [
        (None, "draft", str(ids["rm1"])),
        ("draft", "pending_approval", str(ids["rm1"])),
        ("pending_approval", "active", str(ids["hq"])),
    ]
    # A submitted version cannot be submitted again; an approved one is changed by revising.
    r = _post(client, world, "rm1", f"/contracts/{cid}/versions/1/submit")
    assert r.status_code == 409
    r = client.put(f"/contracts/{cid}/versions/1", json=_terms(world), headers=_h(world, "hq"))
    assert r.status_code == 409 and r.json()["detail"]["code"] == "contract_not_draft"

    # HQ revises: v2 is a draft, v1 stays in force meanwhile.
    new_terms = _terms(world, rebate_tiers=[{"min_achievement": "1", "rate": "0.04"}])
    r = _post(client, world, "hq", f"/contracts/{cid}/versions", {**new_terms, "reason": "more"})
    assert r.status_code == 201, r.text
    c = r.json()
    assert (c["status"], c["latest_version"], c["active_version"]) == ("draft", 2, 1)
    # The draft can still be edited; only the latest version moves.
    edited = _terms(world, rebate_tiers=[{"min_achievement": "1", "rate": "0.045"}])
    r = client.put(f"/contracts/{cid}/versions/2", json=edited, headers=_h(world, "hq"))
    assert r.status_code == 200 and r.json()["versions"][1]["rebate_tiers"][0]["rate"] == "0.045"
    assert _post(client, world, "hq", f"/contracts/{cid}/versions/1/submit").status_code == 409
    assert _post(client, world, "hq", f"/contracts/{cid}/versions/2/submit").status_code == 200
    # Revising again while v2 waits is refused.
    r = _post(client, world, "hq", f"/contracts/{cid}/versions", {**new_terms, "reason": "x"})
    assert r.status_code == 409
    # HQ wrote it: another region's manager does not see it, the author may not decide, the
    # dealer's regional manager approves it.
    r = _post(client, world, "rm2", f"/contracts/{cid}/versions/2/approve")
    assert r.status_code == 404 and r.json()["detail"]["code"] == "not_found"
    r = _post(client, world, "hq", f"/contracts/{cid}/versions/2/approve")
    assert r.status_code == 403 and r.json()["detail"]["code"] == "not_authorised"
    r = _post(client, world, "rm1", f"/contracts/{cid}/versions/2/approve")
    assert r.status_code == 200, r.text
    c = r.json()
    assert (c["status"], c["active_version"]) == ("active", 2)
    v1, v2 = c["versions"]
    assert (v1["status"], v2["status"]) == ("superseded", "active")
    assert v1["timeline"][-1]["reason"] == "replaced by v2"

    with unit_of_work(world.url) as s:
        actions = s.scalars(
            select(AuditLog.action)
            .where(AuditLog.entity == "contract", AuditLog.entity_id == str(cid))
            .order_by(AuditLog.id)
        ).all()
        active = s.scalars(
            select(ContractVersionRow.number).where(
                ContractVersionRow.contract_id == cid, ContractVersionRow.status == "active"
            )
        ).all()
    assert actions == ["create", "submit", "approve", "revise", "edit v2", "submit", "approve"]
    assert active == [2]


def test_the_submitter_cannot_approve_and_rejection_needs_a_reason(
    client: TestClient, world: World
) -> None:
    c = _create(client, world, "hq", "d2")
    cid = c["id"]
    # Written by one HQ admin, submitted by another: neither may approve (four eyes).
    assert _post(client, world, "hq2", f"/contracts/{cid}/versions/1/submit").status_code == 200
    r = _post(client, world, "hq2", f"/contracts/{cid}/versions/1/approve")
    assert r.status_code == 409 and "submitter" in r.json()["detail"]["message"]
    assert _post(client, world, "hq", f"/contracts/{cid}/versions/1/approve").status_code == 403
    # Rejecting takes a reason (the submitter may reject: that only sends it back).
    assert _post(client, world, "hq2", f"/contracts/{cid}/versions/1/reject", {}).status_code == 422
    r = _post(
        client, world, "hq2", f"/contracts/{cid}/versions/1/reject", {"reason": "targets low"}
    )
    assert r.status_code == 200 and r.json()["status"] == "rejected"
    assert r.json()["versions"][0]["timeline"][-1]["reason"] == "targets low"
    assert _post(client, world, "hq", f"/contracts/{cid}/versions/1/approve").status_code == 409
    # A rejected version is revised into the next draft; nothing is in force meanwhile.
    r = _post(client, world, "hq", f"/contracts/{cid}/versions", {**_terms(world), "reason": "up"})
    assert r.status_code == 201
    assert (r.json()["latest_version"], r.json()["active_version"]) == (2, None)
    # Another HQ admin, neither author nor submitter, decides on an HQ admin's draft.
    assert _post(client, world, "hq", f"/contracts/{cid}/versions/2/submit").status_code == 200
    r = _post(client, world, "hq2", f"/contracts/{cid}/versions/2/approve")
    assert r.status_code == 200 and r.json()["active_version"] == 2


def test_numbers_are_unique_and_closed_dealers_get_no_contract(
    client: TestClient, world: World
) -> None:
    number = f"{world.p}-2025/01"
    assert _create(client, world, "hq", "d1", number=number)["number"] == number
    r = client.post(
        "/contracts",
        json={"dealer_id": world.dealers["d1"], "number": number, **_terms(world)},
        headers=_h(world, "hq"),
    )
    assert r.status_code == 409 and r.json()["detail"]["code"] == "duplicate_number"
    r = client.post(
        "/contracts",
        json={"dealer_id": world.dealers["closed"], **_terms(world)},
        headers=_h(world, "rm1"),
    )
    assert r.status_code == 409 and r.json()["detail"]["code"] == "dealer_inactive"


# -- invalid input -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"period_end": "2024-12-31"}, "ends before it starts"),
        (
            {"targets": [{"quarter": "2026Q1", "product_line": "x", "amount": "1"}]},
            "outside the period",
        ),
        (
            {
                "targets": [
                    {"quarter": "2025Q1", "product_line": "x", "amount": "1"},
                    {"quarter": "2025q1", "product_line": "x", "amount": "2"},
                ]
            },
            "two targets",
        ),
        (
            {
                "rebate_tiers": [
                    {"min_achievement": "0.9", "rate": "0.03"},
                    {"min_achievement": "1.0", "rate": "0.02"},
                ]
            },
            "may not fall",
        ),
        ({"payment_stages": [{"name": "all", "due_on": "2025-02-01", "percent": "99"}]}, "100"),
        (
            {
                "payment_stages": [
                    {"name": "b", "due_on": "2025-06-01", "percent": "50"},
                    {"name": "a", "due_on": "2025-01-01", "percent": "50"},
                ]
            },
            "due-date order",
        ),
    ],
)
def test_terms_the_domain_refuses_are_422_with_its_reason(
    client: TestClient, world: World, changes: dict[str, Any], reason: str
) -> None:
    body = {"dealer_id": world.dealers["d1"], **_terms(world, **changes)}
    r = client.post("/contracts", json=body, headers=_h(world, "hq"))
    assert r.status_code == 422, r.text
    detail = r.json()["detail"]
    assert detail["code"] == "invalid_contract" and reason in detail["message"]


@pytest.mark.parametrize(
    "changes",
    [
        {"targets": []},
        {"targets": [{"quarter": "2025Q5", "product_line": "x", "amount": "1"}]},
        {"targets": [{"quarter": "0000Q1", "product_line": "x", "amount": "1"}]},
        {"targets": [{"quarter": "2025Q1", "product_line": "  ", "amount": "1"}]},
        {"targets": [{"quarter": "2025Q1", "product_line": "x", "amount": "0"}]},
        {"targets": [{"quarter": "2025Q1", "product_line": "x", "amount": "1.001"}]},
        {"rebate_tiers": [{"min_achievement": "1", "rate": "1.5"}]},
        {"rebate_tiers": [{"min_achievement": "NaN", "rate": "0.1"}]},
        {"period_end": "9999-12-31"},
        {"payment_stages": [{"name": "a\x00", "due_on": "2025-01-01", "percent": "100"}]},
    ],
)
def test_malformed_input_is_422(client: TestClient, world: World, changes: dict[str, Any]) -> None:
    body = {"dealer_id": world.dealers["d1"], **_terms(world, **changes)}
    r = client.post("/contracts", json=body, headers=_h(world, "hq"))
    assert r.status_code == 422, r.text
    assert r.json()["detail"]


def test_list_query_checks(client: TestClient, world: World) -> None:
    h = _h(world, "hq")
    assert client.get("/contracts", params={"sort": "terms"}, headers=h).status_code == 422
    assert client.get("/contracts", params={"status": "open"}, headers=h).status_code == 422
    assert client.get("/contracts/alerts", params={"margin": "1"}, headers=h).status_code == 422
    assert client.get("/contracts/alerts", params={"sort": "x"}, headers=h).status_code == 422
    # Warehouse staff have no business with contracts.
    assert client.get("/contracts", headers=_h(world, "op")).status_code == 403


# -- execution -----------------------------------------------------------------------------
def _at(day: str, hour: int = 10, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(dt.date.fromisoformat(day), dt.time(hour, minute), dt.UTC)


def _order(
    world: World,
    dealer: str,
    lines: dict[str, str],
    status: OrderStatus,
    delivered: dt.datetime | None,
) -> int:
    """An order inserted as the fulfilment flow would leave it: lines, and a timeline whose
    'delivered' event fixes the day it counts on."""
    created = (delivered or _at("2025-01-02")) - dt.timedelta(days=3)
    with unit_of_work(world.url) as s:
        dealer_row = s.get(Dealer, world.dealers[dealer])
        assert dealer_row is not None
        amounts = {k: Decimal(v) for k, v in lines.items()}
        row = SalesOrder(
            dealer_id=dealer_row.id,
            region_id=dealer_row.org_unit.parent_id,
            status=status.value,
            total=sum(amounts.values()),
            created_at=created,
            updated_at=created,
        )
        for name, amount in amounts.items():
            row.lines.append(
                OrderLineRow(
                    product_id=world.products[name],
                    sku=f"{world.p}-{name}",
                    product_class=_line(world, name),
                    qty=1,
                    unit_price=amount,
                    amount=amount,
                )
            )
        steps: list[tuple[str | None, str, dt.datetime]] = [(None, "draft", created)]
        steps.append(("draft", "shipped", created + dt.timedelta(days=1)))
        if delivered is not None:
            steps.append(("shipped", "delivered", delivered))
            # Progress within a state (from == to) must not move the day it counts on.
            steps.append(("delivered", "delivered", delivered + dt.timedelta(days=40)))
            if status is not OrderStatus.DELIVERED:
                steps.append(("delivered", status.value, delivered + dt.timedelta(days=41)))
        for seq, (src, dst, at) in enumerate(steps):
            row.events.append(
                OrderEventRow(seq=seq, from_status=src, to_status=dst, at=at, by="test", reason="")
            )
        s.add(row)
        s.flush()
        return row.id


@pytest.fixture(scope="module")
def executed(client: TestClient, world: World) -> dict[str, Any]:
    """d1's contract in force, and its delivered, returned and undelivered orders of 2025."""
    contract = _approved(client, world, "d1")
    _order(world, "d1", {"pumps": "6000"}, OrderStatus.DELIVERED, _at("2025-02-10"))
    _order(
        world, "d1", {"pumps": "5000", "valves": "1000"}, OrderStatus.INVOICED, _at("2025-03-05")
    )
    _order(world, "d1", {"pumps": "99999"}, OrderStatus.RETURNED, _at("2025-03-10"))
    _order(world, "d1", {"valves": "1500"}, OrderStatus.PAID, _at("2025-03-31", 23, 30))
    _order(world, "d1", {"pumps": "4000"}, OrderStatus.SHIPPED, None)  # on the road: not yet
    _order(world, "d1", {"hoses": "7777"}, OrderStatus.DELIVERED, _at("2025-02-01"))  # no target
    _order(world, "d1", {"pumps": "3000"}, OrderStatus.PAID, _at("2025-04-20"))
    _order(world, "d2", {"pumps": "50000"}, OrderStatus.DELIVERED, _at("2025-02-10"))  # not d1
    _order(world, "d1", {"pumps": "8888"}, OrderStatus.DELIVERED, _at("2024-12-31", 23, 59))
    return contract


def _lines(report: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(ln["quarter"], ln["product_line"].split("-")[-1]): ln for ln in report["lines"]}


def test_execution_counts_delivered_orders_per_quarter_and_line(
    client: TestClient, world: World, executed: dict[str, Any]
) -> None:
    cid = executed["id"]
    r = client.get(
        f"/contracts/{cid}/execution", params={"on": "2025-03-31"}, headers=_h(world, "rm1")
    )
    assert r.status_code == 200, r.text
    report = r.json()
    assert (report["version"], report["as_of"], report["margin"]) == (1, "2025-03-31", "0.10")
    lines = _lines(report)
    pumps, valves, q2 = (
        lines[("2025Q1", "pumps")],
        lines[("2025Q1", "valves")],
        lines[("2025Q2", "pumps")],
    )
    # 6000 + 5000 delivered; the returned 99999, the shipped 4000, d2's order and the
    # delivery of 31 Dec 2024 do not count.
    assert (pumps["actual"], pumps["achievement_pct"], pumps["trailing"]) == (
        "11000.00",
        "110.00",
        False,
    )
    # The 3 % tier (100 % reached, 120 % not): 3 % of all 11000.
    assert (pumps["rebate_rate"], pumps["accrued_rebate"]) == ("0.03", "330.00")
    # Valves: the delivery at 23:30 UTC on 31 March still counts in Q1; 2500 of 5000 trails.
    assert (valves["actual"], valves["expected_to_date"], valves["trailing"]) == (
        "2500.00",
        "5000.00",
        True,
    )
    assert valves["accrued_rebate"] == "0.00"
    assert (q2["actual"], q2["expected_to_date"], q2["trailing"]) == ("0.00", "0.00", False)
    assert (report["total_target"], report["total_actual"], report["accrued_rebate"]) == (
        "27000.00",
        "13500.00",
        "330.00",
    )
    assert [(a["quarter"], a["shortfall"]) for a in report["alerts"]] == [("2025Q1", "2500.00")]

    # Mid Q2 (day 45 of 91): 3000 delivered against 12000 * 45/91 expected: trailing.
    r = client.get(
        f"/contracts/{cid}/execution", params={"on": "2025-05-15"}, headers=_h(world, "du1")
    )
    q2 = _lines(r.json())[("2025Q2", "pumps")]
    assert (q2["actual"], q2["expected_to_date"], q2["trailing"]) == ("3000.00", "5934.07", True)
    # A looser margin (60 %): nobody trails.
    r = client.get(
        f"/contracts/{cid}/execution",
        params={"on": "2025-05-15", "margin": "0.6"},
        headers=_h(world, "du1"),
    )
    assert r.json()["alerts"] == [] and not any(ln["trailing"] for ln in r.json()["lines"])


def test_execution_needs_a_version_in_force(client: TestClient, world: World) -> None:
    c = _create(client, world, "rm1", "d1")
    r = client.get(f"/contracts/{c['id']}/execution", headers=_h(world, "rm1"))
    assert r.status_code == 409 and r.json()["detail"]["code"] == "no_active_version"


def test_alerts_list_trailing_dealers_in_scope_with_a_configurable_margin(
    client: TestClient, world: World, executed: dict[str, Any]
) -> None:
    cid = executed["id"]
    params = {"on": "2025-03-31", "dealer_id": world.dealers["d1"], "size": 100}
    r = client.get("/contracts/alerts", params=params, headers=_h(world, "rm1"))
    assert r.status_code == 200, r.text
    mine = [a for a in r.json()["items"] if a["contract_id"] == cid]
    assert [
        (a["quarter"], a["product_line"], a["expected"], a["actual"], a["shortfall"]) for a in mine
    ] == [("2025Q1", _line(world, "valves"), "5000.00", "2500.00", "2500.00")]
    assert mine[0]["dealer_name"] == "Dealer One" and mine[0]["margin"] == "0.10"
    # The dealer sees its own alert; another region's manager and dealer see none of it.
    for who, sees in (("du1", True), ("hq", True), ("rm2", False), ("du3", False)):
        r = client.get(
            "/contracts/alerts", params={"on": "2025-03-31", "size": 500}, headers=_h(world, who)
        )
        assert r.status_code == 200
        assert any(a["contract_id"] == cid for a in r.json()["items"]) is sees, who
    # 50 % behind is not more than a 60 % margin.
    r = client.get(
        "/contracts/alerts", params={**params, "margin": "0.6"}, headers=_h(world, "rm1")
    )
    assert [a for a in r.json()["items"] if a["contract_id"] == cid] == []
    # Out of the period: the contract is not in force, nothing to alert on.
    r = client.get(
        "/contracts/alerts", params={**params, "on": "2026-02-01"}, headers=_h(world, "rm1")
    )
    assert [a for a in r.json()["items"] if a["contract_id"] == cid] == []


# -- lists and scoping ---------------------------------------------------------------------
def test_list_filters_sorts_and_pages(
    client: TestClient, world: World, executed: dict[str, Any]
) -> None:
    h = _h(world, "hq")
    d1 = world.dealers["d1"]
    r = client.get("/contracts", params={"dealer_id": d1, "size": 100, "sort": "id"}, headers=h)
    assert r.status_code == 200
    items = r.json()["items"]
    assert items and all(c["dealer_id"] == d1 for c in items)
    assert [c["id"] for c in items] == sorted(c["id"] for c in items)
    r = client.get(
        "/contracts",
        params={"dealer_id": d1, "active_on": "2025-06-30", "status": "active", "size": 100},
        headers=h,
    )
    found = r.json()["items"]
    assert executed["id"] in {c["id"] for c in found}
    assert all(c["status"] == "active" and c["active_version"] for c in found)
    r = client.get("/contracts", params={"dealer_id": d1, "active_on": "2026-06-30"}, headers=h)
    assert executed["id"] not in {c["id"] for c in r.json()["items"]}
    r = client.get(
        "/contracts", params={"dealer_id": d1, "status": "draft", "size": 100}, headers=h
    )
    assert all(c["status"] == "draft" for c in r.json()["items"])
    page1 = client.get(
        "/contracts", params={"dealer_id": d1, "size": 1, "sort": "-id"}, headers=h
    ).json()
    page2 = client.get(
        "/contracts", params={"dealer_id": d1, "size": 1, "page": 2, "sort": "-id"}, headers=h
    ).json()
    assert page1["total"] == page2["total"] >= 2
    assert page1["items"][0]["id"] > page2["items"][0]["id"]


def test_every_endpoint_is_404_outside_the_callers_subtree(
    client: TestClient, world: World, executed: dict[str, Any]
) -> None:
    cid = executed["id"]
    # A fresh draft too, so the version steps are tried on something they could act on.
    draft = _create(client, world, "rm1", "d1")["id"]
    reads = [f"/contracts/{cid}", f"/contracts/{cid}/execution", f"/contracts/{draft}"]
    for who in ("rm2", "du3"):
        for path in reads:
            assert client.get(path, headers=_h(world, who)).status_code == 404, (who, path)
    writes = [
        ("post", f"/contracts/{cid}/versions", {**_terms(world), "reason": "x"}),
        ("put", f"/contracts/{draft}/versions/1", _terms(world)),
        ("post", f"/contracts/{draft}/versions/1/submit", None),
        ("post", f"/contracts/{draft}/versions/1/approve", None),
        ("post", f"/contracts/{draft}/versions/1/reject", {"reason": "x"}),
        ("post", "/contracts", {"dealer_id": world.dealers["d1"], **_terms(world)}),
    ]
    for method, path, body in writes:
        r = client.request(method, path, json=body, headers=_h(world, "rm2"))
        assert r.status_code == 404, (path, r.text)
        # Dealer users never write contracts: refused on the role before anything is looked up.
        r = client.request(method, path, json=body, headers=_h(world, "du1"))
        assert r.status_code == 403, (path, r.text)
    # Nothing changed behind the 404s.
    assert client.get(f"/contracts/{draft}", headers=_h(world, "rm1")).json()["status"] == "draft"
    # Missing is the same answer as foreign.
    assert client.get("/contracts/2147483647", headers=_h(world, "hq")).status_code == 404
    assert client.get("/contracts/2147483648", headers=_h(world, "hq")).status_code == 422
    assert _post(client, world, "rm1", f"/contracts/{draft}/versions/9/submit").status_code == 404
    # Lists: only the caller's subtree.
    seen = {
        who: {
            c["id"]
            for c in client.get("/contracts", params={"size": 500}, headers=_h(world, who)).json()[
                "items"
            ]
        }
        for who in ("hq", "rm1", "rm2", "du1", "du3")
    }
    assert {cid, draft} <= seen["hq"] and {cid, draft} <= seen["rm1"] and cid in seen["du1"]
    assert not {cid, draft} & (seen["rm2"] | seen["du3"])
    d3 = _approved(client, world, "d3")["id"]
    assert d3 in {
        c["id"]
        for c in client.get("/contracts", params={"size": 500}, headers=_h(world, "du3")).json()[
            "items"
        ]
    }
    assert d3 not in {
        c["id"]
        for c in client.get("/contracts", params={"size": 500}, headers=_h(world, "rm1")).json()[
            "items"
        ]
    }
