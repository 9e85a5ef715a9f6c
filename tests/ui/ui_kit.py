"""Shared by the console tests: fixtures for the real API (uvicorn in a thread on the test
stack's PostgreSQL, demo network seeded) and a NiceGUI user simulation against it, sign-in
through the login page, reading a table's rows. A test module imports the fixtures it uses
(``api_fixture``, ``user_fixture``, ``anyio_backend_fixture``); they register as ``api``,
``user`` and ``anyio_backend``. (Not a conftest.py: a second module named ``conftest`` would
shadow the suite's own for ``from conftest import Stack``.)"""

from __future__ import annotations

import socket
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn
from conftest import Stack
from nicegui import ui
from nicegui.storage import Storage
from nicegui.testing.user import User
from nicegui.testing.user_simulation import user_simulation

from wayhouse.platform.api.app import create_app
from wayhouse.platform.dms.seed import seed_demo

# Sign-in verifies an argon2 hash through a real API: allow more than the default 0.3 s.
RETRIES = 150  # ~15 s: liveness only; the machine may be busy


@dataclass
class Api:
    url: str
    passwords: dict[str, str]

    def token(self, username: str) -> str:
        r = httpx.post(
            f"{self.url}/auth/login",
            json={"username": username, "password": self.passwords[username]},
        )
        r.raise_for_status()
        return str(r.json()["token"])

    def headers(self, username: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(username)}"}


async def login(user: User, api: Api, username: str, password: str | None = None) -> None:
    await user.open("/login")
    user.find(marker="username").type(username)
    user.find(marker="password").type(password or api.passwords[username])
    user.find(marker="login").click()


def rows(user: User, marker: str) -> list[dict[str, object]]:
    (table,) = user.find(marker=marker).elements
    assert isinstance(table, ui.table)
    return list(table.rows)


async def switch_user(user: User, api: Api, username: str) -> None:
    """Sign out through the header's button, then sign in as ``username``."""
    from wayhouse.ui.i18n import t

    for locale in ("zh-CN", "en"):
        found = user.find(content=t("logout", locale)).elements
        buttons = [e for e in found if isinstance(e, ui.button)]
        if buttons:
            buttons[0].props("data-testid=logout")
            user.find(content=t("logout", locale)).click()
            break
    await user.should_see(marker="username", retries=RETRIES)
    await login(user, api, username)


MAIN_FILE = Path(__file__).with_name("console_main.py")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(name="anyio_backend")
def anyio_backend_fixture() -> str:
    return "asyncio"


@pytest.fixture(name="api", scope="module")
def api_fixture(stack: Stack) -> Iterator[Api]:
    passwords = seed_demo(stack.settings)
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(stack.settings), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline:
            pytest.fail("the API did not start")
        time.sleep(0.05)
    try:
        yield Api(f"http://127.0.0.1:{port}", passwords)
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(name="user")
async def user_fixture(api: Api, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[User]:
    monkeypatch.setenv("WAYHOUSE_UI_TEST_API_URL", api.url)
    # Browser storage of the simulation goes to a throwaway folder, not the checkout.
    monkeypatch.setattr(Storage, "path", Path(tempfile.mkdtemp(prefix="wh-ui-storage-")))
    async with user_simulation(main_file=MAIN_FILE) as u:
        yield u


def allocated_demo_order(api: Api) -> tuple[int, str]:
    """dealer1 orders 2 units of a product stocked in WH1; HQ gives credit; it is approved
    (by whoever the rules ask) and allocated. Returns the order id and the bin to pick from."""
    hq = {"Authorization": f"Bearer {api.token('admin')}"}
    dealer = {"Authorization": f"Bearer {api.token('dealer1')}"}
    op = {"Authorization": f"Bearer {api.token('operator')}"}
    (own,) = httpx.get(f"{api.url}/dealers", headers=dealer).json()["items"]
    dealer_id = own["id"]
    r = httpx.put(
        f"{api.url}/dealers/{dealer_id}/credit",
        json={"credit_limit": "10000000.00", "payment_terms_days": 30, "grace_days": 0},
        headers=hq,
    )
    assert r.status_code == 200, r.text
    wh = httpx.get(f"{api.url}/warehouses", headers=hq).json()["items"]
    wh1 = next(w for w in wh if w["code"] == "WH1")
    pid = demo_product(api)["id"]
    order = httpx.post(
        f"{api.url}/orders", json={"lines": [{"product_id": pid, "qty": 2}]}, headers=dealer
    ).json()
    oid = order["id"]
    status = httpx.post(f"{api.url}/orders/{oid}/submit", headers=dealer).json()["status"]
    for who in ("east.manager", "admin"):
        if status != "approval":
            break
        r = httpx.post(
            f"{api.url}/orders/{oid}/approve",
            json={},
            headers={"Authorization": f"Bearer {api.token(who)}"},
        )
        if r.status_code == 200:
            status = r.json()["status"]
    r = httpx.post(f"{api.url}/orders/{oid}/allocate", json={"warehouse_id": wh1["id"]}, headers=op)
    assert r.status_code == 200 and r.json()["status"] == "allocated", r.text
    tasks = httpx.get(f"{api.url}/orders/{oid}/pick-list", headers=op).json()
    return oid, tasks[0]["bin_code"]


def demo_product(api: Api, index: int = 0) -> dict[str, object]:
    """A product the seed stocked in WH1 (one per instrumented bin of the default scenario),
    found by SKU: other tests' products share the catalogue."""
    from wayhouse.simulators.scenario import default_scenario

    sku = default_scenario(0).bins[index].sku
    found = httpx.get(
        f"{api.url}/products", params={"q": sku}, headers=api.headers("admin")
    ).json()["items"]
    return next(p for p in found if p["sku"] == sku)
