"""The NiceGUI console: page registration and ``run_console`` (what `wayhouse ui` calls).
Every page reads through the REST API with the signed-in user's token; see ui/session.py."""

from __future__ import annotations

from fastapi.responses import RedirectResponse
from nicegui import ui

from wayhouse.config import get_settings
from wayhouse.ui import api_client
from wayhouse.ui.pages import (
    admin,
    alarms,
    contracts,
    customers,
    dashboard,
    dealers,
    dispatch,
    imports,
    login,
    operations,
    order_tools,
    orders,
    search,
    service,
    stock,
    tracking,
)
from wayhouse.ui.session import current_user, home_for


def build_pages(api_url: str) -> None:
    api_client.configure(api_url)
    login.register()
    operations.register()
    dealers.register()
    orders.register()
    customers.register()
    contracts.register()
    service.register()
    stock.register()
    dispatch.register()
    tracking.register()
    alarms.register()
    dashboard.register()
    search.register()
    order_tools.register()
    imports.register()
    admin.register()

    @ui.page("/")
    def index() -> RedirectResponse:
        user = current_user()
        return RedirectResponse(home_for(user.role) if user else "/login", status_code=303)


def run_console(host: str, port: int) -> None:
    settings = get_settings()
    build_pages(f"http://{settings.api_host}:{settings.api_port}")
    ui.run(
        host=host,
        port=port,
        title="Wayhouse",
        reload=False,
        show=False,
        storage_secret=settings.secret("ui_storage_secret"),
        favicon="🚚",
    )
