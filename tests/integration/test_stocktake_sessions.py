"""A stocktake end to end on the real broker and database: the scales' counts come in through
the evaluation worker; live accuracy shows the difference; a snapshot proposes the
adjustment, a second person approves it (four eyes), posting writes an audited ADJUST to
the ledger, and accuracy is back to 100% (the evaluator sees the new book and the
discrepancy clears). Scoping: another region's manager gets 404 everywhere."""

from __future__ import annotations

import time
from decimal import Decimal

import psycopg
import pytest
from conftest import Stack, wait_for
from fastapi.testclient import TestClient
from test_alarms_kit import (  # noqa: F401 - fixtures
    Runner,
    World,
    build_world,
    client_fixture,
    publish,
    runner_fixture,
    scan,
    shelf_series,
    wait_alarm,
)

pytestmark = pytest.mark.integration

BINS = {"S1": (10, 0), "S2": (5, 0)}


@pytest.fixture(scope="module")
def world(stack: Stack, client: TestClient) -> World:
    return build_world(stack, client, BINS, prefix="sk")


def _sensed(stack: Stack, world: World) -> dict[str, tuple[int, int | None]]:
    with psycopg.connect(stack.settings.database_url()) as conn:
        rows = conn.execute(
            "SELECT b.code, s.count, s.book FROM bin_sensed s JOIN bin b ON b.id = s.bin_id "
            "WHERE b.warehouse_id = %s AND s.confident",
            (world.wh["w1"],),
        ).fetchall()
    return {code: (count, book) for code, count, book in rows}


def _scanned(stack: Stack, bin_id: int) -> int | None:
    v = stack.scalar("SELECT scanned FROM bin_sensed WHERE bin_id = %s", (bin_id,))
    return int(v) if v is not None else None


def test_snapshot_propose_approve_post_and_accuracy_back_to_100(
    stack: Stack, client: TestClient, world: World, runner: Runner
) -> None:
    t0 = time.time()
    msgs = shelf_series(world, world.shelf, world.sensors["S1"], t0, [8] * 12)
    msgs += shelf_series(world, world.shelf, world.sensors["S2"], t0, [5] * 12, seed=2)
    publish(stack, world.shelf, msgs)
    wait_for(
        lambda: _sensed(stack, world) == {"S1": (8, 10), "S2": (5, 5)},
        timeout=30,
        what="both bins counted",
    )
    disc = wait_alarm(stack, f"bin:{world.key('S1')}", "stock_discrepancy", state="active")
    # A handheld RFID count of S2's tagged cases (each tag once, however often it is read).
    tags = [f"EPC-{world.sku}-{i:04d}" for i in range(5)]
    reads = [
        scan(world, t0 + 1 + i, "count", "S2", kind="rfid", code=tag)
        for i, tag in enumerate(tags * 2)
    ]
    publish(stack, world.scanner, reads)
    wait_for(lambda: _scanned(stack, world.bins["S2"]) == 5, timeout=30, what="S2 RFID count")
    w1 = world.wh["w1"]
    op, op2 = world.headers("op"), world.headers("op2")

    acc = client.get(f"/warehouses/{w1}/accuracy", headers=op).json()
    assert (acc["bins"], acc["bins_exact"], acc["exact_ratio"]) == (2, 1, 0.5)
    assert Decimal(acc["value_of_differences"]) == Decimal("25.00")  # 2 x 12.50
    bins = {b["code"]: b for b in client.get(f"/warehouses/{w1}/bins", headers=op).json()}
    assert (bins["S1"]["book"], bins["S1"]["sensed"], bins["S1"]["difference"]) == (10, 8, -2)

    r = client.post("/stocktakes", json={"warehouse_id": w1}, headers=op)
    assert r.status_code == 201, r.text
    st = r.json()
    sid = st["id"]
    lines = {ln["bin_code"]: ln for ln in st["items"]}
    assert (lines["S1"]["book"], lines["S1"]["sensed"]) == (10, 8)
    assert (lines["S2"]["book"], lines["S2"]["sensed"], lines["S2"]["scanned"]) == (5, 5, 5)
    assert st["status"] == "counting" and st["accuracy"]["bins_exact"] == 1

    r = client.post(f"/stocktakes/{sid}/propose", json={"reason": "weekly count"}, headers=op)
    assert r.status_code == 200, r.text
    proposed = {ln["bin_code"]: ln for ln in r.json()["items"]}
    assert proposed["S1"]["delta"] == -2 and proposed["S1"]["adj_status"] == "proposed"
    assert proposed["S1"]["adj_source"] == "sensed" and proposed["S2"]["delta"] is None
    assert client.post(f"/stocktakes/{sid}/post", headers=op).status_code == 409  # undecided

    r = client.post(f"/stocktakes/{sid}/approve", headers=op)
    assert r.status_code == 409 and r.json()["detail"]["code"] == "four_eyes"
    r = client.post(f"/stocktakes/{sid}/approve", headers=op2)
    assert r.status_code == 200, r.text
    assert {ln["bin_code"]: ln["adj_status"] for ln in r.json()["items"]}["S1"] == "approved"

    r = client.post(f"/stocktakes/{sid}/post", headers=op)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "posted"
    movement = {ln["bin_code"]: ln["movement_id"] for ln in r.json()["items"]}["S1"]
    assert movement is not None
    with psycopg.connect(stack.settings.database_url()) as conn:
        kind, qty, source, user = conn.execute(
            "SELECT kind, qty, source, user_id FROM stock_movement WHERE id = %s", (movement,)
        ).fetchone()  # type: ignore[misc]
        audited = conn.execute(
            "SELECT count(*) FROM audit_log WHERE entity = 'stock_adjustment' AND entity_id = %s",
            (str(movement),),
        ).fetchone()
    assert (kind, qty, source, user) == ("adjust", -2, "stocktake", world.user_ids["op"])
    assert audited == (1,)
    assert client.post(f"/stocktakes/{sid}/post", headers=op).status_code == 409

    acc = client.get(f"/warehouses/{w1}/accuracy", headers=op).json()
    assert (acc["bins_exact"], acc["exact_ratio"]) == (2, 1.0)
    assert Decimal(acc["value_of_differences"]) == 0
    # The evaluator follows the ledger: its book is 8 now and the discrepancy clears.
    wait_for(lambda: _sensed(stack, world)["S1"] == (8, 8), timeout=30, what="the new book")
    publish(
        stack,
        world.shelf,
        shelf_series(world, world.shelf, world.sensors["S1"], t0 + 12, [8] * 5, seed=3),
    )
    wait_alarm(stack, disc["subject"], "stock_discrepancy", state="cleared")

    listed = client.get("/stocktakes", params={"warehouse_id": w1}, headers=op).json()
    assert [s["id"] for s in listed["items"]] == [sid] and listed["items"][0]["status"] == "posted"


