"""/admin (HQ): users (list, create with a role and an org unit, deactivate / reactivate) and
edge devices with their MQTT credentials (provision: the password is shown once, here, and
never again; revoke). Rows are items with real buttons, so Tab and Enter reach every action."""

from __future__ import annotations

import secrets
from typing import Any

from fastapi.responses import RedirectResponse
from nicegui import ui

from wayhouse.ui import fmt, i18n
from wayhouse.ui.api_client import ApiError
from wayhouse.ui.export import export_button
from wayhouse.ui.frame import frame
from wayhouse.ui.i18n import t
from wayhouse.ui.pager import Pager
from wayhouse.ui.session import SessionUser, report, require_user

i18n.extend(
    {
        "en": {
            "admin.title": "Administration",
            "admin.users": "Users",
            "admin.devices": "Devices",
            "admin.search": "Username or name",
            "admin.role": "Role",
            "admin.state": "State",
            "admin.active": "active",
            "admin.inactive": "deactivated",
            "admin.deactivate": "Deactivate",
            "admin.activate": "Reactivate",
            "admin.new_user": "New user",
            "admin.username": "Username",
            "admin.display_name": "Display name",
            "admin.password": "Initial password (at least 10 characters)",
            "admin.generate": "Generate",
            "admin.unit": "Org unit",
            "admin.locale": "Language",
            "admin.create": "Create",
            "admin.created": "User {name} created",
            "admin.changed": "{name} is now {state}",
            "admin.new_device": "New device",
            "admin.agent_id": "Agent id",
            "admin.kind": "Kind",
            "admin.site": "Site",
            "admin.sensors": "Sensors, one per line: SENSOR_ID:KIND (scale, rfid, barcode, gps, env)",
            "admin.provision": "Provision",
            "admin.password_once": "Password of {agent}: copy it now, it is not shown again",
            "admin.copy": "Copy",
            "admin.revoke": "Revoke",
            "admin.revoked": "{agent} revoked",
            "admin.bad_sensor": "Line {n}: write SENSOR_ID:KIND",
            "admin.sensor_count": "{n} sensors",
            "admin.last_status": "last status {at}",
            "admin.include_revoked": "Revoked devices",
            "admin.find_device": "Agent id contains",
        },
        "zh-CN": {
            "admin.title": "系统管理",
            "admin.users": "用户",
            "admin.devices": "设备",
            "admin.search": "用户名或姓名",
            "admin.role": "角色",
            "admin.state": "状态",
            "admin.active": "启用",
            "admin.inactive": "已停用",
            "admin.deactivate": "停用",
            "admin.activate": "重新启用",
            "admin.new_user": "新建用户",
            "admin.username": "用户名",
            "admin.display_name": "显示名",
            "admin.password": "初始密码（至少 10 个字符）",
            "admin.generate": "生成",
            "admin.unit": "组织单元",
            "admin.locale": "语言",
            "admin.create": "创建",
            "admin.created": "用户 {name} 已创建",
            "admin.changed": "{name} 当前状态：{state}",
            "admin.new_device": "新建设备",
            "admin.agent_id": "代理编号",
            "admin.kind": "类型",
            "admin.site": "站点",
            "admin.sensors": "传感器，每行一个：传感器编号:类型（scale、rfid、barcode、gps、env）",
            "admin.provision": "开通",
            "admin.password_once": "{agent} 的密码：请立即复制，之后不再显示",
            "admin.copy": "复制",
            "admin.revoke": "吊销",
            "admin.revoked": "{agent} 已吊销",
            "admin.bad_sensor": "第 {n} 行：请写成 传感器编号:类型",
            "admin.sensor_count": "{n} 个传感器",
            "admin.last_status": "最近状态 {at}",
            "admin.include_revoked": "已吊销设备",
            "admin.find_device": "设备编号包含",
        },
    }
)

ROLES = (
    "hq_admin",
    "region_manager",
    "dealer_user",
    "warehouse_operator",
    "dispatcher",
    "driver",
    "technician",
)
DEVICE_KINDS = ("shelf", "scanner", "truck", "gateway")
SENSOR_KINDS = frozenset({"scale", "rfid", "barcode", "gps", "env"})


def parse_sensors(text: str) -> tuple[list[dict[str, str]], list[str]]:
    """'S1:scale' lines -> sensor specs, and a message per line that is not one."""
    sensors, problems = [], []
    for n, line in enumerate((text or "").splitlines(), start=1):
        line = line.strip()
        if not line:
            continue
        sid, _, kind = line.rpartition(":")
        if not sid or kind not in SENSOR_KINDS:
            problems.append(t("admin.bad_sensor", n=n))
            continue
        sensors.append({"sensor_id": sid.strip(), "kind": kind})
    return sensors, problems


