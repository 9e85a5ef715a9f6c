"""Tracking through the API on the real database: proof of delivery at a plan's stop (who may,
what it refuses), customer tracking links (who may issue them, what the public view shows and
how it refuses tampered, malformed, expired and revoked tokens), the links list's scoping and
the live fleet's list rules."""

from __future__ import annotations

import datetime as dt
import time

import psycopg
import pytest
from conftest import Stack
from fastapi.testclient import TestClient
from test_tracking_world import Day, build_day, client  # noqa: F401

from wayhouse.platform.tracking.service import links

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def day(stack: Stack, client: TestClient) -> Day:  # noqa: F811
    return build_day(stack, client)


@pytest.fixture(scope="module")
def proof_day(stack: Stack, client: TestClient) -> Day:  # noqa: F811
    return build_day(stack, client)


def _proof(client: TestClient, d: Day, order_id: int, who: str, **body: str):  # type: ignore[no-untyped-def]  # noqa: F811
    return client.post(
        f"/dispatch/plans/{d.plan}/stops/{order_id}/proof",
        json={"kind": "scan", "reference": "QR-123", **body},
        headers=d.h(who),
    )


def test_proof_of_delivery_by_the_routes_driver_and_what_it_refuses(
    client: TestClient,  # noqa: F811
    proof_day: Day,
) -> None:
    d = proof_day
    first, second, third = d.sequence
    assert _proof(client, d, first, "du0").status_code == 403
    assert _proof(client, d, first, "op").status_code == 403
    assert _proof(client, d, first, "driver2").status_code == 404  # not this driver's route
    r = client.post(
        f"/dispatch/plans/999999/stops/{first}/proof",
        json={"kind": "scan", "reference": "x"},
        headers=d.h("disp"),
    )
    assert r.status_code == 404 and r.json()["detail"]["code"] == "not_found"
    assert _proof(client, d, 999_999, "disp").status_code == 404
    assert _proof(client, d, first, "driver", kind="photo").status_code == 422
    assert _proof(client, d, first, "driver", reference="").status_code == 422
    assert _proof(client, d, first, "driver", reference="x" * 201).status_code == 422

    r = _proof(client, d, first, "driver", kind="signature", reference="SIG-9")
    assert r.status_code == 200, r.text
    assert r.json()["stop_status"] == "delivered" and r.json()["order_status"] == "delivered"
    assert r.json()["actual_arrival"] is not None  # no geofence saw it: the driver's word
    again = _proof(client, d, first, "driver")
    assert again.status_code == 409 and again.json()["detail"]["code"] == "illegal_transition"
    plan = client.get(f"/dispatch/plans/{d.plan}", headers=d.h("disp")).json()
    assert {s["order_id"]: s["status"] for s in plan["stops"]}[first] == "delivered"

    # Its only shipment already delivered by hand: nothing left on its way to prove.
    (shipment,) = client.get(f"/orders/{second}/shipments", headers=d.h("hq")).json()
    r = client.post(
        f"/shipments/{shipment['id']}/deliver",
        json={"kind": "signature", "reference": "SIG-HAND"},
        headers=d.h("hq"),
    )
    assert r.status_code == 200
    nothing = _proof(client, d, second, "disp")
    assert nothing.status_code == 409 and nothing.json()["detail"]["code"] == "nothing_shipped"

    by_hq = _proof(client, d, third, "hq")
    assert by_hq.status_code == 200 and by_hq.json()["order_status"] == "delivered"


def _issue(client: TestClient, d: Day, order_id: int, who: str, **extra: float):  # type: ignore[no-untyped-def]  # noqa: F811
    return client.post("/tracking/links", json={"order_id": order_id, **extra}, headers=d.h(who))


def test_who_may_issue_a_tracking_link(client: TestClient, day: Day) -> None:  # noqa: F811
    a, b = day.orders[0], day.orders[1]
    own = _issue(client, day, a, "du0")
    assert own.status_code == 201, own.text
    body = own.json()
    assert body["order_id"] == a and body["url"].endswith(f"/track/{body['token']}")
    assert body["api_url"] == f"/public/tracking/{body['token']}"
    assert _issue(client, day, b, "du0").status_code == 404  # another dealer's order
    assert _issue(client, day, a, "rm").status_code == 403
    assert _issue(client, day, a, "op").status_code == 403
    assert _issue(client, day, a, "driver").status_code == 403
    assert _issue(client, day, b, "disp").status_code == 201
    assert _issue(client, day, b, "hq").status_code == 201
    assert _issue(client, day, 999_999, "disp").status_code == 404
    assert _issue(client, day, a, "disp", ttl_hours=0).status_code == 422
    src = client.get(f"/orders/{a}", headers=day.h("hq")).json()
    draft = client.post(
        "/orders",
        json={
            "dealer_id": src["dealer_id"],
            "lines": [{"product_id": src["lines"][0]["product_id"], "qty": 1}],
        },
        headers=day.h("hq"),
    )
    assert draft.status_code == 201 and draft.json()["status"] == "draft", draft.text
    r = _issue(client, day, draft.json()["id"], "disp")
    assert r.status_code == 409 and r.json()["detail"]["code"] == "not_trackable"


def _tamper(token: str, where: int) -> str:
    c = token[where]
    return token[:where] + ("A" if c != "A" else "B") + token[where + 1 :]


