"""Alarms through the API on the real broker and database: acknowledge and clear go through
the engine's ordered command path (applied by the evaluation worker, refused with its reason,
queued while it is down); scoping answers 404 outside the caller's subtree; thresholds are
edited by HQ only; webhooks are signed, retried after a 500 and logged; the websocket pushes
new transitions to the users who may see them."""

from __future__ import annotations

import contextlib
import json
import queue
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest
from conftest import Stack, free_port, wait_for
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect
from test_alarms_kit import (  # noqa: F401 - fixtures
    Runner,
    World,
    build_world,
    client_fixture,
    publish,
    runner_fixture,
    shelf_series,
    status,
    wait_alarm,
)

from wayhouse.platform.alarms.webhooks import (
    DELIVERY_HEADER,
    SIGNATURE_HEADER,
    RetryPolicy,
    WebhookDispatcher,
    verify,
)

pytestmark = pytest.mark.integration

BINS = {
    "ACK": (10, 0),  # a momentary weight loss: acknowledged, then cleared by hand
    "COND": (10, 0),  # a discrepancy that holds: clearing it needs force
    "HOOK": (2, 0),  # a weight gain for the webhook
    "WS": (10, 0),  # a loss while a websocket listens
    "Z1": (10, 0),  # warehouse 2 (region 2): a loss for the other region's socket
}


@pytest.fixture(scope="module")
def world(stack: Stack, client: TestClient) -> World:
    return build_world(stack, client, BINS, prefix="aa")


def _loss(stack: Stack, world: World, code: str, seed: int = 1) -> dict[str, Any]:
    """Publish 10 units, then 8 (no pick scan); wait for the weight loss alarm."""
    agent = world.shelf2 if code.startswith("Z") else world.shelf
    t0 = time.time()
    publish(
        stack,
        agent,
        shelf_series(world, agent, world.sensors[code], t0, [10] * 10 + [8] * 10, seed=seed),
    )
    return wait_alarm(stack, f"bin:{world.key(code)}", "weight_loss_unexplained")


