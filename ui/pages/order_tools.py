"""Order tools: saved filters for order lists (per user, in ``app.storage.user``), the
approval queue (/approvals: orders waiting for this approver's step) and the order composer
(/new-order) that shows, while the order is put together, the dealer's available credit
(GET /dealers/{id}/credit) and the stock available to promise per line
(GET /order-desk/availability). The API still decides at submit; these are early warnings.

orders.py can reuse the pieces: ``OrderFilters`` on its list, ``composer`` for /orders/new.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from fastapi.responses import RedirectResponse
from nicegui import app, ui

from wayhouse.ui import fmt, i18n
from wayhouse.ui.api_client import ApiError
from wayhouse.ui.export import export_button
from wayhouse.ui.frame import frame
from wayhouse.ui.i18n import t
from wayhouse.ui.pager import Pager
from wayhouse.ui.session import APPROVERS, ORDERERS, SessionUser, report, require_user

i18n.extend(
    {
        "en": {
            "ot.queue": "Waiting for my approval",
            "ot.queue_empty": "Nothing waits for your approval",
            "ot.step": "Step",
            "ot.rules": "Because",
            "ot.dealer": "Dealer",
            "ot.all_dealers": "All dealers",
            "ot.status": "Status",
            "ot.from": "Created from",
            "ot.to": "Created to",
            "ot.saved": "Saved filters",
            "ot.save_as": "Save current filter as",
            "ot.save": "Save",
            "ot.delete": "Delete",
            "ot.saved_ok": "Filter “{name}” saved",
            "ot.new": "New order",
            "ot.credit": "Credit of the dealer",
            "ot.credit_limit": "Limit",
            "ot.credit_available": "Available now",
            "ot.credit_after": "Available after this order",
            "ot.credit_overdue": "Overdue past grace",
            "ot.credit_short": "Over the available credit by {amount}: the order will be held for credit",
            "ot.credit_overdue_hold": "Overdue invoices: the order will be held until they are paid",
            "ot.credit_ok": "Within the available credit",
            "ot.credit_unknown": "Credit not visible",
            "ot.product": "Product",
            "ot.qty": "Quantity",
            "ot.add": "Add line",
            "ot.available": "Available",
            "ot.stock_short": "short by {n}",
            "ot.stock_ok": "in stock",
            "ot.amount": "Amount (list price)",
            "ot.total": "Estimated total",
            "ot.note": "Note",
            "ot.place": "Place order",
            "ot.no_lines": "Add at least one line",
            "ot.no_dealer": "Choose the dealer first",
            "ot.placed": "Order {id} placed as draft",
            "ot.remove": "Remove",
        },
        "zh-CN": {
            "ot.queue": "待我审批",
            "ot.queue_empty": "没有等待您审批的订单",
            "ot.step": "步骤",
            "ot.rules": "原因",
            "ot.dealer": "经销商",
            "ot.all_dealers": "全部经销商",
            "ot.status": "状态",
            "ot.from": "创建起始",
            "ot.to": "创建截止",
            "ot.saved": "已保存的筛选",
            "ot.save_as": "将当前筛选保存为",
            "ot.save": "保存",
            "ot.delete": "删除",
            "ot.saved_ok": "筛选“{name}”已保存",
            "ot.new": "新建订单",
            "ot.credit": "经销商信用",
            "ot.credit_limit": "额度",
            "ot.credit_available": "当前可用",
            "ot.credit_after": "下单后可用",
            "ot.credit_overdue": "超宽限期逾期",
            "ot.credit_short": "超出可用额度 {amount}：订单将因信用被挂起",
            "ot.credit_overdue_hold": "存在逾期发票：付清前订单将被挂起",
            "ot.credit_ok": "在可用额度之内",
            "ot.credit_unknown": "无法查看信用",
            "ot.product": "商品",
            "ot.qty": "数量",
            "ot.add": "添加明细",
            "ot.available": "可用库存",
            "ot.stock_short": "缺 {n}",
            "ot.stock_ok": "有货",
            "ot.amount": "金额（目录价）",
            "ot.total": "预计总额",
            "ot.note": "备注",
            "ot.place": "下单",
            "ot.no_lines": "请至少添加一行",
            "ot.no_dealer": "请先选择经销商",
            "ot.placed": "订单 {id} 已创建为草稿",
            "ot.remove": "删除",
        },
    }
)

STATUSES = (
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
)
STORE_KEY = "order_filters"
ORDER_LINK = (
    '<q-td :props="props"><a class="text-primary" :href="\'/orders/\' + props.row.id">'
    "{{ props.value }}</a></q-td>"
)


# -- saved filters --------------------------------------------------------------------------
def saved_filters() -> dict[str, dict[str, Any]]:
    """This user's saved order filters (the browser's signed storage, per user account)."""
    stored = app.storage.user.get(STORE_KEY)
    return dict(stored) if isinstance(stored, dict) else {}


def save_filter(name: str, values: dict[str, Any]) -> None:
    app.storage.user[STORE_KEY] = {**saved_filters(), name: dict(values)}


def delete_filter(name: str) -> None:
    app.storage.user[STORE_KEY] = {k: v for k, v in saved_filters().items() if k != name}


class OrderFilters:
    """Status, dealer and creation-date filters for an order list, with saved filters.
    ``params()`` are the API's query parameters; ``on_change`` runs when any of them change."""

    def __init__(
        self,
        user: SessionUser,
        on_change: Callable[[], Awaitable[None]],
        dealers: dict[int, str] | None = None,
    ) -> None:
        self._on_change = on_change
        self._applying = False
        self._just_saved: str | None = None  # selected by saving: nothing to apply
        with ui.row().classes("items-end gap-4 flex-wrap"):
            self.status = (
                ui.select(list(STATUSES), label=t("ot.status"), multiple=True, value=[])
                .props("use-chips clearable")
                .classes("min-w-48")
                .mark("filter-status")
            )
            self.dealer = (
                ui.select(
                    {None: t("ot.all_dealers"), **(dealers or {})},
                    label=t("ot.dealer"),
                    value=None,
                    with_input=True,
                )
                .classes("w-64")
                .mark("filter-dealer")
            )
            self.dealer.set_visibility(bool(dealers))
            self.created_from = (
                ui.input(t("ot.from")).props("type=date").classes("w-40").mark("filter-from")
            )
            self.created_to = (
                ui.input(t("ot.to")).props("type=date").classes("w-40").mark("filter-to")
            )
        with ui.row().classes("items-end gap-2 flex-wrap"):
            self.saved = (
                ui.select(sorted(saved_filters()), label=t("ot.saved"), value=None)
                .classes("w-56")
                .mark("saved-filters")
            )
            self.name = ui.input(t("ot.save_as")).classes("w-56").mark("filter-name")
            ui.button(t("ot.save"), icon="bookmark_add", on_click=self.save).props(
                "flat data-testid=save-filter"
            ).mark("save-filter")
            ui.button(t("ot.delete"), icon="delete", on_click=self.delete).props(
                "flat data-testid=delete-filter"
            ).mark("delete-filter")
        for control in (self.status, self.dealer, self.created_from, self.created_to):
            control.on_value_change(self._changed)
        self.saved.on_value_change(self._apply_saved)

    def values(self) -> dict[str, Any]:
        return {
            "status": list(self.status.value or []),
            "dealer_id": self.dealer.value,
            "created_from": self.created_from.value or None,
            "created_to": self.created_to.value or None,
        }

    def params(self) -> dict[str, Any]:
        return {k: v for k, v in self.values().items() if v not in (None, "", [])}

    async def _changed(self) -> None:
        if not self._applying:
            await self._on_change()

    async def _apply_saved(self) -> None:
        if self.saved.value is not None and self.saved.value == self._just_saved:
            self._just_saved = None
            return
        stored = saved_filters().get(self.saved.value or "")
        if stored is None:
            return
        self._applying = True  # one reload for the whole filter, not one per field
        try:
            self.status.value = [s for s in stored.get("status", []) if s in STATUSES]
            if stored.get("dealer_id") in self.dealer.options:
                self.dealer.value = stored.get("dealer_id")
            self.created_from.value = stored.get("created_from") or ""
            self.created_to.value = stored.get("created_to") or ""
        finally:
            self._applying = False
        self.name.value = self.saved.value
        await self._on_change()

    def save(self) -> None:
        name = (self.name.value or "").strip()
        if not name:
            return
        save_filter(name, self.values())
        if self.saved.value != name:  # selecting it by saving fires no re-apply
            self._just_saved = name
        self.saved.set_options(sorted(saved_filters()), value=name)
        ui.notify(t("ot.saved_ok", name=name), type="positive")

    def delete(self) -> None:
        if self.saved.value:
            delete_filter(self.saved.value)
            self.saved.set_options(sorted(saved_filters()), value=None)
            self.name.value = ""


