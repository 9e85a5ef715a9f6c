"""Logins, sessions and tenant scoping on the real database: every role sees its own subtree,
and another tenant's dealer is a 404 for reading and for changing."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from conftest import Stack
from fastapi.testclient import TestClient

from wayhouse.platform.api.app import create_app
from wayhouse.platform.db.base import unit_of_work
from wayhouse.platform.dms import org
from wayhouse.platform.dms.domain.types import OrgLevel, Role

pytestmark = pytest.mark.integration
PASSWORD = "correct horse battery"


@dataclass
class World:
    prefix: str
    dealers: dict[str, int]
    regions: dict[str, int]
    tokens: dict[str, str]


@pytest.fixture(scope="module")
def client(stack: Stack) -> Iterator[TestClient]:
    with TestClient(create_app(stack.settings)) as c:
        yield c


def _login(client: TestClient, username: str, password: str = PASSWORD):  # type: ignore[no-untyped-def]
    return client.post("/auth/login", json={"username": username, "password": password})


@pytest.fixture(scope="module")
def world(stack: Stack, client: TestClient) -> World:
    p = f"t{uuid.uuid4().hex[:6]}"
    with unit_of_work(stack.settings.sqlalchemy_url()) as s:
        hq = org.create_unit(s, OrgLevel.HQ, f"{p}-HQ", "HQ", None)
        r1 = org.create_unit(s, OrgLevel.REGION, f"{p}-R1", "East", hq)
        r2 = org.create_unit(s, OrgLevel.REGION, f"{p}-R2", "West", hq)
        d11 = org.create_dealer(s, r1, f"{p}-D11", f"{p} Alpha Trading", None)
        d12 = org.create_dealer(s, r1, f"{p}-D12", f"{p} Beta Supply", None)
        d21 = org.create_dealer(s, r2, f"{p}-D21", f"{p} Gamma Parts", None)
        org.create_user(s, f"{p}-hq", PASSWORD, Role.HQ_ADMIN, hq)
        org.create_user(s, f"{p}-rm1", PASSWORD, Role.REGION_MANAGER, r1)
        org.create_user(s, f"{p}-du11", PASSWORD, Role.DEALER_USER, d11.org_unit)
        org.create_user(s, f"{p}-du21", PASSWORD, Role.DEALER_USER, d21.org_unit)
        dealers = {"d11": d11.id, "d12": d12.id, "d21": d21.id}
        regions = {"r1": r1.id, "r2": r2.id}
    tokens = {}
    for who in ("hq", "rm1", "du11", "du21"):
        r = _login(client, f"{p}-{who}")
        assert r.status_code == 200, r.text
        tokens[who] = r.json()["token"]
    return World(p, dealers, regions, tokens)


def _as(world: World, who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {world.tokens[who]}"}


def _visible_ids(client: TestClient, world: World, who: str) -> set[int]:
    r = client.get("/dealers", params={"q": world.prefix, "size": 100}, headers=_as(world, who))
    assert r.status_code == 200, r.text
    return {d["id"] for d in r.json()["items"]}


def test_each_role_lists_only_its_subtree(client: TestClient, world: World) -> None:
    d = world.dealers
    assert _visible_ids(client, world, "hq") == {d["d11"], d["d12"], d["d21"]}
    assert _visible_ids(client, world, "rm1") == {d["d11"], d["d12"]}
    assert _visible_ids(client, world, "du11") == {d["d11"]}
    assert _visible_ids(client, world, "du21") == {d["d21"]}


@pytest.mark.parametrize(
    ("who", "dealer", "expected"),
    [
        ("du11", "d11", 200),
        ("du11", "d12", 404),
        ("du11", "d21", 404),
        ("rm1", "d12", 200),
        ("rm1", "d21", 404),
        ("du21", "d11", 404),
        ("hq", "d21", 200),
    ],
)
def test_detail_of_another_tenant_is_not_found(
    client: TestClient, world: World, who: str, dealer: str, expected: int
) -> None:
    r = client.get(f"/dealers/{world.dealers[dealer]}", headers=_as(world, who))
    assert r.status_code == expected, r.text


def test_changing_another_tenant_is_not_found_and_edits_are_audited(
    client: TestClient, world: World
) -> None:
    d12 = world.dealers["d12"]
    # Not theirs: 404, exactly as for a dealer that does not exist.
    r = client.patch(f"/dealers/{d12}", json={"tier": "gold"}, headers=_as(world, "du11"))
    assert r.status_code == 404
    missing = client.patch("/dealers/999999999", json={"tier": "gold"}, headers=_as(world, "du11"))
    assert missing.status_code == 404 and missing.json()["detail"].startswith("no dealer")
    # Theirs to see but not to edit: 403.
    assert (
        client.patch(
            f"/dealers/{d12}", json={"tier": "gold"}, headers=_as(world, "rm1")
        ).status_code
        == 403
    )
    r = client.patch(f"/dealers/{d12}", json={"tier": "gold"}, headers=_as(world, "hq"))
    assert r.status_code == 200 and r.json()["tier"] == "gold"
    trail = client.get(
        "/audit", params={"entity": "dealer", "entity_id": str(d12)}, headers=_as(world, "hq")
    )
    assert trail.status_code == 200
    update = next(e for e in trail.json()["items"] if e["action"] == "update")
    assert update["old"] == {"tier": "standard"} and update["new"] == {"tier": "gold"}
    assert client.get("/audit", headers=_as(world, "rm1")).status_code == 403


def test_create_dealer_validates_and_audits(client: TestClient, world: World) -> None:
    body = {
        "region_id": world.regions["r2"],
        "code": f"{world.prefix}-D22",
        "legal_name": f"{world.prefix} Delta Motors",
        "addresses": [{"label": "main", "line": "1 Harbour Rd", "lat": 31.2, "lon": 121.5}],
    }
    assert client.post("/dealers", json=body, headers=_as(world, "rm1")).status_code == 403
    r = client.post("/dealers", json=body, headers=_as(world, "hq"))
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "applicant"
    again = client.post("/dealers", json=body, headers=_as(world, "hq"))
    assert again.status_code == 409 and again.json()["detail"]["code"] == "duplicate_code"
    bad = client.post(
        "/dealers",
        json=body | {"addresses": [{"label": "x", "line": "y", "lat": 99, "lon": 0}]},
        headers=_as(world, "hq"),
    )
    assert bad.status_code == 422


def test_login_failures_are_throttled_and_logout_ends_the_session(
    client: TestClient, world: World
) -> None:
    user = f"{world.prefix}-du21"
    for _ in range(5):
        r = _login(client, user, "wrong password!")
        assert r.status_code == 401 and r.json()["detail"]["code"] == "invalid_credentials"
    r = _login(client, user)  # even the right password waits now
    assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0
    unknown = _login(client, f"{world.prefix}-nobody", "whatever12345")
    assert unknown.status_code == 401  # same answer as a wrong password: no user enumeration

    token = _login(client, f"{world.prefix}-du11").json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/auth/me", headers=headers).json()["role"] == "dealer_user"
    assert client.post("/auth/logout", headers=headers).status_code == 204
    assert client.get("/auth/me", headers=headers).status_code == 401
    assert client.get("/dealers", headers=headers).status_code == 401


def test_an_expired_session_is_refused(stack: Stack, client: TestClient, world: World) -> None:
    token = _login(client, f"{world.prefix}-hq").json()["token"]
    import hashlib

    with stack.db() as conn:
        conn.execute(
            "UPDATE user_session SET expires_at = %s WHERE token_hash = %s",
            (
                dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1),
                hashlib.sha256(token.encode()).hexdigest(),
            ),
        )
    assert client.get("/auth/me", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_bad_queries_get_a_reason(client: TestClient, world: World) -> None:
    for params in ({"sort": "password"}, {"status": "bogus"}, {"size": 0}, {"page": 0}):
        r = client.get("/dealers", params=params, headers=_as(world, "hq"))
        assert r.status_code == 422, params
        assert r.json()["detail"]


def test_orm_models_and_migrations_agree(stack: Stack) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    import wayhouse.platform.db.all_models  # noqa: F401
    from wayhouse.platform.db.base import Base, engine_for
    from wayhouse.platform.db.migrations_filter import include_object

    with engine_for(stack.settings.sqlalchemy_url()).connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"include_object": include_object})
        diff = compare_metadata(ctx, Base.metadata)
    assert diff == []


def test_operations_views_take_an_hq_session_but_not_a_dealer_one(
    client: TestClient, world: World
) -> None:
    assert client.get("/ingest/stats", headers=_as(world, "hq")).status_code == 200
    r = client.get("/ingest/stats", headers=_as(world, "du11"))
    assert r.status_code == 403 and "HQ" in r.json()["detail"]
    assert (
        client.get("/devices", headers={"Authorization": "Bearer not-a-session"}).status_code == 401
    )