# -- users ----------------------------------------------------------------------------------
async def _users_tab(user: SessionUser) -> None:
    try:
        units = (await user.api.get("/org-units", size=500))["items"]
    except ApiError as err:
        report(err, inline=True)
        return
    unit_names = {u["id"]: f"{u['code']} · {u['name']} ({u['level']})" for u in units}

    with (
        ui.expansion(t("admin.new_user"), icon="person_add")
        .classes("w-full max-w-3xl")
        .mark("new-user"),
        ui.grid(columns=2).classes("w-full gap-2"),
    ):
        username = ui.input(t("admin.username")).mark("new-username")
        display = ui.input(t("admin.display_name")).mark("new-display")
        with ui.row().classes("items-end gap-2"):
            password = ui.input(t("admin.password")).classes("w-72").mark("new-password")
            ui.button(
                t("admin.generate"),
                on_click=lambda: password.set_value(secrets.token_urlsafe(12)),
            ).props("flat")
        role = ui.select({r: t(f"role.{r}") for r in ROLES}, label=t("admin.role")).mark("new-role")
        unit = ui.select(unit_names, label=t("admin.unit"), with_input=True).mark("new-unit")
        locale = ui.select(
            {"zh-CN": t("lang.zh-CN"), "en": t("lang.en")}, label=t("admin.locale"), value="zh-CN"
        ).mark("new-locale")
        ui.button(t("admin.create"), icon="check", on_click=lambda: create()).props(
            "data-testid=create-user"
        ).mark("create-user")

    with ui.row().classes("items-end gap-4 flex-wrap"):
        search = ui.input(t("admin.search")).props("clearable").mark("user-search")
        role_filter = ui.select(
            {None: t("filter.any"), **{r: t(f"role.{r}") for r in ROLES}},
            label=t("admin.role"),
            value=None,
        ).classes("w-48")
        ui.button(t("search"), on_click=lambda: pager.reset())
        export_button(user, "users", lambda: {"q": search.value or None, "role": role_filter.value})
    search.on("keydown.enter", lambda: pager.reset())
    role_filter.on_value_change(lambda: pager.reset())
    listing = ui.list().props("bordered separator").classes("w-full max-w-4xl").mark("users")
    pager = Pager(lambda: load())

    async def load() -> None:
        try:
            data = await user.api.get(
                "/users",
                page=pager.page,
                size=pager.size,
                q=search.value,
                role=role_filter.value,
            )
        except ApiError as err:
            report(err)
            return
        listing.clear()
        with listing:
            for u in data["items"]:
                _user_row(u)
        pager.update(data["total"])

    def _user_row(u: dict[str, Any]) -> None:
        with ui.item().mark(f"user-{u['username']}"):
            with ui.item_section():
                ui.item_label(f"{u['username']} · {u['display_name']}")
                ui.item_label(
                    f"{t('role.' + u['role'])} · {u['org_unit_code']} · {t('lang.' + u['locale'])}"
                    f" · {fmt.date(u['created_at'])}"
                ).props("caption")
            with ui.item_section().props("side"):
                state = t("admin.active") if u["active"] else t("admin.inactive")
                ui.badge(state, color="positive" if u["active"] else "grey")
            with ui.item_section().props("side"):
                if u["active"] and u["id"] != user.user_id:
                    ui.button(
                        t("admin.deactivate"),
                        on_click=lambda x=u: set_active(x, False),
                    ).props("flat color=negative").mark(f"deactivate-{u['username']}")
                elif not u["active"]:
                    ui.button(t("admin.activate"), on_click=lambda x=u: set_active(x, True)).props(
                        "flat"
                    ).mark(f"activate-{u['username']}")

    async def set_active(u: dict[str, Any], active: bool) -> None:
        action = "activate" if active else "deactivate"
        try:
            await user.api.post(f"/users/{u['id']}/{action}")
        except ApiError as err:
            report(err)
            return
        state = t("admin.active") if active else t("admin.inactive")
        ui.notify(t("admin.changed", name=u["username"], state=state), type="positive")
        await load()

    async def create() -> None:
        body = {
            "username": (username.value or "").strip(),
            "display_name": display.value or "",
            "password": password.value or "",
            "role": role.value,
            "org_unit_id": unit.value,
            "locale": locale.value,
        }
        try:
            created = await user.api.post("/users", json=body)
        except ApiError as err:
            report(err)
            return
        ui.notify(t("admin.created", name=created["username"]), type="positive")
        for field in (username, display, password):
            field.value = ""
        await pager.reset()

    await load()


