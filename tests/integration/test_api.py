"""The REST API against the real database and broker (FastAPI TestClient, lifespan included)."""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Iterator

import pytest
from conftest import IngestProcess, Stack, wait_for
from fastapi.testclient import TestClient
from wh_testkit import publish_all

from wayhouse.edge import schema as S
from wayhouse.platform.api.app import create_app
from wayhouse.platform.devices.model import AgentSpec, SensorSpec

pytestmark = pytest.mark.integration

OPERATIONS = ["/ingest/stats", "/devices", "/dead-letters", "/telemetry/trucks", "/telemetry/bins"]


@pytest.fixture(scope="module")
def client(stack: Stack) -> Iterator[TestClient]:
    with TestClient(create_app(stack.settings)) as c:
        yield c


@pytest.fixture(scope="module")
def auth(stack: Stack) -> dict[str, str]:
    return {"Authorization": f"Bearer {stack.settings.secret('api_token')}"}


@pytest.fixture(scope="module")
def worker(stack: Stack) -> Iterator[IngestProcess]:
    w = stack.start_ingest("api-tests")
    yield w
    w.stop()


def _prefix(tag: str) -> str:
    return f"{tag}{uuid.uuid4().hex[:6]}"


def _as_agent(stack: Stack, agent_id: str):  # type: ignore[no-untyped-def]
    return stack.settings.mqtt(user=agent_id, password=stack.settings.sim_password(agent_id))


# --- health and auth ---------------------------------------------------------------------------


def test_health_is_public_and_reports_the_stack(client: TestClient, stack: Stack) -> None:
    r = client.get("/health")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["database"] is True
    assert body["broker"] is True
    assert body["storage_mode"] == "partitioned"
    assert body["stdlib_platform"] is True
    from alembic.script import ScriptDirectory

    from wayhouse.platform.db.migrate import alembic_config

    head = ScriptDirectory.from_config(alembic_config(stack.settings)).get_current_head()
    assert body["schema_revision"] == head
    assert body["status"] == "ok"


@pytest.mark.parametrize("path", OPERATIONS)
def test_operations_need_the_token(client: TestClient, auth: dict[str, str], path: str) -> None:
    missing = client.get(path)
    assert missing.status_code == 401
    assert "bearer" in missing.json()["detail"].lower()
    assert missing.headers["www-authenticate"] == "Bearer"

    wrong = client.get(path, headers={"Authorization": "Bearer not-the-token"})
    assert wrong.status_code == 401
    assert "invalid token" in wrong.json()["detail"]

    other_scheme = client.get(path, headers={"Authorization": "Basic dXNlcjpwdw=="})
    assert other_scheme.status_code == 401 and other_scheme.json()["detail"]

    token = auth["Authorization"].removeprefix("Bearer ")
    bare = client.get(path, headers={"Authorization": token})  # the scheme left out
    assert bare.status_code == 401

    assert client.get(path, headers=auth).status_code == 200


def test_a_non_ascii_token_is_refused_not_a_server_error(stack: Stack) -> None:
    with TestClient(create_app(stack.settings), raise_server_exceptions=False) as c:
        r = c.get("/devices", headers={"Authorization": b"Bearer caf\xe9"})
    assert r.status_code == 401


# --- devices -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fleet(stack: Stack) -> tuple[str, list[str]]:
    prefix = _prefix("apidev")
    ids = [f"{prefix}-a{i}" for i in range(7)]
    stack.provision(
        [
            AgentSpec(
                aid,
                "truck" if i % 3 == 0 else "shelf",
                tuple(SensorSpec(f"{aid}-s{j}", "scale") for j in range(i % 3)),
            )
            for i, aid in enumerate(ids)
        ]
    )
    return prefix, ids


def _devices(client: TestClient, auth: dict[str, str], **params: object) -> dict:
    r = client.get("/devices", params=params, headers=auth)
    assert r.status_code == 200, r.text
    return r.json()


def test_devices_paginate_without_overlap(
    client: TestClient, auth: dict[str, str], fleet: tuple[str, list[str]]
) -> None:
    prefix, ids = fleet
    first = _devices(client, auth, q=prefix, size=3)
    assert first["total"] == 7 and first["page"] == 1 and first["size"] == 3
    pages = math.ceil(first["total"] / 3)
    assert pages == 3
    seen: list[str] = []
    for page in range(1, pages + 1):
        body = _devices(client, auth, q=prefix, size=3, page=page)
        assert body["total"] == 7 and body["page"] == page
        assert len(body["items"]) == (3 if page < pages else 1)
        seen += [d["agent_id"] for d in body["items"]]
    assert seen == sorted(ids)  # default order: agent id; no overlap, nothing skipped
    assert _devices(client, auth, q=prefix, size=3, page=pages + 1)["items"] == []


