"""CSV export of a list with its current filter: every page is fetched through the API with
the user's token (so scoping stays the API's job), with progress and a Cancel button, and the
file is built here with the csv module. No list endpoint needs a ``format=csv`` of its own.

A list page adds one line: ``export_button(user, "orders", lambda: {"status": ...})``.
Values are written as the API sends them (ISO dates, exact decimals: what a spreadsheet
reads back without guessing); headers are in the user's language. The file starts with a
UTF-8 byte-order mark so Excel shows Chinese text correctly. (Excel's own format would need
openpyxl, which is not installed.)
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from nicegui import ui

from wayhouse.ui import i18n
from wayhouse.ui.api_client import ApiClient, ApiError
from wayhouse.ui.i18n import t
from wayhouse.ui.session import SessionUser, report

i18n.extend(
    {
        "en": {
            "export.button": "Export CSV",
            "export.progress": "Exporting {done} of {total} rows…",
            "export.cancel": "Cancel",
            "export.cancelled": "Export cancelled",
            "export.done": "Exported: {n} rows",
            "export.too_many": "More than {n} rows: narrow the filter",
            "col.id": "ID",
            "col.code": "Code",
            "col.name": "Name",
            "col.legal_name": "Legal name",
            "col.tier": "Tier",
            "col.status": "Status",
            "col.region_id": "Region ID",
            "col.dealer_id": "Dealer ID",
            "col.dealer_name": "Dealer",
            "col.customer_id": "Customer ID",
            "col.product_id": "Product ID",
            "col.business_scope": "Business scope",
            "col.total": "Total",
            "col.currency": "Currency",
            "col.hold_reasons": "Held because",
            "col.created_at": "Created",
            "col.updated_at": "Updated",
            "col.phone": "Phone",
            "col.email": "Email",
            "col.address": "Address",
            "col.area_code": "Area code",
            "col.purchases": "Purchases",
            "col.source": "Source",
            "col.last_interaction_at": "Last contact",
            "col.number": "Number",
            "col.latest_version": "Latest version",
            "col.active_version": "Version in force",
            "col.period_start": "Period start",
            "col.period_end": "Period end",
            "col.sku": "SKU",
            "col.lot_code": "Lot",
            "col.serial": "Serial",
            "col.problem": "Problem",
            "col.priority": "Priority",
            "col.technician_id": "Technician ID",
            "col.opened_at": "Opened",
            "col.sla_state": "SLA",
            "col.product_class": "Product class",
            "col.unit": "Unit",
            "col.unit_weight_g": "Unit weight (g)",
            "col.unit_volume_l": "Unit volume (l)",
            "col.shelf_life_days": "Shelf life (days)",
            "col.list_price": "List price",
            "col.active": "Active",
            "col.step": "Step",
            "col.rules": "Rules",
            "col.username": "Username",
            "col.display_name": "Display name",
            "col.role": "Role",
            "col.org_unit_code": "Org unit",
            "col.locale": "Language",
        },
        "zh-CN": {
            "export.button": "导出 CSV",
            "export.progress": "正在导出 {done} / {total} 行…",
            "export.cancel": "取消",
            "export.cancelled": "已取消导出",
            "export.done": "已导出 {n} 行",
            "export.too_many": "超过 {n} 行：请缩小筛选范围",
            "col.id": "编号",
            "col.code": "编码",
            "col.name": "名称",
            "col.legal_name": "法定名称",
            "col.tier": "等级",
            "col.status": "状态",
            "col.region_id": "区域编号",
            "col.dealer_id": "经销商编号",
            "col.dealer_name": "经销商",
            "col.customer_id": "客户编号",
            "col.product_id": "商品编号",
            "col.business_scope": "经营范围",
            "col.total": "金额",
            "col.currency": "币种",
            "col.hold_reasons": "挂起原因",
            "col.created_at": "创建时间",
            "col.updated_at": "更新时间",
            "col.phone": "电话",
            "col.email": "邮箱",
            "col.address": "地址",
            "col.area_code": "地区编码",
            "col.purchases": "购买次数",
            "col.source": "来源",
            "col.last_interaction_at": "最近联系",
            "col.number": "编号",
            "col.latest_version": "最新版本",
            "col.active_version": "生效版本",
            "col.period_start": "开始日期",
            "col.period_end": "结束日期",
            "col.sku": "SKU",
            "col.lot_code": "批次",
            "col.serial": "序列号",
            "col.problem": "问题",
            "col.priority": "优先级",
            "col.technician_id": "技术员编号",
            "col.opened_at": "开单时间",
            "col.sla_state": "SLA",
            "col.product_class": "品类",
            "col.unit": "单位",
            "col.unit_weight_g": "单件重量（克）",
            "col.unit_volume_l": "单件体积（升）",
            "col.shelf_life_days": "保质期（天）",
            "col.list_price": "目录价",
            "col.active": "启用",
            "col.step": "审批步骤",
            "col.rules": "规则",
            "col.username": "用户名",
            "col.display_name": "显示名",
            "col.role": "角色",
            "col.org_unit_code": "组织单元",
            "col.locale": "语言",
        },
    }
)

PAGE_SIZE = 500  # the API's largest page
MAX_ROWS = 200_000  # 400 requests: beyond that a filter is the better tool
# A cell a spreadsheet would run as a formula ("=HYPERLINK(...)"): written as text instead.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class ListSpec:
    path: str
    columns: tuple[str, ...]  # fields of the API's items, each labelled by "col.<field>"
    name: str  # the file's name stem


EXPORTS: dict[str, ListSpec] = {
    "dealers": ListSpec(
        "/dealers",
        (
            *("id", "code", "legal_name", "tier", "status", "region_id", "business_scope"),
            *("created_at",),
        ),
        "dealers",
    ),
    "orders": ListSpec(
        "/orders",
        (
            *("id", "dealer_id", "region_id", "status", "total", "currency", "hold_reasons"),
            *("created_at", "updated_at"),
        ),
        "orders",
    ),
    "customers": ListSpec(
        "/customers",
        (
            *("id", "code", "name", "status", "dealer_id", "dealer_name", "phone", "email"),
            *("address", "area_code", "purchases", "source", "last_interaction_at", "created_at"),
        ),
        "customers",
    ),
    "contracts": ListSpec(
        "/contracts",
        (
            *("id", "number", "dealer_id", "dealer_name", "status", "latest_version"),
            *("active_version", "period_start", "period_end", "updated_at"),
        ),
        "contracts",
    ),
    "service": ListSpec(
        "/service/tickets",
        (
            *("id", "dealer_id", "customer_id", "sku", "lot_code", "serial", "problem", "priority"),
            *("status", "technician_id", "opened_at", "sla_state"),
        ),
        "service-tickets",
    ),
    "products": ListSpec(
        "/products",
        (
            *("id", "sku", "name", "product_class", "unit", "unit_weight_g", "unit_volume_l"),
            *("shelf_life_days", "list_price", "active"),
        ),
        "products",
    ),
    "approvals": ListSpec(
        "/order-desk/approvals",
        ("id", "dealer_id", "dealer_name", "total", "currency", "created_at", "step", "rules"),
        "approval-queue",
    ),
    "users": ListSpec(
        "/users",
        (
            *("id", "username", "display_name", "role", "org_unit_code", "locale", "active"),
            *("created_at",),
        ),
        "users",
    ),
}


def cell(value: Any) -> str:
    """One CSV cell: lists joined with '; ', nothing for null, formulas defused."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return "; ".join(cell(v) for v in value)
    if isinstance(value, dict):
        return "; ".join(f"{k}={cell(v)}" for k, v in value.items())
    text = str(value)
    if text.startswith(FORMULA_START) and not _is_number(text):
        return "'" + text
    return text


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def to_csv(
    rows: Iterable[dict[str, Any]], columns: Iterable[str], locale: str | None = None
) -> bytes:
    cols = list(columns)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([t(f"col.{c}", locale) for c in cols])
    for row in rows:
        writer.writerow([cell(row.get(c)) for c in cols])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


