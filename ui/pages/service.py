"""/service (tickets with an SLA badge, filtered and paged by the API), /service/new (a dealer
opens a ticket for a customer), /service/{id} (details, SLA clocks, timeline, parts, photos and
the steps the user's role may take: managers dispatch, the technician starts, fits parts and
resolves, the dealer closes with the customer's rating or reopens). The API decides; its
refusal is shown as sent."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi.responses import RedirectResponse
from nicegui import events, ui

from wayhouse.ui import i18n
from wayhouse.ui.api_client import ApiError
from wayhouse.ui.export import export_button
from wayhouse.ui.frame import frame
from wayhouse.ui.i18n import t
from wayhouse.ui.pager import Pager
from wayhouse.ui.session import SessionUser, report, require_user

SERVICE_ROLES = frozenset({"hq_admin", "region_manager", "dealer_user", "technician"})
MANAGERS = frozenset({"hq_admin", "region_manager"})
CLOSERS = frozenset({"hq_admin", "region_manager", "dealer_user"})
STATUSES = ["open", "dispatched", "in_progress", "resolved", "closed"]
PRIORITIES = ["low", "normal", "high", "urgent"]
SLA_COLORS = {"breached": "negative", "at_risk": "warning", "running": "primary", "met": "positive"}
MAX_PHOTO_BYTES = 5 * 1024 * 1024  # the API's limit; the browser refuses bigger ones early

i18n.extend(
    {
        "en": {
            "svc.title": "After-sales service",
            "svc.new": "Open a ticket",
            "svc.ticket": "Ticket",
            "svc.back": "All tickets",
            "svc.dealer": "Dealer",
            "svc.customer": "Customer no.",
            "svc.product": "Product",
            "svc.lot": "Lot",
            "svc.serial": "Serial no.",
            "svc.problem": "Problem",
            "svc.priority": "Priority",
            "svc.status": "Status",
            "svc.technician": "Technician",
            "svc.opened": "Opened",
            "svc.sla": "SLA",
            "svc.breached_only": "SLA breached only",
            "svc.sla.breached": "Breached",
            "svc.sla.at_risk": "At risk",
            "svc.sla.running": "On time",
            "svc.sla.met": "Met",
            "svc.clock.response": "Response",
            "svc.clock.resolution": "Resolution",
            "svc.deadline": "deadline {at}",
            "svc.stopped": "stopped {at}",
            "svc.submit": "Open ticket",
            "svc.opened_ok": "Ticket {id} opened",
            "svc.timeline": "Timeline",
            "svc.parts": "Parts used",
            "svc.photos": "Photos",
            "svc.no_photos": "No photos yet",
            "svc.photo_added": "Photo added",
            "svc.resolution": "Resolution",
            "svc.labour": "Labour (minutes)",
            "svc.rating": "Customer rating",
            "svc.comment": "Comment",
            "svc.reason": "Reason",
            "svc.warehouse": "Warehouse",
            "svc.position": "Bin and lot",
            "svc.available": "{n} available",
            "svc.qty": "Quantity",
            "svc.returned": "Returned unused",
            "svc.sku": "SKU",
            "svc.bin": "Bin",
            "svc.movement": "Stock movement",
            "svc.done": "Ticket {id} is now {status}",
            "svc.part_done": "Part recorded (stock movement {movement})",
            "svc.act.assign": "Dispatch",
            "svc.act.start": "Start work",
            "svc.act.part": "Add part",
            "svc.act.resolve": "Resolve",
            "svc.act.close": "Close",
            "svc.act.reopen": "Reopen",
            "svc.act.confirm": "Confirm",
            "svc.act.cancel": "Cancel",
        },
        "zh-CN": {
            "svc.title": "售后服务",
            "svc.new": "新建工单",
            "svc.ticket": "工单",
            "svc.back": "全部工单",
            "svc.dealer": "经销商",
            "svc.customer": "客户编号",
            "svc.product": "产品",
            "svc.lot": "批次",
            "svc.serial": "序列号",
            "svc.problem": "故障描述",
            "svc.priority": "优先级",
            "svc.status": "状态",
            "svc.technician": "技术员",
            "svc.opened": "创建时间",
            "svc.sla": "服务时限",
            "svc.breached_only": "仅显示超时",
            "svc.sla.breached": "已超时",
            "svc.sla.at_risk": "即将超时",
            "svc.sla.running": "正常",
            "svc.sla.met": "已达标",
            "svc.clock.response": "响应",
            "svc.clock.resolution": "解决",
            "svc.deadline": "截止 {at}",
            "svc.stopped": "停止于 {at}",
            "svc.submit": "提交工单",
            "svc.opened_ok": "工单 {id} 已创建",
            "svc.timeline": "时间线",
            "svc.parts": "使用的配件",
            "svc.photos": "照片",
            "svc.no_photos": "暂无照片",
            "svc.photo_added": "照片已上传",
            "svc.resolution": "处理结果",
            "svc.labour": "工时（分钟）",
            "svc.rating": "客户评分",
            "svc.comment": "评价",
            "svc.reason": "原因",
            "svc.warehouse": "仓库",
            "svc.position": "库位和批次",
            "svc.available": "可用 {n}",
            "svc.qty": "数量",
            "svc.returned": "未使用退回",
            "svc.sku": "SKU",
            "svc.bin": "库位",
            "svc.movement": "库存流水",
            "svc.done": "工单 {id} 状态：{status}",
            "svc.part_done": "配件已登记（库存流水 {movement}）",
            "svc.act.assign": "派工",
            "svc.act.start": "开始维修",
            "svc.act.part": "登记配件",
            "svc.act.resolve": "完成维修",
            "svc.act.close": "关闭工单",
            "svc.act.reopen": "重新打开",
            "svc.act.confirm": "确认",
            "svc.act.cancel": "取消",
        },
    }
)

LINK_CELL = (
    '<q-td :props="props"><a class="text-primary" :href="\'/service/\' + props.row.id">'
    "{{ props.value }}</a></q-td>"
)
SLA_CELL = (
    '<q-td :props="props"><q-badge :color="props.row.sla_color" :label="props.row.sla_label" />'
    "</q-td>"
)


def actions_for(role: str, status: str) -> list[str]:
    """The steps worth offering; a hint only: the API's state machine has the last word."""
    acts: list[str] = []
    if role in MANAGERS and status in ("open", "dispatched"):
        acts.append("assign")
    if role == "technician" and status == "dispatched":
        acts.append("start")
    if role == "technician" and status == "in_progress":
        acts += ["part", "resolve"]
    if role in CLOSERS and status in ("open", "dispatched", "resolved"):
        acts.append("close")
    if role in CLOSERS and status == "resolved":
        acts.append("reopen")
    return acts


