"""/dispatch: plan a warehouse's day (the solver runs in the background; a progress bar
follows it and the page stays usable), /dispatch/{plan}: the plan on an offline map with each
route in its colour, the stops table where a stop can be moved to another truck or position,
routes locked, the rest re-optimised, a mid-day re-plan started, and the plan published."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi.responses import RedirectResponse
from nicegui import ui

from wayhouse.ui import i18n
from wayhouse.ui.api_client import ApiError
from wayhouse.ui.frame import frame
from wayhouse.ui.i18n import t
from wayhouse.ui.maps import colour, dot, offline_map, route_line
from wayhouse.ui.session import SessionUser, report, require_user

DISPATCHERS = frozenset({"hq_admin", "dispatcher"})
ENGINES = ["portfolio", "pyvrp", "ortools"]

i18n.extend(
    {
        "en": {
            "dispatch.title": "Dispatch",
            "dispatch.warehouse": "Warehouse",
            "dispatch.day": "Day",
            "dispatch.engine": "Engine",
            "dispatch.seconds": "Time limit (s)",
            "dispatch.plan": "Plan the day",
            "dispatch.plans": "Plans",
            "dispatch.solving": "Solving… {pct}%",
            "dispatch.status": "Status",
            "dispatch.distance": "Distance {km} km",
            "dispatch.stops": "Stops",
            "dispatch.unassigned": "Unassigned",
            "dispatch.vehicle": "Truck",
            "dispatch.position": "Position",
            "dispatch.move": "Move",
            "dispatch.lock": "Lock",
            "dispatch.unlock": "Unlock",
            "dispatch.reoptimise": "Re-optimise unlocked routes",
            "dispatch.replan": "Re-plan from now",
            "dispatch.replan_reason": "Why (urgent order, breakdown, late truck)",
            "dispatch.publish": "Publish to trucks and drivers",
            "dispatch.published": "Published (revision {rev})",
            "dispatch.problems": "Problems: {message}",
            "dispatch.order": "Order",
            "dispatch.arrival": "Planned arrival",
            "dispatch.eta": "ETA",
            "dispatch.back": "All plans",
            "dispatch.none": "No plan yet",
        },
        "zh-CN": {
            "dispatch.title": "调度",
            "dispatch.warehouse": "仓库",
            "dispatch.day": "日期",
            "dispatch.engine": "求解器",
            "dispatch.seconds": "时间上限（秒）",
            "dispatch.plan": "规划当日线路",
            "dispatch.plans": "配送计划",
            "dispatch.solving": "求解中… {pct}%",
            "dispatch.status": "状态",
            "dispatch.distance": "总里程 {km} 公里",
            "dispatch.stops": "站点",
            "dispatch.unassigned": "未分配",
            "dispatch.vehicle": "车辆",
            "dispatch.position": "顺序",
            "dispatch.move": "调整",
            "dispatch.lock": "锁定",
            "dispatch.unlock": "解锁",
            "dispatch.reoptimise": "重新优化未锁定线路",
            "dispatch.replan": "从当前时刻重新规划",
            "dispatch.replan_reason": "原因（加急订单、车辆故障、车辆延误）",
            "dispatch.publish": "发布给车辆和司机",
            "dispatch.published": "已发布（版本 {rev}）",
            "dispatch.problems": "问题：{message}",
            "dispatch.order": "订单",
            "dispatch.arrival": "计划到达",
            "dispatch.eta": "预计到达",
            "dispatch.back": "全部计划",
            "dispatch.none": "暂无计划",
        },
    }
)


def _hhmm(value: str | None) -> str:
    return value[11:16] if value else "–"


async def _index(user: SessionUser) -> None:
    with frame(user, t("dispatch.title")):
        try:
            warehouses = (await user.api.get("/warehouses", size=100))["items"]
        except ApiError as err:
            report(err, inline=True)
            return
        options = {w["id"]: f"{w['code']} · {w['name']}" for w in warehouses}
        with ui.row().classes("items-end gap-4"):
            wh = ui.select(options, label=t("dispatch.warehouse"), value=next(iter(options), None))
            wh.classes("w-64").props("data-testid=warehouse").mark("warehouse")
            day = (
                ui.input(t("dispatch.day"), value=dt.date.today().isoformat())
                .props("data-testid=day")
                .mark("day")
            )
            engine = ui.select(ENGINES, label=t("dispatch.engine"), value="portfolio").classes(
                "w-40"
            )
            seconds = ui.number(t("dispatch.seconds"), value=10, min=1, max=600, precision=0)
            button = ui.button(t("dispatch.plan")).props("data-testid=plan").mark("plan")
        progress = ui.linear_progress(value=0, show_value=False).classes("w-96")
        progress.visible = False
        status = ui.label().props("data-testid=plan-progress").mark("plan-progress")
        ui.label(t("dispatch.plans")).classes("text-subtitle1")
        table = (
            ui.table(
                columns=[
                    {"name": "id", "label": "#", "field": "id", "align": "left"},
                    {"name": "day", "label": t("dispatch.day"), "field": "day", "align": "left"},
                    {"name": "status", "label": t("dispatch.status"), "field": "status"},
                    {"name": "stops", "label": t("dispatch.stops"), "field": "stops"},
                    {"name": "km", "label": "km", "field": "km"},
                ],
                rows=[],
                row_key="id",
            )
            .classes("w-full max-w-3xl")
            .props("data-testid=plans")
            .mark("plans")
        )
        table.add_slot(
            "body-cell-id",
            '<q-td :props="props"><a class="text-primary" :href="\'/dispatch/\' + props.row.id">'
            "{{ props.value }}</a></q-td>",
        )

    async def load_plans() -> None:
        try:
            data = await user.api.get("/dispatch/plans", warehouse_id=wh.value, size=20)
        except ApiError as err:
            report(err)
            return
        table.rows = [{**p, "km": round(p["distance_m"] / 1000, 1)} for p in data["items"]]

    async def plan() -> None:
        body = {
            "warehouse_id": wh.value,
            "day": day.value,
            "engine": engine.value,
            "time_limit_s": float(seconds.value or 10),
        }
        try:
            created = await user.api.post("/dispatch/plans", json=body)
        except ApiError as err:
            report(err)
            return
        button.disable()
        progress.visible = True

        async def poll() -> None:
            try:
                p = await user.api.get(f"/dispatch/plans/{created['id']}")
            except ApiError as err:
                report(err)
                timer.cancel()
                button.enable()
                return
            progress.value = p["progress"]
            status.text = t("dispatch.solving", pct=int(p["progress"] * 100))
            if p["status"] != "solving":
                timer.cancel()
                button.enable()
                progress.visible = False
                status.text = p["status"]
                await load_plans()
                ui.navigate.to(f"/dispatch/{created['id']}")

        # Polled, never awaited in the click handler: a long solve never blocks the page.
        timer = ui.timer(0.5, poll)

    button.on_click(plan)
    wh.on_value_change(load_plans)
    await load_plans()


async def _detail(user: SessionUser, plan_id: int) -> None:
    with frame(user, f"{t('dispatch.title')} #{plan_id}"):
        ui.link(t("dispatch.back"), "/dispatch")
        body = ui.column().classes("w-full gap-3")

    async def act(method: str, path: str, payload: Any = None) -> None:
        try:
            if method == "put":
                await user.api.put(path, json=payload)
            else:
                await user.api.post(path, json=payload)
        except ApiError as err:
            report(err)
            return
        await render()

    async def render() -> None:
        try:
            p = await user.api.get(f"/dispatch/plans/{plan_id}")
        except ApiError as err:
            body.clear()
            with body:
                report(err, inline=True)
            return
        body.clear()
        index = {r["vehicle_id"]: i for i, r in enumerate(p["routes"])}
        codes = {r["vehicle_id"]: r["vehicle_code"] for r in p["routes"]}
        with body:
            with ui.row().classes("items-center gap-4"):
                ui.label(f"{t('dispatch.status')}: {p['status']}").props(
                    "data-testid=plan-status"
                ).mark("plan-status")
                ui.label(t("dispatch.distance", km=round(p["distance_m"] / 1000, 1)))
                if p["status"] == "solving":
                    ui.label(t("dispatch.solving", pct=int(p["progress"] * 100)))
                    ui.timer(1.0, render, once=True)
            if p["message"]:
                ui.label(t("dispatch.problems", message=p["message"])).classes("text-negative")
            points = [(s["lat"], s["lon"]) for s in p["stops"]]
            m = offline_map(points)
            m.props("data-testid=plan-map").mark("plan-map")
            for r in p["routes"]:
                mine = sorted(
                    (s for s in p["stops"] if s["vehicle_id"] == r["vehicle_id"]),
                    key=lambda s: s["seq"],
                )
                if mine:
                    route_line(m, [(s["lat"], s["lon"]) for s in mine], index[r["vehicle_id"]])
            for s in p["stops"]:
                i = index.get(s["vehicle_id"]) if s["vehicle_id"] else None
                dot(m, s["lat"], s["lon"], i, f"{t('dispatch.order')} {s['order_id']}")
            with ui.row().classes("gap-2 items-center"):
                for r in p["routes"]:
                    label = t("dispatch.unlock") if r["locked"] else t("dispatch.lock")
                    ui.button(
                        f"{label} {r['vehicle_code']}",
                        on_click=lambda r=r: act(
                            "put",
                            f"/dispatch/plans/{plan_id}/routes/{r['vehicle_id']}/lock",
                            {"locked": not r["locked"]},
                        ),
                    ).props(
                        f"outline color=grey-8 style='border-left: 6px solid {colour(index[r['vehicle_id']])}'"
                    ).props(f"data-testid=lock-{r['vehicle_id']}").mark(f"lock-{r['vehicle_id']}")
            with ui.row().classes("gap-2"):
                ui.button(
                    t("dispatch.reoptimise"),
                    on_click=lambda: act("post", f"/dispatch/plans/{plan_id}/reoptimise"),
                ).props("data-testid=reoptimise").mark("reoptimise")
                reason = ui.input(t("dispatch.replan_reason")).classes("w-80")
                ui.button(
                    t("dispatch.replan"),
                    on_click=lambda: act(
                        "post",
                        f"/dispatch/plans/{plan_id}/replan",
                        {"reason": reason.value or "re-plan"},
                    ),
                ).props("data-testid=replan").mark("replan")
                ui.button(
                    t("dispatch.publish"),
                    on_click=lambda: act("post", f"/dispatch/plans/{plan_id}/publish"),
                ).props("color=positive").props("data-testid=publish").mark("publish")
            if p["published_at"]:
                ui.label(t("dispatch.published", rev=p["revision"])).props(
                    "data-testid=published"
                ).mark("published")
            _stops_table(p, codes, act, plan_id)

    await render()


def _stops_table(p: dict[str, Any], codes: dict[int, str], act: Any, plan_id: int) -> None:
    ui.label(t("dispatch.stops")).classes("text-subtitle1")
    vehicles = {vid: code for vid, code in codes.items()}
    with ui.column().classes("gap-1").props("data-testid=stops").mark("stops"):
        for s in sorted(
            p["stops"],
            key=lambda s: (s["vehicle_id"] is None, codes.get(s["vehicle_id"] or 0, ""), s["seq"]),
        ):
            with ui.row().classes("items-center gap-3"):
                where = (
                    codes.get(s["vehicle_id"], t("dispatch.unassigned"))
                    if s["vehicle_id"]
                    else t("dispatch.unassigned")
                )
                ui.label(
                    f"{t('dispatch.order')} {s['order_id']} · {where} #{s['seq'] + 1}"
                ).classes("w-64")
                ui.label(
                    f"{t('dispatch.arrival')} {_hhmm(s['planned_arrival'])} · {t('dispatch.eta')} {_hhmm(s['eta'])}"
                )
                ui.label(s["status"])
                if s["unassigned_reason"]:
                    ui.label(s["unassigned_reason"]).classes("text-warning")
                target = ui.select(
                    {None: t("dispatch.unassigned"), **vehicles},
                    value=s["vehicle_id"],
                    label=t("dispatch.vehicle"),
                ).classes("w-40")
                target.props(f"data-testid=move-vehicle-{s['order_id']}").mark(
                    f"move-vehicle-{s['order_id']}"
                )
                position = ui.number(
                    t("dispatch.position"), value=s["seq"] + 1, min=1, precision=0
                ).classes("w-24")
                ui.button(
                    t("dispatch.move"),
                    on_click=lambda s=s, target=target, position=position: act(
                        "post",
                        f"/dispatch/plans/{plan_id}/moves",
                        {
                            "order_id": s["order_id"],
                            "vehicle_id": target.value,
                            "position": max(0, int(position.value or 1) - 1),
                        },
                    ),
                ).props("flat").props(f"data-testid=move-{s['order_id']}").mark(
                    f"move-{s['order_id']}"
                )


def register() -> None:
    @ui.page("/dispatch")
    async def dispatch_page() -> RedirectResponse | None:
        user = require_user(DISPATCHERS)
        if isinstance(user, RedirectResponse):
            return user
        await _index(user)
        return None

    @ui.page("/dispatch/{plan_id}")
    async def plan_page(plan_id: int) -> RedirectResponse | None:
        user = require_user(DISPATCHERS)
        if isinstance(user, RedirectResponse):
            return user
        await _detail(user, plan_id)
        return None
