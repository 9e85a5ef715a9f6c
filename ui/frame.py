"""The frame around every signed-in page: the pages the role may open, global search, the live
alarm badge, the user menu (language), sign-out. Pages call ``frame(user, title)`` and build
inside it. The header wraps on a tablet-sized screen instead of hiding anything."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, suppress
from urllib.parse import quote

from nicegui import ui

from wayhouse.ui.api_client import ApiError
from wayhouse.ui.i18n import STRINGS, current_locale, t
from wayhouse.ui.session import SessionUser, report, set_locale, sign_out

MANAGERS = frozenset({"hq_admin", "region_manager"})
HQ = frozenset({"hq_admin"})
# Who may see alarms (the roles of GET /alarms).
ALARM_ROLES = frozenset({"hq_admin", "region_manager", "warehouse_operator", "dispatcher"})
LOCALES = ("zh-CN", "en")
BADGE_REFRESH_S = 5.0

# (path, label key, roles that see it); None means every signed-in role.
NAV: list[tuple[str, str, frozenset[str] | None]] = [
    ("/dashboard", "nav.dashboard", MANAGERS),
    ("/operations", "nav.operations", HQ),
    ("/dealers", "nav.dealers", frozenset({"hq_admin", "region_manager", "dealer_user"})),
    ("/orders", "nav.orders", None),
    ("/approvals", "nav.approvals", MANAGERS),
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
    ("/alarms", "nav.alarms", ALARM_ROLES),
    ("/import", "nav.import", HQ),
    ("/admin", "nav.admin", HQ),
]


def nav_for(role: str) -> list[tuple[str, str]]:
    return [(path, key) for path, key, roles in NAV if roles is None or role in roles]


async def _logout(user: SessionUser) -> None:
    # The token may already have expired; signing out locally is what matters.
    with suppress(ApiError):
        await user.api.post("/auth/logout")
    sign_out()
    ui.navigate.to("/login")


async def switch_language(user: SessionUser, locale: str) -> None:
    """Save the language on the account (every browser of this user gets it), then redraw."""
    if locale not in STRINGS:
        return
    try:
        await user.api.put("/auth/me/locale", json={"locale": locale})
    except ApiError as err:
        report(err)
        return
    set_locale(locale)
    ui.notify(t("header.language_saved", locale), type="positive")
    ui.navigate.reload()


def search_box() -> None:
    async def go() -> None:
        text = (box.value or "").strip()
        if text:
            ui.navigate.to(f"/search?q={quote(text)}")

    box = (
        ui.input(placeholder=t("header.search"))
        .props(
            f'dense dark standout clearable type=search aria-label="{t("header.search")}" '
            "data-testid=global-search"
        )
        .classes("w-64")
        .mark("global-search")
    )
    box.on("keydown.enter", go)


class AlarmBadge:
    """The count of active alarms the user may see, refreshed every few seconds. Until the
    alarms API answers (not deployed, or a role it refuses) there is no badge, not an error."""

    def __init__(self, user: SessionUser) -> None:
        self.user = user
        with (
            ui.button(icon="notifications", on_click=lambda: ui.navigate.to("/alarms"))
            .props('flat round color=white data-testid=alarm-badge aria-label="alarms"')
            .mark("alarm-badge") as self.button
        ):
            self.badge = ui.badge("0", color="negative").props("floating").mark("alarm-count")
            self.tip = ui.tooltip("")  # one tooltip, its text updated (not one per refresh)
        self.button.set_visibility(False)
        self.timer = ui.timer(BADGE_REFRESH_S, self.refresh, immediate=True)

    async def refresh(self) -> None:
        try:
            page = await self.user.api.get("/alarms", state="active", size=1)
        except ApiError as err:
            if err.status in (403, 404, 405):  # no alarms API here, or not for this role
                self.timer.cancel()
                self.button.set_visibility(False)
            return  # a passing failure: keep the last count, try again
        count = int(page.get("total", 0)) if isinstance(page, dict) else 0
        self.badge.set_text(str(count))
        self.badge.set_visibility(count > 0)
        self.tip.text = t("header.alarms", n=count)
        self.button.set_visibility(True)


def user_menu(user: SessionUser) -> None:
    here = current_locale()
    with (
        ui.button(icon="translate")
        .props(f'flat round color=white aria-label="{t("header.menu")}" data-testid=user-menu')
        .mark("user-menu"),
        ui.menu(),
    ):
        ui.item_label(t("header.language")).props("header").classes("text-caption")
        for locale in LOCALES:
            item = ui.menu_item(
                ("✓ " if locale == here else "") + t(f"lang.{locale}", locale),
                on_click=lambda loc=locale: switch_language(user, loc),
            )
            item.props(f"data-testid=lang-{locale}").mark(f"lang-{locale}")


@contextmanager
def frame(user: SessionUser, title: str) -> Iterator[None]:
    ui.page_title(f"{t('app')} · {title}")
    with ui.header().classes("items-center gap-x-4 gap-y-1 flex-wrap"):
        ui.link(t("app"), "/").classes("text-h6 text-white no-underline")
        with ui.row().classes("gap-1 flex-wrap").props('role="navigation"'):
            for path, key in nav_for(user.role):
                ui.link(t(key), path).classes("text-white px-2").props(
                    f"data-testid=nav-{path.strip('/')}"
                )
        ui.space()
        search_box()
        if user.role in ALARM_ROLES:
            AlarmBadge(user)
        ui.label(f"{user.username} · {t('role.' + user.role)}").props("data-testid=whoami").mark(
            "whoami"
        )
        user_menu(user)
        ui.button(t("logout"), on_click=lambda: _logout(user)).props("flat color=white")
    with ui.column().classes("w-full p-4 gap-4"):
        ui.label(title).classes("text-h5")
        yield