def test_devices_sort_descending_and_filter(
    client: TestClient, auth: dict[str, str], fleet: tuple[str, list[str]]
) -> None:
    prefix, ids = fleet
    desc = _devices(client, auth, q=prefix, size=3, sort="-agent_id")
    assert [d["agent_id"] for d in desc["items"]] == sorted(ids, reverse=True)[:3]

    one = _devices(client, auth, q=f"{prefix}-a4")
    assert one["total"] == 1
    (dev,) = one["items"]
    assert dev["agent_id"] == f"{prefix}-a4" and dev["kind"] == "shelf" and dev["sensors"] == 1
    assert dev["active"] is True

    trucks = _devices(client, auth, q=prefix.upper(), kind="truck")  # contains, any case
    assert sorted(d["agent_id"] for d in trucks["items"]) == [ids[0], ids[3], ids[6]]
    assert all(d["sensors"] == 0 for d in trucks["items"])

    assert _devices(client, auth, q=f"{prefix}-zz")["total"] == 0


def test_revoked_devices_are_hidden_by_default(
    stack: Stack, client: TestClient, auth: dict[str, str]
) -> None:
    from wayhouse.platform.devices.service import revoke_agent

    prefix = _prefix("apirev")
    stack.provision([AgentSpec(f"{prefix}-a0", "shelf"), AgentSpec(f"{prefix}-a1", "shelf")])
    revoke_agent(stack.settings, f"{prefix}-a0")
    assert [d["agent_id"] for d in _devices(client, auth, q=prefix)["items"]] == [f"{prefix}-a1"]
    revoked = _devices(client, auth, q=prefix, active=False)
    assert [d["agent_id"] for d in revoked["items"]] == [f"{prefix}-a0"]


@pytest.mark.parametrize(
    "params",
    [{"size": 0}, {"size": 10000}, {"page": 0}, {"kind": "toaster"}, {"q": "x" * 65}],
)
def test_devices_reject_bad_query_parameters(
    client: TestClient, auth: dict[str, str], params: dict[str, object]
) -> None:
    r = client.get("/devices", params=params, headers=auth)
    assert r.status_code == 422
    detail = r.json()["detail"]
    assert detail and any(next(iter(params)) in e["loc"] for e in detail)


def test_devices_bad_sort_field_is_422_with_a_reason(
    client: TestClient, auth: dict[str, str]
) -> None:
    for sort in ("password_hash", "-password_hash", "agent_id; DROP TABLE agent"):
        r = client.get("/devices", params={"sort": sort}, headers=auth)
        assert r.status_code == 422
        detail = r.json()["detail"]
        assert "cannot sort by" in detail and "agent_id" in detail
    assert client.get("/devices", params={"sort": "-created_at"}, headers=auth).status_code == 200


def test_devices_q_treats_underscore_literally(
    stack: Stack, client: TestClient, auth: dict[str, str]
) -> None:
    prefix = _prefix("apiq")
    stack.provision([AgentSpec(f"{prefix}-x_1", "shelf"), AgentSpec(f"{prefix}-xy1", "shelf")])
    body = _devices(client, auth, q=f"{prefix}-x_")
    assert [d["agent_id"] for d in body["items"]] == [f"{prefix}-x_1"]


def test_devices_paginate_without_overlap_when_sorted_by_a_shared_value(
    stack: Stack, client: TestClient, auth: dict[str, str]
) -> None:
    prefix = _prefix("apisk")
    ids = [f"{prefix}-a{i:02d}" for i in range(20)]
    stack.provision([AgentSpec(aid, "shelf") for aid in ids])
    seen: list[str] = []
    for page in range(1, 8):  # 7 pages of 3
        body = _devices(client, auth, q=prefix, size=3, page=page, sort="kind")
        seen += [d["agent_id"] for d in body["items"]]
    assert sorted(seen) == ids


# --- dead letters and ingest statistics --------------------------------------------------------