def _when(iso: str | None) -> str:
    return iso[:16].replace("T", " ") if iso else ""


def _columns() -> list[dict[str, Any]]:
    cols = [
        ("id", "svc.ticket"),
        ("dealer_id", "svc.dealer"),
        ("sku", "svc.product"),
        ("priority", "svc.priority"),
        ("status", "svc.status"),
        ("technician_id", "svc.technician"),
        ("opened_at", "svc.opened"),
        ("sla_state", "svc.sla"),
    ]
    return [{"name": k, "label": t(lbl), "field": k, "align": "left"} for k, lbl in cols]


async def _list_page(user: SessionUser) -> None:
    async def load() -> None:
        try:
            data = await user.api.get(
                "/service/tickets",
                page=pager.page,
                size=pager.size,
                status=status.value,
                priority=priority.value,
                breached="true" if breached.value else None,
            )
        except ApiError as err:
            report(err)
            return
        for row in data["items"]:
            row["opened_at"] = _when(row["opened_at"])
            row["sla_color"] = SLA_COLORS[row["sla_state"]]
            row["sla_label"] = t(f"svc.sla.{row['sla_state']}")
        table.rows = data["items"]
        pager.update(data["total"])

    with frame(user, t("svc.title")):
        with ui.row().classes("items-end gap-4"):
            any_ = {None: t("filter.any")}
            status = ui.select({**any_, **{s: s for s in STATUSES}}, label=t("svc.status"))
            status.classes("w-40").mark("filter-status")
            priority = ui.select({**any_, **{p: p for p in PRIORITIES}}, label=t("svc.priority"))
            priority.classes("w-40").mark("filter-priority")
            breached = ui.checkbox(t("svc.breached_only")).mark("filter-breached")
            export_button(
                user,
                "service",
                lambda: {
                    "status": status.value,
                    "priority": priority.value,
                    "breached": "true" if breached.value else None,
                },
            )
            if user.role == "dealer_user":
                ui.button(t("svc.new"), on_click=lambda: ui.navigate.to("/service/new")).mark(
                    "new-ticket"
                )
        for control in (status, priority, breached):
            control.on_value_change(lambda: pager.reset())
        table = ui.table(columns=_columns(), rows=[], row_key="id").classes("w-full")
        table.mark("tickets")
        table.props("hide-pagination :pagination='{rowsPerPage: 0}'")
        table.add_slot("body-cell-id", LINK_CELL)
        table.add_slot("body-cell-sla_state", SLA_CELL)
        pager = Pager(load)
    await load()


