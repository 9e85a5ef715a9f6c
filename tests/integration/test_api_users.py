"""Administration on the real database and broker files: users (scoped list, create with a
role that fits the org unit, deactivate ends sessions and logins, reactivate), org units for
pickers, device credentials (password shown once, its hash in the registry and the broker's
password file, revoke), and each user's saved language."""

from __future__ import annotations

import uuid

import pytest
from conftest import Stack
from console_world import PASSWORD, World, client_fixture, world_fixture  # noqa: F401 - fixtures
from fastapi.testclient import TestClient

from wayhouse.platform.devices.credentials import verify_password
from wayhouse.platform.services import mosquitto

pytestmark = pytest.mark.integration
NEW_PASSWORD = "a new password 9"


def _login(client: TestClient, username: str, password: str = PASSWORD):  # type: ignore[no-untyped-def]
    return client.post("/auth/login", json={"username": username, "password": password})


def _usernames(client: TestClient, world: World, **params: object) -> list[str]:
    r = client.get("/users", params={"size": 100, **params}, headers=world.h("hq"))
    assert r.status_code == 200, r.text
    return [u["username"] for u in r.json()["items"]]


def test_users_are_listed_in_scope_and_filtered(client: TestClient, world: World) -> None:
    names = _usernames(client, world)
    assert f"{world.p}-du21" in names and f"{world.p}-op" in names
    assert all(n.startswith(world.p) for n in names)  # never another tenant tree's (the demo)
    assert _usernames(client, world, role="region_manager") == [f"{world.p}-rm1", f"{world.p}-rm2"]
    assert _usernames(client, world, q="du1") == [f"{world.p}-du11"]
    assert _usernames(client, world, org_unit_id=world.units["d21"]) == [f"{world.p}-du21"]
    r = client.get("/users", params={"sort": "-username", "size": 2}, headers=world.h("hq"))
    assert [u["username"] for u in r.json()["items"]] == sorted(names, reverse=True)[:2]
    for who in ("rm1", "du11", "op"):
        assert client.get("/users", headers=world.h(who)).status_code == 403
    for params in ({"role": "king"}, {"sort": "password_hash"}, {"active": "perhaps"}):
        assert client.get("/users", params=params, headers=world.h("hq")).status_code == 422


def test_create_user_checks_role_unit_and_password(client: TestClient, world: World) -> None:
    name = f"{world.p}-new.dealer"
    body = {
        "username": name,
        "display_name": "新经销商用户",
        "password": NEW_PASSWORD,
        "role": "dealer_user",
        "org_unit_id": world.units["d12"],
        "locale": "en",
    }
    bad = [
        ({"org_unit_id": world.units["r1"]}, "role_unit_mismatch"),  # a dealer user in a region
        ({"role": "region_manager"}, "role_unit_mismatch"),
        ({"org_unit_id": 2**31 - 1}, "unknown_org_unit"),
    ]
    for change, code in bad:
        r = client.post("/users", json=body | change, headers=world.h("hq"))
        assert r.status_code == 422 and r.json()["detail"]["code"] == code, r.text
    for change in ({"password": "short"}, {"username": "Bad Name"}, {"role": "king"}):
        assert client.post("/users", json=body | change, headers=world.h("hq")).status_code == 422
    assert client.post("/users", json=body, headers=world.h("rm1")).status_code == 403

    r = client.post("/users", json=body, headers=world.h("hq"))
    assert r.status_code == 201, r.text
    created = r.json()
    assert (created["role"], created["org_unit_code"], created["locale"]) == (
        "dealer_user",
        f"{world.p}-D12",
        "en",
    )
    again = client.post("/users", json=body, headers=world.h("hq"))
    assert again.status_code == 409 and again.json()["detail"]["code"] == "duplicate_username"
    login = _login(client, name, NEW_PASSWORD)
    assert login.status_code == 200 and login.json()["user"]["locale"] == "en"
    dealers = client.get(
        "/dealers", headers={"Authorization": f"Bearer {login.json()['token']}"}
    ).json()
    assert [d["id"] for d in dealers["items"]] == [world.dealers["d12"]]


def test_deactivate_ends_sessions_and_logins_until_reactivated(
    client: TestClient, world: World
) -> None:
    name = f"{world.p}-tmp"
    r = client.post(
        "/users",
        json={
            "username": name,
            "password": NEW_PASSWORD,
            "role": "technician",
            "org_unit_id": world.units["hq"],
        },
        headers=world.h("hq"),
    )
    assert r.status_code == 201, r.text
    uid = r.json()["id"]
    token = _login(client, name, NEW_PASSWORD).json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/auth/me", headers=headers).status_code == 200

    r = client.post(f"/users/{uid}/deactivate", headers=world.h("hq"))
    assert r.status_code == 200 and r.json()["active"] is False
    assert client.get("/auth/me", headers=headers).status_code == 401
    assert _login(client, name, NEW_PASSWORD).status_code == 401
    assert name not in _usernames(client, world, active="true")
    assert name in _usernames(client, world, active="false")

    r = client.post(f"/users/{uid}/activate", headers=world.h("hq"))
    assert r.status_code == 200 and r.json()["active"] is True
    assert _login(client, name, NEW_PASSWORD).status_code == 200
    trail = client.get(
        "/audit", params={"entity": "user", "entity_id": str(uid)}, headers=world.h("hq")
    ).json()["items"]
    assert [e["action"] for e in trail] == ["activate", "deactivate", "create"]