async def dealer_choices(user: SessionUser) -> dict[int, str]:
    """The dealers the user may pick (none for a dealer user: it orders for its own)."""
    if user.role == "dealer_user":
        return {}
    listed = await user.api.get("/dealers", size=500, sort="code")
    return {d["id"]: f"{d['code']} · {d['legal_name']}" for d in listed["items"]}


# -- the approval queue ----------------------------------------------------------------------
def _queue_columns() -> list[dict[str, Any]]:
    return [
        {"name": "id", "label": t("order.id"), "field": "id", "align": "left"},
        {"name": "dealer_name", "label": t("ot.dealer"), "field": "dealer_name", "align": "left"},
        {"name": "total", "label": t("order.total"), "field": "total_text", "align": "right"},
        {"name": "created_at", "label": t("order.created"), "field": "created_text"},
        {"name": "step", "label": t("ot.step"), "field": "step"},
        {"name": "rules", "label": t("ot.rules"), "field": "rules_text", "align": "left"},
    ]


async def queue_page(user: SessionUser) -> None:
    with frame(user, t("ot.queue")):
        try:
            dealers = await dealer_choices(user)
        except ApiError as err:
            report(err, inline=True)
            return
        with ui.row().classes("items-end gap-4"):
            dealer = (
                ui.select({None: t("ot.all_dealers"), **dealers}, label=t("ot.dealer"), value=None)
                .props("use-input")
                .classes("w-72")
                .mark("queue-dealer")
            )
            export_button(user, "approvals", lambda: {"dealer_id": dealer.value})
        table = ui.table(columns=_queue_columns(), rows=[], row_key="id").classes("w-full")
        table.props("hide-pagination :pagination='{rowsPerPage: 0}'").mark("approval-queue")
        table.add_slot("body-cell-id", ORDER_LINK)
        empty = ui.label(t("ot.queue_empty")).classes("text-grey-7").mark("queue-empty")
        pager = Pager(lambda: load())

    async def load() -> None:
        try:
            data = await user.api.get(
                "/order-desk/approvals", page=pager.page, size=pager.size, dealer_id=dealer.value
            )
        except ApiError as err:
            report(err)
            return
        for row in data["items"]:
            row["total_text"] = fmt.money(row["total"], row["currency"])
            row["created_text"] = fmt.datetime(row["created_at"])
            row["rules_text"] = ", ".join(row["rules"])
        table.rows = data["items"]
        empty.set_visibility(not data["items"])
        pager.update(data["total"])

    dealer.on_value_change(lambda: pager.reset())
    await load()


