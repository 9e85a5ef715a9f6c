"""The fulfilment part of an order's page: the pick list with a pick per bin, shipping what is
staged, proof of delivery per shipment, invoicing and returns. Each control shows only to the
roles that may use it; the API decides and its refusal is shown in the user's language."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from nicegui import ui

from wayhouse.ui import i18n
from wayhouse.ui.api_client import ApiError
from wayhouse.ui.i18n import t
from wayhouse.ui.session import SessionUser, report

FLOOR = frozenset({"hq_admin", "warehouse_operator", "dispatcher"})
ALLOCATORS = frozenset({"hq_admin", "region_manager", "warehouse_operator"})
DELIVERERS = frozenset({"hq_admin", "driver", "dispatcher", "warehouse_operator"})
RETURNERS = frozenset({"hq_admin", "region_manager", "warehouse_operator"})
PICKABLE = frozenset({"allocated", "picking"})
RETURNABLE = frozenset({"delivered", "invoiced", "paid"})

i18n.extend(
    {
        "en": {
            "ful.picklist": "Pick list",
            "ful.warehouse": "Ship from",
            "ful.allocate": "Reserve stock (earliest expiry first)",
            "ful.bin": "Bin",
            "ful.lot": "Lot",
            "ful.expires": "Expires",
            "ful.staged": "Staged",
            "ful.pick": "Pick",
            "ful.ship": "Ship what is staged",
            "ful.shipments": "Shipments",
            "ful.deliver": "Proof of delivery",
            "ful.pod_kind": "Proof",
            "ful.pod_reference": "Signature / scan reference",
            "ful.received_by": "Received by",
            "ful.invoice": "Invoice",
            "ful.invoiced": "Invoice {number}: {amount}",
            "ful.return": "Record a return",
            "ful.returned": "Return recorded",
            "ful.picked": "Picked {qty} {sku} from {bin}",
            "ful.shipped": "Shipment {id} left",
            "ful.delivered": "Shipment {id} delivered",
        },
        "zh-CN": {
            "ful.picklist": "拣货单",
            "ful.warehouse": "发货仓库",
            "ful.allocate": "预留库存（先到期先出）",
            "ful.bin": "库位",
            "ful.lot": "批次",
            "ful.expires": "到期日",
            "ful.staged": "已集货",
            "ful.pick": "拣货",
            "ful.ship": "发运已集货商品",
            "ful.shipments": "发货单",
            "ful.deliver": "签收确认",
            "ful.pod_kind": "签收方式",
            "ful.pod_reference": "签名 / 扫码编号",
            "ful.received_by": "签收人",
            "ful.invoice": "开票",
            "ful.invoiced": "发票 {number}：{amount}",
            "ful.return": "登记退货",
            "ful.returned": "退货已登记",
            "ful.picked": "已从 {bin} 拣货 {qty} 件 {sku}",
            "ful.shipped": "发货单 {id} 已发出",
            "ful.delivered": "发货单 {id} 已签收",
        },
    }
)


async def fulfilment_panel(
    user: SessionUser, order: dict[str, Any], refresh: Callable[[], Awaitable[None]]
) -> None:
    """Renders into the current container; ``refresh`` re-reads and re-renders the order."""
    oid, status = order["id"], order["status"]

    async def call(path: str, body: dict[str, Any] | None, done: str) -> None:
        try:
            await user.api.post(path, json=body)
        except ApiError as err:
            report(err)
            return
        ui.notify(done, type="positive")
        await refresh()

    approved = all(a["status"] == "approved" for a in order["approvals"])
    if status == "approval" and approved and user.role in ALLOCATORS:
        try:
            warehouses = (await user.api.get("/warehouses", size=100))["items"]
        except ApiError as err:
            report(err, inline=True)
            warehouses = []
        with ui.row().classes("items-end gap-3"):
            wh = ui.select(
                {w["id"]: f"{w['code']} · {w['name']}" for w in warehouses},
                value=warehouses[0]["id"] if warehouses else None,
                label=t("ful.warehouse"),
            ).classes("w-64")
            ui.button(
                t("ful.allocate"),
                on_click=lambda: call(
                    f"/orders/{oid}/allocate", {"warehouse_id": wh.value}, t("ful.allocate")
                ),
            ).props("data-testid=allocate").mark("allocate")

    if status in PICKABLE and user.role in FLOOR:
        try:
            tasks = await user.api.get(f"/orders/{oid}/pick-list")
        except ApiError as err:
            report(err, inline=True)
            tasks = []
        ui.label(t("ful.picklist")).classes("text-subtitle1")
        with ui.column().classes("gap-1").props("data-testid=pick-list").mark("pick-list"):
            for task in tasks:
                with ui.row().classes("items-center gap-3"):
                    ui.label(f"{task['sku']} · {t('ful.bin')} {task['bin_code']}")
                    ui.label(f"{t('ful.lot')} {task['lot_code'] or '-'}")
                    if task["staged"]:
                        ui.badge(f"{t('ful.staged')} {task['qty']}", color="positive")
                        continue
                    qty = ui.number(value=task["qty"], min=1, max=task["qty"], precision=0)
                    qty.classes("w-20").props(f"data-testid=pick-qty-{task['bin_code']}").mark(
                        f"pick-qty-{task['bin_code']}"
                    )
                    ui.button(
                        t("ful.pick"),
                        on_click=lambda task=task, qty=qty: call(
                            f"/orders/{oid}/picks",
                            {
                                "sku": task["sku"],
                                "bin_code": task["bin_code"],
                                "qty": int(qty.value or 0),
                            },
                            t(
                                "ful.picked",
                                qty=int(qty.value or 0),
                                sku=task["sku"],
                                bin=task["bin_code"],
                            ),
                        ),
                    ).props(f"data-testid=pick-{task['bin_code']}").mark(f"pick-{task['bin_code']}")
        if any(task["staged"] for task in tasks):
            ui.button(
                t("ful.ship"),
                on_click=lambda: call(f"/orders/{oid}/shipments", None, t("ful.shipped", id="")),
            ).props("data-testid=ship").mark("ship")

    try:
        shipments = await user.api.get(f"/orders/{oid}/shipments")
    except ApiError:
        shipments = []
    if shipments:
        ui.label(t("ful.shipments")).classes("text-subtitle1")
        for s in shipments:
            lines = ", ".join(f"{ln['qty']} {ln['sku']}" for ln in s["lines"])
            with (
                ui.row()
                .classes("items-center gap-3")
                .props(f"data-testid=shipment-{s['id']}")
                .mark(f"shipment-{s['id']}")
            ):
                ui.label(f"#{s['id']} · {lines} · {s['status']}")
                if s["status"] == "delivered":
                    ui.label(f"{s['pod_kind']} {s['pod_reference']} {s['pod_received_by'] or ''}")
                elif user.role in DELIVERERS:
                    _deliver_form(s["id"], call)

    if status == "delivered" and user.role == "hq_admin":
        ui.button(
            t("ful.invoice"),
            on_click=lambda: call(f"/orders/{oid}/invoice", None, t("ful.invoice")),
        ).props("data-testid=invoice").mark("invoice")
    if status in RETURNABLE and user.role in RETURNERS:
        _return_form(order, call)


def _deliver_form(shipment_id: int, call: Callable[..., Awaitable[None]]) -> None:
    kind = ui.select(["signature", "scan", "photo"], value="signature", label=t("ful.pod_kind"))
    reference = (
        ui.input(t("ful.pod_reference"))
        .props(f"data-testid=pod-ref-{shipment_id}")
        .mark(f"pod-ref-{shipment_id}")
    )
    received = ui.input(t("ful.received_by"))

    async def submit() -> None:
        if not reference.value:
            return
        await call(
            f"/shipments/{shipment_id}/deliver",
            {"kind": kind.value, "reference": reference.value, "received_by": received.value or ""},
            t("ful.delivered", id=shipment_id),
        )

    ui.button(t("ful.deliver"), on_click=submit).props(f"data-testid=deliver-{shipment_id}").mark(
        f"deliver-{shipment_id}"
    )


def _return_form(order: dict[str, Any], call: Callable[..., Awaitable[None]]) -> None:
    with (
        ui.expansion(t("ful.return"))
        .classes("max-w-3xl")
        .props("data-testid=return")
        .mark("return")
    ):
        sku = ui.select([ln["sku"] for ln in order["lines"]], label=t("order.sku"))
        qty = ui.number(t("order.qty"), value=1, min=1, precision=0)
        reason = ui.input(t("action.reason"))

        async def submit() -> None:
            if not (sku.value and reason.value):
                return
            body = {
                "lines": [{"sku": sku.value, "qty": int(qty.value or 0)}],
                "reason": reason.value,
            }
            await call(f"/orders/{order['id']}/returns", body, t("ful.returned"))

        ui.button(t("action.confirm"), on_click=submit).props("data-testid=return-confirm").mark(
            "return-confirm"
        )
