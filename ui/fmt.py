"""Numbers, money, dates and times as the signed-in user reads them (zh-CN or en).

A small formatter rather than a locale library: the console speaks two locales, whose number
grouping is the same (1,234,567.89); they differ in how money and dates are written. Times
come from the API in UTC and are shown in the sites' time zone (``WAYHOUSE_TIMEZONE``), the
clock delivery windows are planned in. Values arrive as the API sends them (Decimal strings,
ISO dates); anything unreadable is shown as it came, never hidden.
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from functools import lru_cache
from zoneinfo import ZoneInfo

from wayhouse.ui.i18n import current_locale

CURRENCY_SYMBOL = {
    "zh-CN": {"CNY": "¥", "USD": "US$", "EUR": "€"},
    "en": {"CNY": "CN¥", "USD": "$", "EUR": "€"},
}
EN_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
DASH = "–"
CENT = Decimal("0.01")


@lru_cache(maxsize=1)
def site_zone() -> ZoneInfo:
    from wayhouse.config import get_settings

    return ZoneInfo(get_settings().timezone)


def _decimal(value: object) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        d = Decimal(str(value))
    except InvalidOperation:
        return None
    return d if d.is_finite() else None


def number(value: object, digits: int = 0) -> str:
    """1234567.891 -> '1,234,567.89' (digits=2); the same grouping in both locales."""
    d = _decimal(value)
    if d is None:
        return DASH if value in (None, "") else str(value)
    return f"{d:,.{digits}f}"


def money(value: object, currency: str = "CNY", locale: str | None = None) -> str:
    """'1234.5' CNY -> '¥1,234.50' (zh-CN) or 'CN¥1,234.50' (en); other currencies by code."""
    d = _decimal(value)
    if d is None:
        return DASH if value in (None, "") else str(value)
    loc = locale or current_locale()
    symbol = CURRENCY_SYMBOL.get(loc, CURRENCY_SYMBOL["en"]).get(currency)
    d = d.quantize(CENT, rounding=ROUND_HALF_EVEN)  # as the ledger rounds; never "-0.00"
    sign, d = ("-", -d) if d < 0 else ("", abs(d))
    amount = f"{d:,.2f}"
    return f"{sign}{symbol}{amount}" if symbol else f"{sign}{amount} {currency}"


def percent(ratio: float | None, digits: int = 1) -> str:
    """0.9731 -> '97.3%'; None (nothing measured yet) -> '–'."""
    if ratio is None:
        return DASH
    return f"{ratio * 100:.{digits}f}%"


def _parse_date(value: object) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


def _parse_datetime(value: object) -> dt.datetime | None:
    if isinstance(value, dt.datetime):
        when = value
    else:
        try:
            when = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when.astimezone(site_zone())


def date(value: object, locale: str | None = None) -> str:
    """'2026-03-05' -> '2026年3月5日' (zh-CN) or 'Mar 5, 2026' (en)."""
    d = _parse_date(value)
    if d is None:
        return DASH if value in (None, "") else str(value)
    if (locale or current_locale()) == "zh-CN":
        return f"{d.year}年{d.month}月{d.day}日"
    return f"{EN_MONTHS[d.month - 1]} {d.day}, {d.year}"


def datetime(value: object, locale: str | None = None) -> str:
    """An API timestamp in the sites' time zone: '2026年3月5日 14:30' or 'Mar 5, 2026, 14:30'."""
    when = _parse_datetime(value)
    if when is None:
        return DASH if value in (None, "") else str(value)
    loc = locale or current_locale()
    day = date(when.date(), loc)
    return f"{day} {when:%H:%M}" if loc == "zh-CN" else f"{day}, {when:%H:%M}"


def month(value: str, locale: str | None = None) -> str:
    """'2026-03' -> '2026年3月' or 'Mar 2026' (chart axes)."""
    try:
        y, m = (int(p) for p in value.split("-")[:2])
        if not 1 <= m <= 12:
            raise ValueError(value)
    except ValueError:
        return value
    if (locale or current_locale()) == "zh-CN":
        return f"{y}年{m}月"
    return f"{EN_MONTHS[m - 1]} {y}"
