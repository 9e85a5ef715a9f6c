"""The generated dealer network: deterministic, the requested sizes, realistic shape."""

from __future__ import annotations

import datetime as dt
from collections import Counter

from wayhouse.simulators.dealer_network import SEASON, full, generate, small


def test_same_seed_same_network_and_orders() -> None:
    a, b = small(seed=3), small(seed=3)
    assert a.dealers == b.dealers and a.products == b.products and a.customers == b.customers
    assert list(a.orders()) == list(b.orders())
    assert small(seed=4).dealers != a.dealers


def test_full_size_is_the_issue_size() -> None:
    net = full()
    assert (len(net.regions), len(net.dealers), len(net.customers), len(net.products)) == (
        4,
        60,
        2000,
        500,
    )
    orders = list(net.orders())
    assert len(orders) == 50_000
    assert len({o.ref for o in orders}) == 50_000
    assert {o.dealer for o in orders} <= {d.code for d in net.dealers}
    skus = {p.sku for p in net.products}
    assert all(ln.sku in skus and ln.qty > 0 for o in orders for ln in o.lines)
    assert orders == sorted(orders, key=lambda o: o.placed_at)
    span = orders[-1].placed_at - orders[0].placed_at
    assert dt.timedelta(days=700) < span <= dt.timedelta(days=730)


def test_orders_follow_the_season_and_bigger_dealers_order_more() -> None:
    net = generate(seed=1, orders=20_000)
    orders = list(net.orders())
    by_month = Counter(o.placed_at.month for o in orders)
    peak, trough = (
        max(range(12), key=lambda m: SEASON[m]) + 1,
        min(range(12), key=lambda m: SEASON[m]) + 1,
    )
    assert by_month[peak] > by_month[trough] * 1.3
    weekend = sum(1 for o in orders if o.placed_at.weekday() >= 5)
    assert weekend < len(orders) * 2 / 7 * 0.6  # weekends are quieter
    size = {d.code: d.size for d in net.dealers}
    per_dealer = Counter(o.dealer for o in orders)
    big = max(net.dealers, key=lambda d: d.size).code
    small_ = min(net.dealers, key=lambda d: d.size).code
    assert per_dealer[big] > per_dealer[small_] and size[big] > size[small_]
