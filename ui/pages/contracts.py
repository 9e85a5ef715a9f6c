"""/contracts (list with status and in-force-on filters, paged by the API, and the trailing
targets of the caller's dealers) and /contracts/{id} (every version with its terms and
timeline, the next steps a manager may take, and the execution of the version in force: a
table per quarter and product line and a targets-vs-actuals chart). The API decides every
step; its refusal is shown."""

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

READERS = frozenset({"hq_admin", "region_manager", "dealer_user"})
STATUSES = ["draft", "pending_approval", "active", "rejected", "superseded"]
LINK_CELL = (
    '<q-td :props="props"><a class="text-primary" :href="\'/contracts/\' + props.row.id">'
    "{{ props.value }}</a></q-td>"
)
ALERT_LINK_CELL = (
    '<q-td :props="props"><a class="text-primary" '
    ":href=\"'/contracts/' + props.row.contract_id\">{{ props.value }}</a></q-td>"
)

i18n.extend(
    {
        "en": {
            "contracts.title": "Contracts",
            "contracts.active_on": "In force on (YYYY-MM-DD)",
            "contracts.alerts": "Targets trailing today",
            "contracts.no_alerts": "No dealer trails its targets",
            "contract.number": "Contract",
            "contract.dealer": "Dealer",
            "contract.status": "Status",
            "contract.in_force": "In force",
            "contract.period": "Period",
            "contract.updated": "Updated",
            "contract.back": "All contracts",
            "contract.versions": "Versions",
            "contract.version": "Version {n}",
            "contract.committed": "Committed value",
            "contract.targets": "Sales targets",
            "contract.tiers": "Rebate tiers",
            "contract.stages": "Payment stages",
            "contract.timeline": "Timeline",
            "contract.quarter": "Quarter",
            "contract.line": "Product line",
            "contract.target": "Target",
            "contract.actual": "Actual",
            "contract.achievement": "Achievement %",
            "contract.expected": "Expected to date",
            "contract.trailing": "Trailing",
            "contract.rate": "Rebate rate",
            "contract.rebate": "Accrued rebate",
            "contract.shortfall": "Shortfall",
            "contract.from": "From achievement",
            "contract.stage": "Stage",
            "contract.due": "Due",
            "contract.percent": "Share %",
            "contract.amount": "Amount",
            "contract.execution": "Execution",
            "contract.as_of": "As of (YYYY-MM-DD)",
            "contract.refresh": "Refresh",
            "contract.totals": "Target {target} · actual {actual} · accrued rebate {rebate}",
            "contract.no_active": "No version in force yet: nothing to track",
            "contract.done": "Contract {number} v{n} is now {status}",
            "contract.yes": "yes",
            "contract.no": "no",
            "contract.state.draft": "draft",
            "contract.state.pending_approval": "pending approval",
            "contract.state.active": "active",
            "contract.state.rejected": "rejected",
            "contract.state.superseded": "superseded",
        },
        "zh-CN": {
            "contracts.title": "合同",
            "contracts.active_on": "生效日期（YYYY-MM-DD）",
            "contracts.alerts": "今日未达标的目标",
            "contracts.no_alerts": "没有经销商落后于目标",
            "contract.number": "合同",
            "contract.dealer": "经销商",
            "contract.status": "状态",
            "contract.in_force": "生效版本",
            "contract.period": "合同期",
            "contract.updated": "更新时间",
            "contract.back": "全部合同",
            "contract.versions": "版本",
            "contract.version": "第 {n} 版",
            "contract.committed": "承诺金额",
            "contract.targets": "销售目标",
            "contract.tiers": "返利阶梯",
            "contract.stages": "付款阶段",
            "contract.timeline": "时间线",
            "contract.quarter": "季度",
            "contract.line": "产品线",
            "contract.target": "目标",
            "contract.actual": "实际",
            "contract.achievement": "达成率 %",
            "contract.expected": "截至目前应达",
            "contract.trailing": "落后",
            "contract.rate": "返利比例",
            "contract.rebate": "应计返利",
            "contract.shortfall": "差额",
            "contract.from": "起始达成率",
            "contract.stage": "阶段",
            "contract.due": "到期日",
            "contract.percent": "比例 %",
            "contract.amount": "金额",
            "contract.execution": "执行情况",
            "contract.as_of": "截至日期（YYYY-MM-DD）",
            "contract.refresh": "刷新",
            "contract.totals": "目标 {target} · 实际 {actual} · 应计返利 {rebate}",
            "contract.no_active": "尚无生效版本，无执行数据",
            "contract.done": "合同 {number} 第 {n} 版状态：{status}",
            "contract.yes": "是",
            "contract.no": "否",
            "contract.state.draft": "草稿",
            "contract.state.pending_approval": "待审批",
            "contract.state.active": "生效",
            "contract.state.rejected": "已驳回",
            "contract.state.superseded": "已被取代",
        },
    }
)


