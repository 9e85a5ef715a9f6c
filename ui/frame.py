"""The frame around every signed-in page: header with the user's name and role, the pages the
role may open, sign-out. Pages call ``frame(user, title)`` and build inside it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, suppress

from nicegui import ui

from wayhouse.ui.api_client import ApiError
from wayhouse.ui.i18n import t
from wayhouse.ui.session import SessionUser, sign_out

# (path, label key, roles that see it); None means every signed-in role.
NAV: list[tuple[str, str, frozenset[str] | None]] = [
    ("/operations", "nav.operations", frozenset({"hq_admin"})),
    ("/dealers", "nav.dealers", frozenset({"hq_admin", "region_manager", "dealer_user"})),
    ("/orders", "nav.orders", None),
    (
        "/stock",
        "nav.stock",
        frozenset({"hq_admin", "region_manager", "dealer_user", "warehouse_operator"}),
    ),
    ("/customers", "nav.customers", frozenset({"hq_admin", "region_manager", "dealer_user"})),
    ("/contracts", "nav.contracts", frozenset({"hq_admin", "region_manager", "dealer_user"})),
    (
        "/service",
        "nav.service",
        frozenset({"hq_admin", "region_manager", "dealer_user", "technician"}),
    ),
    ("/dispatch", "nav.dispatch", frozenset({"hq_admin", "dispatcher"})),
    ("/tracking", "nav.tracking", frozenset({"hq_admin", "dispatcher"})),
    (
        "/alarms",
        "nav.alarms",
        frozenset({"hq_admin", "region_manager", "warehouse_operator", "dispatcher"}),
    ),
]


def nav_for(role: str) -> list[tuple[str, str]]:
    return [(path, key) for path, key, roles in NAV if roles is None or role in roles]


async def _logout(user: SessionUser) -> None:
    # The token may already have expired; signing out locally is what matters.
    with suppress(ApiError):
        await user.api.post("/auth/logout")
    sign_out()
    ui.navigate.to("/login")


@contextmanager
def frame(user: SessionUser, title: str) -> Iterator[None]:
    ui.page_title(f"{t('app')} · {title}")
    with ui.header().classes("items-center gap-4"):
        ui.label(t("app")).classes("text-h6")
        with ui.row().classes("gap-1").props('role="navigation"'):
            for path, key in nav_for(user.role):
                ui.link(t(key), path).classes("text-white px-2").props(
                    f"data-testid=nav-{path.strip('/')}"
                )
        ui.space()
        ui.label(f"{user.username} · {t('role.' + user.role)}").props("data-testid=whoami").mark(
            "whoami"
        )
        ui.button(t("logout"), on_click=lambda: _logout(user)).props("flat color=white")
    with ui.column().classes("w-full p-4 gap-4"):
        ui.label(title).classes("text-h5")
        yield
