"""Console labels. English now; zh-CN entries sit beside them so a language switch is a
lookup change, not a rewrite. Missing keys fall back to English, then to the key itself."""

from __future__ import annotations

from typing import Any

DEFAULT_LOCALE = "en"

STRINGS: dict[str, dict[str, str]] = {
    "en": {
        "app": "Wayhouse",
        "login.title": "Sign in",
        "login.username": "Username",
        "login.password": "Password",
        "login.submit": "Sign in",
        "login.failed": "Sign-in failed: {reason}",
        "login.required": "Please sign in",
        "logout": "Sign out",
        "nav.operations": "Operations",
        "nav.dealers": "Dealers",
        "nav.orders": "Orders",
        "nav.stock": "Stock",
        "nav.customers": "Customers",
        "nav.contracts": "Contracts",
        "nav.service": "Service",
        "nav.dispatch": "Dispatch",
        "nav.tracking": "Live tracking",
        "nav.alarms": "Alarms",
        "role.hq_admin": "HQ admin",
        "role.region_manager": "Regional manager",
        "role.dealer_user": "Dealer",
        "role.warehouse_operator": "Warehouse operator",
        "role.dispatcher": "Dispatcher",
        "role.driver": "Driver",
        "role.technician": "Technician",
        "page.prev": "Previous",
        "page.next": "Next",
        "page.of": "Page {page} of {pages} · {total} rows",
        "search": "Search",
        "filter.status": "Status",
        "filter.any": "Any",
        "dealers.title": "Dealers",
        "dealers.search": "Name or code",
        "dealer.code": "Code",
        "dealer.name": "Legal name",
        "dealer.tier": "Tier",
        "dealer.status": "Status",
        "dealer.region": "Region",
        "dealer.scope": "Business scope",
        "dealer.contacts": "Contacts",
        "dealer.addresses": "Addresses",
        "dealer.orders": "Orders of this dealer",
        "dealer.back": "All dealers",
        "orders.title": "Orders",
        "orders.new": "New order",
        "order.id": "Order",
        "order.dealer": "Dealer",
        "order.status": "Status",
        "order.total": "Total",
        "order.created": "Created",
        "order.holds": "Held because",
        "order.lines": "Lines",
        "order.approvals": "Approvals",
        "order.timeline": "Timeline",
        "order.sku": "SKU",
        "order.qty": "Quantity",
        "order.price": "Unit price",
        "order.amount": "Amount",
        "order.product": "Product",
        "order.note": "Note",
        "order.add_line": "Add line",
        "order.remove": "Remove",
        "order.place": "Place order",
        "order.no_lines": "Add at least one line",
        "order.placed": "Order {id} placed as draft",
        "order.back": "All orders",
        "action.submit": "Submit",
        "action.approve": "Approve",
        "action.reject": "Reject",
        "action.cancel": "Cancel order",
        "action.reason": "Reason",
        "action.confirm": "Confirm",
        "action.close": "Close",
        "action.done": "Order {id} is now {status}",
        "error.unreachable": "The API cannot be reached; is `wayhouse api` running?",
        "error.session": "Your session has ended; please sign in again",
        "error.not_found": "Not found, or not visible to you",
        "error.forbidden": "Your role may not do this",
        "error.generic": "Request failed ({status}): {reason}",
        "ops.title": "Operations · telemetry pipeline",
    },
    "zh-CN": {
        "app": "Wayhouse",
        "login.title": "登录",
        "login.username": "用户名",
        "login.password": "密码",
        "login.submit": "登录",
        "login.failed": "登录失败：{reason}",
        "login.required": "请先登录",
        "logout": "退出",
        "nav.operations": "运维",
        "nav.dealers": "经销商",
        "nav.orders": "订单",
        "nav.stock": "库存",
        "nav.customers": "客户",
        "nav.contracts": "合同",
        "nav.service": "售后服务",
        "nav.dispatch": "调度",
        "nav.tracking": "实时跟踪",
        "nav.alarms": "告警",
        "role.hq_admin": "总部管理员",
        "role.region_manager": "区域经理",
        "role.dealer_user": "经销商",
        "role.warehouse_operator": "仓库操作员",
        "role.dispatcher": "调度员",
        "role.driver": "司机",
        "role.technician": "技术员",
        "page.prev": "上一页",
        "page.next": "下一页",
        "page.of": "第 {page} / {pages} 页 · 共 {total} 条",
        "search": "搜索",
        "filter.status": "状态",
        "filter.any": "全部",
        "dealers.title": "经销商",
        "dealers.search": "名称或编码",
        "dealer.code": "编码",
        "dealer.name": "法定名称",
        "dealer.tier": "等级",
        "dealer.status": "状态",
        "dealer.region": "区域",
        "dealer.scope": "经营范围",
        "dealer.contacts": "联系人",
        "dealer.addresses": "地址",
        "dealer.orders": "该经销商的订单",
        "dealer.back": "全部经销商",
        "orders.title": "订单",
        "orders.new": "新建订单",
        "order.id": "订单",
        "order.dealer": "经销商",
        "order.status": "状态",
        "order.total": "金额",
        "order.created": "创建时间",
        "order.holds": "挂起原因",
        "order.lines": "明细",
        "order.approvals": "审批",
        "order.timeline": "时间线",
        "order.sku": "SKU",
        "order.qty": "数量",
        "order.price": "单价",
        "order.amount": "小计",
        "order.product": "产品",
        "order.note": "备注",
        "order.add_line": "添加明细",
        "order.remove": "删除",
        "order.place": "下单",
        "order.no_lines": "请至少添加一行",
        "order.placed": "订单 {id} 已创建为草稿",
        "order.back": "全部订单",
        "action.submit": "提交",
        "action.approve": "批准",
        "action.reject": "驳回",
        "action.cancel": "取消订单",
        "action.reason": "原因",
        "action.confirm": "确认",
        "action.close": "关闭",
        "action.done": "订单 {id} 状态：{status}",
        "error.unreachable": "无法连接 API；`wayhouse api` 是否在运行？",
        "error.session": "会话已结束，请重新登录",
        "error.not_found": "未找到，或您无权查看",
        "error.forbidden": "您的角色无权执行此操作",
        "error.generic": "请求失败（{status}）：{reason}",
        "ops.title": "运维 · 遥测管道",
    },
}


def current_locale() -> str:
    """The signed-in user's locale (from /auth/me); English outside a request or if unknown."""
    try:
        from nicegui import app

        locale = str(app.storage.user.get("locale", DEFAULT_LOCALE))
    except (RuntimeError, AssertionError, KeyError):
        return DEFAULT_LOCALE
    return locale if locale in STRINGS else DEFAULT_LOCALE


def t(key: str, locale: str | None = None, **values: Any) -> str:
    table = STRINGS.get(locale or current_locale(), STRINGS[DEFAULT_LOCALE])
    text = table.get(key) or STRINGS[DEFAULT_LOCALE].get(key, key)
    return text.format(**values) if values else text


def extend(strings: dict[str, dict[str, str]]) -> None:
    """Adds a page module's own labels, so each page keeps its strings beside its code.
    A key defined twice with different text is a bug, caught at import."""
    for locale, table in strings.items():
        target = STRINGS.setdefault(locale, {})
        for key, text in table.items():
            if target.get(key, text) != text:
                raise ValueError(f"i18n key {key!r} ({locale}) defined twice with different text")
            target[key] = text