Progress = Callable[[int, int], None]


async def fetch_all(
    api: ApiClient,
    path: str,
    params: dict[str, Any],
    progress: Progress | None = None,
    cancelled: Callable[[], bool] = lambda: False,
    page_size: int = PAGE_SIZE,
) -> list[dict[str, Any]] | None:
    """Every row of a paged list (None when cancelled). Pages are asked in order with a stable
    sort (the API's tie-breaker), so rows are neither repeated nor skipped while no one writes;
    rows added meanwhile may shift a page, which an export of a live list accepts."""
    rows: list[dict[str, Any]] = []
    page = 1
    while True:
        if cancelled():
            return None
        data = await api.get(path, **{**params, "page": page, "size": page_size})
        items = data["items"]
        total = int(data["total"])
        if total > MAX_ROWS:
            raise ApiError(422, t("export.too_many", n=MAX_ROWS), "too_many_rows")
        rows.extend(items)
        if progress:
            progress(len(rows), total)
        if not items or len(rows) >= total:
            return rows
        page += 1


def filename(stem: str, now: dt.datetime | None = None) -> str:
    return f"{stem}-{(now or dt.datetime.now()):%Y%m%d-%H%M}.csv"


async def run_export(
    user: SessionUser, key: str, params: dict[str, Any]
) -> tuple[bytes, str, int] | None:
    """Fetch and build the file behind a progress dialog with Cancel; None if cancelled or
    refused (the refusal is shown)."""
    spec = EXPORTS[key]
    state = {"cancel": False}
    with ui.dialog().props("persistent") as dialog, ui.card().classes("w-96"):
        label = ui.label(t("export.progress", done=0, total="…")).mark("export-progress")
        bar = ui.linear_progress(value=0, show_value=False)
        ui.button(t("export.cancel"), on_click=lambda: state.update(cancel=True)).props(
            "flat data-testid=export-cancel"
        ).mark("export-cancel")
    dialog.open()

    def progress(done: int, total: int) -> None:
        label.text = t("export.progress", done=done, total=total)
        bar.value = done / total if total else 1

    try:
        rows = await fetch_all(user.api, spec.path, params, progress, lambda: state["cancel"])
    except ApiError as err:
        report(err)
        return None
    finally:
        dialog.close()
        dialog.delete()
    if rows is None:
        ui.notify(t("export.cancelled"), type="info")
        return None
    return to_csv(rows, spec.columns), filename(spec.name), len(rows)


def export_button(user: SessionUser, key: str, params: Callable[[], dict[str, Any]]) -> ui.button:
    """A button that downloads every row of list ``key`` under the filter ``params()``."""

    async def export() -> None:
        built = await run_export(user, key, params())
        if built is None:
            return
        content, name, n = built
        ui.download.content(content, name, "text/csv")
        ui.notify(t("export.done", n=n), type="positive")

    return (
        ui.button(t("export.button"), icon="download", on_click=export)
        .props(f"outline data-testid=export-{key}")
        .mark(f"export-{key}")
    )
