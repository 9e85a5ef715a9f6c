"""/customers (searchable, filtered by stage, paged by the API; a new lead by form) and
/customers/{id} (contact and position, the lifecycle step the stage allows, the interaction log
with a form to add one, and the history). The API decides; its refusal is shown as sent."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi.responses import RedirectResponse
from nicegui import ui

from wayhouse.ui import i18n
from wayhouse.ui.api_client import ApiError
from wayhouse.ui.export import export_button
from wayhouse.ui.frame import frame
from wayhouse.ui.i18n import t
from wayhouse.ui.pager import Pager
from wayhouse.ui.session import APPROVERS, SessionUser, report, require_user

CRM_ROLES = frozenset({"hq_admin", "region_manager", "dealer_user"})
STAGES = ["lead", "prospect", "customer", "repeat_customer"]
KINDS = ["call", "visit", "email", "message", "meeting", "note"]
# The one step forward each stage offers; a purchase needs the order's reference.
NEXT_STEP = {"lead": "prospect", "prospect": "customer", "customer": "repeat_customer"}
LINK_CELL = (
    '<q-td :props="props"><a class="text-primary" :href="\'/customers/\' + props.row.id">'
    "{{ props.value }}</a></q-td>"
)

i18n.extend(
    {
        "en": {
            "customers.title": "Customers",
            "customers.search": "Name, code, phone or email",
            "customers.unassigned": "Unassigned leads only",
            "customers.new": "New lead",
            "customers.create": "Create",
            "customers.created": "Customer {id} created",
            "customers.back": "All customers",
            "customers.code": "Code",
            "customers.name": "Name",
            "customers.status": "Stage",
            "customers.dealer": "Dealer",
            "customers.unassigned_dealer": "not assigned yet",
            "customers.phone": "Phone",
            "customers.email": "Email",
            "customers.address": "Address",
            "customers.area": "Area code",
            "customers.position": "Delivery position",
            "customers.lat": "Latitude",
            "customers.lon": "Longitude",
            "customers.purchases": "Purchases",
            "customers.source": "Source",
            "customers.last_contact": "Last contact",
            "customers.stage.lead": "Lead",
            "customers.stage.prospect": "Prospect",
            "customers.stage.customer": "Customer",
            "customers.stage.repeat_customer": "Repeat customer",
            "customers.act.prospect": "Qualify as prospect",
            "customers.act.customer": "Record first purchase",
            "customers.act.repeat_customer": "Record repeat purchase",
            "customers.order_ref": "Order reference",
            "customers.moved": "Customer {id} is now: {stage}",
            "customers.interactions": "Interactions",
            "customers.kind": "Kind",
            "customers.summary": "What happened",
            "customers.next_step": "Next step",
            "customers.at": "When",
            "customers.by": "By",
            "customers.add_interaction": "Add interaction",
            "customers.logged": "Interaction logged",
            "customers.history": "History",
            "customers.kind.call": "Call",
            "customers.kind.visit": "Visit",
            "customers.kind.email": "Email",
            "customers.kind.message": "Message",
            "customers.kind.meeting": "Meeting",
            "customers.kind.note": "Note",
        },
        "zh-CN": {
            "customers.title": "客户",
            "customers.search": "名称、编码、电话或邮箱",
            "customers.unassigned": "仅显示未分配的线索",
            "customers.new": "新建线索",
            "customers.create": "创建",
            "customers.created": "客户 {id} 已创建",
            "customers.back": "全部客户",
            "customers.code": "编码",
            "customers.name": "名称",
            "customers.status": "阶段",
            "customers.dealer": "经销商",
            "customers.unassigned_dealer": "尚未分配",
            "customers.phone": "电话",
            "customers.email": "邮箱",
            "customers.address": "地址",
            "customers.area": "地区编码",
            "customers.position": "收货位置",
            "customers.lat": "纬度",
            "customers.lon": "经度",
            "customers.purchases": "购买次数",
            "customers.source": "来源",
            "customers.last_contact": "最近联系",
            "customers.stage.lead": "线索",
            "customers.stage.prospect": "潜在客户",
            "customers.stage.customer": "客户",
            "customers.stage.repeat_customer": "回头客",
            "customers.act.prospect": "确认为潜在客户",
            "customers.act.customer": "记录首次购买",
            "customers.act.repeat_customer": "记录再次购买",
            "customers.order_ref": "订单号",
            "customers.moved": "客户 {id} 当前阶段：{stage}",
            "customers.interactions": "沟通记录",
            "customers.kind": "方式",
            "customers.summary": "沟通内容",
            "customers.next_step": "下一步",
            "customers.at": "时间",
            "customers.by": "记录人",
            "customers.add_interaction": "添加沟通记录",
            "customers.logged": "沟通记录已保存",
            "customers.history": "变更历史",
            "customers.kind.call": "电话",
            "customers.kind.visit": "拜访",
            "customers.kind.email": "邮件",
            "customers.kind.message": "消息",
            "customers.kind.meeting": "会议",
            "customers.kind.note": "备注",
        },
    }
)


def stage_label(stage: str) -> str:
    return t(f"customers.stage.{stage}")


def next_action(role: str, stage: str) -> str | None:
    """The lifecycle button worth showing; a hint only: the API has the last word."""
    return NEXT_STEP.get(stage) if role in CRM_ROLES else None


def _when(value: str | None) -> str:
    return value[:16].replace("T", " ") if value else "–"


def _columns() -> list[dict[str, Any]]:
    return [
        {"name": "name", "label": t("customers.name"), "field": "name", "align": "left"},
        {"name": "code", "label": t("customers.code"), "field": "code", "align": "left"},
        {"name": "stage", "label": t("customers.status"), "field": "stage", "align": "left"},
        {"name": "dealer", "label": t("customers.dealer"), "field": "dealer", "align": "left"},
        {"name": "phone", "label": t("customers.phone"), "field": "phone", "align": "left"},
        {"name": "last", "label": t("customers.last_contact"), "field": "last", "align": "left"},
    ]


def _new_lead_dialog(user: SessionUser) -> ui.dialog:
    """Name and contact of a new lead. A dealer user's lead is its own; HQ's and a region
    manager's go to the dealer the lead rules choose for the area code."""
    with ui.dialog() as dialog, ui.card().classes("w-96"):
        ui.label(t("customers.new")).classes("text-h6")
        name = ui.input(t("customers.name")).classes("w-full").mark("new-name")
        phone = ui.input(t("customers.phone")).classes("w-full").mark("new-phone")
        address = ui.input(t("customers.address")).classes("w-full")
        area = ui.input(t("customers.area"), placeholder="CN-GD-SZ").classes("w-full")
        with ui.row().classes("w-full no-wrap"):
            lat = ui.number(t("customers.lat"), min=-90, max=90, format="%.5f")
            lon = ui.number(t("customers.lon"), min=-180, max=180, format="%.5f")

        async def create() -> None:
            body: dict[str, Any] = {
                "name": name.value or "",
                "phone": phone.value or None,
                "address": address.value or None,
                "area_code": area.value or "",
                "source": "console",
            }
            if lat.value is not None and lon.value is not None:
                body |= {"lat": lat.value, "lon": lon.value}
            try:
                created = await user.api.post("/customers", json=body)
            except ApiError as err:
                report(err)
                return
            dialog.close()
            ui.notify(t("customers.created", id=created["id"]), type="positive")
            ui.navigate.to(f"/customers/{created['id']}")

        with ui.row():
            ui.button(t("customers.create"), on_click=create).mark("create-customer")
            ui.button(t("action.close"), on_click=dialog.close).props("flat")
    return dialog