def test_hand_counts_cancel_and_bad_input(client: TestClient, world: World) -> None:
    w1 = world.wh["w1"]
    op = world.headers("op")
    st = client.post("/stocktakes", json={"warehouse_id": w1}, headers=op).json()
    line = st["items"][0]
    r = client.post(
        f"/stocktakes/{st['id']}/counts",
        json={"counts": [{"line_id": line["id"], "qty": 3}]},
        headers=op,
    )
    assert r.status_code == 200
    counted = next(ln for ln in r.json()["items"] if ln["id"] == line["id"])
    assert (counted["manual"], counted["counted_by"]) == (3, f"{world.p}-op")
    bad = client.post(
        f"/stocktakes/{st['id']}/counts",
        json={"counts": [{"line_id": 2**40, "qty": 1}]},
        headers=op,
    )
    assert bad.status_code == 422 and bad.json()["detail"]["code"] == "unknown_line"
    r = client.post(f"/stocktakes/{st['id']}/cancel", json={"reason": "wrong day"}, headers=op)
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    assert (
        client.post(f"/stocktakes/{st['id']}/propose", json={"reason": "x"}, headers=op).status_code
        == 409
    )
    other_zone = client.post("/stocktakes", json={"warehouse_id": w1, "zone_id": 2**30}, headers=op)
    assert other_zone.status_code == 422


def test_scoping_404_and_roles(client: TestClient, world: World) -> None:
    w1 = world.wh["w1"]
    st = client.post("/stocktakes", json={"warehouse_id": w1}, headers=world.headers("rm1"))
    assert st.status_code == 201
    sid = st.json()["id"]
    rm2 = world.headers("rm2")
    assert client.get(f"/stocktakes/{sid}", headers=rm2).status_code == 404
    assert client.post(f"/stocktakes/{sid}/approve", headers=rm2).status_code == 404
    assert client.get(f"/warehouses/{w1}/accuracy", headers=rm2).status_code == 404
    assert client.get(f"/warehouses/{w1}/bins", headers=rm2).status_code == 404
    assert client.post("/stocktakes", json={"warehouse_id": w1}, headers=rm2).status_code == 404
    assert sid not in [s["id"] for s in client.get("/stocktakes", headers=rm2).json()["items"]]
    assert client.get(f"/stocktakes/{sid}", headers=world.headers("rm1")).status_code == 200
    assert client.get("/stocktakes", headers=world.headers("du")).status_code == 403
    assert (
        client.get("/stocktakes", params={"sort": "bogus"}, headers=world.headers("hq")).status_code
        == 422
    )