# -- devices --------------------------------------------------------------------------------
async def _devices_tab(user: SessionUser) -> None:
    with (
        ui.expansion(t("admin.new_device"), icon="sensors")
        .classes("w-full max-w-3xl")
        .mark("new-device"),
        ui.column().classes("w-full gap-2"),
    ):
        with ui.row().classes("items-end gap-4"):
            agent = ui.input(t("admin.agent_id")).mark("new-agent")
            kind = (
                ui.select(list(DEVICE_KINDS), label=t("admin.kind"), value="shelf")
                .classes("w-40")
                .mark("new-kind")
            )
            site = ui.input(t("admin.site")).mark("new-site")
        sensors = (
            ui.textarea(t("admin.sensors")).props("autogrow").classes("w-full").mark("new-sensors")
        )
        ui.button(t("admin.provision"), icon="key", on_click=lambda: provision()).props(
            "data-testid=provision"
        ).mark("provision")
    secret_box = ui.column().classes("w-full max-w-3xl")
    with ui.row().classes("items-end gap-4"):
        find = ui.input(t("admin.find_device")).props("clearable").mark("device-search")
        revoked = ui.checkbox(t("admin.include_revoked")).mark("include-revoked")
    revoked.on_value_change(lambda: pager.reset())
    find.on("keydown.enter", lambda: pager.reset())
    listing = ui.list().props("bordered separator").classes("w-full max-w-4xl").mark("devices")
    pager = Pager(lambda: load())

    async def load() -> None:
        try:
            data = await user.api.get(
                "/devices",
                page=pager.page,
                size=pager.size,
                q=find.value or None,
                active="false" if revoked.value else "true",
            )
        except ApiError as err:
            report(err)
            return
        listing.clear()
        with listing:
            for d in data["items"]:
                _device_row(d)
        pager.update(data["total"])

    def _device_row(d: dict[str, Any]) -> None:
        with ui.item().mark(f"device-{d['agent_id']}"):
            with ui.item_section():
                ui.item_label(f"{d['agent_id']} · {d['kind']} · {d['site'] or '–'}")
                parts = [t("admin.sensor_count", n=d["sensors"])]
                if d["last_status_at"]:
                    parts.append(t("admin.last_status", at=fmt.datetime(d["last_status_at"])))
                ui.item_label(" · ".join(parts)).props("caption")
            with ui.item_section().props("side"):
                ui.badge(d["state"] or "–", color="positive" if d["state"] == "online" else "grey")
            with ui.item_section().props("side"):
                if d["active"]:
                    ui.button(t("admin.revoke"), on_click=lambda a=d["agent_id"]: revoke(a)).props(
                        "flat color=negative"
                    ).mark(f"revoke-{d['agent_id']}")
                else:
                    ui.badge(t("admin.inactive"), color="grey")

    async def revoke(agent_id: str) -> None:
        try:
            await user.api.post(f"/devices/{agent_id}/revoke")
        except ApiError as err:
            report(err)
            return
        ui.notify(t("admin.revoked", agent=agent_id), type="positive")
        await load()

    async def provision() -> None:
        specs, problems = parse_sensors(sensors.value)
        if problems:
            ui.notify("; ".join(problems), type="warning", multi_line=True)
            return
        body = {
            "agent_id": (agent.value or "").strip(),
            "kind": kind.value,
            "site": site.value or None,
            "sensors": specs,
        }
        try:
            created = await user.api.post("/devices", json=body)
        except ApiError as err:
            report(err)
            return
        secret_box.clear()
        with secret_box, ui.card().classes("w-full bg-amber-1"):
            ui.label(t("admin.password_once", agent=created["agent_id"])).classes("text-bold")
            with ui.row().classes("items-center gap-2"):
                ui.label(created["password"]).classes("font-mono text-h6").mark("device-password")
                ui.button(
                    t("admin.copy"),
                    icon="content_copy",
                    on_click=lambda p=created["password"]: ui.clipboard.write(p),
                ).props("flat")
        agent.value = ""
        sensors.value = ""
        await pager.reset()

    await load()


def register() -> None:
    @ui.page("/admin")
    async def admin_page() -> RedirectResponse | None:
        user = require_user(frozenset({"hq_admin"}))
        if isinstance(user, RedirectResponse):
            return user
        with frame(user, t("admin.title")):
            with ui.tabs().classes("w-full") as tabs:
                users_tab = ui.tab(t("admin.users")).mark("tab-users")
                devices_tab = ui.tab(t("admin.devices")).mark("tab-devices")
            with ui.tab_panels(tabs, value=users_tab).classes("w-full"):
                with ui.tab_panel(users_tab):
                    await _users_tab(user)
                with ui.tab_panel(devices_tab):
                    await _devices_tab(user)
        return None
