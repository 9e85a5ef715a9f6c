"""/search?q=: what the header's search box found (GET /search, scoped by the API), grouped by
kind, each hit a link to its page when the user's role may open that page."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi.responses import RedirectResponse
from nicegui import ui

from wayhouse.ui import i18n
from wayhouse.ui.api_client import ApiError
from wayhouse.ui.frame import frame, nav_for
from wayhouse.ui.i18n import t
from wayhouse.ui.session import SessionUser, report, require_user

i18n.extend(
    {
        "en": {
            "search.title": "Search",
            "search.none": "Nothing found for “{q}”",
            "search.hint": "Type a dealer, an order number, a SKU or a truck",
            "search.kind.order": "Orders",
            "search.kind.dealer": "Dealers",
            "search.kind.customer": "Customers",
            "search.kind.product": "Products",
            "search.kind.vehicle": "Trucks",
        },
        "zh-CN": {
            "search.title": "搜索",
            "search.none": "未找到“{q}”",
            "search.hint": "输入经销商、订单号、SKU 或车辆",
            "search.kind.order": "订单",
            "search.kind.dealer": "经销商",
            "search.kind.customer": "客户",
            "search.kind.product": "商品",
            "search.kind.vehicle": "车辆",
        },
    }
)

KINDS = ("order", "dealer", "customer", "product", "vehicle")
# Where a hit opens, and the page the role must be allowed to open for the link.
TARGETS = {
    "order": ("/orders/{id}", "/orders"),
    "dealer": ("/dealers/{id}", "/dealers"),
    "customer": ("/customers/{id}", "/customers"),
    "product": ("/stock?product_id={id}", "/stock"),
    "vehicle": ("/tracking", "/tracking"),
}


def link_for(role: str, hit: dict[str, Any]) -> str | None:
    target, page = TARGETS[hit["kind"]]
    allowed = {path for path, _ in nav_for(role)}
    return target.format(id=hit["id"]) if page in allowed else None


async def _page(user: SessionUser, q: str) -> None:
    with frame(user, t("search.title")):
        box = (
            ui.input(t("search.title"), value=q)
            .props("clearable autofocus type=search data-testid=search-page-box")
            .classes("w-96")
            .mark("search-page-box")
        )
        box.on(
            "keydown.enter",
            lambda: ui.navigate.to(f"/search?q={quote(box.value)}") if box.value else None,
        )
        if not q.strip():
            ui.label(t("search.hint")).classes("text-grey-7")
            return
        try:
            found = await user.api.get("/search", q=q, limit=10)
        except ApiError as err:
            report(err, inline=True)
            return
        hits = found["hits"]
        if not hits:
            ui.label(t("search.none", q=q)).props("data-testid=search-none").mark("search-none")
            return
        with ui.column().classes("w-full max-w-3xl gap-4").mark("search-results"):
            for kind in KINDS:
                group = [h for h in hits if h["kind"] == kind]
                if not group:
                    continue
                ui.label(t(f"search.kind.{kind}")).classes("text-subtitle1")
                with ui.list().props("bordered separator dense").classes("w-full"):
                    for hit in group:
                        _hit_row(user, hit)


def _hit_row(user: SessionUser, hit: dict[str, Any]) -> None:
    marker = f"hit-{hit['kind']}-{hit['id']}"
    href = link_for(user.role, hit)
    with ui.item().props(f"data-testid={marker}").mark(marker), ui.item_section():
        if href:
            ui.link(hit["label"], href).classes("text-primary").mark(f"{marker}-link")
        else:
            ui.label(hit["label"])
        ui.item_label(hit["detail"]).props("caption")


def register() -> None:
    @ui.page("/search")
    async def search_page(q: str = "") -> RedirectResponse | None:
        user = require_user()
        if isinstance(user, RedirectResponse):
            return user
        await _page(user, q)
        return None