# -- the composer ----------------------------------------------------------------------------
def credit_verdict(credit: dict[str, Any], amount: Decimal) -> tuple[str, str]:
    """('ok'|'short'|'overdue', message) for placing ``amount`` on this credit line: the same
    two reasons the credit check holds an order for."""
    available = Decimal(str(credit["available"]))
    if Decimal(str(credit.get("overdue_past_grace") or 0)) > 0:
        return "overdue", t("ot.credit_overdue_hold")
    if amount > available:
        return "short", t("ot.credit_short", amount=fmt.money(amount - available))
    return "ok", t("ot.credit_ok")


def _price(product: dict[str, Any]) -> Decimal:
    try:
        return Decimal(str(product["list_price"]))
    except (InvalidOperation, KeyError):
        return Decimal(0)


async def composer(user: SessionUser) -> None:
    """The new-order form with live credit and stock."""
    lines: list[dict[str, Any]] = []
    state: dict[str, Any] = {"credit": None, "available": {}}
    with frame(user, t("ot.new")):
        try:
            dealers = await dealer_choices(user)
            products = (await user.api.get("/products", size=500, sort="sku"))["items"]
            # A dealer user orders for its own dealer, the one dealer it sees.
            own = None if dealers else (await user.api.get("/dealers", size=1))["items"][0]
        except (ApiError, IndexError) as err:
            report(err if isinstance(err, ApiError) else ApiError(404, "dealer"), inline=True)
            return
        by_id = {p["id"]: p for p in products}
        with ui.row().classes("w-full gap-6 items-start flex-wrap"):
            with ui.column().classes("grow gap-3 min-w-96"):
                dealer = (
                    ui.select(dealers, label=t("ot.dealer"), with_input=True)
                    .classes("w-96")
                    .mark("compose-dealer")
                )
                dealer.set_visibility(bool(dealers))
                with ui.row().classes("items-end gap-4"):
                    product = (
                        ui.select(
                            {
                                p["id"]: f"{p['sku']} · {p['name']} ({fmt.money(p['list_price'])})"
                                for p in products
                            },
                            label=t("ot.product"),
                            with_input=True,
                        )
                        .classes("w-96")
                        .mark("compose-product")
                    )
                    qty = (
                        ui.number(t("ot.qty"), value=1, min=1, step=1, precision=0)
                        .classes("w-28")
                        .mark("compose-qty")
                    )
                    ui.button(t("ot.add"), icon="add", on_click=lambda: add()).mark("compose-add")
                table = (
                    ui.table(
                        columns=[
                            {
                                "name": "sku",
                                "label": t("order.sku"),
                                "field": "sku",
                                "align": "left",
                            },
                            {"name": "qty", "label": t("ot.qty"), "field": "qty"},
                            {"name": "amount", "label": t("ot.amount"), "field": "amount_text"},
                            {
                                "name": "available",
                                "label": t("ot.available"),
                                "field": "stock_text",
                            },
                        ],
                        rows=[],
                        row_key="product_id",
                    )
                    .classes("w-full max-w-3xl")
                    .mark("compose-lines")
                )
                total = ui.label().classes("text-subtitle1").mark("compose-total")
                note = ui.input(t("ot.note")).classes("w-96")
                ui.button(t("ot.place"), icon="send", on_click=lambda: place()).props(
                    "data-testid=compose-place"
                ).mark("compose-place")
            with ui.card().classes("w-80").mark("credit-panel"):
                ui.label(t("ot.credit")).classes("text-subtitle1")
                credit_box = ui.column().classes("gap-1")

    def dealer_id() -> int | None:
        return int(own["id"]) if own else dealer.value

    def order_amount() -> Decimal:
        return sum((Decimal(ln["amount"]) for ln in lines), Decimal(0))

    def render_credit() -> None:
        credit_box.clear()
        with credit_box:
            credit = state["credit"]
            if credit is None:
                ui.label(t("ot.credit_unknown")).classes("text-grey-7").mark("credit-verdict")
                return
            amount = order_amount()
            after = Decimal(str(credit["available"])) - amount
            for key, value in (
                ("ot.credit_limit", credit["credit_limit"]),
                ("ot.credit_available", credit["available"]),
                ("ot.credit_after", after),
                ("ot.credit_overdue", credit["overdue_past_grace"]),
            ):
                with ui.row().classes("w-full justify-between"):
                    ui.label(t(key)).classes("text-caption")
                    ui.label(fmt.money(value)).mark(key.replace("ot.", ""))
            verdict, message = credit_verdict(credit, amount)
            colour = "text-positive" if verdict == "ok" else "text-warning"
            ui.label(message).classes(colour).mark("credit-verdict").props(
                f"data-testid=credit-{verdict}"
            )

    async def load_credit() -> None:
        did = dealer_id()
        state["credit"] = None
        if did is not None:
            try:
                state["credit"] = await user.api.get(f"/dealers/{did}/credit")
            except ApiError as err:
                if err.status != 404:
                    report(err)
        render_credit()

    async def load_stock() -> None:
        ids = [ln["product_id"] for ln in lines]
        if ids:
            try:
                found = await user.api.get("/order-desk/availability", product_id=ids)
                state["available"] = {a["product_id"]: a["available"] for a in found}
            except ApiError as err:
                report(err)
        render_lines()

    def render_lines() -> None:
        for ln in lines:
            available = state["available"].get(ln["product_id"])
            if available is None:
                ln["stock_text"] = "–"
            elif available >= ln["qty"]:
                ln["stock_text"] = f"{fmt.number(available)} · {t('ot.stock_ok')}"
            else:
                short = t("ot.stock_short", n=fmt.number(ln["qty"] - available))
                ln["stock_text"] = f"{fmt.number(available)} · {short}"
            ln["amount_text"] = fmt.money(ln["amount"])
        # The table holds its own (observable) copy of the rows: hand it the new list.
        table.rows = [dict(ln) for ln in lines]
        total.text = f"{t('ot.total')}: {fmt.money(order_amount())}"
        render_credit()

    async def add() -> None:
        if product.value is None or not qty.value or qty.value < 1:
            return
        pid = int(product.value)
        p = by_id[pid]
        for ln in lines:
            if ln["product_id"] == pid:
                ln["qty"] += int(qty.value)
                ln["amount"] = str(_price(p) * ln["qty"])
                break
        else:
            n = int(qty.value)
            lines.append(
                {"product_id": pid, "sku": p["sku"], "qty": n, "amount": str(_price(p) * n)}
            )
        await load_stock()

    async def place() -> None:
        if dealer_id() is None:
            ui.notify(t("ot.no_dealer"), type="warning")
            return
        if not lines:
            ui.notify(t("ot.no_lines"), type="warning")
            return
        body: dict[str, Any] = {
            "lines": [{"product_id": ln["product_id"], "qty": ln["qty"]} for ln in lines],
            "note": note.value or None,
        }
        if not own:
            body["dealer_id"] = dealer_id()
        try:
            order = await user.api.post("/orders", json=body)
        except ApiError as err:
            report(err)
            return
        ui.notify(t("ot.placed", id=order["id"]), type="positive")
        ui.navigate.to(f"/orders/{order['id']}")

    dealer.on_value_change(load_credit)
    render_lines()
    await load_credit()


def register() -> None:
    @ui.page("/approvals")
    async def approvals_page() -> RedirectResponse | None:
        user = require_user(APPROVERS)
        if isinstance(user, RedirectResponse):
            return user
        await queue_page(user)
        return None

    @ui.page("/new-order")
    async def new_order_page() -> RedirectResponse | None:
        user = require_user(ORDERERS)
        if isinstance(user, RedirectResponse):
            return user
        await composer(user)
        return None
