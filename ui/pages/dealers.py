"""/dealers: the dealers the API lets this user see (searchable, paged by the API), and
/dealers/{id}: one dealer's profile."""

from __future__ import annotations

from typing import Any

from fastapi.responses import RedirectResponse
from nicegui import ui

from wayhouse.ui.api_client import ApiError
from wayhouse.ui.export import export_button
from wayhouse.ui.frame import frame
from wayhouse.ui.i18n import t
from wayhouse.ui.pager import Pager
from wayhouse.ui.pages.dealer_panels import dealer_sections
from wayhouse.ui.session import report, require_user

DEALER_ROLES = frozenset({"hq_admin", "region_manager", "dealer_user"})
STATUSES = ["applicant", "active", "suspended", "closed"]


def _columns() -> list[dict[str, Any]]:
    return [
        {"name": "code", "label": t("dealer.code"), "field": "code", "align": "left"},
        {"name": "legal_name", "label": t("dealer.name"), "field": "legal_name", "align": "left"},
        {"name": "tier", "label": t("dealer.tier"), "field": "tier", "align": "left"},
        {"name": "status", "label": t("dealer.status"), "field": "status", "align": "left"},
    ]


# The code is a real link so the list can be walked with Tab and opened with Enter.
LINK_CELL = (
    '<q-td :props="props"><a class="text-primary" :href="\'/dealers/\' + props.row.id">'
    "{{ props.value }}</a></q-td>"
)


def register() -> None:
    @ui.page("/dealers")
    async def dealers_page() -> RedirectResponse | None:
        user = require_user(DEALER_ROLES)
        if isinstance(user, RedirectResponse):
            return user

        async def load() -> None:
            try:
                data = await user.api.get(
                    "/dealers",
                    page=pager.page,
                    size=pager.size,
                    q=search.value,
                    status=status.value,
                )
            except ApiError as err:
                report(err)
                return
            table.rows = data["items"]
            pager.update(data["total"])

        with frame(user, t("dealers.title")):
            with ui.row().classes("items-end gap-4"):
                search = (
                    ui.input(t("dealers.search"))
                    .props("clearable data-testid=dealer-search")
                    .mark("dealer-search")
                )
                status = ui.select(
                    {None: t("filter.any"), **{s: s for s in STATUSES}},
                    label=t("filter.status"),
                    value=None,
                ).classes("w-40")
                ui.button(t("search"), on_click=lambda: pager.reset())
                export_button(user, "dealers", lambda: {"q": search.value, "status": status.value})
            search.on("keydown.enter", lambda: pager.reset())
            status.on_value_change(lambda: pager.reset())
            table = ui.table(columns=_columns(), rows=[], row_key="id").classes("w-full")
            table.mark("dealers")
            table.props("hide-pagination :pagination='{rowsPerPage: 0}'")
            table.add_slot("body-cell-code", LINK_CELL)
            pager = Pager(load)
        await load()
        return None

    @ui.page("/dealers/{dealer_id}")
    async def dealer_detail(dealer_id: int) -> RedirectResponse | None:
        user = require_user(DEALER_ROLES)
        if isinstance(user, RedirectResponse):
            return user
        with frame(user, t("dealers.title")):
            ui.link(t("dealer.back"), "/dealers")
            try:
                d = await user.api.get(f"/dealers/{dealer_id}")
            except ApiError as err:
                report(err, inline=True)
                return None
            with ui.card().classes("w-full max-w-3xl"):
                ui.label(f"{d['code']} · {d['legal_name']}").classes("text-h6")
                with ui.grid(columns=2).classes("gap-x-8"):
                    for key, value in (
                        ("dealer.tier", d["tier"]),
                        ("dealer.status", d["status"]),
                        ("dealer.scope", d.get("business_scope") or "–"),
                    ):
                        ui.label(t(key)).classes("text-caption")
                        ui.label(str(value))
                ui.label(t("dealer.contacts")).classes("text-subtitle2 mt-2")
                for c in d["contacts"] or [{"name": "–"}]:
                    ui.label(" · ".join(str(v) for v in c.values() if v))
                ui.label(t("dealer.addresses")).classes("text-subtitle2 mt-2")
                for a in d["addresses"] or [{"line": "–"}]:
                    ui.label(f"{a.get('label', '')}: {a['line']}".strip(": "))
            ui.link(t("dealer.orders"), f"/orders?dealer_id={d['id']}")
            await dealer_sections(user, d)
        return None