def test_a_link_shows_only_its_delivery_and_refuses_bad_tokens(
    stack: Stack,
    client: TestClient,  # noqa: F811
    day: Day,
) -> None:
    a, b = day.orders[0], day.orders[1]
    ta = _issue(client, day, a, "disp").json()["token"]
    tb = _issue(client, day, b, "disp").json()["token"]
    plan = client.get(f"/dispatch/plans/{day.plan}", headers=day.h("disp")).json()
    planned = {s["order_id"]: s["planned_arrival"] for s in plan["stops"]}
    va = client.get(f"/public/tracking/{ta}")
    vb = client.get(f"/public/tracking/{tb}")
    assert va.status_code == vb.status_code == 200
    for view, order in ((va.json(), a), (vb.json(), b)):
        assert set(view) == {"status", "eta", "truck", "expires_at"}
        assert view["status"] == "scheduled" and view["truck"] is None  # no fix yet
        assert dt.datetime.fromisoformat(view["eta"]) == dt.datetime.fromisoformat(planned[order])
    assert va.json()["eta"] != vb.json()["eta"]
    for name in ("Dealer", day.p, "plan", "order"):
        assert name not in va.text

    def refused(token: str) -> tuple[int, str]:
        r = client.get(f"/public/tracking/{token}")
        return r.status_code, r.json()["detail"]["code"]

    payload_a, mac_a = ta.split(".")
    payload_b, mac_b = tb.split(".")
    assert refused(_tamper(ta, 3)) == (403, "tampered")
    assert refused(_tamper(ta, len(ta) - 5)) == (403, "tampered")
    assert refused(f"{payload_b}.{mac_a}") == (403, "tampered")  # B's delivery, A's signature
    assert refused(f"{payload_a}.{mac_b}") == (403, "tampered")
    assert refused("not-a-token") == (400, "malformed")
    assert refused(f"{payload_a}.{mac_a}.x") == (400, "malformed")
    assert refused(f"{payload_a}.{mac_a[:-2]}") == (400, "malformed")
    assert refused("%00%01") == (400, "malformed")
    signer = links(stack.settings)
    old = signer.issue("no-such-link", now=time.time(), ttl_s=600)
    assert refused(old) == (404, "unknown")
    with psycopg.connect(stack.settings.database_url(), autocommit=True) as conn:
        row = conn.execute(
            "SELECT id, token_id FROM tracking_link WHERE order_id = %s ORDER BY id DESC LIMIT 1",
            (a,),
        ).fetchone()
        assert row is not None
        expired = signer.issue(row[1], now=time.time() - 7200, ttl_s=3600)
        assert refused(expired) == (410, "expired")
        conn.execute(
            "UPDATE tracking_link SET expires_at = now() - interval '1 second' WHERE id = %s",
            (row[0],),
        )
    assert refused(ta) == (410, "expired")  # the link's own expiry, whatever the token says

    (link_b,) = [
        link
        for link in client.get(
            "/tracking/links",
            params={"order_id": b, "sort": "-id", "size": 1},
            headers=day.h("disp"),
        ).json()["items"]
    ]
    r = client.post(f"/tracking/links/{link_b['id']}/revoke", headers=day.h("disp"))
    assert r.status_code == 200 and r.json()["revoked_at"] is not None
    assert refused(tb) == (410, "revoked")


def test_links_are_listed_within_the_callers_scope(client: TestClient, day: Day) -> None:  # noqa: F811
    a, b = day.orders[0], day.orders[1]
    _issue(client, day, a, "du0")
    _issue(client, day, b, "du1")
    mine = client.get("/tracking/links", params={"size": 500}, headers=day.h("du0")).json()
    assert mine["items"] and {link["order_id"] for link in mine["items"]} == {a}
    theirs = client.get("/tracking/links", params={"size": 500}, headers=day.h("du1")).json()
    assert {link["order_id"] for link in theirs["items"]} == {b}
    assert "token" not in mine["items"][0]
    all_b = client.get("/tracking/links", params={"order_id": b}, headers=day.h("disp")).json()
    assert all_b["total"] >= 1 and {link["order_id"] for link in all_b["items"]} == {b}
    page = client.get(
        "/tracking/links", params={"size": 1, "sort": "-created_at"}, headers=day.h("hq")
    ).json()
    assert len(page["items"]) == 1 and page["total"] >= 2
    assert (
        client.get("/tracking/links", params={"sort": "token"}, headers=day.h("hq")).status_code
        == 422
    )
    assert client.get("/tracking/links", headers=day.h("rm")).status_code == 403
    link_a = mine["items"][0]["id"]
    revoke = client.post(f"/tracking/links/{link_a}/revoke", headers=day.h("du1"))
    assert revoke.status_code == 404  # another dealer's link does not exist for them
    live = client.get(
        "/tracking/links", params={"active": "true", "size": 500}, headers=day.h("du0")
    ).json()
    assert link_a in {link["id"] for link in live["items"]}


def test_the_live_fleet_list_has_its_rules(client: TestClient, day: Day) -> None:  # noqa: F811
    h = day.h("disp")
    r = client.get("/tracking/trucks", params={"q": day.p}, headers=h)
    assert r.status_code == 200
    (truck,) = r.json()["items"]
    assert truck["plan_id"] == day.plan and truck["stops"] == 3 and truck["lat"] is None
    assert client.get("/tracking/trucks", params={"sort": "speed"}, headers=h).status_code == 422
    assert client.get("/tracking/trucks", params={"size": 501}, headers=h).status_code == 422
    assert client.get("/tracking/trucks", headers=day.h("du0")).status_code == 403
    assert client.get("/tracking/trucks", headers=day.h("driver")).status_code == 403
    by_code = client.get("/tracking/trucks", params={"sort": "-code", "size": 500}, headers=h)
    codes = [t["code"] for t in by_code.json()["items"]]
    assert codes == sorted(codes, reverse=True)
    nobody = client.get("/tracking/trucks", params={"q": "%_nothing"}, headers=h).json()
    assert nobody == {"items": [], "total": 0, "page": 1, "size": 50}
