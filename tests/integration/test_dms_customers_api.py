"""Customers through the API on the real database: leads placed by HQ's region rules (most
specific rule, least loaded dealer, fall-through, manual queue), the lifecycle with 409 for
illegal steps, the interaction log, reassignment, rules CRUD, and 404 across tenants on every
list, detail and change endpoint."""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from conftest import Stack
from fastapi.testclient import TestClient
from httpx import Response

from wayhouse.platform.api.app import create_app
from wayhouse.platform.auth.principal import Principal
from wayhouse.platform.db.base import unit_of_work
from wayhouse.platform.dms import customers_service as svc
from wayhouse.platform.dms import org
from wayhouse.platform.dms.domain.types import OrgLevel, Role
from wayhouse.platform.dms.models import AppUser

pytestmark = pytest.mark.integration
PASSWORD = "customers password 1"
NOW = dt.datetime.now(dt.UTC)


@dataclass
class World:
    p: str  # prefix of codes and usernames
    area: str  # prefix of this run's area codes: other runs' rules never match them
    url: str
    dealers: dict[str, int]
    regions: dict[str, int]
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
    p = f"c{uuid.uuid4().hex[:6]}"
    url = stack.settings.sqlalchemy_url()
    with unit_of_work(url) as s:
        hq = org.create_unit(s, OrgLevel.HQ, f"{p}-HQ", "HQ", None)
        r1 = org.create_unit(s, OrgLevel.REGION, f"{p}-R1", "East", hq)
        r2 = org.create_unit(s, OrgLevel.REGION, f"{p}-R2", "West", hq)
        dealers = {
            "d11": org.create_dealer(s, r1, f"{p}-D11", "Alpha Trading", None),
            "d12": org.create_dealer(s, r1, f"{p}-D12", "Beta Supply", None),
            "d13": org.create_dealer(s, r1, f"{p}-D13", "Gamma Applicant", None),
            "d21": org.create_dealer(s, r2, f"{p}-D21", "Delta Parts", None),
            "d22": org.create_dealer(s, r2, f"{p}-D22", "Epsilon Motors", None),
        }
        for key in ("d11", "d12", "d21", "d22"):
            dealers[key].status = "active"  # d13 stays an applicant: it may not take customers
        users = {
            "hq": org.create_user(s, f"{p}-hq", PASSWORD, Role.HQ_ADMIN, hq),
            "rm1": org.create_user(s, f"{p}-rm1", PASSWORD, Role.REGION_MANAGER, r1),
            "rm2": org.create_user(s, f"{p}-rm2", PASSWORD, Role.REGION_MANAGER, r2),
            "du11": org.create_user(
                s, f"{p}-du11", PASSWORD, Role.DEALER_USER, dealers["d11"].org_unit
            ),
            "du12": org.create_user(
                s, f"{p}-du12", PASSWORD, Role.DEALER_USER, dealers["d12"].org_unit
            ),
            "du21": org.create_user(
                s, f"{p}-du21", PASSWORD, Role.DEALER_USER, dealers["d21"].org_unit
            ),
            "op": org.create_user(s, f"{p}-op", PASSWORD, Role.WAREHOUSE_OPERATOR, hq),
        }
        world = World(
            p,
            p.upper(),
            url,
            {k: d.id for k, d in dealers.items()},
            {"r1": r1.id, "r2": r2.id},
            {},
            {k: _principal(u) for k, u in users.items()},
        )
    for who in world.principals:
        r = client.post("/auth/login", json={"username": f"{p}-{who}", "password": PASSWORD})
        assert r.status_code == 200, r.text
        world.tokens[who] = r.json()["token"]
    return world


