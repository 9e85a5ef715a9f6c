"""/orders (list with a status filter, paged by the API), /orders/new (a dealer user builds an
order from the catalogue), /orders/{id} (lines, approvals, timeline, and the next steps the
user's role may take; the API still decides, and its refusal is shown)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi.responses import RedirectResponse
from nicegui import ui

from wayhouse.ui.api_client import ApiError
from wayhouse.ui.export import export_button
from wayhouse.ui.frame import frame
from wayhouse.ui.i18n import t
from wayhouse.ui.pager import Pager
from wayhouse.ui.pages import order_tools
from wayhouse.ui.pages.fulfilment import fulfilment_panel
from wayhouse.ui.session import APPROVERS, ORDERERS, SessionUser, report, require_user

STATUSES = [
    "draft",
    "submitted",
    "credit_check",
    "held",
    "approval",
    "allocated",
    "picking",
    "shipped",
    "delivered",
    "invoiced",
    "paid",
    "cancelled",
    "returned",
]
CANCELLABLE = frozenset({"draft", "submitted", "credit_check", "held", "approval", "allocated"})
LINK_CELL = (
    '<q-td :props="props"><a class="text-primary" :href="\'/orders/\' + props.row.id">'
    "{{ props.value }}</a></q-td>"
)


def actions_for(role: str, status: str) -> list[str]:
    """The buttons worth showing; a hint only: the API's state machine has the last word."""
    acts: list[str] = []
    if role in ORDERERS and status == "draft":
        acts.append("submit")
    if role in APPROVERS and status == "approval":
        acts += ["approve", "reject"]
    if role in ORDERERS and status in CANCELLABLE:
        acts.append("cancel")
    return acts


def _columns() -> list[dict[str, Any]]:
    return [
        {"name": "id", "label": t("order.id"), "field": "id", "align": "left"},
        {"name": "dealer_id", "label": t("order.dealer"), "field": "dealer_id", "align": "left"},
        {"name": "status", "label": t("order.status"), "field": "status", "align": "left"},
        {"name": "total", "label": t("order.total"), "field": "total", "align": "right"},
        {"name": "created_at", "label": t("order.created"), "field": "created_at"},
    ]


async def _list_page(user: SessionUser, dealer_id: int | None) -> None:
    def params() -> dict[str, Any]:
        values = filters.params()
        if dealer_id is not None and not values.get("dealer_id"):
            values["dealer_id"] = dealer_id
        return values

    async def load() -> None:
        try:
            data = await user.api.get("/orders", page=pager.page, size=pager.size, **params())
        except ApiError as err:
            report(err)
            return
        for row in data["items"]:
            row["created_at"] = row["created_at"][:16].replace("T", " ")
            row["total"] = f"{row['total']} {row['currency']}"
        table.rows = data["items"]
        pager.update(data["total"])

    with frame(user, t("orders.title")):
        # Status, dealer and date filters, saved per user; export of the filtered list.
        filters = order_tools.OrderFilters(
            user, lambda: pager.reset(), await order_tools.dealer_choices(user)
        )
        with ui.row().classes("items-end gap-4"):
            export_button(user, "orders", params)
            if user.role in ORDERERS:
                ui.button(t("orders.new"), on_click=lambda: ui.navigate.to("/orders/new")).props(
                    "data-testid=new-order"
                )
        table = ui.table(columns=_columns(), rows=[], row_key="id").classes("w-full")
        table.props("data-testid=orders").mark("orders")
        table.props("hide-pagination :pagination='{rowsPerPage: 0}'")
        table.add_slot("body-cell-id", LINK_CELL)
        pager = Pager(load)
    await load()


async def _new_page(user: SessionUser) -> None:
    lines: list[dict[str, Any]] = []
    with frame(user, t("orders.new")):
        try:
            products = await user.api.get("/products", size=500, sort="sku")
        except ApiError as err:
            report(err)
            return
        names = {
            p["id"]: f"{p['sku']} · {p['name']} ({p['list_price']})" for p in products["items"]
        }
        skus = {p["id"]: p["sku"] for p in products["items"]}
        with ui.row().classes("items-end gap-4"):
            product = (
                ui.select(names, label=t("order.product"), with_input=True)
                .classes("w-96")
                .props("data-testid=order-product")
            )
            qty = ui.number(t("order.qty"), value=1, min=1, step=1, precision=0).classes("w-32")
            ui.button(t("order.add_line"), on_click=lambda: add()).props("data-testid=add-line")
        table = ui.table(
            columns=[
                {"name": "sku", "label": t("order.sku"), "field": "sku", "align": "left"},
                {"name": "qty", "label": t("order.qty"), "field": "qty"},
            ],
            rows=lines,
            row_key="product_id",
        ).classes("w-full max-w-xl")
        note = ui.input(t("order.note")).classes("w-96")
        ui.button(t("order.place"), on_click=lambda: place()).props("data-testid=place-order").mark(
            "place-order"
        )

    def add() -> None:
        if product.value is None or not qty.value or qty.value < 1:
            return
        pid = int(product.value)
        for line in lines:
            if line["product_id"] == pid:
                line["qty"] += int(qty.value)
                break
        else:
            lines.append({"product_id": pid, "sku": skus[pid], "qty": int(qty.value)})
        table.rows = [dict(line) for line in lines]  # the table keeps its own copy of rows

    async def place() -> None:
        if not lines:
            ui.notify(t("order.no_lines"), type="warning")
            return
        body = {
            "lines": [{"product_id": ln["product_id"], "qty": ln["qty"]} for ln in lines],
            "note": note.value or None,
        }
        try:
            order = await user.api.post("/orders", json=body)
        except ApiError as err:
            report(err)
            return
        ui.notify(t("order.placed", id=order["id"]), type="positive")
        ui.navigate.to(f"/orders/{order['id']}")