def test_acknowledge_then_clear_by_hand_through_the_engine(
    stack: Stack, client: TestClient, world: World, runner: Runner
) -> None:
    a = _loss(stack, world, "ACK")
    r = client.post(
        f"/alarms/{a['id']}/acknowledge", json={"note": "looking"}, headers=world.headers("op")
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["state"] == "acknowledged" and body["acknowledged_by"] == f"{world.p}-op"
    assert [t["action"] for t in body["transitions"]] == ["raise", "acknowledge"]
    assert body["commands"][0]["outcome"] == "applied"
    # Twice is illegal: 409 with the reason.
    r = client.post(f"/alarms/{a['id']}/acknowledge", headers=world.headers("op"))
    assert r.status_code == 409 and r.json()["detail"]["code"] == "illegal_transition"
    r = client.post(
        f"/alarms/{a['id']}/clear",
        json={"reason": "found on the next shelf"},
        headers=world.headers("op2"),
    )
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "cleared" and r.json()["cleared_by"] == f"{world.p}-op2"
    assert r.json()["clear_reason"] == "found on the next shelf"
    r = client.post(
        f"/alarms/{a['id']}/clear", json={"reason": "again"}, headers=world.headers("op")
    )
    assert r.status_code == 409
    # A clear needs a reason: 422.
    assert (
        client.post(
            f"/alarms/{a['id']}/clear", json={"reason": ""}, headers=world.headers("op")
        ).status_code
        == 422
    )


def test_the_engine_refuses_to_clear_a_condition_that_holds_unless_forced(
    stack: Stack, client: TestClient, world: World, runner: Runner
) -> None:
    t0 = time.time()
    cell = world.sensors["COND"]
    publish(stack, world.shelf, shelf_series(world, world.shelf, cell, t0, [9] * 15))
    a = wait_alarm(stack, f"bin:{world.key('COND')}", "stock_discrepancy")
    r = client.post(
        f"/alarms/{a['id']}/clear", json={"reason": "recounted"}, headers=world.headers("op")
    )
    assert r.status_code == 409, r.text
    assert "condition still holds" in r.json()["detail"]["message"]
    r = client.post(
        f"/alarms/{a['id']}/clear",
        json={"reason": "recount booked tomorrow", "force": True},
        headers=world.headers("op"),
    )
    assert r.status_code == 200 and r.json()["state"] == "cleared"
    # Latched: the same disagreement does not raise again while it lasts.
    publish(stack, world.shelf, shelf_series(world, world.shelf, cell, t0 + 15, [9] * 10, seed=9))
    wait_for(lambda: _count_sensed(stack, world.bins["COND"]) >= 1, timeout=20, what="COND counted")
    time.sleep(2.0)
    open_ = [x for x in _alarms(client, world, "hq", q="COND") if x["state"] != "cleared"]
    assert open_ == []


def _count_sensed(stack: Stack, bin_id: int) -> int:
    return int(
        stack.scalar("SELECT count(*) FROM bin_sensed WHERE bin_id = %s AND count = 9", (bin_id,))
        or 0
    )


def _alarms(client: TestClient, world: World, who: str, **params: Any) -> list[dict[str, Any]]:
    r = client.get("/alarms", params={"size": 500, **params}, headers=world.headers(who))
    assert r.status_code == 200, r.text
    return list(r.json()["items"])


def test_commands_wait_in_order_while_the_worker_is_down(
    stack: Stack, client: TestClient, world: World, runner: Runner
) -> None:
    publish(stack, world.climate, [status(world, world.climate, time.time(), "offline")])
    a = wait_alarm(stack, f"agent:{world.climate.agent_id}", "device_offline")
    runner.stop()
    try:
        ack = client.post(
            f"/alarms/{a['id']}/acknowledge", json={"note": "on it"}, headers=world.headers("op")
        )
        assert ack.status_code == 202 and ack.json()["outcome"] == "pending"
    finally:
        runner.start()
    wait_for(
        lambda: (
            client.get(f"/alarms/{a['id']}", headers=world.headers("op")).json()["state"]
            == "acknowledged"
        ),
        timeout=30,
        what="the queued acknowledge applied",
    )


def test_scoping_answers_404_outside_the_subtree(
    stack: Stack, client: TestClient, world: World, runner: Runner
) -> None:
    east = _loss(stack, world, "WS", seed=3)
    west = _loss(stack, world, "Z1", seed=4)
    assert client.get(f"/alarms/{east['id']}", headers=world.headers("rm1")).status_code == 200
    assert client.get(f"/alarms/{east['id']}", headers=world.headers("rm2")).status_code == 404
    assert client.get(f"/alarms/{west['id']}", headers=world.headers("rm1")).status_code == 404
    r = client.post(f"/alarms/{east['id']}/acknowledge", headers=world.headers("rm2"))
    assert r.status_code == 404
    assert client.get("/alarms", headers=world.headers("du")).status_code == 403
    mine = {a["id"] for a in _alarms(client, world, "rm1", q=world.p)}
    assert east["id"] in mine and west["id"] not in mine
    everything = {a["id"] for a in _alarms(client, world, "hq", q=world.p)}
    assert {east["id"], west["id"]} <= everything
    # Filters, sort and pagination.
    only = _alarms(client, world, "hq", type="weight_loss_unexplained", site=world.wh_code["w2"])
    assert [a["id"] for a in only] == [west["id"]]
    page = client.get(
        "/alarms",
        params={"size": 1, "sort": "raised_at", "q": world.p},
        headers=world.headers("hq"),
    ).json()
    assert len(page["items"]) == 1 and page["total"] >= 2
    assert (
        client.get("/alarms", params={"sort": "nonsense"}, headers=world.headers("hq")).status_code
        == 422
    )
    assert client.get("/alarms/not-an-id", headers=world.headers("hq")).status_code == 422
    assert client.get("/alarms/" + "0" * 20, headers=world.headers("hq")).status_code == 404


def test_thresholds_are_edited_by_hq_and_validated(client: TestClient, world: World) -> None:
    body = {"scope": "product_class", "key": f"{world.p}-parts", "values": {"loss_min_units": 2}}
    assert client.put("/alarm-rules", json=body, headers=world.headers("rm1")).status_code == 403
    r = client.put("/alarm-rules", json=body, headers=world.headers("hq"))
    assert r.status_code == 200 and r.json()["values"] == {"loss_min_units": 2}
    bad = {**body, "values": {"no_such_knob": 1}}
    r = client.put("/alarm-rules", json=bad, headers=world.headers("hq"))
    assert r.status_code == 422 and r.json()["detail"]["code"] == "unknown_threshold"
    inconsistent = {"scope": "site", "key": "X", "values": {"temperature_min": 40.0}}
    assert (
        client.put("/alarm-rules", json=inconsistent, headers=world.headers("hq")).status_code
        == 422
    )
    got = client.get("/alarm-rules", headers=world.headers("op")).json()
    assert got["defaults"]["scan_grace_s"] == 15.0
    row = next(o for o in got["overrides"] if o["key"] == f"{world.p}-parts")
    assert (
        client.delete(f"/alarm-rules/{row['id']}", headers=world.headers("hq")).status_code == 204
    )


class Receiver:
    """A local HTTP endpoint: answers 500 to the first POST, 200 after; keeps what it got."""

    def __init__(self) -> None:
        self.port = free_port()
        self.calls: list[tuple[dict[str, str], bytes, int]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                code = 500 if not receiver.calls else 200
                receiver.calls.append((dict(self.headers), body, code))
                self.send_response(code)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def test_webhook_signed_retried_after_a_500_and_logged(
    stack: Stack, client: TestClient, world: World, runner: Runner, receiver: Receiver
) -> None:
    secret = "s3cret-for-the-receiver"
    hook = client.post(
        "/webhooks",
        json={
            "name": "ops room",
            "url": f"http://127.0.0.1:{receiver.port}/hook",
            "secret": secret,
            "event_filter": {"types": ["weight_gain_unexpected"], "actions": ["raise"]},
        },
        headers=world.headers("hq"),
    )
    assert hook.status_code == 201, hook.text
    hook_id = hook.json()["id"]
    assert (
        client.post(
            "/webhooks", json={"name": "x", "url": "ftp://nope"}, headers=world.headers("hq")
        ).status_code
        == 422
    )
    assert client.get("/webhooks", headers=world.headers("rm1")).status_code == 403
    t0 = time.time()
    cell = world.sensors["HOOK"]
    publish(
        stack, world.shelf, shelf_series(world, world.shelf, cell, t0, [2] * 10 + [4] * 10, seed=7)
    )
    alarm = wait_alarm(stack, f"bin:{world.key('HOOK')}", "weight_gain_unexpected")
    dispatcher = WebhookDispatcher(stack.settings, RetryPolicy(base_s=0.3), webhook_ids=[hook_id])
    try:
        deadline = time.monotonic() + 30
        while len(receiver.calls) < 2 and time.monotonic() < deadline:
            dispatcher.run_once()
            time.sleep(0.1)
    finally:
        dispatcher.close()
    assert [c[2] for c in receiver.calls] == [500, 200]
    (h1, _, _), (h2, b2, _) = receiver.calls
    assert h1[DELIVERY_HEADER] == h2[DELIVERY_HEADER], "a retry is the same delivery"
    assert verify(secret, h2[SIGNATURE_HEADER], b2)
    assert not verify(secret, h2[SIGNATURE_HEADER], b2.replace(b"raise", b"clear"))
    assert not verify("another secret", h2[SIGNATURE_HEADER], b2)
    payload = json.loads(b2)
    assert payload["alarm"]["id"] == alarm["id"] and payload["event"] == "alarm.raise"
    log = client.get(f"/webhooks/{hook_id}/deliveries", headers=world.headers("hq")).json()
    (d,) = log["items"]
    assert (d["status"], d["attempts"], d["response_code"]) == ("delivered", 2, 200)
    assert (
        client.get(
            f"/webhooks/{hook_id}/deliveries",
            headers=world.headers("hq"),
            params={"status": "failed"},
        ).json()["total"]
        == 0
    )
    assert client.delete(f"/webhooks/{hook_id}", headers=world.headers("hq")).status_code == 204
    assert client.get(f"/webhooks/{hook_id}", headers=world.headers("hq")).status_code == 404


def _frames(ws: Any) -> queue.Queue[dict[str, Any]]:
    """The socket's frames, read in a thread (a test must be able to stop waiting)."""
    q: queue.Queue[dict[str, Any]] = queue.Queue()

    def pump() -> None:
        with contextlib.suppress(Exception):
            while True:
                q.put(ws.receive_json())

    threading.Thread(target=pump, daemon=True).start()
    return q


def _next(q: queue.Queue[dict[str, Any]], match: Any, timeout: float = 30) -> dict[str, Any]:
    seen = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            frame = q.get(timeout=max(0.01, deadline - time.monotonic()))
        except queue.Empty:
            break
        if match(frame):
            return frame
        seen.append(frame)
    pytest.fail(f"no matching frame in {timeout}s; saw {seen}")


def test_websocket_pushes_new_transitions_in_scope(
    stack: Stack, client: TestClient, world: World, runner: Runner
) -> None:
    with (
        pytest.raises(WebSocketDisconnect),
        client.websocket_connect("/alarms/live?token=not-a-token") as ws,
    ):
        ws.receive_json()
    with (
        client.websocket_connect(f"/alarms/live?token={world.tokens['rm1']}") as east_ws,
        client.websocket_connect(f"/alarms/live?token={world.tokens['rm2']}") as west_ws,
    ):
        east, west = _frames(east_ws), _frames(west_ws)
        assert _next(east, lambda f: True)["type"] == "hello"
        assert _next(west, lambda f: True)["type"] == "hello"
        t0 = time.time() + 100
        cell = world.sensors["WS"]
        publish(stack, world.shelf, shelf_series(world, world.shelf, cell, t0, [8] * 5 + [6] * 10))
        frame = _next(
            east,
            lambda f: (
                (f["subject"], f["alarm_type"])
                == (f"bin:{world.key('WS')}", "weight_loss_unexplained")
            ),
        )
        assert frame["type"] == "transition" and frame["action"] in ("raise", "repeat")
        # The west socket saw none of that: its first frame is west's own next transition.
        cell = world.sensors["Z1"]
        publish(
            stack, world.shelf2, shelf_series(world, world.shelf2, cell, t0, [8] * 5 + [6] * 10)
        )
        frame = _next(west, lambda f: True)
        assert frame["site"] == world.wh_code["w2"], frame