def test_user_changes_outside_scope_or_of_oneself(client: TestClient, world: World) -> None:
    me = client.get("/auth/me", headers=world.h("hq")).json()["user_id"]
    r = client.post(f"/users/{me}/deactivate", headers=world.h("hq"))
    assert r.status_code == 409 and r.json()["detail"]["code"] == "own_account"
    demo_admin = client.get("/users", params={"q": "admin"}, headers=world.h("hq")).json()
    assert all(u["username"].startswith(world.p) for u in demo_admin["items"])
    for path in ("/users/999999999/deactivate", "/users/999999999/activate"):
        assert client.post(path, headers=world.h("hq")).status_code == 404
    assert client.get("/users/999999999", headers=world.h("hq")).status_code == 404
    assert client.post("/users/0/deactivate", headers=world.h("hq")).status_code == 422
    rm1 = client.get("/users", params={"q": "rm1"}, headers=world.h("hq")).json()["items"][0]
    assert client.post(f"/users/{rm1['id']}/deactivate", headers=world.h("rm1")).status_code == 403


def test_org_units_are_listed_in_scope(client: TestClient, world: World) -> None:
    def codes(who: str, **params: object) -> list[str]:
        r = client.get("/org-units", params={"size": 100, **params}, headers=world.h(who))
        assert r.status_code == 200, r.text
        return [u["code"] for u in r.json()["items"]]

    p = world.p
    assert codes("hq", level="region") == [f"{p}-R1", f"{p}-R2"]
    assert set(codes("rm1")) == {f"{p}-R1", f"{p}-D11", f"{p}-D12"}
    assert codes("du21") == [f"{p}-D21"]
    assert codes("hq", q="gamma") == [f"{p}-D21"]
    assert (
        client.get("/org-units", params={"level": "moon"}, headers=world.h("hq")).status_code == 422
    )


def test_device_credentials_are_shown_once_and_revoked(
    stack: Stack, client: TestClient, world: World
) -> None:
    agent = f"{world.p}-shelf-{uuid.uuid4().hex[:4]}"
    body = {
        "agent_id": agent,
        "kind": "shelf",
        "site": "WH-T",
        "sensors": [{"sensor_id": f"{agent}-s1", "kind": "scale"}],
    }
    assert client.post("/devices", json=body, headers=world.h("rm1")).status_code == 403
    for change in ({"agent_id": "bad id!"}, {"kind": "toaster"}, {"sensors": [{"sensor_id": "x"}]}):
        assert client.post("/devices", json=body | change, headers=world.h("hq")).status_code == 422
    r = client.post("/devices", json=body, headers=world.h("hq"))
    assert r.status_code == 201, r.text
    password = r.json()["password"]
    assert r.json()["username"] == agent and len(password) >= 16
    stored = stack.scalar("SELECT password_hash FROM agent WHERE agent_id = %s", (agent,))
    assert isinstance(stored, str) and verify_password(password, stored)
    assert password not in stored
    broker_file = mosquitto.paths(stack.settings).password_file.read_text()
    assert f"{agent}:{stored}" in broker_file
    listed = client.get("/devices", params={"q": agent}, headers=world.h("hq")).json()["items"]
    assert [(d["agent_id"], d["sensors"]) for d in listed] == [(agent, 1)]

    again = client.post("/devices", json=body, headers=world.h("hq"))
    assert again.status_code == 409 and again.json()["detail"]["code"] == "registry_refused"
    assert client.post(f"/devices/{agent}/revoke", headers=world.h("hq")).status_code == 204
    assert f"{agent}:" not in mosquitto.paths(stack.settings).password_file.read_text()
    assert client.post(f"/devices/{agent}/revoke", headers=world.h("hq")).status_code == 404
    assert client.post("/devices/bad id/revoke", headers=world.h("hq")).status_code == 422
    assert client.post(f"/devices/{agent}/revoke", headers=world.h("op")).status_code == 403


def test_the_language_is_saved_on_the_account(client: TestClient, world: World) -> None:
    h = world.h("du21")
    assert client.get("/auth/me", headers=h).json()["locale"] == "zh-CN"
    r = client.put("/auth/me/locale", json={"locale": "en"}, headers=h)
    assert r.status_code == 200 and r.json()["locale"] == "en"
    assert client.get("/auth/me", headers=h).json()["locale"] == "en"
    assert _login(client, f"{world.p}-du21").json()["user"]["locale"] == "en"
    for bad in ({"locale": "fr"}, {}, {"locale": None}):
        assert client.put("/auth/me/locale", json=bad, headers=h).status_code == 422
    assert client.put("/auth/me/locale", json={"locale": "en"}).status_code == 401
    assert client.put("/auth/me/locale", json={"locale": "zh-CN"}, headers=h).status_code == 200
