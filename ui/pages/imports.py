"""/import (HQ): bring dealers, customers or products in from a CSV file, and take any list out
as CSV. An import is checked first (POST /import/{kind}?dry_run=true: a preview and every
row's error, nothing written), then run as one transaction: all rows or none."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi.responses import RedirectResponse
from nicegui import events, ui

from wayhouse.ui import i18n
from wayhouse.ui.api_client import CONFIG, ApiError, reason_of
from wayhouse.ui.export import EXPORTS, export_button
from wayhouse.ui.frame import frame
from wayhouse.ui.i18n import t
from wayhouse.ui.session import SessionUser, report, require_user

i18n.extend(
    {
        "en": {
            "imp.title": "Import and export",
            "imp.import": "Import",
            "imp.export": "Export",
            "imp.kind": "What to import",
            "imp.kind.dealers": "Dealers",
            "imp.kind.customers": "Customers",
            "imp.kind.products": "Products",
            "imp.template": "Download template",
            "imp.upload": "Choose a CSV file (UTF-8)",
            "imp.paste": "…or paste the CSV here",
            "imp.check": "Check",
            "imp.run": "Import {n} rows",
            "imp.summary": "{rows} rows · {errors} with errors",
            "imp.ok": "All {rows} rows can be imported",
            "imp.errors": "Errors (nothing is imported until every row is right)",
            "imp.preview": "Preview",
            "imp.line": "Line",
            "imp.column": "Column",
            "imp.message": "Problem",
            "imp.done": "{n} rows imported",
            "imp.nothing": "Choose a file or paste CSV text first",
            "imp.loaded": "{name} loaded",
            "imp.working": "Working…",
            "imp.changed": "The text changed since the check: check it again",
            "exp.list": "List",
            "exp.status": "Status (optional)",
            "exp.q": "Contains (optional)",
            "exp.list.dealers": "Dealers",
            "exp.list.orders": "Orders",
            "exp.list.customers": "Customers",
            "exp.list.contracts": "Contracts",
            "exp.list.service": "Service tickets",
            "exp.list.products": "Products",
            "exp.list.approvals": "Approval queue",
            "exp.list.users": "Users",
        },
        "zh-CN": {
            "imp.title": "导入与导出",
            "imp.import": "导入",
            "imp.export": "导出",
            "imp.kind": "导入内容",
            "imp.kind.dealers": "经销商",
            "imp.kind.customers": "客户",
            "imp.kind.products": "商品",
            "imp.template": "下载模板",
            "imp.upload": "选择 CSV 文件（UTF-8）",
            "imp.paste": "……或在此粘贴 CSV",
            "imp.check": "检查",
            "imp.run": "导入 {n} 行",
            "imp.summary": "共 {rows} 行 · {errors} 行有错误",
            "imp.ok": "全部 {rows} 行均可导入",
            "imp.errors": "错误（所有行正确之前不会导入任何数据）",
            "imp.preview": "预览",
            "imp.line": "行号",
            "imp.column": "列",
            "imp.message": "问题",
            "imp.done": "已导入 {n} 行",
            "imp.nothing": "请先选择文件或粘贴 CSV 文本",
            "imp.loaded": "已载入 {name}",
            "imp.working": "处理中…",
            "imp.changed": "检查后文本已修改：请重新检查",
            "exp.list": "列表",
            "exp.status": "状态（可选）",
            "exp.q": "包含（可选）",
            "exp.list.dealers": "经销商",
            "exp.list.orders": "订单",
            "exp.list.customers": "客户",
            "exp.list.contracts": "合同",
            "exp.list.service": "售后工单",
            "exp.list.products": "商品",
            "exp.list.approvals": "审批队列",
            "exp.list.users": "用户",
        },
    }
)

KINDS = ("dealers", "customers", "products")
IMPORT_TIMEOUT_S = 120.0  # one transaction of up to 5,000 rows
# The lists whose API filters by free text (``q``).
SEARCHABLE = frozenset({"dealers", "customers", "contracts", "products", "users"})


class ImportRefused(Exception):
    def __init__(self, message: str, errors: list[dict[str, Any]]) -> None:
        super().__init__(message)
        self.message = message
        self.errors = errors


async def post_import(user: SessionUser, kind: str, text: str, dry_run: bool) -> dict[str, Any]:
    """POST /import/{kind} with a longer timeout than page reads; a refusal that lists row
    errors becomes ``ImportRefused``, any other an ``ApiError``."""
    try:
        async with httpx.AsyncClient(
            base_url=CONFIG.base_url,
            timeout=IMPORT_TIMEOUT_S,
            headers={"Authorization": f"Bearer {user.token}"},
        ) as client:
            r = await client.post(
                f"/import/{kind}",
                params={"dry_run": str(dry_run).lower()},
                json={"csv": text},
            )
    except httpx.HTTPError as exc:
        raise ApiError(0, str(exc)) from exc
    if r.status_code >= 400:
        message, code = reason_of(r)
        detail = (
            r.json().get("detail")
            if r.headers.get("content-type", "").startswith("application/json")
            else None
        )
        if isinstance(detail, dict) and isinstance(detail.get("errors"), list):
            raise ImportRefused(message, detail["errors"])
        raise ApiError(r.status_code, message, code)
    result: dict[str, Any] = r.json()
    return result


def _error_columns() -> list[dict[str, Any]]:
    return [
        {"name": "line", "label": t("imp.line"), "field": "line", "align": "left"},
        {"name": "column", "label": t("imp.column"), "field": "column", "align": "left"},
        {"name": "message", "label": t("imp.message"), "field": "message", "align": "left"},
    ]


async def _import_panel(user: SessionUser) -> None:
    state: dict[str, Any] = {"checked": None}
    with ui.row().classes("items-end gap-4 flex-wrap"):
        kind = (
            ui.select({k: t(f"imp.kind.{k}") for k in KINDS}, label=t("imp.kind"), value="dealers")
            .classes("w-48")
            .mark("import-kind")
        )
        ui.button(t("imp.template"), icon="description", on_click=lambda: template()).props(
            "outline data-testid=import-template"
        ).mark("import-template")

    async def uploaded(e: events.UploadEventArguments) -> None:
        text.value = (await e.file.read()).decode("utf-8-sig", errors="replace")
        ui.notify(t("imp.loaded", name=e.file.name))

    ui.upload(label=t("imp.upload"), auto_upload=True, on_upload=uploaded).props(
        "accept=.csv,text/csv data-testid=import-upload"
    ).mark("import-upload").classes("w-96")
    text = (
        ui.textarea(t("imp.paste"))
        .props("outlined autogrow input-style='font-family: monospace' data-testid=import-text")
        .classes("w-full max-w-4xl")
        .mark("import-text")
    )
    with ui.row().classes("items-center gap-4"):
        check_btn = ui.button(t("imp.check"), icon="fact_check", on_click=lambda: check())
        check_btn.props("data-testid=import-check").mark("import-check")
        run_btn = ui.button(t("imp.run", n=0), icon="upload", on_click=lambda: run())
        run_btn.props("color=positive data-testid=import-run").mark("import-run")
        run_btn.set_enabled(False)
        spinner = ui.spinner(size="md")
        spinner.set_visibility(False)
        summary = ui.label().props("data-testid=import-summary").mark("import-summary")
    result = ui.column().classes("w-full gap-2")

    def invalidate() -> None:
        state["checked"] = None
        run_btn.set_enabled(False)

    text.on_value_change(invalidate)
    kind.on_value_change(invalidate)

    async def template() -> None:
        try:
            spec = await user.api.get(f"/import/{kind.value}/columns")
        except ApiError as err:
            report(err)
            return
        content = ("\ufeff" + ",".join(spec["columns"]) + "\r\n").encode("utf-8")
        ui.download.content(content, f"{kind.value}-template.csv", "text/csv")

    def show(rows: int, errors: list[dict[str, Any]], preview: list[dict[str, str]]) -> None:
        bad = len({e["line"] for e in errors})
        summary.text = t("imp.summary", rows=rows, errors=bad) if errors else t("imp.ok", rows=rows)
        summary.classes(replace="text-negative" if errors else "text-positive")
        result.clear()
        with result:
            if errors:
                ui.label(t("imp.errors")).classes("text-subtitle1 text-negative")
                ui.table(columns=_error_columns(), rows=errors).classes("w-full max-w-4xl").props(
                    "dense flat bordered"
                ).mark("import-errors")
            if preview:
                ui.label(t("imp.preview")).classes("text-subtitle1")
                cols = [{"name": c, "label": c, "field": c, "align": "left"} for c in preview[0]]
                ui.table(columns=cols, rows=preview).classes("w-full").props(
                    "dense flat bordered"
                ).mark("import-preview")

    async def call(dry_run: bool) -> dict[str, Any] | None:
        if not (text.value or "").strip():
            ui.notify(t("imp.nothing"), type="warning")
            return None
        spinner.set_visibility(True)
        check_btn.set_enabled(False)
        run_btn.set_enabled(False)
        try:
            return await post_import(user, kind.value, text.value, dry_run)
        except ImportRefused as refused:
            ui.notify(refused.message, type="negative", multi_line=True)
            show(len({e["line"] for e in refused.errors}), refused.errors, [])
        except ApiError as err:
            report(err)
        finally:
            spinner.set_visibility(False)
            check_btn.set_enabled(True)
        return None

    async def check() -> None:
        out = await call(dry_run=True)
        if out is None:
            return
        show(out["rows"], out["errors"], out["preview"])
        ok = not out["errors"] and out["rows"] > 0
        state["checked"] = (kind.value, text.value) if ok else None
        run_btn.text = t("imp.run", n=out["rows"])
        run_btn.set_enabled(ok)

    async def run() -> None:
        if state["checked"] != (kind.value, text.value):
            ui.notify(t("imp.changed"), type="warning")
            return
        out = await call(dry_run=False)
        if out is None:
            return
        invalidate()
        result.clear()
        summary.text = t("imp.done", n=out["created"])
        summary.classes(replace="text-positive")
        ui.notify(t("imp.done", n=out["created"]), type="positive")


# The statuses each list filters on (the API's own values); lists without one have none.
STATUS_OPTIONS: dict[str, tuple[str, ...]] = {
    "dealers": ("applicant", "active", "suspended", "closed"),
    "orders": (
        *("draft", "submitted", "credit_check", "held", "approval", "allocated", "picking"),
        *("shipped", "delivered", "invoiced", "paid", "cancelled", "returned"),
    ),
    "customers": ("lead", "prospect", "customer", "repeat_customer"),
    "contracts": ("draft", "pending_approval", "active", "rejected", "superseded"),
    "service": ("open", "dispatched", "in_progress", "resolved", "closed"),
}


def _export_panel(user: SessionUser) -> None:
    """Any list as CSV, with its status and text filters: what the list pages' own export
    buttons do, for the lists whose pages have none yet."""
    with ui.row().classes("items-end gap-4 flex-wrap"):
        which = (
            ui.select({k: t(f"exp.list.{k}") for k in EXPORTS}, label=t("exp.list"), value="orders")
            .classes("w-56")
            .mark("export-list")
        )
        status = ui.select({}, label=t("exp.status"), value=None).classes("w-48")
        status.mark("export-status")
        q = ui.input(t("exp.q")).classes("w-48").mark("export-q")
        holder = ui.row()

        def params() -> dict[str, Any]:
            out: dict[str, Any] = {"status": status.value}
            if which.value in SEARCHABLE:
                out["q"] = q.value or None
            return out

        def rebuild() -> None:
            options = STATUS_OPTIONS.get(which.value, ())
            status.set_options({None: t("filter.any"), **{s: s for s in options}}, value=None)
            status.set_visibility(bool(options))
            q.set_visibility(which.value in SEARCHABLE)
            holder.clear()
            with holder:
                export_button(user, which.value, params)

        which.on_value_change(rebuild)
        rebuild()


def register() -> None:
    @ui.page("/import")
    async def import_page() -> RedirectResponse | None:
        user = require_user(frozenset({"hq_admin"}))
        if isinstance(user, RedirectResponse):
            return user
        with frame(user, t("imp.title")):
            with ui.tabs().classes("w-full") as tabs:
                imp = ui.tab(t("imp.import")).props("data-testid=tab-import").mark("tab-import")
                exp = ui.tab(t("imp.export")).props("data-testid=tab-export").mark("tab-export")
            with ui.tab_panels(tabs, value=imp).classes("w-full"):
                with ui.tab_panel(imp):
                    await _import_panel(user)
                with ui.tab_panel(exp):
                    _export_panel(user)
        return None