async def _new_page(user: SessionUser) -> None:
    with frame(user, t("svc.new")):
        try:
            products = await user.api.get("/products", size=500, sort="sku")
        except ApiError as err:
            report(err, inline=True)
            return
        names = {p["id"]: f"{p['sku']} · {p['name']}" for p in products["items"]}
        product = ui.select(names, label=t("svc.product"), with_input=True).classes("w-96")
        product.mark("ticket-product")
        with ui.row().classes("gap-4"):
            lot = ui.input(t("svc.lot")).mark("ticket-lot")
            serial = ui.input(t("svc.serial")).mark("ticket-serial")
            customer = ui.number(t("svc.customer"), min=1, step=1, precision=0)
            customer.mark("ticket-customer")
            priority = ui.select(PRIORITIES, value="normal", label=t("svc.priority"))
            priority.classes("w-32").mark("ticket-priority")
        problem = ui.textarea(t("svc.problem")).classes("w-full max-w-2xl").mark("ticket-problem")

        async def submit() -> None:
            body = {
                "product_id": product.value,
                "problem": problem.value or "",
                "lot_code": lot.value or "",
                "serial": serial.value or "",
                "priority": priority.value,
                "customer_id": int(customer.value) if customer.value else None,
            }
            try:
                ticket = await user.api.post("/service/tickets", json=body)
            except ApiError as err:
                report(err)
                return
            ui.notify(t("svc.opened_ok", id=ticket["id"]), type="positive")
            ui.navigate.to(f"/service/{ticket['id']}")

        ui.button(t("svc.submit"), on_click=submit).mark("open-ticket")


async def _post_photo(
    user: SessionUser, ticket_id: int, upload: events.UploadEventArguments
) -> None:
    data = await upload.file.read()
    await user.api.post_file(
        f"/service/tickets/{ticket_id}/photos",
        field="file",
        filename=upload.file.name,
        content=data,
        content_type=upload.file.content_type or "application/octet-stream",
    )


def _sla_badges(o: dict[str, Any]) -> None:
    with ui.row().classes("items-center gap-2").mark("ticket-sla"):
        for timer in o["sla"]:
            state = (
                "breached"
                if timer["breached"]
                else "at_risk"
                if timer["at_risk"]
                else "running"
                if timer["running"]
                else "met"
            )
            when = (
                t("svc.deadline", at=_when(timer["deadline"]))
                if timer["running"]
                else t("svc.stopped", at=_when(timer["stopped_at"]))
            )
            ui.badge(
                f"{t('svc.clock.' + timer['clock'])}: {t('svc.sla.' + state)} · {when}",
                color=SLA_COLORS[state],
            ).mark(f"sla-{timer['clock']}")


