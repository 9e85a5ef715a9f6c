"""Administration in NiceGUI's user simulation against the real API: HQ creates a user with a
role and an org unit, deactivates and reactivates it; provisions a device whose password is
shown once (and is the one the registry checks), then revokes it. Only HQ gets the page."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from conftest import Stack
from nicegui.testing.user import User
from ui_kit import (  # noqa: F401 - fixtures
    RETRIES,
    Api,
    anyio_backend_fixture,
    api_fixture,
    login,
    user_fixture,
)

from wayhouse.platform.devices.credentials import verify_password
from wayhouse.ui.i18n import t
from wayhouse.ui.pages.admin import parse_sensors

pytestmark = [pytest.mark.integration, pytest.mark.anyio]


def _one(user: User, marker: str) -> Any:
    (element,) = user.find(marker=marker).elements
    return element


def test_sensor_lines_are_read() -> None:
    ok, problems = parse_sensors("S-1:scale\n\n gw:2:rfid \nbad\nX:toaster")
    assert ok == [{"sensor_id": "S-1", "kind": "scale"}, {"sensor_id": "gw:2", "kind": "rfid"}]
    assert problems == [t("admin.bad_sensor", "en", n=4), t("admin.bad_sensor", "en", n=5)]


async def _open_admin(user: User, api: Api) -> None:
    await login(user, api, "admin")
    await user.should_see(marker="kpi-orders", retries=RETRIES)
    await user.open("/admin")
    await user.should_see(marker="users", retries=RETRIES)


async def test_hq_creates_deactivates_and_reactivates_a_user(user: User, api: Api) -> None:
    me = httpx.get(f"{api.url}/auth/me", headers=api.headers("admin")).json()
    name = f"tech.{uuid.uuid4().hex[:6]}"
    await _open_admin(user, api)
    user.find(marker="new-username").type(name)
    user.find(marker="new-password").type("technician pw 1")
    _one(user, "new-role").value = "technician"
    _one(user, "new-unit").value = me["org_unit_id"]
    user.find(marker="create-user").click()
    await user.should_see(t("admin.created", "zh-CN", name=name), retries=RETRIES)

    user.find(marker="user-search").type(name).trigger("keydown.enter")
    await user.should_see(marker=f"deactivate-{name}", retries=RETRIES)
    user.find(marker=f"deactivate-{name}").click()
    await user.should_see(marker=f"activate-{name}", retries=RETRIES)
    login_as = {"username": name, "password": "technician pw 1"}
    assert httpx.post(f"{api.url}/auth/login", json=login_as).status_code == 401
    user.find(marker=f"activate-{name}").click()
    await user.should_see(marker=f"deactivate-{name}", retries=RETRIES)
    assert httpx.post(f"{api.url}/auth/login", json=login_as).status_code == 200
    await user.should_not_see(marker="deactivate-admin")  # never one's own account


async def test_a_device_password_is_shown_once_and_the_device_revoked(
    user: User, api: Api, stack: Stack
) -> None:
    agent = f"ui-shelf-{uuid.uuid4().hex[:6]}"
    await _open_admin(user, api)
    await user.should_see(marker="tab-devices", retries=RETRIES)
    user.find(marker="tab-devices").click()
    await user.should_see(marker="new-agent", retries=RETRIES)
    user.find(marker="new-agent").type(agent)
    user.find(marker="new-sensors").type(f"{agent}-s1:scale\n{agent}-s2:scale")
    user.find(marker="provision").click()
    await user.should_see(marker="device-password", retries=RETRIES)
    password = _one(user, "device-password").text
    stored = stack.scalar("SELECT password_hash FROM agent WHERE agent_id = %s", (agent,))
    assert isinstance(stored, str) and verify_password(password, stored)
    # Other tests' agents share the registry: find this one, as an admin would.
    user.find(marker="device-search").type(agent).trigger("keydown.enter")
    await user.should_see(marker=f"device-{agent}", retries=RETRIES)
    await user.should_see(t("admin.sensor_count", "zh-CN", n=2))

    user.find(marker=f"revoke-{agent}").click()
    await user.should_see(t("admin.revoked", "zh-CN", agent=agent), retries=RETRIES)
    await user.should_not_see(marker=f"device-{agent}")
    assert stack.scalar("SELECT active FROM agent WHERE agent_id = %s", (agent,)) is False
    user.find(marker="include-revoked").click()
    await user.should_see(marker=f"device-{agent}", retries=RETRIES)


async def test_only_hq_opens_administration(user: User, api: Api) -> None:
    await login(user, api, "east.manager")
    await user.should_see(marker="kpi-orders", retries=RETRIES)
    await user.open("/admin")
    await user.should_see(marker="kpi-orders", retries=RETRIES)  # sent home instead
    await user.should_not_see(marker="users")