def _reason_dialog(title: str, on_confirm: Callable[[str], Awaitable[None]]) -> ui.dialog:
    with ui.dialog() as dialog, ui.card():
        ui.label(title).classes("text-h6")
        reason = (
            ui.input(t("action.reason"))
            .props("autofocus")
            .classes("w-80")
            .props("data-testid=reason")
            .mark("reason")
        )

        async def confirm() -> None:
            if reason.value:
                dialog.close()
                await on_confirm(reason.value)

        reason.on("keydown.enter", confirm)
        with ui.row():
            ui.button(t("action.confirm"), on_click=confirm).props("data-testid=confirm").mark(
                "confirm"
            )
            ui.button(t("action.close"), on_click=dialog.close).props("flat")
    return dialog


async def _detail_page(user: SessionUser, order_id: int) -> None:
    with frame(user, f"{t('order.id')} {order_id}"):
        ui.link(t("order.back"), "/orders")
        body = ui.column().classes("w-full gap-4")

    async def act(action: str, reason: str | None = None) -> None:
        payload = {"reason": reason} if reason is not None else None
        try:
            order = await user.api.post(f"/orders/{order_id}/{action}", json=payload)
        except ApiError as err:
            report(err)
            return
        ui.notify(t("action.done", id=order_id, status=order["status"]), type="positive")
        await render(order)

    async def reload() -> None:
        try:
            await render(await user.api.get(f"/orders/{order_id}"))
        except ApiError as err:
            report(err)

    async def render(o: dict[str, Any]) -> None:
        body.clear()
        with body:
            with ui.row().classes("items-center gap-6"):
                ui.label(f"{t('order.status')}: {o['status']}").props(
                    "data-testid=order-status"
                ).props("data-testid=order-status").mark("order-status")
                ui.label(f"{t('order.total')}: {o['total']} {o['currency']}")
                ui.link(f"{t('order.dealer')} {o['dealer_id']}", f"/dealers/{o['dealer_id']}")
            if o["hold_reasons"]:
                ui.label(f"{t('order.holds')}: {', '.join(o['hold_reasons'])}").classes(
                    "text-warning"
                )
            with ui.row().classes("gap-2"):
                for action in actions_for(user.role, o["status"]):
                    if action in ("reject", "cancel"):
                        dialog = _reason_dialog(
                            t(f"action.{action}"), lambda r, a=action: act(a, r)
                        )
                        ui.button(t(f"action.{action}"), on_click=dialog.open).props(
                            f"color=negative outline data-testid=act-{action}"
                        ).props(f"data-testid=act-{action}").mark(f"act-{action}")
                    else:
                        ui.button(t(f"action.{action}"), on_click=lambda a=action: act(a)).props(
                            f"data-testid=act-{action}"
                        ).props(f"data-testid=act-{action}").mark(f"act-{action}")
            await fulfilment_panel(user, o, reload)
            ui.label(t("order.lines")).classes("text-subtitle1")
            ui.table(
                columns=[
                    {"name": k, "label": t(f"order.{lbl}"), "field": k, "align": "left"}
                    for k, lbl in (
                        ("sku", "sku"),
                        ("qty", "qty"),
                        ("unit_price", "price"),
                        ("amount", "amount"),
                    )
                ],
                rows=o["lines"],
                row_key="product_id",
            ).classes("w-full max-w-3xl")
            if o["approvals"]:
                ui.label(t("order.approvals")).classes("text-subtitle1")
                for a in o["approvals"]:
                    ui.label(f"{a['step']}. {a['role']} · {a['status']} {a['note'] or ''}")
            ui.label(t("order.timeline")).classes("text-subtitle1")
            with ui.timeline(side="right").classes("max-w-3xl"):
                for e in o["timeline"]:
                    ui.timeline_entry(
                        e["reason"] or "",
                        title=f"{e['from_status'] or '·'} → {e['to_status']}",
                        subtitle=f"{e['at'][:19].replace('T', ' ')} · {e['by']}",
                    )

    try:
        order = await user.api.get(f"/orders/{order_id}")
    except ApiError as err:
        with body:
            report(err, inline=True)
        return
    await render(order)


def register() -> None:
    @ui.page("/orders")
    async def orders_page(dealer_id: int | None = None) -> RedirectResponse | None:
        user = require_user()
        if isinstance(user, RedirectResponse):
            return user
        await _list_page(user, dealer_id)
        return None

    @ui.page("/orders/new")
    async def new_order_page() -> RedirectResponse | None:
        user = require_user(frozenset({"dealer_user"}))
        if isinstance(user, RedirectResponse):
            return user
        await _new_page(user)
        return None

    @ui.page("/orders/{order_id}")
    async def order_detail(order_id: int) -> RedirectResponse | None:
        user = require_user()
        if isinstance(user, RedirectResponse):
            return user
        await _detail_page(user, order_id)
        return None