def state(status: str) -> str:
    return t(f"contract.state.{status}")


def actions_for(role: str, status: str) -> list[str]:
    """The buttons worth showing on the latest version; a hint only: the API decides (it
    refuses, say, the author's own approval)."""
    if role not in APPROVERS:
        return []
    if status == "draft":
        return ["submit"]
    if status == "pending_approval":
        return ["approve", "reject"]
    return []


def chart_options(lines: list[dict[str, Any]]) -> dict[str, Any]:
    """Targets vs actuals (bars) and the pro-rata expectation (line) per quarter and line."""
    return {
        "tooltip": {"trigger": "axis"},
        "legend": {"data": [t("contract.target"), t("contract.actual"), t("contract.expected")]},
        "xAxis": {
            "type": "category",
            "data": [f"{ln['quarter']} {ln['product_line']}" for ln in lines],
        },
        "yAxis": {"type": "value"},
        "series": [
            {
                "name": t("contract.target"),
                "type": "bar",
                "data": [float(ln["target"]) for ln in lines],
            },
            {
                "name": t("contract.actual"),
                "type": "bar",
                "data": [float(ln["actual"]) for ln in lines],
            },
            {
                "name": t("contract.expected"),
                "type": "line",
                "data": [float(ln["expected_to_date"]) for ln in lines],
            },
        ],
    }


def _col(name: str, key: str, align: str = "left") -> dict[str, Any]:
    return {"name": name, "label": t(key), "field": name, "align": align}


# -- list ----------------------------------------------------------------------------------
async def _list_page(user: SessionUser, dealer_id: int | None) -> None:
    async def load() -> None:
        try:
            data = await user.api.get(
                "/contracts",
                page=pager.page,
                size=pager.size,
                status=status.value,
                active_on=(active_on.value or "").strip() or None,
                dealer_id=dealer_id,
            )
        except ApiError as err:
            report(err)
            return
        for row in data["items"]:
            row["state"] = state(row["status"])
            row["period"] = (
                f"{row['period_start']} – {row['period_end']}" if row["period_start"] else "–"
            )
            row["in_force"] = f"v{row['active_version']}" if row["active_version"] else "–"
            row["updated_at"] = row["updated_at"][:16].replace("T", " ")
        table.rows = data["items"]
        pager.update(data["total"])

    with frame(user, t("contracts.title")):
        with ui.row().classes("items-end gap-4"):
            status = ui.select(
                {None: t("filter.any"), **{s: state(s) for s in STATUSES}},
                label=t("filter.status"),
                value=None,
            ).classes("w-48")
            active_on = ui.input(t("contracts.active_on")).props("clearable").classes("w-56")
            ui.button(t("search"), on_click=lambda: pager.reset())
            export_button(
                user,
                "contracts",
                lambda: {"status": status.value, "active_on": active_on.value or None},
            )
        status.on_value_change(lambda: pager.reset())
        active_on.on("keydown.enter", lambda: pager.reset())
        table = ui.table(
            columns=[
                _col("number", "contract.number"),
                _col("dealer_name", "contract.dealer"),
                _col("state", "contract.status"),
                _col("in_force", "contract.in_force"),
                _col("period", "contract.period"),
                _col("updated_at", "contract.updated"),
            ],
            rows=[],
            row_key="id",
        ).classes("w-full")
        table.mark("contracts")
        table.props("hide-pagination :pagination='{rowsPerPage: 0}'")
        table.add_slot("body-cell-number", LINK_CELL)
        pager = Pager(load)
        await load()
        await _alerts(user, dealer_id)


