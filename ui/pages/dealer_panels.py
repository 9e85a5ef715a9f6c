"""Sections of a dealer's page: qualification documents (expiry badges, upload), credit
(limit, exposure, what is available; HQ edits the terms) and the statement for a period
(opening balance, invoices, payments and credit notes, closing balance, open items)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from nicegui import events, ui

from wayhouse.ui import i18n
from wayhouse.ui.api_client import ApiError
from wayhouse.ui.i18n import t
from wayhouse.ui.session import SessionUser, report

BADGE = {"valid": "positive", "expiring": "warning", "expired": "negative", "not_yet_valid": "grey"}

i18n.extend(
    {
        "en": {
            "docs.title": "Qualification documents",
            "docs.none": "No documents on file",
            "docs.type": "Type",
            "docs.number": "Number",
            "docs.valid_from": "Valid from",
            "docs.valid_until": "Valid until",
            "docs.days_left": "{days} days left",
            "docs.upload": "Upload a scan (PDF, PNG or JPEG)",
            "docs.uploaded": "Document stored",
            "docs.state.valid": "valid",
            "docs.state.expiring": "expiring soon",
            "docs.state.expired": "expired",
            "docs.state.not_yet_valid": "not yet valid",
            "credit.title": "Credit",
            "credit.limit": "Limit",
            "credit.balance": "Balance",
            "credit.committed": "Committed orders",
            "credit.available": "Available",
            "credit.overdue": "Overdue",
            "credit.terms": "Payment terms (days)",
            "credit.grace": "Grace (days)",
            "credit.save": "Save terms",
            "credit.saved": "Credit terms saved",
            "credit.amount": "Payment received",
            "credit.reference": "Bank reference",
            "credit.record_payment": "Record payment",
            "credit.paid": "Payment recorded; orders released: {released}",
            "statement.title": "Statement",
            "statement.from": "From",
            "statement.to": "To",
            "statement.show": "Show",
            "statement.opening": "Opening balance",
            "statement.closing": "Closing balance",
            "statement.reconciles": "reconciles",
            "statement.open_items": "Open items",
        },
        "zh-CN": {
            "docs.title": "资质证照",
            "docs.none": "暂无证照",
            "docs.type": "类型",
            "docs.number": "编号",
            "docs.valid_from": "生效日期",
            "docs.valid_until": "到期日期",
            "docs.days_left": "剩余 {days} 天",
            "docs.upload": "上传扫描件（PDF、PNG 或 JPEG）",
            "docs.uploaded": "证照已保存",
            "docs.state.valid": "有效",
            "docs.state.expiring": "即将到期",
            "docs.state.expired": "已过期",
            "docs.state.not_yet_valid": "尚未生效",
            "credit.title": "信用",
            "credit.limit": "信用额度",
            "credit.balance": "应收余额",
            "credit.committed": "在途订单",
            "credit.available": "可用额度",
            "credit.overdue": "逾期金额",
            "credit.terms": "账期（天）",
            "credit.grace": "宽限期（天）",
            "credit.save": "保存信用条款",
            "credit.saved": "信用条款已保存",
            "credit.amount": "收款金额",
            "credit.reference": "银行流水号",
            "credit.record_payment": "登记收款",
            "credit.paid": "收款已登记；已放行订单：{released}",
            "statement.title": "对账单",
            "statement.from": "起始",
            "statement.to": "截止",
            "statement.show": "查询",
            "statement.opening": "期初余额",
            "statement.closing": "期末余额",
            "statement.reconciles": "账目平衡",
            "statement.open_items": "未结清发票",
        },
    }
)


async def documents_panel(user: SessionUser, dealer_id: int, can_upload: bool) -> None:
    box = (
        ui.column()
        .classes("w-full max-w-3xl gap-1")
        .props("data-testid=documents")
        .mark("documents")
    )

    async def load() -> None:
        try:
            docs = (await user.api.get(f"/dealers/{dealer_id}/documents", size=100))["items"]
        except ApiError as err:
            report(err)
            return
        box.clear()
        with box:
            ui.label(t("docs.title")).classes("text-subtitle1")
            if not docs:
                ui.label(t("docs.none"))
            for d in docs:
                if d["superseded_at"]:
                    continue
                with ui.row().classes("items-center gap-3"):
                    ui.badge(t(f"docs.state.{d['state']}"), color=BADGE.get(d["state"], "grey"))
                    ui.label(f"{d['doc_type']} · {d['number']}")
                    ui.label(f"{d['valid_from']} – {d['valid_until']}")
                    if d["state"] in ("valid", "expiring"):
                        ui.label(t("docs.days_left", days=d["days_left"])).classes("text-caption")
            if can_upload:
                _upload_form(user, dealer_id, load)

    await load()


def _upload_form(user: SessionUser, dealer_id: int, reload: Any) -> None:
    with ui.row().classes("items-end gap-3"):
        doc_type = ui.select(
            ["business_licence", "operating_permit"], value="business_licence", label=t("docs.type")
        )
        number = ui.input(t("docs.number")).props("data-testid=doc-number").mark("doc-number")
        today = dt.date.today()
        start = ui.input(t("docs.valid_from"), value=today.isoformat())
        until = ui.input(t("docs.valid_until"), value=(today + dt.timedelta(days=365)).isoformat())

    async def uploaded(e: events.UploadEventArguments) -> None:
        try:
            await user.api.post_file(
                f"/dealers/{dealer_id}/documents",
                field="file",
                filename=e.file.name,
                content=await e.file.read(),
                content_type=e.file.content_type or "application/octet-stream",
                form={
                    "doc_type": str(doc_type.value),
                    "number": number.value or "",
                    "valid_from": start.value,
                    "valid_until": until.value,
                },
            )
        except ApiError as err:
            report(err)
            return
        ui.notify(t("docs.uploaded"), type="positive")
        await reload()

    ui.upload(label=t("docs.upload"), on_upload=uploaded, auto_upload=True).props(
        "accept='.pdf,.png,.jpg,.jpeg'"
    ).props("data-testid=doc-upload").mark("doc-upload")


async def credit_panel(user: SessionUser, dealer_id: int) -> None:
    box = ui.column().classes("w-full max-w-3xl gap-1").props("data-testid=credit").mark("credit")

    async def load() -> None:
        try:
            c = await user.api.get(f"/dealers/{dealer_id}/credit")
        except ApiError as err:
            report(err)
            return
        box.clear()
        with box:
            ui.label(t("credit.title")).classes("text-subtitle1")
            with ui.grid(columns=5).classes("gap-x-6"):
                for key in ("limit", "balance", "committed", "available", "overdue"):
                    ui.label(t(f"credit.{key}")).classes("text-caption")
                for key in ("credit_limit", "balance", "committed", "available", "overdue"):
                    ui.label(str(c[key])).props(f"data-testid=credit-{key}").mark(f"credit-{key}")
            if user.role == "hq_admin":
                with ui.row().classes("items-end gap-3"):
                    limit = ui.number(t("credit.limit"), value=float(c["credit_limit"]), min=0)
                    limit.props("data-testid=credit-limit-input").mark("credit-limit-input")
                    terms = ui.number(t("credit.terms"), value=c["payment_terms_days"], min=0)
                    grace = ui.number(t("credit.grace"), value=c["grace_days"], min=0)

                    async def save() -> None:
                        try:
                            await user.api.put(
                                f"/dealers/{dealer_id}/credit",
                                json={
                                    "credit_limit": f"{float(limit.value or 0):.2f}",
                                    "payment_terms_days": int(terms.value or 0),
                                    "grace_days": int(grace.value or 0),
                                },
                            )
                        except ApiError as err:
                            report(err)
                            return
                        ui.notify(t("credit.saved"), type="positive")
                        await load()

                    ui.button(t("credit.save"), on_click=save).props(
                        "data-testid=credit-save"
                    ).mark("credit-save")
                with ui.row().classes("items-end gap-3"):
                    amount = ui.number(t("credit.amount"), min=0.01, precision=2).props(
                        "data-testid=payment-amount"
                    )
                    amount.props("data-testid=payment-amount").mark("payment-amount")
                    reference = ui.input(t("credit.reference")).props(
                        "data-testid=payment-reference"
                    )

                    async def pay() -> None:
                        if not amount.value:
                            return
                        try:
                            result = await user.api.post(
                                "/payments",
                                json={
                                    "dealer_id": dealer_id,
                                    "amount": f"{float(amount.value):.2f}",
                                    "received_on": dt.date.today().isoformat(),
                                    "reference": reference.value or "",
                                },
                            )
                        except ApiError as err:
                            report(err)
                            return
                        released = ", ".join(str(o) for o in result["released_orders"])
                        ui.notify(t("credit.paid", released=released or "-"), type="positive")
                        await load()

                    ui.button(t("credit.record_payment"), on_click=pay).props(
                        "data-testid=payment-record"
                    ).props("data-testid=payment-record").mark("payment-record")

    await load()


async def statement_panel(user: SessionUser, dealer_id: int) -> None:
    today = dt.date.today()
    ui.label(t("statement.title")).classes("text-subtitle1")
    with ui.row().classes("items-end gap-3"):
        start = ui.input(t("statement.from"), value=today.replace(day=1).isoformat())
        end = ui.input(t("statement.to"), value=today.isoformat())
        show = (
            ui.button(t("statement.show"))
            .props("data-testid=statement-show")
            .mark("statement-show")
        )
    box = (
        ui.column()
        .classes("w-full max-w-3xl gap-1")
        .props("data-testid=statement")
        .mark("statement")
    )

    async def load() -> None:
        try:
            st = await user.api.get(
                f"/dealers/{dealer_id}/statement", start=start.value, end=end.value
            )
        except ApiError as err:
            report(err)
            return
        box.clear()
        with box:
            ui.label(f"{t('statement.opening')}: {st['opening_balance']}")
            ui.table(
                columns=[
                    {"name": k, "label": k, "field": k, "align": "left"}
                    for k in ("on", "kind", "ref", "debit", "credit", "balance")
                ],
                rows=[{**line, "i": i} for i, line in enumerate(st["lines"])],
                row_key="i",
            ).classes("w-full")
            check = "✓ " + t("statement.reconciles") if st["reconciles"] else "✗"
            ui.label(f"{t('statement.closing')}: {st['closing_balance']} ({check})").props(
                "data-testid=statement-closing"
            ).mark("statement-closing")
            if st["open_items"]:
                ui.label(t("statement.open_items")).classes("text-subtitle2")
                for item in st["open_items"]:
                    ui.label(
                        f"{item['invoice']} · {item['due_on']} · {item['outstanding']}"
                        + (f" · {item['days_overdue']}d" if item["days_overdue"] else "")
                    )

    show.on_click(load)
    await load()


async def dealer_sections(user: SessionUser, dealer: dict[str, Any]) -> None:
    # HQ or the dealer's own users upload (a dealer user only ever sees its own dealer).
    await documents_panel(user, dealer["id"], user.role in ("hq_admin", "dealer_user"))
    await credit_panel(user, dealer["id"])
    await statement_panel(user, dealer["id"])
