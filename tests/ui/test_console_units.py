"""Console pieces without a server: labels in both languages, API reasons as people read them,
and which order buttons a role is offered."""

from __future__ import annotations

import httpx
import pytest

from wayhouse.ui.api_client import ApiError, reason_of, user_message
from wayhouse.ui.frame import nav_for
from wayhouse.ui.i18n import STRINGS, t
from wayhouse.ui.pages.orders import actions_for


def test_every_label_has_english_and_chinese() -> None:
    assert set(STRINGS["en"]) == set(STRINGS["zh-CN"])
    assert t("nav.orders", "zh-CN") == "订单"
    assert t("page.of", "en", page=2, pages=3, total=41) == "Page 2 of 3 · 41 rows"
    assert t("no.such.key", "fr") == "no.such.key"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            {"detail": {"code": "invalid_credentials", "message": "wrong username or password"}},
            "wrong username or password",
        ),
        ({"detail": "no dealer 7"}, "no dealer 7"),
        (
            {"detail": [{"loc": ["body", "lines", 0, "qty"], "msg": "too small"}]},
            "lines.0.qty: too small",
        ),
    ],
)
def test_api_reasons_are_shown_as_sent(body: dict[str, object], expected: str) -> None:
    assert reason_of(httpx.Response(400, json=body))[0] == expected


def test_user_messages_name_what_to_do() -> None:
    assert "wayhouse api" in user_message(ApiError(0, "connection refused"))
    assert user_message(ApiError(404, "no order 9")) == t("error.not_found", "en")
    assert "held" in user_message(ApiError(409, "order is held"))


def test_actions_and_navigation_follow_the_role() -> None:
    assert actions_for("dealer_user", "draft") == ["submit", "cancel"]
    assert actions_for("dealer_user", "approval") == ["cancel"]
    assert actions_for("region_manager", "approval") == ["approve", "reject", "cancel"]
    assert actions_for("warehouse_operator", "approval") == []
    assert actions_for("hq_admin", "delivered") == []
    assert [p for p, _ in nav_for("dealer_user")] == [
        "/dealers",
        "/orders",
        "/stock",
        "/customers",
        "/contracts",
        "/service",
    ]
    assert [p for p, _ in nav_for("hq_admin")] == [
        "/dashboard",
        "/operations",
        "/dealers",
        "/orders",
        "/approvals",
        "/stock",
        "/customers",
        "/contracts",
        "/service",
        "/dispatch",
        "/tracking",
        "/alarms",
        "/import",
        "/admin",
    ]
    assert [p for p, _ in nav_for("driver")] == ["/orders"]
    assert [p for p, _ in nav_for("technician")] == ["/orders", "/service"]
    assert [p for p, _ in nav_for("dispatcher")] == ["/orders", "/dispatch", "/tracking", "/alarms"]
