"""Console pages in NiceGUI's user simulation against the real API (uvicorn in a thread on the
test stack's PostgreSQL, demo network seeded): sign-in, login required, tenant scoping as the
dealer sees it, and an order placed and submitted through the pages."""

from __future__ import annotations

import os
import tempfile
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn
from conftest import Stack, free_port, wait_for
from nicegui import ui
from nicegui.storage import Storage
from nicegui.testing.user import User
from nicegui.testing.user_simulation import user_simulation

from wayhouse.platform.api.app import create_app
from wayhouse.platform.dms.seed import seed_demo
from wayhouse.ui.i18n import t

pytestmark = [pytest.mark.integration, pytest.mark.anyio]
# Sign-in verifies an argon2 hash through a real API: allow more than the default 0.3 s.
RETRIES = 50
MAIN_FILE = Path(__file__).with_name("console_main.py")


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


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def api(stack: Stack) -> Iterator[Api]:
    passwords = seed_demo(stack.settings)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(stack.settings), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for(lambda: server.started, 30, "the API to start")
    try:
        yield Api(f"http://127.0.0.1:{port}", passwords)
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
async def user(api: Api, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[User]:
    monkeypatch.setenv("WAYHOUSE_UI_TEST_API_URL", api.url)
    # Browser storage of the simulation goes to a throwaway folder, not the checkout.
    monkeypatch.setattr(Storage, "path", Path(tempfile.mkdtemp(prefix="wh-ui-storage-")))
    async with user_simulation(main_file=MAIN_FILE) as u:
        yield u


async def _login(user: User, api: Api, username: str, password: str | None = None) -> None:
    await user.open("/login")
    user.find(marker="username").type(username)
    user.find(marker="password").type(password or api.passwords[username])
    user.find(marker="login").click()


def _rows(user: User, marker: str) -> list[dict[str, object]]:
    (table,) = user.find(marker=marker).elements
    assert isinstance(table, ui.table)
    return list(table.rows)


@pytest.mark.parametrize("path", ["/", "/dealers", "/orders", "/orders/1", "/operations"])
async def test_every_page_requires_login(user: User, path: str) -> None:
    await user.open(path)
    await user.should_see(marker="username")
    await user.should_not_see(marker="dealers")


async def test_wrong_password_shows_the_api_reason(user: User, api: Api) -> None:
    await _login(user, api, "east.manager", "not the password")
    await user.should_see(content="wrong username or password", retries=RETRIES)
    await user.should_see(marker="login")  # still on the sign-in form


async def test_dealer_user_sees_only_its_own_dealer_and_orders(user: User, api: Api) -> None:
    # Another dealer's order, placed by HQ, must never show up for dealer1.
    admin = {"Authorization": f"Bearer {api.token('admin')}"}
    dealers = httpx.get(f"{api.url}/dealers", params={"size": 100}, headers=admin).json()
    other = next(d for d in dealers["items"] if d["code"] == "DL-002")
    products = httpx.get(f"{api.url}/products", params={"size": 1}, headers=admin).json()
    pid = products["items"][0]["id"]
    r = httpx.post(
        f"{api.url}/orders",
        json={"dealer_id": other["id"], "lines": [{"product_id": pid, "qty": 1}]},
        headers=admin,
    )
    assert r.status_code == 201, r.text
    foreign_order = r.json()["id"]

    await _login(user, api, "dealer1")
    await user.should_see(marker="orders", retries=RETRIES)  # a dealer lands on its orders
    assert all(row["dealer_id"] != other["id"] for row in _rows(user, "orders"))

    await user.open("/dealers")
    await user.should_see(marker="dealers", retries=RETRIES)
    assert [row["code"] for row in _rows(user, "dealers")] == ["DL-001"]

    await user.open(f"/dealers/{other['id']}")
    await user.should_see(marker="page-error", content=t("error.not_found", "zh-CN"))
    await user.open(f"/orders/{foreign_order}")
    await user.should_see(marker="page-error", content=t("error.not_found", "zh-CN"))
    await user.should_not_see(marker="dealers")


async def test_dealer_places_and_submits_an_order(user: User, api: Api) -> None:
    await _login(user, api, "dealer1")
    await user.should_see(marker="orders", retries=RETRIES)
    await user.open("/orders/new")
    product = user.find(ui.select).elements.pop()
    assert isinstance(product, ui.select)
    product.value = next(iter(product.options))  # type: ignore[call-overload]
    user.find(t("order.add_line", "zh-CN")).click()
    user.find(marker="place-order").click()
    await user.should_see(marker="order-status", content="draft", retries=RETRIES)
    user.find(marker="act-submit").click()
    # The demo dealer has no credit line yet: the API holds the order and says why.
    await user.should_see(marker="order-status", content="held", retries=RETRIES)
    await user.should_see(content=t("order.holds", "zh-CN"))
    await user.should_see(t("order.timeline", "zh-CN"))
    user.find(marker="act-cancel").click()
    user.find(marker="reason").type("changed my mind")
    user.find(marker="confirm").click()
    await user.should_see(marker="order-status", content="cancelled", retries=RETRIES)
    await user.should_not_see(marker="act-cancel")


async def test_hq_admin_sees_operations_and_every_dealer(user: User, api: Api) -> None:
    await _login(user, api, "admin")
    await user.should_see(marker="msgs_in", retries=RETRIES)
    await user.open("/dealers")
    await user.should_see(marker="dealers", retries=RETRIES)
    assert len(_rows(user, "dealers")) >= 8
    # The search goes to the API (server-side), Enter in the field runs it.
    user.find(marker="dealer-search").type("DL-003").trigger("keydown.enter")
    await user.should_see(content=t("page.of", "zh-CN", page=1, pages=1, total=1), retries=RETRIES)
    assert [row["code"] for row in _rows(user, "dealers")] == ["DL-003"]
    assert os.environ["WAYHOUSE_UI_TEST_API_URL"] == api.url