def test_dead_letters_show_a_malformed_message(
    stack: Stack, client: TestClient, auth: dict[str, str], worker: IngestProcess
) -> None:
    prefix = _prefix("apidl")
    agent_id = f"{prefix}-a0"
    stack.provision([AgentSpec(agent_id, "shelf", (SensorSpec(f"{agent_id}-s0", "scale"),))])
    payload = b'{"v":1,"seq":1,"r":[not json'
    report = publish_all(
        _as_agent(stack, agent_id), agent_id, [(S.topic(agent_id, "shelf"), payload)]
    )
    assert report.ok == 1, report

    def listed() -> dict:
        return _dead_letters(client, auth, agent_id=agent_id)

    wait_for(lambda: listed()["total"] >= 1, 30, "the dead letter to be listed")
    body = listed()
    assert body["total"] == 1
    (dl,) = body["items"]
    assert dl["topic"] == S.topic(agent_id, "shelf")
    assert dl["agent_id"] == agent_id
    assert dl["worker_id"] == "api-tests"
    assert "not JSON" in dl["reason"]
    assert dl["payload_preview"] == payload.decode()
    assert dl["payload_bytes"] == len(payload)

    # Filters: by reason text, and a reason that matches nothing of ours.
    assert _dead_letters(client, auth, agent_id=agent_id, reason="not json")["total"] == 1
    assert _dead_letters(client, auth, agent_id=agent_id, reason="version")["total"] == 0
    future = "2999-01-01T00:00:00Z"
    assert _dead_letters(client, auth, agent_id=agent_id, since=future)["total"] == 0

    # The worker counted it, and the totals are the sum over workers.
    def stats() -> dict:
        r = client.get("/ingest/stats", headers=auth)
        assert r.status_code == 200, r.text
        return r.json()

    def counted() -> bool:
        mine = [w for w in stats()["workers"] if w["worker_id"] == "api-tests"]
        return bool(mine) and mine[0]["dead_letters"] >= 1

    wait_for(counted, 30, "the worker's stats to count the dead letter")
    body = stats()
    workers = body["workers"]
    assert "api-tests" in [w["worker_id"] for w in workers]
    for field in ("msgs_in", "readings_written", "duplicates", "dead_letters"):
        assert body[field] == sum(w[field] for w in workers), field
    assert body["dead_letters"] >= 1
    assert body["dead_letter_rows"] >= 1
    assert body["lag_ms"] >= 0


def _dead_letters(client: TestClient, auth: dict[str, str], **params: object) -> dict:
    r = client.get("/dead-letters", params=params, headers=auth)
    assert r.status_code == 200, r.text
    return r.json()


def test_dead_letters_paginate(client: TestClient, auth: dict[str, str]) -> None:
    assert client.get("/dead-letters", params={"size": 0}, headers=auth).status_code == 422
    assert client.get("/dead-letters", params={"size": 501}, headers=auth).status_code == 422
    assert (
        client.get("/dead-letters", params={"since": "yesterday"}, headers=auth).status_code == 422
    )


# --- latest values -----------------------------------------------------------------------------


def test_latest_truck_position_and_bin_weight(
    stack: Stack, client: TestClient, auth: dict[str, str], worker: IngestProcess
) -> None:
    prefix = _prefix("apilv")
    truck, shelf = f"{prefix}-truck", f"{prefix}-shelf"
    gps_id, scale_id = f"{truck}-gps", f"{shelf}-s0"
    stack.provision(
        [
            AgentSpec(truck, "truck", (SensorSpec(gps_id, "gps"),)),
            AgentSpec(shelf, "shelf", (SensorSpec(scale_id, "scale", {"bin": "A-03-2"}),)),
        ]
    )
    now = time.time()
    fix = S.GpsMessage(
        v=1, seq=1, r=[S.GpsReading(s=gps_id, t=now, lat=48.5, lon=11.25, spd=12.0, hdg=90.0)]
    )
    weight = S.ShelfMessage(v=1, seq=1, r=[S.ShelfReading(s=scale_id, t=now, w=4321.5)])
    assert (
        publish_all(_as_agent(stack, truck), truck, [(S.topic(truck, "gps"), S.encode(fix))]).ok
        == 1
    )
    assert (
        publish_all(
            _as_agent(stack, shelf), shelf, [(S.topic(shelf, "shelf"), S.encode(weight))]
        ).ok
        == 1
    )

    def truck_pos() -> list[dict]:
        r = client.get("/telemetry/trucks", headers=auth)
        assert r.status_code == 200, r.text
        return [t for t in r.json() if t["agent_id"] == truck]

    def bins() -> list[dict]:
        found, page = [], 1
        while True:
            r = client.get("/telemetry/bins", params={"size": 100, "page": page}, headers=auth)
            assert r.status_code == 200, r.text
            items = r.json()["items"]
            found += [b for b in items if b["sensor_id"] == scale_id]
            if not items:
                return found
            page += 1

    wait_for(lambda: bool(truck_pos()) and bool(bins()), 30, "latest values")
    (pos,) = truck_pos()
    assert (pos["sensor_id"], pos["lat"], pos["lon"]) == (gps_id, 48.5, 11.25)
    assert (pos["speed"], pos["heading"]) == (12.0, 90.0)
    (b,) = bins()
    assert (b["agent_id"], b["bin"], b["weight_g"]) == (shelf, "A-03-2", 4321.5)