async def _list_page(user: SessionUser) -> None:
    async def load() -> None:
        try:
            data = await user.api.get(
                "/customers",
                page=pager.page,
                size=pager.size,
                q=search.value,
                status=status.value,
                unassigned="true" if unassigned is not None and unassigned.value else None,
            )
        except ApiError as err:
            report(err)
            return
        for row in data["items"]:
            row["stage"] = stage_label(row["status"])
            row["dealer"] = row["dealer_name"] or t("customers.unassigned_dealer")
            row["last"] = _when(row["last_interaction_at"])
            row["code"] = row["code"] or "–"
        table.rows = data["items"]
        pager.update(data["total"])

    with frame(user, t("customers.title")):
        with ui.row().classes("items-end gap-4"):
            search = (
                ui.input(t("customers.search"))
                .props("clearable data-testid=customer-search")
                .mark("customer-search")
            )
            status = ui.select(
                {None: t("filter.any"), **{s: stage_label(s) for s in STAGES}},
                label=t("filter.status"),
                value=None,
            ).classes("w-48")
            status.mark("customer-status-filter")
            export_button(user, "customers", lambda: {"q": search.value, "status": status.value})
            unassigned = (
                ui.checkbox(t("customers.unassigned")).mark("customer-unassigned")
                if user.role in APPROVERS
                else None
            )
            ui.button(t("search"), on_click=lambda: pager.reset())
            if user.role in CRM_ROLES:
                dialog = _new_lead_dialog(user)
                ui.button(t("customers.new"), on_click=dialog.open).mark("new-customer")
        search.on("keydown.enter", lambda: pager.reset())
        status.on_value_change(lambda: pager.reset())
        if unassigned is not None:
            unassigned.on_value_change(lambda: pager.reset())
        table = ui.table(columns=_columns(), rows=[], row_key="id").classes("w-full")
        table.mark("customers")
        table.props("hide-pagination :pagination='{rowsPerPage: 0}'")
        table.add_slot("body-cell-name", LINK_CELL)
        pager = Pager(load)
    await load()


