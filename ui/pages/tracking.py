"""/tracking: the dispatchers' live map (every truck, every second, coloured by its route) and
the playback of a truck's past day on a slider; /track/{token}: the public page a customer's
tracking link opens (no login): the truck on an offline map, the ETA and the state of that one
delivery, or a clear error in the visitor's language when the link is bad or expired."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import RedirectResponse
from nicegui import ui

from wayhouse.config import get_settings
from wayhouse.ui import i18n
from wayhouse.ui.api_client import ApiClient, ApiError
from wayhouse.ui.frame import frame
from wayhouse.ui.i18n import t
from wayhouse.ui.maps import colour, offline_map, route_line
from wayhouse.ui.session import SessionUser, report, require_user

TRACKING_ROLES = frozenset({"hq_admin", "dispatcher"})
LIVE_EVERY_S = 1.0
PUBLIC_EVERY_S = 10.0
PLAY_EVERY_S = 0.2
NO_ROUTE = "#757575"

i18n.extend(
    {
        "en": {
            "track.title": "Live tracking",
            "track.fleet": "{n} trucks · {located} with a position",
            "track.truck": "Truck",
            "track.route": "Route",
            "track.route_of": "plan {plan} · route {no}",
            "track.no_route": "no route today",
            "track.position": "Position",
            "track.last_fix": "Last fix",
            "track.speed": "km/h",
            "track.stops": "Stops done",
            "track.never": "no fix yet",
            "track.playback": "Playback of a past day",
            "track.vehicle": "Truck",
            "track.day": "Day (YYYY-MM-DD)",
            "track.load": "Show the day",
            "track.play": "Play",
            "track.pause": "Pause",
            "track.fixes": "{n} positions",
            "track.no_fixes": "No positions recorded for this truck that day",
            "track.bad_day": "Enter the day as YYYY-MM-DD",
            "track.choose": "Choose a truck",
            "public.title": "Your delivery",
            "public.status": "Status",
            "public.eta": "Expected arrival",
            "public.updated": "Truck position at {time}",
            "public.no_position": "The truck's position shows here once it is on its way.",
            "public.status.preparing": "Being prepared",
            "public.status.scheduled": "Scheduled for delivery",
            "public.status.on_the_way": "On the way",
            "public.status.arrived": "The truck has arrived",
            "public.status.departed": "The truck has been and left",
            "public.status.delivered": "Delivered",
            "public.error.title": "This tracking link cannot be opened",
            "public.error.malformed": "The link is incomplete or mistyped. Please copy it again.",
            "public.error.tampered": "The link has been altered and is not valid.",
            "public.error.expired": "The link has expired. Ask the sender for a new one.",
            "public.error.revoked": "The link was withdrawn by the sender.",
            "public.error.unknown": "The link is not known here.",
            "public.error.unreachable": "Tracking is not available right now. Please try later.",
        },
        "zh-CN": {
            "track.title": "实时跟踪",
            "track.fleet": "共 {n} 辆车 · {located} 辆有位置",
            "track.truck": "车辆",
            "track.route": "线路",
            "track.route_of": "计划 {plan} · 线路 {no}",
            "track.no_route": "今日无线路",
            "track.position": "位置",
            "track.last_fix": "最近定位",
            "track.speed": "公里/小时",
            "track.stops": "已完成站点",
            "track.never": "尚无定位",
            "track.playback": "历史轨迹回放",
            "track.vehicle": "车辆",
            "track.day": "日期（YYYY-MM-DD）",
            "track.load": "显示当天",
            "track.play": "播放",
            "track.pause": "暂停",
            "track.fixes": "{n} 个位置",
            "track.no_fixes": "该车当天没有位置记录",
            "track.bad_day": "请按 YYYY-MM-DD 输入日期",
            "track.choose": "请选择车辆",
            "public.title": "您的配送",
            "public.status": "状态",
            "public.eta": "预计到达",
            "public.updated": "车辆位置更新于 {time}",
            "public.no_position": "车辆出发后，这里将显示它的位置。",
            "public.status.preparing": "备货中",
            "public.status.scheduled": "已安排配送",
            "public.status.on_the_way": "配送途中",
            "public.status.arrived": "车辆已到达",
            "public.status.departed": "车辆已到达并离开",
            "public.status.delivered": "已送达",
            "public.error.title": "无法打开此跟踪链接",
            "public.error.malformed": "链接不完整或有误，请重新复制。",
            "public.error.tampered": "链接已被篡改，无效。",
            "public.error.expired": "链接已过期，请向发送方索取新链接。",
            "public.error.revoked": "链接已被发送方撤回。",
            "public.error.unknown": "此链接不存在。",
            "public.error.unreachable": "跟踪服务暂时不可用，请稍后再试。",
        },
    }
)


def _tz() -> ZoneInfo:
    return ZoneInfo(get_settings().timezone)


def _local(iso: str | None, fmt: str = "%H:%M") -> str:
    if not iso:
        return "–"
    return dt.datetime.fromisoformat(iso).astimezone(_tz()).strftime(fmt)


def _row(truck: dict[str, Any], now: dt.datetime) -> dict[str, Any]:
    at = truck["at"]
    age = "–"
    if at:
        secs = max(0, int((now - dt.datetime.fromisoformat(at)).total_seconds()))
        age = f"{_local(at, '%H:%M:%S')} ({secs} s)"
    route = (
        t("track.route_of", plan=truck["plan_id"], no=truck["route_index"] + 1)
        if truck["plan_id"] is not None
        else t("track.no_route")
    )
    located = truck["lat"] is not None
    return {
        "id": truck["vehicle_id"],
        "code": truck["code"],
        "route": route,
        "position": f"{truck['lat']:.5f}, {truck['lon']:.5f}" if located else t("track.never"),
        "last_fix": age,
        "speed": f"{truck['speed'] * 3.6:.0f}" if truck["speed"] is not None else "–",
        "stops": f"{truck['stops_done']}/{truck['stops']}" if truck["stops"] else "–",
        "colour": _colour(truck),
    }


def _colour(truck: dict[str, Any]) -> str:
    return colour(truck["route_index"]) if truck["route_index"] is not None else NO_ROUTE


# One message per refresh moves every truck: markers are kept in the browser by vehicle id.
MOVE_JS = """
(() => {
  const el = getElement(%(map)s);
  if (!el || !el.map || !window.L) return;
  const store = el.whTrucks || (el.whTrucks = {});
  const seen = new Set();
  for (const [id, lat, lon, fill, label] of %(data)s) {
    seen.add(String(id));
    let m = store[id];
    if (!m) {
      m = window.L.circleMarker([lat, lon], {radius: 7, color: "#ffffff", weight: 2,
        fillColor: fill, fillOpacity: 0.95}).addTo(el.map);
      m.bindTooltip(label);
      store[id] = m;
    } else {
      m.setLatLng([lat, lon]);
      m.setStyle({fillColor: fill});
      m.setTooltipContent(label);
    }
  }
  for (const id of Object.keys(store)) {
    if (!seen.has(id)) { el.map.removeLayer(store[id]); delete store[id]; }
  }
})();
"""


def _columns() -> list[dict[str, Any]]:
    def col(name: str, key: str) -> dict[str, Any]:
        return {"name": name, "label": t(key), "field": name, "align": "left"}

    return [
        col("code", "track.truck"),
        col("route", "track.route"),
        col("position", "track.position"),
        col("last_fix", "track.last_fix"),
        col("speed", "track.speed"),
        col("stops", "track.stops"),
    ]


ROUTE_CELL = (
    '<q-td :props="props"><span :style="{color: props.row.colour}">&#9679;</span> '
    "{{ props.value }}</q-td>"
)


async def _live(user: SessionUser) -> None:
    try:
        first = await user.api.get("/tracking/trucks", size=500)
    except ApiError as err:
        report(err, inline=True)
        return
    points = [(x["lat"], x["lon"]) for x in first["items"] if x["lat"] is not None]
    summary = ui.label().props("data-testid=fleet-summary").mark("fleet-summary")
    fleet_map = offline_map(points, height="30rem").props("data-testid=live-map").mark("live-map")
    table = (
        ui.table(columns=_columns(), rows=[], row_key="id")
        .classes("w-full")
        .props("data-testid=fleet")
        .mark("fleet")
    )
    table.props("hide-pagination :pagination='{rowsPerPage: 0}' dense")
    table.add_slot("body-cell-route", ROUTE_CELL)
    vehicles = {x["vehicle_id"]: x["code"] for x in first["items"]}

    def show(data: dict[str, Any]) -> None:
        now = dt.datetime.now(dt.UTC)
        items = data["items"]
        located = [x for x in items if x["lat"] is not None]
        summary.text = t("track.fleet", n=data["total"], located=len(located))
        table.rows = [_row(x, now) for x in items]
        markers = [[x["vehicle_id"], x["lat"], x["lon"], _colour(x), x["code"]] for x in located]
        ui.run_javascript(MOVE_JS % {"map": fleet_map.id, "data": json.dumps(markers)})

    async def refresh() -> None:
        try:
            show(await user.api.get("/tracking/trucks", size=500))
        except ApiError as err:
            report(err)

    show(first)
    ui.timer(LIVE_EVERY_S, refresh)
    _playback(user, vehicles)


def _playback(user: SessionUser, vehicles: dict[int, str]) -> None:
    ui.label(t("track.playback")).classes("text-h6 mt-4")
    with ui.row().classes("items-end gap-4"):
        vehicle = (
            ui.select(vehicles, label=t("track.vehicle"))
            .classes("w-48")
            .props("data-testid=playback-vehicle")
            .mark("playback-vehicle")
        )
        yesterday = dt.datetime.now(_tz()).date() - dt.timedelta(days=1)
        day = (
            ui.input(t("track.day"), value=yesterday.isoformat())
            .props("data-testid=playback-day")
            .mark("playback-day")
        )
        load = ui.button(t("track.load")).props("data-testid=playback-load").mark("playback-load")
    info = ui.label().props("data-testid=playback-info").mark("playback-info")
    box = ui.column().classes("w-full")
    state: dict[str, Any] = {"fixes": [], "map": None, "dot": None}

    def at(i: int) -> None:
        fixes = state["fixes"]
        if not fixes:
            return
        f = fixes[max(0, min(int(i), len(fixes) - 1))]
        speed = f" · {f['speed'] * 3.6:.0f} {t('track.speed')}" if f["speed"] is not None else ""
        clock.text = f"{_local(f['at'], '%H:%M:%S')}{speed}"
        if state["dot"] is not None:
            state["map"].run_layer_method(state["dot"].id, "setLatLng", [f["lat"], f["lon"]])

    async def show() -> None:
        if vehicle.value is None:
            info.text = t("track.choose")
            return
        try:
            when = dt.date.fromisoformat(str(day.value).strip())
        except ValueError:
            info.text = t("track.bad_day")
            return
        try:
            data = await user.api.get(
                "/tracking/playback", vehicle_id=vehicle.value, day=when.isoformat(), every_s=5
            )
        except ApiError as err:
            report(err)
            return
        fixes = state["fixes"] = data["fixes"]
        playing.value = False
        box.clear()
        if not fixes:
            info.text = t("track.no_fixes")
            slider.props("disable")
            return
        info.text = t("track.fixes", n=len(fixes))
        with box:
            line = [(f["lat"], f["lon"]) for f in fixes]
            m = state["map"] = (
                offline_map(line, height="26rem")
                .props("data-testid=playback-map")
                .mark("playback-map")
            )
            route_line(m, line, 0)
            for s in data["stops"]:
                m.generic_layer(
                    name="circleMarker",
                    args=[[s["lat"], s["lon"]], {"radius": 5, "color": "#424242", "weight": 2}],
                )
            state["dot"] = m.generic_layer(
                name="circleMarker",
                args=[
                    line[0],
                    {
                        "radius": 8,
                        "color": "#ffffff",
                        "weight": 2,
                        "fillColor": colour(1),
                        "fillOpacity": 1.0,
                    },
                ],
            )
        slider.props(remove="disable")
        slider._props["max"] = len(fixes) - 1
        slider.update()
        slider.value = 0
        at(0)

    load.on_click(show)
    with ui.row().classes("w-full items-center gap-4"):
        playing = (
            ui.switch(t("track.play")).props("data-testid=playback-play").mark("playback-play")
        )
        slider = (
            ui.slider(min=0, max=1, value=0, on_change=lambda e: at(e.value))
            .classes("grow")
            .props("disable label")
            .props("data-testid=playback-slider")
            .mark("playback-slider")
        )
        clock = ui.label("–").props("data-testid=playback-time").mark("playback-time")

    def advance() -> None:
        if playing.value and state["fixes"]:
            if slider.value >= len(state["fixes"]) - 1:
                playing.value = False
            else:
                slider.value = slider.value + 1

    ui.timer(PLAY_EVERY_S, advance)


def _browser_locale(request: Request) -> str | None:
    """The visitor's language from the browser: zh-CN for any Chinese, en for English;
    None if the browser says neither (the page is then bilingual)."""
    for part in request.headers.get("accept-language", "").split(","):
        lang = part.split(";")[0].strip().lower()
        if lang.startswith("zh"):
            return "zh-CN"
        if lang.startswith("en"):
            return "en"
    return None


def _error_page(code: str, locale: str | None) -> None:
    key = code if f"public.error.{code}" in i18n.STRINGS["en"] else "unreachable"
    locales = [locale] if locale else ["en", "zh-CN"]
    with (
        ui.column()
        .classes("w-full items-center p-8 gap-2")
        .props('role="alert"')
        .props("data-testid=link-error")
        .mark("link-error")
    ):
        for loc in locales:
            ui.label(t("public.error.title", loc)).classes("text-h5")
            ui.label(t(f"public.error.{key}", loc)).classes("text-body1").props(
                f"data-testid=error-{key}"
            ).mark(f"error-{key}")


async def _public(token: str, locale: str | None) -> None:
    loc = locale or "en"
    ui.page_title(f"Wayhouse · {t('public.title', loc)}")
    api = ApiClient()
    try:
        view = await api.get(f"/public/tracking/{token}")
    except ApiError as err:
        _error_page(err.code or ("unreachable" if err.status == 0 else "malformed"), locale)
        return
    with ui.column().classes("w-full max-w-2xl mx-auto p-4 gap-3"):
        ui.label(t("public.title", loc)).classes("text-h5")
        with ui.row().classes("gap-8"):
            with ui.column().classes("gap-0"):
                ui.label(t("public.status", loc)).classes("text-caption")
                status = (
                    ui.label()
                    .classes("text-h6")
                    .props("data-testid=public-status")
                    .mark("public-status")
                )
            with ui.column().classes("gap-0"):
                ui.label(t("public.eta", loc)).classes("text-caption")
                eta = (
                    ui.label().classes("text-h6").props("data-testid=public-eta").mark("public-eta")
                )
        note = (
            ui.label().classes("text-caption").props("data-testid=public-note").mark("public-note")
        )
        truck = view["truck"]
        m = offline_map([(truck["lat"], truck["lon"])] if truck else [], height="22rem")
        m.props("data-testid=public-map").mark("public-map")
        m.set_zoom(13)
    dot: dict[str, Any] = {"layer": None}

    def show(v: dict[str, Any]) -> None:
        status.text = t(f"public.status.{v['status']}", loc)
        eta.text = _local(v["eta"], "%Y-%m-%d %H:%M") if v["eta"] else "–"
        tr = v["truck"]
        if tr is None:
            note.text = t("public.no_position", loc)
            if dot["layer"] is not None:
                m.remove_layer(dot["layer"])
                dot["layer"] = None
            return
        note.text = t("public.updated", loc, time=_local(tr["at"], "%H:%M"))
        where = [tr["lat"], tr["lon"]]
        if dot["layer"] is None:
            dot["layer"] = m.generic_layer(
                name="circleMarker",
                args=[
                    where,
                    {
                        "radius": 9,
                        "color": "#ffffff",
                        "weight": 2,
                        "fillColor": colour(0),
                        "fillOpacity": 1.0,
                    },
                ],
            )
            m.run_map_method("setView", where, 13)
        else:
            m.run_layer_method(dot["layer"].id, "setLatLng", where)

    async def refresh() -> None:
        try:
            show(await api.get(f"/public/tracking/{token}"))
        except ApiError as err:
            if err.status in (400, 403, 404, 410):  # expired or revoked while open
                ui.navigate.reload()

    show(view)
    ui.timer(PUBLIC_EVERY_S, refresh)


def register() -> None:
    @ui.page("/tracking")
    async def tracking_page() -> RedirectResponse | None:
        user = require_user(TRACKING_ROLES)
        if isinstance(user, RedirectResponse):
            return user
        with frame(user, t("track.title")):
            await _live(user)
        return None

    @ui.page("/track/{token}")
    async def public_tracking(token: str, request: Request) -> None:
        await _public(token, _browser_locale(request))
