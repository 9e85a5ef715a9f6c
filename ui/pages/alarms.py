"""/alarms: the live alarm list (filters, refreshed every few seconds), /alarms/{id}: one alarm
with its evidence chart, its steps and acknowledge/clear; /alarms/bin-map: a warehouse's bins
coloured by sensed-vs-book difference with the live accuracy; /alarms/stocktakes: stocktake
sessions (snapshot, propose, approve by a second person, post).

Everything reads through the API with the user's token. The list polls the API (a timer) so
the page stays plain NiceGUI; other clients use the API's websocket (/alarms/live)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi.responses import RedirectResponse
from nicegui import ui

from wayhouse.ui import i18n
from wayhouse.ui.api_client import ApiError, user_message
from wayhouse.ui.frame import frame
from wayhouse.ui.i18n import t
from wayhouse.ui.pager import Pager
from wayhouse.ui.session import SessionUser, report, require_user

ALARM_ROLES = frozenset({"hq_admin", "region_manager", "warehouse_operator", "dispatcher"})
STOCK_ROLES = frozenset({"hq_admin", "region_manager", "warehouse_operator"})
TYPES = [
    "temperature_out_of_range",
    "humidity_out_of_range",
    "weight_loss_unexplained",
    "weight_gain_unexpected",
    "stock_discrepancy",
    "below_reorder_point",
    "lot_expiring",
    "document_expiring",
    "device_offline",
    "sensor_stuck",
    "sensor_jump",
    "sensor_out_of_range",
    "geofence_enter",
    "geofence_exit",
    "off_route",
    "stopped_too_long",
    "predicted_late",
]
STATES = ["active", "acknowledged", "cleared"]
SEVERITIES = ["critical", "warning", "info"]
SEVERITY_COLOR = {"critical": "negative", "warning": "warning", "info": "info"}
REFRESH_S = 3.0

i18n.extend(
    {
        "en": {
            "alm.title": "Alarms",
            "alm.live": "Live",
            "alm.open_only": "Open only",
            "alm.type": "Type",
            "alm.severity": "Severity",
            "alm.state": "State",
            "alm.site": "Site",
            "alm.subject": "Subject",
            "alm.message": "Message",
            "alm.raised": "Raised",
            "alm.updated": "Updated {at}",
            "alm.back": "Back to alarms",
            "alm.evidence": "Evidence",
            "alm.no_readings": "No readings in the evidence",
            "alm.steps": "Steps",
            "alm.acknowledge": "Acknowledge",
            "alm.clear": "Clear",
            "alm.force": "Clear although the condition still holds",
            "alm.note": "Note",
            "alm.done": "Alarm is now {state}",
            "alm.queued": "Queued: the alarm engine applies it shortly",
            "alm.occurrences": "Occurrences",
            "alm.device": "Device",
            "alm.bin_map": "Bin map",
            "alm.stocktakes": "Stocktakes",
            "alm.list": "Alarm list",
            "alm.warehouse": "Warehouse",
            "alm.accuracy": "{exact} of {bins} bins exact ({ratio}), differences worth {value}",
            "alm.legend": "green: exact · red: short · orange: over · grey: not counted",
            "stk.new": "New stocktake",
            "stk.zone": "Zone (optional id)",
            "stk.id": "Session",
            "stk.status": "Status",
            "stk.created": "Created",
            "stk.lines": "Lines",
            "stk.bin": "Bin",
            "stk.sku": "SKU",
            "stk.lot": "Lot",
            "stk.book": "Book",
            "stk.sensed": "Sensed",
            "stk.scanned": "Scanned",
            "stk.manual": "Counted",
            "stk.delta": "Adjustment",
            "stk.decision": "Decision",
            "stk.propose": "Propose adjustments",
            "stk.approve": "Approve all",
            "stk.post": "Post to the ledger",
            "stk.cancel": "Cancel session",
            "stk.reason": "Reason",
            "stk.skip": "Skip lines without a count",
            "stk.back": "Back to stocktakes",
            "stk.done": "Stocktake {id} is now {status}",
        },
        "zh-CN": {
            "alm.title": "告警",
            "alm.live": "实时",
            "alm.open_only": "仅未关闭",
            "alm.type": "类型",
            "alm.severity": "级别",
            "alm.state": "状态",
            "alm.site": "站点",
            "alm.subject": "对象",
            "alm.message": "说明",
            "alm.raised": "触发时间",
            "alm.updated": "更新于 {at}",
            "alm.back": "返回告警列表",
            "alm.evidence": "证据",
            "alm.no_readings": "证据中没有读数",
            "alm.steps": "处理记录",
            "alm.acknowledge": "确认",
            "alm.clear": "关闭",
            "alm.force": "条件仍存在时强制关闭",
            "alm.note": "备注",
            "alm.done": "告警状态：{state}",
            "alm.queued": "已排队：告警引擎稍后处理",
            "alm.occurrences": "发生次数",
            "alm.device": "设备",
            "alm.bin_map": "库位图",
            "alm.stocktakes": "盘点",
            "alm.list": "告警列表",
            "alm.warehouse": "仓库",
            "alm.accuracy": "{bins} 个库位中 {exact} 个准确（{ratio}），差异金额 {value}",
            "alm.legend": "绿色：准确 · 红色：短缺 · 橙色：多出 · 灰色：未计数",
            "stk.new": "新建盘点",
            "stk.zone": "区域（可选编号）",
            "stk.id": "盘点单",
            "stk.status": "状态",
            "stk.created": "创建时间",
            "stk.lines": "行数",
            "stk.bin": "库位",
            "stk.sku": "物料编码",
            "stk.lot": "批次",
            "stk.book": "账面",
            "stk.sensed": "感知",
            "stk.scanned": "扫描",
            "stk.manual": "人工盘点",
            "stk.delta": "调整数",
            "stk.decision": "审批",
            "stk.propose": "提出调整",
            "stk.approve": "全部批准",
            "stk.post": "过账",
            "stk.cancel": "取消盘点",
            "stk.reason": "原因",
            "stk.skip": "跳过未计数的行",
            "stk.back": "返回盘点列表",
            "stk.done": "盘点单 {id} 状态：{status}",
        },
    }
)

ALARM_LINK = (
    '<q-td :props="props"><a class="text-primary" :href="\'/alarms/\' + props.row.id">'
    "{{ props.value }}</a></q-td>"
)
SEVERITY_CELL = (
    "<q-td :props=\"props\"><q-badge :color=\"{critical: 'negative', warning: 'warning', "
    "info: 'info'}[props.value]\">{{ props.value }}</q-badge></q-td>"
)
STOCKTAKE_LINK = (
    '<q-td :props="props"><a class="text-primary" '
    ":href=\"'/alarms/stocktakes/' + props.row.id\">{{ props.value }}</a></q-td>"
)


def _col(name: str, key: str, align: str = "left") -> dict[str, Any]:
    return {"name": name, "label": t(key), "field": name, "align": align}


def _when(iso: str | None) -> str:
    return iso[:19].replace("T", " ") if iso else "–"


def _links(user: SessionUser) -> None:
    with ui.row().classes("gap-4"):
        ui.link(t("alm.list"), "/alarms").props("data-testid=link-alarms").mark("link-alarms")
        if user.role in STOCK_ROLES:
            ui.link(t("alm.bin_map"), "/alarms/bin-map").props("data-testid=link-bin-map").mark(
                "link-bin-map"
            )
            ui.link(t("alm.stocktakes"), "/alarms/stocktakes").props(
                "data-testid=link-stocktakes"
            ).mark("link-stocktakes")


def readings_of(alarm: dict[str, Any]) -> list[list[float]]:
    """The readings behind an alarm, as [unix seconds, value] pairs: the evidence's own
    readings (scale alarms; a discrepancy nests them), else the value each step recorded."""
    ev = alarm.get("evidence") or {}
    for source in (ev, ev.get("evidence") or {}):
        readings = source.get("readings") if isinstance(source, dict) else None
        if readings:
            return [[float(r[0]), float(r[1])] for r in readings]
    points = []
    for tr in alarm.get("transitions", []):
        e = tr.get("evidence") or {}
        value = e.get("value", e.get("value_g"))
        if isinstance(value, int | float):
            at = dt.datetime.fromisoformat(tr["at"]).timestamp()
            points.append([at, float(value)])
    return points


def evidence_chart(points: list[list[float]]) -> dict[str, Any]:
    return {
        "tooltip": {"trigger": "axis"},
        "xAxis": {"type": "time"},
        "yAxis": {"type": "value", "scale": True},
        "series": [
            {
                "type": "line",
                "name": t("alm.evidence"),
                "data": [[p[0] * 1000, p[1]] for p in points],
            }
        ],
    }


def bin_color(b: dict[str, Any]) -> str:
    diff = b.get("difference")
    if diff is None:
        return "grey-5"
    return "positive" if diff == 0 else ("negative" if diff < 0 else "orange")


# ---- pages ----------------------------------------------------------------------------------


async def _alarm_list(user: SessionUser) -> None:
    async def load(background: bool = False) -> None:
        try:
            data = await user.api.get(
                "/alarms",
                page=pager.page,
                size=pager.size,
                type=type_.value,
                severity=severity.value,
                state=state.value,
                site=(site.value or "").strip() or None,
                open_only=bool(open_only.value) or None,
            )
        except ApiError as err:
            if background:
                # A refresh nobody asked for: stop refreshing, but never sign anyone out
                # (the browser may have signed in as someone else in another tab since).
                timer.active = False
                live.value = False
                stamp.text = user_message(err)
                return
            report(err)
            return
        for a in data["items"]:
            a["raised"] = _when(a["raised_at"])
        table.rows = data["items"]
        pager.update(data["total"])
        stamp.text = t("alm.updated", at=dt.datetime.now().strftime("%H:%M:%S"))

    with frame(user, t("alm.title")):
        _links(user)
        with ui.row().classes("items-end gap-4"):
            state = (
                ui.select(
                    {None: t("filter.any"), **{s: s for s in STATES}},
                    label=t("alm.state"),
                    value=None,
                )
                .classes("w-40")
                .props("data-testid=filter-state")
                .mark("filter-state")
            )
            type_ = (
                ui.select(
                    {None: t("filter.any"), **{x: x for x in TYPES}},
                    label=t("alm.type"),
                    value=None,
                )
                .classes("w-64")
                .props("data-testid=filter-type")
                .mark("filter-type")
            )
            severity = (
                ui.select(
                    {None: t("filter.any"), **{s: s for s in SEVERITIES}},
                    label=t("alm.severity"),
                    value=None,
                )
                .classes("w-40")
                .props("data-testid=filter-severity")
                .mark("filter-severity")
            )
            site = (
                ui.input(t("alm.site"))
                .props("clearable")
                .classes("w-40")
                .props("data-testid=filter-site")
                .mark("filter-site")
            )
            open_only = (
                ui.checkbox(t("alm.open_only"), value=True)
                .props("data-testid=filter-open")
                .mark("filter-open")
            )
            live = ui.switch(t("alm.live"), value=True).props("data-testid=live").mark("live")
            ui.button(t("search"), on_click=lambda: pager.reset())
        for control in (state, type_, severity, open_only):
            control.on_value_change(lambda: pager.reset())
        site.on("keydown.enter", lambda: pager.reset())
        stamp = ui.label().classes("text-caption").props("data-testid=updated").mark("updated")
        table = ui.table(
            columns=[
                _col("raised", "alm.raised"),
                _col("severity", "alm.severity"),
                _col("type", "alm.type"),
                _col("subject", "alm.subject"),
                _col("state", "alm.state"),
                _col("site", "alm.site"),
                _col("message", "alm.message"),
            ],
            rows=[],
            row_key="id",
        ).classes("w-full")
        table.props("data-testid=alarms").mark("alarms")
        table.props("hide-pagination :pagination='{rowsPerPage: 0}'")
        table.add_slot("body-cell-subject", ALARM_LINK)
        table.add_slot("body-cell-severity", SEVERITY_CELL)
        pager = Pager(load)
        timer = ui.timer(REFRESH_S, lambda: load(background=True), immediate=False)
        live.bind_value_to(timer, "active")
    await load()


async def _alarm_detail(user: SessionUser, alarm_id: str) -> None:
    with frame(user, t("alm.title")):
        ui.link(t("alm.back"), "/alarms")
        body = ui.column().classes("w-full gap-3")

    async def refresh() -> None:
        body.clear()
        with body:
            try:
                a = await user.api.get(f"/alarms/{alarm_id}")
            except ApiError as err:
                report(err, inline=True)
                return
            _alarm_card(user, a, refresh)

    await refresh()


def _alarm_card(user: SessionUser, a: dict[str, Any], refresh: Any) -> None:
    with ui.card().classes("w-full max-w-5xl"):
        with ui.row().classes("items-center gap-3"):
            ui.badge(a["severity"], color=SEVERITY_COLOR.get(a["severity"], "grey"))
            ui.label(f"{a['type']} · {a['subject']}").classes("text-h6")
            ui.label(a["state"]).classes("text-subtitle1").props("data-testid=alarm-state").mark(
                "alarm-state"
            )
        ui.label(a["message"])
        with ui.grid(columns=2).classes("gap-x-8"):
            for key, value in (
                ("alm.raised", _when(a["raised_at"])),
                ("alm.site", a["site"] or "–"),
                ("alm.device", a["device"] or "–"),
                ("alm.occurrences", str(a["occurrences"])),
            ):
                ui.label(t(key)).classes("text-caption")
                ui.label(value)
    ui.label(t("alm.evidence")).classes("text-subtitle1")
    points = readings_of(a)
    if points:
        ui.echart(evidence_chart(points)).classes("w-full max-w-5xl h-72").props(
            "data-testid=evidence-chart"
        ).mark("evidence-chart")
    else:
        ui.label(t("alm.no_readings")).classes("text-caption").props(
            "data-testid=no-readings"
        ).mark("no-readings")
    with ui.expansion("JSON").classes("w-full max-w-5xl"):
        ui.code(str(a["evidence"])).classes("w-full")
    if a["state"] != "cleared":
        _actions(user, a, refresh)
    ui.label(t("alm.steps")).classes("text-subtitle1")
    with ui.timeline(side="right").classes("max-w-3xl").props("data-testid=steps").mark("steps"):
        for tr in a["transitions"]:
            ui.timeline_entry(
                tr["reason"] or tr["message"] or "",
                title=f"{tr['action']} → {tr['to_state']}",
                subtitle=f"{_when(tr['at'])} · {tr['by']}",
            )


def _actions(user: SessionUser, a: dict[str, Any], refresh: Any) -> None:
    async def call(path: str, body: dict[str, Any]) -> None:
        try:
            result = await user.api.post(path, json=body)
        except ApiError as err:
            report(err)
            return
        if result and result.get("outcome") == "pending":
            ui.notify(t("alm.queued"), type="info")
        else:
            ui.notify(t("alm.done", state=result["state"]), type="positive")
        await refresh()

    with ui.row().classes("items-end gap-3"):
        note = (
            ui.input(t("alm.note"))
            .classes("w-72")
            .props("data-testid=alarm-note")
            .mark("alarm-note")
        )
        if a["state"] == "active":
            ui.button(
                t("alm.acknowledge"),
                on_click=lambda: call(f"/alarms/{a['id']}/acknowledge", {"note": note.value or ""}),
            ).props("data-testid=acknowledge").mark("acknowledge")
        force = ui.checkbox(t("alm.force")).props("data-testid=force").mark("force")

        async def clear() -> None:
            reason = (note.value or "").strip()
            if not reason:
                ui.notify(t("stk.reason"), type="warning")
                return
            await call(f"/alarms/{a['id']}/clear", {"reason": reason, "force": bool(force.value)})

        ui.button(t("alm.clear"), on_click=clear, color="negative").props("data-testid=clear").mark(
            "clear"
        )


async def _warehouses(user: SessionUser) -> dict[int, str]:
    try:
        data = await user.api.get("/warehouses", size=500)
    except ApiError as err:
        report(err)
        return {}
    return {w["id"]: f"{w['code']} · {w['name']}" for w in data["items"]}


async def _bin_map(user: SessionUser) -> None:
    with frame(user, t("alm.bin_map")):
        _links(user)
        options = await _warehouses(user)
        pick = (
            ui.select(options, label=t("alm.warehouse"), value=next(iter(options), None))
            .classes("w-80")
            .props("data-testid=warehouse")
            .mark("warehouse")
        )
        summary = ui.label().props("data-testid=accuracy").mark("accuracy")
        ui.label(t("alm.legend")).classes("text-caption")
        grid = ui.row().classes("w-full gap-1").props("data-testid=bin-map").mark("bin-map")

    async def load() -> None:
        grid.clear()
        if pick.value is None:
            return
        try:
            bins = await user.api.get(f"/warehouses/{pick.value}/bins")
            acc = await user.api.get(f"/warehouses/{pick.value}/accuracy")
        except ApiError as err:
            report(err)
            return
        summary.text = t(
            "alm.accuracy",
            exact=acc["bins_exact"],
            bins=acc["bins"],
            ratio=f"{acc['exact_ratio']:.1%}",
            value=acc["value_of_differences"],
        )
        with grid:
            for b in bins:
                counted = b["scanned"] if b["scanned"] is not None else b["sensed"]
                diff = b["difference"]
                label = f"{b['code']}\n{b['book']}/{'–' if counted is None else counted}"
                cell = ui.card().classes(f"bg-{bin_color(b)} text-white p-1 w-24 text-xs")
                with cell:
                    ui.label(label).classes("whitespace-pre-line")
                cell.tooltip(f"{b['sku'] or '–'} · book {b['book']} · diff {diff}")
                cell.props(f"data-testid=bin-{b['code']}").mark(f"bin-{b['code']}")

    pick.on_value_change(load)
    await load()


async def _stocktakes(user: SessionUser) -> None:
    async def load() -> None:
        try:
            data = await user.api.get("/stocktakes", page=pager.page, size=pager.size)
        except ApiError as err:
            report(err)
            return
        for s in data["items"]:
            s["warehouse"] = options.get(s["warehouse_id"], s["warehouse_id"])
            s["created"] = _when(s["created_at"])
        table.rows = data["items"]
        pager.update(data["total"])

    with frame(user, t("alm.stocktakes")):
        _links(user)
        options = await _warehouses(user)
        with ui.row().classes("items-end gap-3"):
            wh = ui.select(options, label=t("alm.warehouse"), value=next(iter(options), None))
            wh.classes("w-80").props("data-testid=stocktake-warehouse").mark("stocktake-warehouse")
            zone = ui.number(t("stk.zone"), precision=0, min=1).classes("w-40")

            async def start() -> None:
                if wh.value is None:
                    return
                body = {
                    "warehouse_id": wh.value,
                    "zone_id": int(zone.value) if zone.value else None,
                }
                try:
                    s = await user.api.post("/stocktakes", json=body)
                except ApiError as err:
                    report(err)
                    return
                ui.navigate.to(f"/alarms/stocktakes/{s['id']}")

            ui.button(t("stk.new"), on_click=start).props("data-testid=new-stocktake").mark(
                "new-stocktake"
            )
        table = ui.table(
            columns=[
                _col("id", "stk.id"),
                _col("warehouse", "alm.warehouse"),
                _col("status", "stk.status"),
                _col("created", "stk.created"),
                _col("lines", "stk.lines", "right"),
            ],
            rows=[],
            row_key="id",
        ).classes("w-full max-w-5xl")
        table.props("data-testid=stocktakes").mark("stocktakes")
        table.props("hide-pagination :pagination='{rowsPerPage: 0}'")
        table.add_slot("body-cell-id", STOCKTAKE_LINK)
        pager = Pager(load)
    await load()


async def _stocktake_detail(user: SessionUser, session_id: int) -> None:
    with frame(user, t("alm.stocktakes")):
        ui.link(t("stk.back"), "/alarms/stocktakes")
        body = ui.column().classes("w-full gap-3")

    async def refresh() -> None:
        body.clear()
        with body:
            try:
                s = await user.api.get(f"/stocktakes/{session_id}")
            except ApiError as err:
                report(err, inline=True)
                return
            _stocktake_view(user, s, refresh)

    await refresh()


def _stocktake_view(user: SessionUser, s: dict[str, Any], refresh: Any) -> None:
    acc = s["accuracy"]
    ui.label(f"#{s['id']} · {s['status']}").classes("text-h6").props(
        "data-testid=stocktake-status"
    ).mark("stocktake-status")
    ui.label(
        t(
            "alm.accuracy",
            exact=acc["bins_exact"],
            bins=acc["bins"],
            ratio=f"{acc['exact_ratio']:.1%}",
            value=acc["value_of_differences"],
        )
    ).props("data-testid=stocktake-accuracy").mark("stocktake-accuracy")
    for ln in s["items"]:
        ln["lot"] = ln["lot_code"] or "–"
        ln["decision"] = ln["adj_status"] or ""
    table = ui.table(
        columns=[
            _col("bin_code", "stk.bin"),
            _col("sku", "stk.sku"),
            _col("lot", "stk.lot"),
            _col("book", "stk.book", "right"),
            _col("sensed", "stk.sensed", "right"),
            _col("scanned", "stk.scanned", "right"),
            _col("manual", "stk.manual", "right"),
            _col("delta", "stk.delta", "right"),
            _col("decision", "stk.decision"),
        ],
        rows=s["items"],
        row_key="id",
    ).classes("w-full max-w-5xl")
    table.props("data-testid=stocktake-lines").mark("stocktake-lines")
    table.props("hide-pagination :pagination='{rowsPerPage: 0}'")

    async def call(path: str, body: dict[str, Any] | None = None) -> None:
        try:
            out = await user.api.post(path, json=body)
        except ApiError as err:
            report(err)
            return
        ui.notify(t("stk.done", id=out["id"], status=out["status"]), type="positive")
        await refresh()

    status = s["status"]
    sid = s["id"]
    with ui.row().classes("items-end gap-3"):
        if status in ("counting", "review"):
            reason = (
                ui.input(t("stk.reason"))
                .classes("w-72")
                .props("data-testid=stocktake-reason")
                .mark("stocktake-reason")
            )
            skip = ui.checkbox(t("stk.skip"), value=True)

            async def propose() -> None:
                if not (reason.value or "").strip():
                    ui.notify(t("stk.reason"), type="warning")
                    return
                body = {"reason": reason.value, "skip_uncounted": bool(skip.value)}
                await call(f"/stocktakes/{sid}/propose", body)

            ui.button(t("stk.propose"), on_click=propose).props("data-testid=propose").mark(
                "propose"
            )
        if status == "approval":
            ui.button(t("stk.approve"), on_click=lambda: call(f"/stocktakes/{sid}/approve")).props(
                "data-testid=approve"
            ).mark("approve")
            ui.button(t("stk.post"), on_click=lambda: call(f"/stocktakes/{sid}/post")).props(
                "data-testid=post"
            ).mark("post")


def register() -> None:
    # Fixed paths first: /alarms/{alarm_id} would take them otherwise.
    @ui.page("/alarms/bin-map")
    async def bin_map_page() -> RedirectResponse | None:
        user = require_user(STOCK_ROLES)
        if isinstance(user, RedirectResponse):
            return user
        await _bin_map(user)
        return None

    @ui.page("/alarms/stocktakes")
    async def stocktakes_page() -> RedirectResponse | None:
        user = require_user(STOCK_ROLES)
        if isinstance(user, RedirectResponse):
            return user
        await _stocktakes(user)
        return None

    @ui.page("/alarms/stocktakes/{session_id}")
    async def stocktake_page(session_id: int) -> RedirectResponse | None:
        user = require_user(STOCK_ROLES)
        if isinstance(user, RedirectResponse):
            return user
        await _stocktake_detail(user, session_id)
        return None

    @ui.page("/alarms")
    async def alarms_page() -> RedirectResponse | None:
        user = require_user(ALARM_ROLES)
        if isinstance(user, RedirectResponse):
            return user
        await _alarm_list(user)
        return None

    @ui.page("/alarms/{alarm_id}")
    async def alarm_page(alarm_id: str) -> RedirectResponse | None:
        user = require_user(ALARM_ROLES)
        if isinstance(user, RedirectResponse):
            return user
        await _alarm_detail(user, alarm_id)
        return None
