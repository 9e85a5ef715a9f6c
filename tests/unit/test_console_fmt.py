"""Numbers, money, dates and times as each locale writes them (no server needed)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from wayhouse.ui import fmt


def test_money_by_locale_and_currency() -> None:
    assert fmt.money("1234567.5", "CNY", "zh-CN") == "¥1,234,567.50"
    assert fmt.money(Decimal("1234567.5"), "CNY", "en") == "CN¥1,234,567.50"
    assert fmt.money("-12.345", "CNY", "en") == "-CN¥12.34"  # banker's rounding, as billed
    assert fmt.money("-0.001", "CNY", "en") == "CN¥0.00"
    assert fmt.money("9.99", "EUR", "zh-CN") == "€9.99"
    assert fmt.money("9.99", "JPY", "en") == "9.99 JPY"  # no symbol known: the code
    assert fmt.money(None) == "–" and fmt.money("n/a", locale="en") == "n/a"


def test_numbers_and_percentages() -> None:
    assert fmt.number(1234567) == "1,234,567"
    assert fmt.number("1234.5678", 2) == "1,234.57"
    assert fmt.number("", 0) == "–" and fmt.number("abc") == "abc"
    assert fmt.number("NaN") == "NaN"  # not a figure: shown as it came, never 0
    assert fmt.percent(0.9731) == "97.3%" and fmt.percent(1.0, 0) == "100%"
    assert fmt.percent(None) == "–"


def test_dates_and_months() -> None:
    assert fmt.date("2026-03-05", "zh-CN") == "2026年3月5日"
    assert fmt.date("2026-03-05T23:10:00Z", "en") == "Mar 5, 2026"
    assert fmt.date(dt.date(2025, 12, 31), "en") == "Dec 31, 2025"
    assert fmt.date(None, "en") == "–" and fmt.date("soon", "en") == "soon"
    assert fmt.month("2026-03", "zh-CN") == "2026年3月" and fmt.month("2026-03", "en") == "Mar 2026"
    assert fmt.month("2026-13", "en") == "2026-13"


def test_times_are_shown_in_the_sites_time_zone() -> None:
    zone = fmt.site_zone()
    utc = dt.datetime(2026, 7, 1, 12, 30, tzinfo=dt.UTC)
    local = utc.astimezone(zone)
    expected = f"{local:%H:%M}"
    assert (
        fmt.datetime("2026-07-01T12:30:00Z", "zh-CN")
        == f"{fmt.date(local.date(), 'zh-CN')} {expected}"
    )
    assert fmt.datetime(utc, "en").endswith(f", {expected}")
    assert fmt.datetime("2026-07-01T12:30:00", "en") == fmt.datetime(utc, "en")  # naive is UTC
    assert fmt.datetime("yesterday", "en") == "yesterday"


@given(st.decimals(min_value=-(10**11), max_value=10**11, places=2, allow_nan=False))
def test_money_reads_back_to_the_same_amount(amount: Decimal) -> None:
    for locale, symbol in (("zh-CN", "¥"), ("en", "CN¥")):
        text = fmt.money(amount, "CNY", locale)
        sign = -1 if text.startswith("-") else 1
        digits = text.removeprefix("-").removeprefix(symbol).replace(",", "")
        assert Decimal(digits) * sign == amount