def _ref_dialog(title: str, on_confirm: Callable[[str], Awaitable[None]]) -> ui.dialog:
    with ui.dialog() as dialog, ui.card():
        ui.label(title).classes("text-h6")
        ref = (
            ui.input(t("customers.order_ref")).props("autofocus").classes("w-80").mark("order-ref")
        )

        async def confirm() -> None:
            if ref.value:
                dialog.close()
                await on_confirm(ref.value)

        ref.on("keydown.enter", confirm)
        with ui.row():
            ui.button(t("action.confirm"), on_click=confirm).mark("confirm")
            ui.button(t("action.close"), on_click=dialog.close).props("flat")
    return dialog


async def _detail_page(user: SessionUser, customer_id: int) -> None:
    with frame(user, t("customers.title")):
        ui.link(t("customers.back"), "/customers")
        body = ui.column().classes("w-full gap-4")

    async def advance(target: str, order_ref: str = "") -> None:
        payload = {"to": target, "order_ref": order_ref}
        try:
            c = await user.api.post(f"/customers/{customer_id}/transition", json=payload)
        except ApiError as err:
            report(err)
            return
        await render(c)
        ui.notify(t("customers.moved", id=customer_id, stage=stage_label(c["status"])))

    async def add_interaction(kind: str, summary: str, next_step: str) -> None:
        payload = {"kind": kind, "summary": summary, "next_step": next_step}
        try:
            await user.api.post(f"/customers/{customer_id}/interactions", json=payload)
            c = await user.api.get(f"/customers/{customer_id}")
        except ApiError as err:
            report(err)
            return
        await render(c)
        ui.notify(t("customers.logged"), type="positive")

    def facts(c: dict[str, Any]) -> None:
        position = f"{c['lat']:.5f}, {c['lon']:.5f}" if c["lat"] is not None else "–"
        with ui.grid(columns=2).classes("gap-x-8"):
            for key, value in (
                ("customers.code", c["code"] or "–"),
                ("customers.dealer", c["dealer_name"] or t("customers.unassigned_dealer")),
                ("customers.purchases", c["purchases"]),
                ("customers.phone", c["phone"] or "–"),
                ("customers.email", c["email"] or "–"),
                ("customers.address", c["address"] or "–"),
                ("customers.area", c["area_code"] or "–"),
                ("customers.position", position),
                ("customers.source", c["source"] or "–"),
                ("customers.last_contact", _when(c["last_interaction_at"])),
            ):
                ui.label(t(key)).classes("text-caption")
                ui.label(str(value))

    def lifecycle(c: dict[str, Any]) -> None:
        target = next_action(user.role, c["status"])
        if target is None:
            return
        label = t(f"customers.act.{target}")
        if target == "prospect":
            ui.button(label, on_click=lambda: advance(target)).mark("act-advance")
        else:
            dialog = _ref_dialog(label, lambda ref: advance(target, ref))
            ui.button(label, on_click=dialog.open).mark("act-advance")

    def interaction_form() -> None:
        with ui.row().classes("items-end gap-4"):
            kind = ui.select(
                {k: t(f"customers.kind.{k}") for k in KINDS},
                label=t("customers.kind"),
                value="call",
            ).classes("w-32")
            kind.mark("interaction-kind")
            summary = ui.input(t("customers.summary")).classes("w-96").mark("interaction-summary")
            step = ui.input(t("customers.next_step")).classes("w-64").mark("interaction-next")

            async def submit() -> None:
                if summary.value and summary.value.strip():
                    await add_interaction(kind.value, summary.value, step.value or "")

            ui.button(t("customers.add_interaction"), on_click=submit).mark("add-interaction")

    async def interaction_log() -> None:
        try:
            log = await user.api.get(f"/customers/{customer_id}/interactions", size=100)
        except ApiError as err:
            report(err)
            return
        rows = [
            {
                "id": i["id"],
                "at": _when(i["at"]),
                "kind": t(f"customers.kind.{i['kind']}"),
                "summary": i["summary"],
                "next_step": i["next_step"],
                "by": i["by_username"] or "–",
            }
            for i in log["items"]
        ]
        columns = [
            {"name": k, "label": t(f"customers.{k}"), "field": k, "align": "left"}
            for k in ("at", "kind", "summary", "next_step", "by")
        ]
        ui.table(columns=columns, rows=rows, row_key="id").classes("w-full").mark("interactions")

    async def render(c: dict[str, Any]) -> None:
        body.clear()
        with body:
            with ui.card().classes("w-full max-w-3xl"):
                with ui.row().classes("items-center gap-6"):
                    ui.label(c["name"]).classes("text-h6").mark("customer-name")
                    ui.label(stage_label(c["status"])).classes("text-subtitle1").mark(
                        "customer-status"
                    )
                facts(c)
                with ui.row().classes("gap-2"):
                    lifecycle(c)
            ui.label(t("customers.interactions")).classes("text-subtitle1")
            if user.role in CRM_ROLES:
                interaction_form()
            await interaction_log()
            ui.label(t("customers.history")).classes("text-subtitle1")
            with ui.timeline(side="right").classes("max-w-3xl"):
                for h in reversed(c["history"]):
                    change = ", ".join(f"{k}: {v}" for k, v in (h["new"] or {}).items())
                    ui.timeline_entry(
                        h["reason"] or change,
                        title=h["action"],
                        subtitle=f"{_when(h['at'])} · {change}",
                    )

    try:
        customer = await user.api.get(f"/customers/{customer_id}")
    except ApiError as err:
        with body:
            report(err, inline=True)
        return
    await render(customer)


def register() -> None:
    @ui.page("/customers")
    async def customers_page() -> RedirectResponse | None:
        user = require_user(CRM_ROLES)
        if isinstance(user, RedirectResponse):
            return user
        await _list_page(user)
        return None

    @ui.page("/customers/{customer_id}")
    async def customer_detail(customer_id: int) -> RedirectResponse | None:
        user = require_user(CRM_ROLES)
        if isinstance(user, RedirectResponse):
            return user
        await _detail_page(user, customer_id)
        return None