async def _detail_page(user: SessionUser, ticket_id: int) -> None:
    with frame(user, f"{t('svc.ticket')} {ticket_id}"):
        ui.link(t("svc.back"), "/service")
        body = ui.column().classes("w-full gap-4")

    async def call(path: str, payload: Any = None) -> dict[str, Any] | None:
        try:
            result: dict[str, Any] = await user.api.post(
                f"/service/tickets/{ticket_id}/{path}", json=payload
            )
        except ApiError as err:
            report(err)
            return None
        return result

    async def act(action: str, payload: Any = None) -> None:
        ticket = await call(action, payload)
        if ticket is not None:
            ui.notify(t("svc.done", id=ticket_id, status=ticket["status"]), type="positive")
            render(ticket)

    async def reload() -> None:
        try:
            render(await user.api.get(f"/service/tickets/{ticket_id}"))
        except ApiError as err:
            report(err)

    async def on_photo(upload: events.UploadEventArguments) -> None:
        try:
            await _post_photo(user, ticket_id, upload)
        except ApiError as err:
            report(err)
            return
        ui.notify(t("svc.photo_added"), type="positive")
        await reload()

    def form(action: str, build: Callable[[], Callable[[], Awaitable[None]]]) -> None:
        """A dialog for one step: ``build`` lays out the fields and returns the submit."""
        with ui.dialog() as dialog, ui.card().classes("min-w-96"):
            ui.label(t(f"svc.act.{action}")).classes("text-h6")
            submit = build()

            async def confirm() -> None:
                dialog.close()
                await submit()

            with ui.row():
                ui.button(t("svc.act.confirm"), on_click=confirm).mark(f"confirm-{action}")
                ui.button(t("svc.act.cancel"), on_click=dialog.close).props("flat")
        ui.button(t(f"svc.act.{action}"), on_click=dialog.open).mark(f"act-{action}")

    async def assign_form() -> Callable[[], Awaitable[None]]:
        try:
            people = await user.api.get("/service/technicians", size=500)
        except ApiError as err:
            report(err)
            people = {"items": []}
        options = {p["id"]: f"{p['display_name']} ({p['username']})" for p in people["items"]}

        def build() -> Callable[[], Awaitable[None]]:
            tech = ui.select(options, label=t("svc.technician")).classes("w-80").mark("technician")
            reason = ui.input(t("svc.reason")).classes("w-80").mark("assign-reason")
            return lambda: act(
                "assign", {"technician_id": tech.value, "reason": reason.value or ""}
            )

        return build

    async def part_form() -> Callable[[], Awaitable[None]]:
        try:
            warehouses = await user.api.get("/warehouses", size=500)
            products = await user.api.get("/products", size=500, sort="sku")
        except ApiError as err:
            report(err)
            warehouses, products = {"items": []}, {"items": []}

        def build() -> Callable[[], Awaitable[None]]:
            wh = (
                ui.select(
                    {w["id"]: f"{w['code']} · {w['name']}" for w in warehouses["items"]},
                    label=t("svc.warehouse"),
                )
                .classes("w-80")
                .mark("part-warehouse")
            )
            prod = (
                ui.select(
                    {p["id"]: f"{p['sku']} · {p['name']}" for p in products["items"]},
                    label=t("svc.product"),
                    with_input=True,
                )
                .classes("w-80")
                .mark("part-product")
            )
            where = ui.select({}, label=t("svc.position")).classes("w-80").mark("part-position")
            qty = ui.number(t("svc.qty"), value=1, min=1, step=1, precision=0).mark("part-qty")
            returned = ui.checkbox(t("svc.returned"))

            async def positions() -> None:
                if wh.value is None or prod.value is None:
                    return
                try:
                    rows = await user.api.get(
                        f"/warehouses/{wh.value}/stock", product_id=prod.value
                    )
                except ApiError as err:
                    report(err)
                    return
                where.set_options(
                    {
                        f"{r['bin_id']}:{r['lot_id'] or ''}": f"{r['bin_code']} · "
                        f"{r['lot_code'] or '-'} · {t('svc.available', n=r['available'])}"
                        for r in rows
                    }
                )

            wh.on_value_change(positions)
            prod.on_value_change(positions)

            async def submit() -> None:
                if not where.value:
                    return
                bin_id, lot_id = str(where.value).split(":")
                result = await call(
                    "parts",
                    {
                        "product_id": prod.value,
                        "bin_id": int(bin_id),
                        "lot_id": int(lot_id) if lot_id else None,
                        "qty": int(qty.value or 0),
                        "returned": bool(returned.value),
                    },
                )
                if result is not None:
                    movement = result["stock_movement_id"]
                    ui.notify(t("svc.part_done", movement=movement), type="positive")
                    await reload()

            return submit

        return build

    def resolve_form() -> Callable[[], Awaitable[None]]:
        text = ui.textarea(t("svc.resolution")).classes("w-full").mark("resolution")
        labour = ui.number(t("svc.labour"), value=0, min=0, step=5, precision=0).mark("labour")
        return lambda: act(
            "resolve",
            {"resolution": text.value or "", "labour_minutes": int(labour.value or 0)},
        )

    def close_form(status: str) -> Callable[[], Callable[[], Awaitable[None]]]:
        def build() -> Callable[[], Awaitable[None]]:
            if status != "resolved":  # duplicate, no fault found: say why, nothing to rate
                reason = ui.input(t("svc.reason")).classes("w-80").mark("close-reason")
                return lambda: act("close", {"reason": reason.value or ""})
            rating = ui.select([1, 2, 3, 4, 5], label=t("svc.rating")).classes("w-40")
            rating.mark("rating")
            comment = ui.input(t("svc.comment")).classes("w-80").mark("rating-comment")
            return lambda: act("close", {"rating": rating.value, "comment": comment.value or ""})

        return build

    def reopen_form() -> Callable[[], Awaitable[None]]:
        reason = ui.input(t("svc.reason")).classes("w-80").mark("reopen-reason")
        return lambda: act("reopen", {"reason": reason.value or ""})

    builders: dict[str, Callable[[], Callable[[], Awaitable[None]]]] = {}

    def render(o: dict[str, Any]) -> None:
        body.clear()
        with body:
            with ui.row().classes("items-center gap-6"):
                ui.label(f"{t('svc.status')}: {o['status']}").mark("ticket-status")
                ui.label(f"{t('svc.priority')}: {o['priority']}")
                ui.label(f"{t('svc.technician')}: {o['technician'] or '-'}").mark(
                    "ticket-technician"
                )
            _sla_badges(o)
            with ui.grid(columns=2).classes("gap-x-6 gap-y-1 max-w-3xl"):
                for label, value in (
                    ("svc.dealer", o["dealer_id"]),
                    ("svc.customer", o["customer_id"] or "-"),
                    ("svc.product", o["sku"]),
                    ("svc.lot", o["lot_code"] or "-"),
                    ("svc.serial", o["serial"] or "-"),
                    ("svc.opened", _when(o["opened_at"])),
                    ("svc.problem", o["problem"]),
                    ("svc.resolution", o["resolution"] or "-"),
                ):
                    ui.label(t(label)).classes("text-grey-7")
                    ui.label(str(value))
                if o["rating"]:
                    ui.label(t("svc.rating")).classes("text-grey-7")
                    ui.label(f"{o['rating']['score']}/5 {o['rating']['comment'] or ''}").mark(
                        "ticket-rating"
                    )
            with ui.row().classes("gap-2"):
                for action in actions_for(user.role, o["status"]):
                    if action == "start":
                        ui.button(t("svc.act.start"), on_click=lambda: act("start")).mark(
                            "act-start"
                        )
                    elif action in builders:
                        form(action, builders[action])
                    elif action == "resolve":
                        form(action, resolve_form)
                    elif action == "close":
                        form(action, close_form(o["status"]))
                    elif action == "reopen":
                        form(action, reopen_form)
            ui.label(t("svc.parts")).classes("text-subtitle1")
            ui.table(
                columns=[
                    {"name": k, "label": t(lbl), "field": k, "align": "left"}
                    for k, lbl in (
                        ("sku", "svc.sku"),
                        ("qty", "svc.qty"),
                        ("bin_id", "svc.bin"),
                        ("lot_id", "svc.lot"),
                        ("stock_movement_id", "svc.movement"),
                    )
                ],
                rows=o["parts"],
                row_key="id",
            ).classes("w-full max-w-3xl").mark("ticket-parts")
            ui.label(t("svc.photos")).classes("text-subtitle1")
            if not o["photos"]:
                ui.label(t("svc.no_photos")).classes("text-grey-7")
            for p in o["photos"]:
                ui.label(
                    f"#{p['id']} · {p['content_type']} · {p['size_bytes']} B · "
                    f"{_when(p['uploaded_at'])}"
                ).mark("ticket-photo")
            if o["status"] != "closed":
                ui.upload(
                    on_upload=on_photo,
                    auto_upload=True,
                    max_file_size=MAX_PHOTO_BYTES,
                    label=t("svc.photos"),
                ).props('accept="image/jpeg,image/png"').mark("photo-upload")
            ui.label(t("svc.timeline")).classes("text-subtitle1")
            with ui.timeline(side="right").classes("max-w-3xl").mark("ticket-timeline"):
                for e in o["timeline"]:
                    ui.timeline_entry(
                        e["note"] or "",
                        title=f"{e['from_status'] or '·'} → {e['to_status']}",
                        subtitle=f"{_when(e['at'])} · {e['by']}",
                    )

    try:
        ticket = await user.api.get(f"/service/tickets/{ticket_id}")
    except ApiError as err:
        with body:
            report(err, inline=True)
        return
    # Option lists the dialogs need, fetched once for the page (only for the roles using them).
    if user.role in MANAGERS:
        builders["assign"] = await assign_form()
    if user.role == "technician":
        builders["part"] = await part_form()
    render(ticket)


def register() -> None:
    @ui.page("/service")
    async def service_page() -> RedirectResponse | None:
        user = require_user(SERVICE_ROLES)
        if isinstance(user, RedirectResponse):
            return user
        await _list_page(user)
        return None

    @ui.page("/service/new")
    async def new_ticket_page() -> RedirectResponse | None:
        user = require_user(frozenset({"dealer_user"}))
        if isinstance(user, RedirectResponse):
            return user
        await _new_page(user)
        return None

    @ui.page("/service/{ticket_id}")
    async def ticket_page(ticket_id: int) -> RedirectResponse | None:
        user = require_user(SERVICE_ROLES)
        if isinstance(user, RedirectResponse):
            return user
        await _detail_page(user, ticket_id)
        return None