def _h(world: World, who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {world.tokens[who]}"}


def _post(client: TestClient, world: World, who: str, path: str, body: Any = None) -> Response:
    return client.post(path, json=body, headers=_h(world, who))


def _create(client: TestClient, world: World, who: str, **body: Any) -> dict[str, Any]:
    r = _post(client, world, who, "/customers", {"name": "Wang Hardware", **body})
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


def _rule(client: TestClient, world: World, prefix: str, region: str, dealers: list[str]) -> int:
    body = {
        "area_prefix": prefix,
        "region_id": world.regions[region],
        "dealer_ids": [world.dealers[d] for d in dealers],
    }
    r = _post(client, world, "hq", "/lead-rules", body)
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def _ids(client: TestClient, world: World, who: str, **params: Any) -> set[int]:
    r = client.get("/customers", params={"size": 500, **params}, headers=_h(world, who))
    assert r.status_code == 200, r.text
    return {c["id"] for c in r.json()["items"]}


# -- lead assignment -----------------------------------------------------------------------
def test_leads_are_placed_by_the_region_rules(client: TestClient, world: World) -> None:
    a, d = world.area, world.dealers
    _rule(client, world, f"{a}-GD", "r1", ["d11", "d12"])
    _rule(client, world, f"{a.lower()}-gd-sz", "r1", ["d12"])  # stored normalised
    _rule(client, world, f"{a}-XJ", "r2", [])  # any active dealer of West
    _rule(client, world, f"{a}-HN", "r1", ["d13"])  # only an applicant: falls through

    def lead(area: str, who: str = "hq") -> dict[str, Any]:
        return _create(client, world, who, area_code=area, source="web")

    sz = lead(f"{a}-GD-SZ-NS")  # the most specific rule wins
    assert (sz["dealer_id"], sz["region_id"], sz["status"]) == (
        d["d12"],
        world.regions["r1"],
        "lead",
    )
    assert sz["area_code"] == f"{a}-GD-SZ-NS" and sz["dealer_name"] == "Beta Supply"
    # Least loaded first (d12 already has a lead), then the rule's listed order on ties.
    got = [lead(f"{a}-GD-GZ")["dealer_id"] for _ in range(3)]
    assert got == [d["d11"], d["d11"], d["d12"]]
    xj = lead(f"{a}-XJ-URC")
    assert xj["dealer_id"] == d["d21"]  # the first of West's active dealers, by id
    assert lead(f"{a}-XJ-KSG")["dealer_id"] == d["d22"]  # then the less loaded one

    queued = lead(f"{a}-HN-CS")  # d13 is not active, and no broader rule applies
    assert queued["dealer_id"] is None and queued["region_id"] is None
    nowhere = lead("ZZ-UNKNOWN")
    assert nowhere["dealer_id"] is None
    # Waiting in HQ's queue: HQ sees them, a region manager does not.
    assert {queued["id"], nowhere["id"]} <= _ids(client, world, "hq", unassigned=True)
    assert client.get(f"/customers/{queued['id']}", headers=_h(world, "rm1")).status_code == 404

    # A region manager's lead is placed by the rules of that region only, else it waits there.
    own = lead(f"{a}-GD-FS", "rm2")
    assert (own["dealer_id"], own["region_id"]) == (None, world.regions["r2"])
    assert own["id"] in _ids(client, world, "rm2", unassigned=True)
    assert client.get(f"/customers/{own['id']}", headers=_h(world, "rm1")).status_code == 404

    # Each placement is in the record with the rule that made it.
    create = sz["history"][0]
    assert create["action"] == "create" and "region rule" in create["reason"]
    assert create["new"]["dealer_id"] == d["d12"]
    trail = client.get(
        "/audit", params={"entity": "customer", "entity_id": str(sz["id"])}, headers=_h(world, "hq")
    )
    assert [e["action"] for e in trail.json()["items"]] == ["create"]

    # A new catch-all rule lets HQ place the queued lead by the rules.
    _rule(client, world, "*", "r2", ["d22"])
    placed = _post(client, world, "hq", f"/customers/{queued['id']}/assign", {"reason": "new rule"})
    assert placed.status_code == 200, placed.text
    assert placed.json()["dealer_id"] == d["d22"]
    assert placed.json()["history"][-1]["action"] == "assign"
    assert "region rule *" in placed.json()["history"][-1]["reason"]
    assert client.get(f"/customers/{queued['id']}", headers=_h(world, "du21")).status_code == 404
    assert client.get(f"/customers/{queued['id']}", headers=_h(world, "rm2")).status_code == 200


def test_concurrent_leads_spread_evenly(client: TestClient, world: World) -> None:
    """Leads created at the same moment still see each other's assignments (one at a time)."""
    a = world.area
    _rule(client, world, f"{a}-CQ", "r1", ["d11", "d12"])
    before = Counter(
        c["dealer_id"]
        for c in client.get(
            "/customers", params={"status": "lead", "size": 500}, headers=_h(world, "rm1")
        ).json()["items"]
    )
    got: list[int | None] = []
    errors: list[BaseException] = []

    def one() -> None:
        try:
            with unit_of_work(world.url) as s:
                row = svc.create_customer(
                    s, world.principals["hq"], svc.CustomerData("Rush", area_code=f"{a}-CQ-1")
                )
                got.append(row.dealer_id)
        except BaseException as exc:  # surfaced below: a thread cannot fail the test itself
            errors.append(exc)

    threads = [threading.Thread(target=one) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    # One at a time, each lead goes to the less loaded dealer (d11 on ties): the same counts
    # as assigning the eight in a row. Racing assignments would both take the lighter one.
    d11, d12 = world.dealers["d11"], world.dealers["d12"]
    expected = Counter({d11: before[d11], d12: before[d12]})
    for _ in range(8):
        expected[min((d11, d12), key=lambda x: (expected[x], x != d11))] += 1
    after = before + Counter(got)
    assert set(got) <= {d11, d12}
    assert (after[d11], after[d12]) == (expected[d11], expected[d12])


# -- lifecycle -----------------------------------------------------------------------------
def test_lifecycle_moves_one_step_at_a_time(client: TestClient, world: World) -> None:
    c = _create(client, world, "du11", phone="+86 138 0000 0000", lat=31.2, lon=121.5)
    assert c["dealer_id"] == world.dealers["d11"]  # a dealer user's customer is its own
    cid = c["id"]

    def step(to: str, **kw: str) -> Response:
        return _post(client, world, "du11", f"/customers/{cid}/transition", {"to": to, **kw})

    early = step("customer", order_ref="SO-1")
    assert early.status_code == 409
    assert early.json()["detail"]["code"] == "illegal_transition"
    assert "qualify" in early.json()["detail"]["message"]
    ok = step("prospect", reason="budget confirmed")
    assert ok.status_code == 200 and ok.json()["status"] == "prospect"
    again = step("prospect")
    assert again.status_code == 409 and "prospect to prospect" in again.json()["detail"]["message"]
    skip = step("repeat_customer", order_ref="SO-1")
    assert skip.status_code == 409
    back = step("lead")
    assert back.status_code == 409
    no_ref = step("customer")
    assert no_ref.status_code == 422 and no_ref.json()["detail"]["code"] == "order_ref_required"
    assert step("customer", order_ref="SO-1").json()["purchases"] == 1
    final = step("repeat_customer", order_ref="SO-2")
    assert final.status_code == 200
    body = final.json()
    assert (body["status"], body["purchases"]) == ("repeat_customer", 2)
    assert step("repeat_customer", order_ref="SO-3").status_code == 409
    assert [(h["action"], (h["new"] or {}).get("status")) for h in body["history"]] == [
        ("create", "lead"),
        ("transition", "prospect"),
        ("transition", "customer"),
        ("transition", "repeat_customer"),
    ]
    assert body["history"][1]["reason"] == "budget confirmed"
    assert body["history"][2]["reason"] == "order SO-1"


# -- interactions --------------------------------------------------------------------------
def test_interactions_are_logged_in_time_order(client: TestClient, world: World) -> None:
    cid = _create(client, world, "du11")["id"]
    path = f"/customers/{cid}/interactions"
    earlier = (NOW - dt.timedelta(days=2)).isoformat()
    r1 = _post(client, world, "du11", path, {"kind": "visit", "summary": "showroom visit"})
    assert r1.status_code == 201, r1.text
    assert r1.json()["by_username"] == f"{world.p}-du11"
    r2 = _post(
        client,
        world,
        "du11",
        path,
        {"kind": "call", "summary": "first call", "next_step": "send quote", "at": earlier},
    )
    assert r2.status_code == 201, r2.text
    log = client.get(path, headers=_h(world, "du11")).json()
    assert log["total"] == 2
    assert [i["summary"] for i in log["items"]] == ["showroom visit", "first call"]
    oldest_first = client.get(path, params={"sort": "at"}, headers=_h(world, "du11")).json()
    assert [i["kind"] for i in oldest_first["items"]] == ["call", "visit"]
    calls = client.get(path, params={"kind": "call"}, headers=_h(world, "rm1")).json()
    assert [i["next_step"] for i in calls["items"]] == ["send quote"]
    # The latest contact is the newest one, not the last one typed in.
    detail = client.get(f"/customers/{cid}", headers=_h(world, "du11")).json()
    latest = dt.datetime.fromisoformat(detail["last_interaction_at"])
    assert latest == dt.datetime.fromisoformat(r1.json()["at"])

    future = (NOW + dt.timedelta(days=1)).isoformat()
    for bad in (
        {"kind": "call", "summary": "tomorrow", "at": future},
        {"kind": "call", "summary": "   "},
        {"kind": "call", "summary": ""},
        {"kind": "fax", "summary": "old school"},
        {"kind": "call", "summary": "naive", "at": "2025-05-01T10:00:00"},
        {"kind": "call", "summary": "nul \x00 byte"},
    ):
        r = _post(client, world, "du11", path, bad)
        assert r.status_code == 422, (bad, r.text)
        assert r.json()["detail"]
    assert client.get(path, headers=_h(world, "du11")).json()["total"] == 2  # nothing half-logged


# -- reassignment --------------------------------------------------------------------------
def test_reassignment_by_managers_within_their_scope(client: TestClient, world: World) -> None:
    d = world.dealers
    cid = _create(client, world, "du11")["id"]
    path = f"/customers/{cid}/assign"
    assert (
        _post(client, world, "du11", path, {"dealer_id": d["d12"], "reason": "x"}).status_code
        == 403
    )
    # A dealer of another region is out of the manager's reach: not found.
    r = _post(client, world, "rm1", path, {"dealer_id": d["d21"], "reason": "closer"})
    assert r.status_code == 404
    r = _post(client, world, "rm1", path, {"dealer_id": d["d13"], "reason": "new dealer"})
    assert r.status_code == 409 and r.json()["detail"]["code"] == "dealer_inactive"
    same = _post(client, world, "rm1", path, {"dealer_id": d["d11"], "reason": "same"})
    assert same.status_code == 409 and same.json()["detail"]["code"] == "same_owner"
    assert _post(client, world, "rm1", path, {"dealer_id": d["d12"]}).status_code == 422
    moved = _post(client, world, "rm1", path, {"dealer_id": d["d12"], "reason": "moved town"})
    assert moved.status_code == 200, moved.text
    assert moved.json()["dealer_id"] == d["d12"]
    last = moved.json()["history"][-1]
    assert last["action"] == "assign" and last["reason"] == "moved town"
    assert (last["old"]["dealer_id"], last["new"]["dealer_id"]) == (d["d11"], d["d12"])
    # The old dealer lost it, the new one has it.
    assert client.get(f"/customers/{cid}", headers=_h(world, "du11")).status_code == 404
    assert client.get(f"/customers/{cid}", headers=_h(world, "du12")).status_code == 200
    # HQ may move it across regions; then the first region's manager no longer sees it.
    r = _post(client, world, "hq", path, {"dealer_id": d["d21"], "reason": "relocated"})
    assert r.status_code == 200 and r.json()["region_id"] == world.regions["r2"]
    assert client.get(f"/customers/{cid}", headers=_h(world, "rm1")).status_code == 404


# -- tenancy -------------------------------------------------------------------------------
def _calls(cid: int, world: World) -> list[tuple[str, str, Any]]:
    return [
        ("GET", f"/customers/{cid}", None),
        ("PATCH", f"/customers/{cid}", {"phone": "+86 10 1234"}),
        ("GET", f"/customers/{cid}/interactions", None),
        ("POST", f"/customers/{cid}/interactions", {"kind": "note", "summary": "peek"}),
        ("POST", f"/customers/{cid}/transition", {"to": "prospect"}),
        ("POST", f"/customers/{cid}/assign", {"dealer_id": world.dealers["d12"], "reason": "x"}),
    ]


@pytest.mark.parametrize(
    ("owner", "who"),
    [
        ("du11", "du12"),  # another dealer of the same region
        ("du11", "du21"),  # a dealer of another region
        ("du11", "rm2"),  # the manager of another region
        ("du21", "rm1"),
    ],
)
def test_another_tenants_customer_is_not_found_everywhere(
    client: TestClient, world: World, owner: str, who: str
) -> None:
    c = _create(client, world, owner, name=f"Private {owner}")
    cid = c["id"]
    assert cid not in _ids(client, world, who)
    assert cid not in _ids(client, world, who, dealer_id=c["dealer_id"])
    assert cid not in _ids(client, world, who, q=f"Private {owner}")
    missing = _calls(999_999_999, world)
    for (method, path, body), (_, gone, _) in zip(_calls(cid, world), missing, strict=True):
        r = client.request(method, path, json=body, headers=_h(world, who))
        if path.endswith("/assign") and who.startswith("du"):
            assert r.status_code == 403, (method, path)  # dealers never reassign
            continue
        assert r.status_code == 404, (method, path, r.text)
        # Exactly what a customer that does not exist answers.
        absent = client.request(method, gone, json=body, headers=_h(world, who))
        assert absent.status_code == 404 and absent.json()["detail"]["code"] == "not_found"
    # And nothing changed behind the 404s.
    after = client.get(f"/customers/{cid}", headers=_h(world, owner)).json()
    assert (after["status"], after["phone"], after["dealer_id"]) == (
        "lead",
        None,
        c["dealer_id"],
    )
    log = client.get(f"/customers/{cid}/interactions", headers=_h(world, owner)).json()
    assert log["total"] == 0


def test_each_role_lists_its_subtree(client: TestClient, world: World) -> None:
    c11 = _create(client, world, "du11", name="Scope A")["id"]
    c12 = _create(client, world, "du12", name="Scope B")["id"]
    c21 = _create(client, world, "du21", name="Scope C")["id"]
    mine = {c11, c12, c21}
    assert _ids(client, world, "hq", q="Scope") & mine == mine
    assert _ids(client, world, "rm1", q="Scope") & mine == {c11, c12}
    assert _ids(client, world, "rm2", q="Scope") & mine == {c21}
    assert _ids(client, world, "du11", q="Scope") & mine == {c11}
    assert _ids(client, world, "du21", q="Scope") & mine == {c21}
    # A dealer user lists only its own, whatever the filter asks for.
    assert _ids(client, world, "du11", dealer_id=world.dealers["d12"]) == set()
    # Roles outside the CRM may not create customers.
    assert _post(client, world, "op", "/customers", {"name": "x"}).status_code == 403
    # A dealer user may not create a customer for another dealer.
    r = _post(client, world, "du11", "/customers", {"name": "x", "dealer_id": world.dealers["d12"]})
    assert r.status_code == 404


# -- edits, filters, paging, bad input -----------------------------------------------------
def test_edit_search_sort_and_page(client: TestClient, world: World) -> None:
    tag = f"{world.p}pg"
    ids = [
        _create(client, world, "du12", name=f"{tag} {n}", code=f"{tag}-{n}")["id"]
        for n in ("c", "a", "b")
    ]
    dup = _post(client, world, "du12", "/customers", {"name": "dup", "code": f"{tag}-a"})
    assert dup.status_code == 409 and dup.json()["detail"]["code"] == "duplicate_code"
    r = client.patch(
        f"/customers/{ids[0]}",
        json={"name": f"{tag} z", "lat": 45.7, "lon": 4.9, "address": "1 Rue du Port"},
        headers=_h(world, "du12"),
    )
    assert r.status_code == 200, r.text
    assert (r.json()["name"], r.json()["lat"], r.json()["lon"]) == (f"{tag} z", 45.7, 4.9)
    assert r.json()["history"][-1]["old"]["name"] == f"{tag} c"
    h = _h(world, "rm1")
    page1 = client.get("/customers", params={"q": tag, "sort": "name", "size": 2}, headers=h)
    page2 = client.get(
        "/customers", params={"q": tag, "sort": "name", "size": 2, "page": 2}, headers=h
    )
    assert page1.json()["total"] == 3
    names = [c["name"] for c in page1.json()["items"] + page2.json()["items"]]
    assert names == [f"{tag} a", f"{tag} b", f"{tag} z"]
    desc = client.get("/customers", params={"q": tag, "sort": "-name"}, headers=h).json()
    assert [c["name"] for c in desc["items"]] == names[::-1]
    by_code = client.get("/customers", params={"q": f"{tag}-b"}, headers=h).json()
    assert [c["id"] for c in by_code["items"]] == [ids[2]]
    # '%' and '_' are searched for literally.
    assert client.get("/customers", params={"q": "%"}, headers=h).json()["total"] == 0
    _post(client, world, "du12", f"/customers/{ids[1]}/transition", {"to": "prospect"})
    prospects = client.get(
        "/customers", params={"q": tag, "status": ["prospect", "customer"]}, headers=h
    ).json()
    assert [c["id"] for c in prospects["items"]] == [ids[1]]


@pytest.mark.parametrize(
    ("method", "path", "body", "params"),
    [
        ("GET", "/customers", None, {"sort": "password"}),
        ("GET", "/customers", None, {"status": "bogus"}),
        ("GET", "/customers", None, {"size": 0}),
        ("GET", "/customers", None, {"page": 0}),
        ("GET", "/customers", None, {"dealer_id": 2**31}),
        ("GET", "/customers", None, {"q": "x" * 101}),
        ("GET", "/customers/0", None, None),
        ("GET", "/customers/1/interactions", None, {"sort": "summary"}),
        ("GET", "/lead-rules", None, {"sort": "dealer_ids"}),
        ("POST", "/customers", {"name": ""}, None),
        ("POST", "/customers", {"name": "   "}, None),
        ("POST", "/customers", {"name": "x", "lat": 31.0}, None),
        ("POST", "/customers", {"name": "x", "lat": 91, "lon": 0}, None),
        ("POST", "/customers", {"name": "x", "area_code": "*"}, None),
        ("POST", "/customers", {"name": "x", "email": "not an email"}, None),
        ("POST", "/customers", {"name": "x", "dealer_id": 0}, None),
        ("POST", "/lead-rules", {"area_prefix": "", "region_id": 1}, None),
        ("POST", "/lead-rules", {"area_prefix": "CN", "region_id": 1, "dealer_ids": [0]}, None),
    ],
)
def test_bad_input_gets_a_422_with_a_reason(
    client: TestClient, world: World, method: str, path: str, body: Any, params: Any
) -> None:
    r = client.request(method, path, json=body, params=params, headers=_h(world, "hq"))
    assert r.status_code == 422, r.text
    assert r.json()["detail"]


# -- lead rules ----------------------------------------------------------------------------
def test_lead_rules_are_hq_only_validated_and_audited(client: TestClient, world: World) -> None:
    a, d, hq = world.area, world.dealers, _h(world, "hq")
    for who in ("rm1", "du11"):
        assert client.get("/lead-rules", headers=_h(world, who)).status_code == 403
        assert _post(client, world, who, "/lead-rules", {}).status_code in (403, 422)
    body = {"area_prefix": f"{a}-SH", "region_id": world.regions["r1"], "dealer_ids": [d["d11"]]}
    created = _post(client, world, "hq", "/lead-rules", body)
    assert created.status_code == 201, created.text
    rid = created.json()["id"]
    dup = _post(client, world, "hq", "/lead-rules", body)
    assert dup.status_code == 409 and dup.json()["detail"]["code"] == "duplicate_rule"
    stray = _post(client, world, "hq", "/lead-rules", body | {"dealer_ids": [d["d21"]]})
    assert stray.status_code == 422 and stray.json()["detail"]["code"] == "invalid_rule"
    twice = _post(client, world, "hq", "/lead-rules", body | {"dealer_ids": [d["d11"], d["d11"]]})
    assert twice.status_code == 422
    district = _post(client, world, "hq", "/lead-rules", body | {"region_id": d["d11"]})
    assert district.status_code == 422 and district.json()["detail"]["code"] == "unknown_region"

    put = client.put(
        f"/lead-rules/{rid}",
        json=body | {"dealer_ids": [d["d12"], d["d11"]], "note": "Shanghai desk"},
        headers=hq,
    )
    assert put.status_code == 200, put.text
    assert put.json()["dealer_ids"] == [d["d12"], d["d11"]]
    listed = client.get(
        "/lead-rules", params={"region_id": world.regions["r1"], "size": 100}, headers=hq
    ).json()
    assert rid in {r["id"] for r in listed["items"]}
    # (Created by the region's manager: only East's rules apply, so no catch-all elsewhere.)
    assert _create(client, world, "rm1", area_code=f"{a}-SH-PD")["dealer_id"] in (
        d["d12"],
        d["d11"],
    )
    off = client.put(f"/lead-rules/{rid}", json=body | {"active": False}, headers=hq)
    assert off.status_code == 200 and off.json()["active"] is False
    inactive = client.get("/lead-rules", params={"active": False}, headers=hq).json()
    assert rid in {r["id"] for r in inactive["items"]}
    # An inactive rule places nothing: the lead waits in the region's queue.
    queued = _create(client, world, "rm1", area_code=f"{a}-SH-PD")
    assert (queued["dealer_id"], queued["region_id"]) == (None, world.regions["r1"])

    assert client.delete(f"/lead-rules/{rid}", headers=hq).status_code == 204
    assert client.get(f"/lead-rules/{rid}", headers=hq).status_code == 404
    assert client.delete(f"/lead-rules/{rid}", headers=hq).status_code == 404
    trail = client.get(
        "/audit", params={"entity": "lead_rule", "entity_id": str(rid)}, headers=hq
    ).json()
    assert [e["action"] for e in trail["items"]] == ["delete", "update", "update", "create"]


def test_another_hqs_rules_are_not_found(client: TestClient, world: World) -> None:
    other = f"x{uuid.uuid4().hex[:6]}"
    with unit_of_work(world.url) as s:
        hq2 = org.create_unit(s, OrgLevel.HQ, f"{other}-HQ", "HQ 2", None)
        org.create_unit(s, OrgLevel.REGION, f"{other}-R", "Far", hq2)
        org.create_user(s, f"{other}-hq", PASSWORD, Role.HQ_ADMIN, hq2)
    token = client.post(
        "/auth/login", json={"username": f"{other}-hq", "password": PASSWORD}
    ).json()["token"]
    h2 = {"Authorization": f"Bearer {token}"}
    rid = _rule(client, world, f"{world.area}-ZJ", "r1", [])
    assert client.get(f"/lead-rules/{rid}", headers=h2).status_code == 404
    foreign = {"area_prefix": "CN", "region_id": world.regions["r1"]}
    assert client.put(f"/lead-rules/{rid}", json=foreign, headers=h2).status_code == 404
    assert client.delete(f"/lead-rules/{rid}", headers=h2).status_code == 404
    assert rid not in {r["id"] for r in client.get("/lead-rules", headers=h2).json()["items"]}
    # Nor do they place the other HQ's leads, and its customers are not found here.
    lead = client.post(
        "/customers", json={"name": "Far lead", "area_code": f"{world.area}-ZJ"}, headers=h2
    ).json()
    assert lead["dealer_id"] is None
    assert client.get(f"/customers/{lead['id']}", headers=_h(world, "hq")).status_code == 404