async def _alerts(user: SessionUser, dealer_id: int | None) -> None:
    """The targets the caller's dealers trail today (the API's default margin)."""
    ui.label(t("contracts.alerts")).classes("text-subtitle1")
    try:
        data = await user.api.get(
            "/contracts/alerts", size=50, dealer_id=dealer_id, sort="-shortfall"
        )
    except ApiError as err:
        report(err)
        return
    if not data["items"]:
        ui.label(t("contracts.no_alerts")).mark("no-contract-alerts")
        return
    for a in data["items"]:
        a["key"] = f"{a['contract_id']}/{a['quarter']}/{a['product_line']}"
    ui.table(
        columns=[
            _col("number", "contract.number"),
            _col("dealer_name", "contract.dealer"),
            _col("quarter", "contract.quarter"),
            _col("product_line", "contract.line"),
            _col("expected", "contract.expected", "right"),
            _col("actual", "contract.actual", "right"),
            _col("shortfall", "contract.shortfall", "right"),
        ],
        rows=data["items"],
        row_key="key",
    ).classes("w-full").mark("contract-alerts").add_slot("body-cell-number", ALERT_LINK_CELL)


# -- detail --------------------------------------------------------------------------------
def _reason_dialog(title: str, on_confirm: Callable[[str], Awaitable[None]]) -> ui.dialog:
    with ui.dialog() as dialog, ui.card():
        ui.label(title).classes("text-h6")
        reason = ui.input(t("action.reason")).props("autofocus").classes("w-80").mark("reason")

        async def confirm() -> None:
            if reason.value:
                dialog.close()
                await on_confirm(reason.value)

        reason.on("keydown.enter", confirm)
        with ui.row():
            ui.button(t("action.confirm"), on_click=confirm).mark("confirm")
            ui.button(t("action.close"), on_click=dialog.close).props("flat")
    return dialog


def _version_card(v: dict[str, Any], latest: bool) -> None:
    title = f"{t('contract.version', n=v['number'])} · {state(v['status'])}"
    with (
        ui.expansion(title, value=latest).classes("w-full max-w-4xl").mark(f"version-{v['number']}")
    ):
        ui.label(
            f"{t('contract.period')}: {v['period_start']} – {v['period_end']} · "
            f"{t('contract.committed')}: {v['committed_value']}"
        )
        ui.label(t("contract.targets")).classes("text-subtitle2")
        ui.table(
            columns=[
                _col("quarter", "contract.quarter"),
                _col("product_line", "contract.line"),
                _col("amount", "contract.target", "right"),
            ],
            rows=v["targets"],
            row_key="quarter",
        ).props("dense flat hide-pagination :pagination='{rowsPerPage: 0}'")
        if v["rebate_tiers"]:
            ui.label(t("contract.tiers")).classes("text-subtitle2")
            for tier in v["rebate_tiers"]:
                ui.label(
                    f"≥ {float(tier['min_achievement']) * 100:g} % → "
                    f"{float(tier['rate']) * 100:g} %"
                )
        if v["payment_stages"]:
            ui.label(t("contract.stages")).classes("text-subtitle2")
            ui.table(
                columns=[
                    _col("name", "contract.stage"),
                    _col("due_on", "contract.due"),
                    _col("percent", "contract.percent", "right"),
                    _col("amount", "contract.amount", "right"),
                ],
                rows=v["payment_stages"],
                row_key="name",
            ).props("dense flat hide-pagination :pagination='{rowsPerPage: 0}'")
        ui.label(t("contract.timeline")).classes("text-subtitle2")
        with ui.timeline(side="right"):
            for e in v["timeline"]:
                ui.timeline_entry(
                    e["reason"] or "",
                    title=f"{state(e['from_status']) if e['from_status'] else '·'} → "
                    f"{state(e['to_status'])}",
                    subtitle=f"{e['at'][:19].replace('T', ' ')} · {e['by']}",
                )


async def _execution(user: SessionUser, contract_id: int) -> None:
    ui.label(t("contract.execution")).classes("text-subtitle1")
    with ui.row().classes("items-end gap-4"):
        as_of = ui.input(t("contract.as_of")).props("clearable").classes("w-56").mark("as-of")
        ui.button(t("contract.refresh"), on_click=lambda: load()).mark("refresh-execution")
    totals = ui.label().mark("execution-totals")
    table = ui.table(
        columns=[
            _col("quarter", "contract.quarter"),
            _col("product_line", "contract.line"),
            _col("target", "contract.target", "right"),
            _col("actual", "contract.actual", "right"),
            _col("achievement_pct", "contract.achievement", "right"),
            _col("expected_to_date", "contract.expected", "right"),
            _col("trailing_label", "contract.trailing"),
            _col("accrued_rebate", "contract.rebate", "right"),
        ],
        rows=[],
        row_key="key",
    ).classes("w-full max-w-5xl")
    table.mark("execution")
    table.props("hide-pagination :pagination='{rowsPerPage: 0}'")
    chart = ui.echart(chart_options([])).classes("w-full max-w-5xl h-80").mark("execution-chart")

    async def load() -> None:
        try:
            ex = await user.api.get(
                f"/contracts/{contract_id}/execution", on=(as_of.value or "").strip() or None
            )
        except ApiError as err:
            report(err)
            return
        for ln in ex["lines"]:
            ln["key"] = f"{ln['quarter']}/{ln['product_line']}"
            ln["trailing_label"] = t("contract.yes") if ln["trailing"] else t("contract.no")
        table.rows = ex["lines"]
        totals.text = t(
            "contract.totals",
            target=ex["total_target"],
            actual=ex["total_actual"],
            rebate=ex["accrued_rebate"],
        )
        chart.options.clear()
        chart.options.update(chart_options(ex["lines"]))
        chart.update()

    as_of.on("keydown.enter", load)
    await load()


async def _detail_page(user: SessionUser, contract_id: int) -> None:
    with frame(user, t("contracts.title")):
        ui.link(t("contract.back"), "/contracts")
        body = ui.column().classes("w-full gap-4")

    async def act(number: int, action: str, reason: str | None = None) -> None:
        payload = {"reason": reason} if reason is not None else None
        try:
            c = await user.api.post(
                f"/contracts/{contract_id}/versions/{number}/{action}", json=payload
            )
        except ApiError as err:
            report(err)
            return
        ui.notify(
            t("contract.done", number=c["number"], n=number, status=state(c["status"])),
            type="positive",
        )
        await render(c)

    async def render(c: dict[str, Any]) -> None:
        body.clear()
        with body:
            with ui.row().classes("items-center gap-6"):
                ui.label(f"{t('contract.number')} {c['number']}").classes("text-h6")
                ui.label(f"{t('contract.status')}: {state(c['status'])}").mark("contract-status")
                ui.link(f"{t('contract.dealer')}: {c['dealer_name']}", f"/dealers/{c['dealer_id']}")
                in_force = f"v{c['active_version']}" if c["active_version"] else "–"
                ui.label(f"{t('contract.in_force')}: {in_force}").mark("contract-in-force")
            latest = c["latest_version"]
            with ui.row().classes("gap-2"):
                for action in actions_for(user.role, c["status"]):
                    if action == "reject":
                        dialog = _reason_dialog(
                            t("action.reject"), lambda r: act(latest, "reject", r)
                        )
                        ui.button(t("action.reject"), on_click=dialog.open).props(
                            "color=negative outline"
                        ).mark("act-reject")
                    else:
                        ui.button(
                            t(f"action.{action}"), on_click=lambda a=action: act(latest, a)
                        ).mark(f"act-{action}")
            ui.label(t("contract.versions")).classes("text-subtitle1")
            for v in reversed(c["versions"]):
                _version_card(v, v["number"] == latest)
            if c["active_version"]:
                await _execution(user, contract_id)
            else:
                ui.label(t("contract.no_active")).mark("no-execution")

    try:
        contract = await user.api.get(f"/contracts/{contract_id}")
    except ApiError as err:
        with body:
            report(err, inline=True)
        return
    await render(contract)


def register() -> None:
    @ui.page("/contracts")
    async def contracts_page(dealer_id: int | None = None) -> RedirectResponse | None:
        user = require_user(READERS)
        if isinstance(user, RedirectResponse):
            return user
        await _list_page(user, dealer_id)
        return None

    @ui.page("/contracts/{contract_id}")
    async def contract_detail(contract_id: int) -> RedirectResponse | None:
        user = require_user(READERS)
        if isinstance(user, RedirectResponse):
            return user
        await _detail_page(user, contract_id)
        return None
