"""Load a generated dealer network (``simulators.dealer_network``) into PostgreSQL, fast.

The whole network goes in one transaction (a failed load leaves nothing half-written). The
small tables are plain ``INSERT``s; customers, orders, their lines and their first timeline
event use binary ``COPY`` (orders with ids reserved up front from the sequences, so lines can
point at their order without a round trip per order). Customers get a delivery position near
their dealer (see ``customer_position``), since the generator draws none. History is imported as it stands: no audit rows (no one
changed anything through the platform) and no stock reservations for open orders.

Codes are prefixed ``NET-`` so the network sits beside the `make run` demo seed (which uses
``HQ``, ``R-EAST``, ``DL-001``). A database that already has org unit ``NET-HQ`` is left alone.
Users get passwords derived from ``<data>/secrets/network_secret`` (see ``password_for``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import math
import os
import random
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal

import psycopg
from psycopg.types.json import Jsonb

from wayhouse.config import Settings
from wayhouse.platform.auth.passwords import hash_password
from wayhouse.platform.dms.domain.types import DealerStatus, OrgLevel, Role
from wayhouse.simulators.dealer_network import GenCustomer, GenDealer, Network

PREFIX = "NET-"
MARKER = f"{PREFIX}HQ"
SECRET_NAME = "network_secret"
LOADED_BY = "loader"
# Payment terms by tier: better dealers get longer terms.
TERMS = {"platinum": (60, 15), "gold": (45, 10), "silver": (30, 7), "standard": (30, 5)}

Progress = Callable[[str], None]
# Binary COPY sends no type names of its own: these match the sales_order columns copied.
ORDER_TYPES = [
    *("int4", "int4", "int4", "text", "numeric", "text", "jsonb", "text"),
    *("timestamptz", "timestamptz"),
]
CUSTOMER_TYPES = [
    *("text", "int4", "int4", "int4", "text", "text", "text", "text"),
    *("text", "float8", "float8", "text", "int4", "text", "timestamptz", "timestamptz"),
]
# Customers live around their dealer's warehouse: a delivery run is a day trip from there.
CUSTOMER_RADIUS_KM = (2.0, 40.0)
KM_PER_DEGREE = 111.32


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


@dataclass
class LoadResult:
    loaded: bool  # False: the network was already there
    seconds: float = 0.0
    counts: dict[str, int] = field(default_factory=dict)


def admin_username() -> str:
    return "net.admin"


def manager_username(region_code: str) -> str:
    return f"net.{region_code.lower()}.manager"


def dealer_username(dealer_code: str) -> str:
    return f"net.{dealer_code.lower()}"


def password_for(settings: Settings, username: str) -> str:
    """A user's password, derived from one secret kept under the data folder: the benchmark
    (and a demo) can sign in as any network user without a password file per user."""
    key = settings.secret(SECRET_NAME).encode()
    return hmac.new(key, username.encode(), hashlib.sha256).hexdigest()[:24]


def is_loaded(conn: psycopg.Connection) -> bool:
    row = conn.execute("SELECT 1 FROM org_unit WHERE code = %s", (MARKER,)).fetchone()
    return row is not None


def _reserve_ids(cur: psycopg.Cursor, table: str, n: int) -> list[int]:
    cur.execute(
        "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
        (table, n),
    )
    return [r[0] for r in cur.fetchall()]


def _unit(
    cur: psycopg.Cursor, level: OrgLevel, code: str, name: str, parent: tuple[int, str] | None
) -> tuple[int, str]:
    """Insert an org unit and return (id, path); the path needs the id, so take it first."""
    parent_id, parent_path = parent if parent else (None, "/")
    cur.execute(
        "WITH n AS (SELECT nextval(pg_get_serial_sequence('org_unit', 'id')) AS id) "
        "INSERT INTO org_unit (id, parent_id, level, code, name, path) "
        "SELECT id, %s, %s, %s, %s, %s || id || '/' FROM n RETURNING id, path",
        (parent_id, level.value, code, name, parent_path),
    )
    row = cur.fetchone()
    assert row is not None
    return int(row[0]), str(row[1])


def load_network(settings: Settings, net: Network, progress: Progress = _stderr) -> LoadResult:
    """Load ``net`` unless the database already holds a network; return what was written."""
    started = time.perf_counter()
    with psycopg.connect(settings.database_url()) as conn:
        # Serialise concurrent loaders (two benchmark runs): the second one then sees the marker.
        conn.execute("SELECT pg_advisory_xact_lock(hashtext('wayhouse.dms.loader'))")
        if is_loaded(conn):
            progress("dealer network already loaded (org unit NET-HQ exists); nothing to do")
            return LoadResult(loaded=False)
        counts = _load(conn, settings, net, progress)
        conn.execute(
            "ANALYZE org_unit, dealer, customer, product, sales_order, order_line, order_event"
        )
    seconds = time.perf_counter() - started
    progress(f"loaded the dealer network in {seconds:.1f}s")
    return LoadResult(loaded=True, seconds=round(seconds, 2), counts=counts)


def _load(
    conn: psycopg.Connection, settings: Settings, net: Network, progress: Progress
) -> dict[str, int]:
    counts: dict[str, int] = {}
    t = time.perf_counter()

    def done(table: str, n: int) -> None:
        nonlocal t
        counts[table] = n
        progress(f"  {table:<15} {n:>8} rows  {time.perf_counter() - t:6.2f}s")
        t = time.perf_counter()

    cur = conn.cursor()
    hq = _unit(cur, OrgLevel.HQ, MARKER, "Wayhouse Network HQ / 总部", None)
    regions = {
        r.code: _unit(cur, OrgLevel.REGION, PREFIX + r.code, r.name, hq) for r in net.regions
    }
    dealer_units = {
        d.code: _unit(cur, OrgLevel.DEALER, PREFIX + d.code, d.legal_name, regions[d.region])
        for d in net.dealers
    }
    done("org_unit", 1 + len(regions) + len(dealer_units))

    dealer_ids: dict[str, int] = {}
    for d in net.dealers:
        address = {"label": "warehouse", "line": d.legal_name, "lat": d.lat, "lon": d.lon}
        cur.execute(
            "INSERT INTO dealer (org_unit_id, legal_name, tier, status, business_scope, "
            "contacts, addresses) VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING id",
            (
                dealer_units[d.code][0],
                d.legal_name,
                d.tier,
                DealerStatus.ACTIVE.value,
                "auto parts distribution",
                Jsonb([]),
                Jsonb([address]),
            ),
        )
        row = cur.fetchone()
        assert row is not None
        dealer_ids[d.code] = int(row[0])
    done("dealer", len(dealer_ids))

    cur.executemany(
        "INSERT INTO credit_account (dealer_id, credit_limit, payment_terms_days, grace_days) "
        "VALUES (%s, %s, %s, %s)",
        [(dealer_ids[d.code], d.credit_limit, *TERMS[d.tier]) for d in net.dealers],
    )
    done("credit_account", len(net.dealers))

    users = [(admin_username(), Role.HQ_ADMIN, hq[0], "Network HQ admin")]
    users += [
        (manager_username(r.code), Role.REGION_MANAGER, regions[r.code][0], f"{r.name} manager")
        for r in net.regions
    ]
    users += [
        (dealer_username(d.code), Role.DEALER_USER, dealer_units[d.code][0], d.legal_name)
        for d in net.dealers
    ]
    # argon2 is deliberately slow (~0.1 s a hash) and releases the GIL: hash in threads.
    with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:
        hashes = list(pool.map(lambda u: hash_password(password_for(settings, u[0])), users))
    cur.executemany(
        "INSERT INTO app_user (username, display_name, password_hash, role, org_unit_id, "
        "locale, active) VALUES (%s, %s, %s, %s, %s, 'zh-CN', true)",
        [
            (name, display, h, role.value, unit)
            for (name, role, unit, display), h in zip(users, hashes, strict=True)
        ],
    )
    done("app_user", len(users))

    product_ids: dict[str, tuple[int, str]] = {}
    for p in net.products:
        cur.execute(
            "INSERT INTO product (sku, name, product_class, unit, unit_weight_g, unit_volume_l, "
            "shelf_life_days, list_price, active) "
            "VALUES (%s, %s, %s, 'pcs', %s, %s, %s, %s, true) RETURNING id",
            (
                p.sku,
                p.name,
                p.product_line,
                p.unit_weight_g,
                p.unit_volume_l,
                p.shelf_life_days,
                p.list_price,
            ),
        )
        row = cur.fetchone()
        assert row is not None
        product_ids[p.sku] = (int(row[0]), p.product_line)
    done("product", len(product_ids))

    # A central warehouse at HQ and one per region, so the warehouse list has scoped rows.
    cur.executemany(
        "INSERT INTO warehouse (org_unit_id, code, name, lat, lon) VALUES (%s, %s, %s, %s, %s)",
        [(hq[0], f"{PREFIX}WH-HQ", "Network central warehouse", 31.23, 121.47)]
        + [
            (regions[r.code][0], f"{PREFIX}WH-{r.code}", f"{r.name} warehouse", r.lat, r.lon)
            for r in net.regions
        ],
    )
    done("warehouse", 1 + len(net.regions))

    done("customer", _copy_customers(cur, net, dealer_ids, dealer_units, regions))

    dealer_region = {d.code: regions[d.region][0] for d in net.dealers}
    order_ids = iter(_reserve_ids(cur, "sales_order", net.n_orders))
    n_orders = n_lines = 0
    # Three COPY streams cannot be open on one connection at once; orders are generated lazily,
    # so buffer lines and events (about 4 rows an order, small) and copy them after the orders.
    lines: list[tuple[int, int, str, str, int, Decimal, Decimal]] = []
    events: list[tuple[int, str, dt.datetime, str]] = []
    with cur.copy(
        "COPY sales_order (id, dealer_id, region_id, status, total, currency, hold_reasons, "
        "note, created_at, updated_at) FROM STDIN (FORMAT BINARY)"
    ) as copy:
        copy.set_types(ORDER_TYPES)
        empty = Jsonb([])
        for o in net.orders():
            oid = next(order_ids)
            copy.write_row(
                (
                    oid,
                    dealer_ids[o.dealer],
                    dealer_region[o.dealer],
                    o.status,
                    o.total,
                    "CNY",
                    empty,
                    f"imported {o.ref}",
                    o.placed_at,
                    o.placed_at,
                )
            )
            for ln in o.lines:
                pid, pclass = product_ids[ln.sku]
                lines.append(
                    (oid, pid, ln.sku, pclass, ln.qty, ln.unit_price, ln.unit_price * ln.qty)
                )
            events.append((oid, o.status, o.placed_at, f"imported history {o.ref}"))
            n_orders += 1
    done("sales_order", n_orders)

    with cur.copy(
        "COPY order_line (order_id, product_id, sku, product_class, qty, unit_price, amount) "
        "FROM STDIN (FORMAT BINARY)"
    ) as copy:
        copy.set_types(["int4", "int4", "text", "text", "int4", "numeric", "numeric"])
        for line in lines:
            copy.write_row(line)
            n_lines += 1
    done("order_line", n_lines)

    with cur.copy(
        "COPY order_event (order_id, seq, from_status, to_status, at, by, reason) "
        "FROM STDIN (FORMAT BINARY)"
    ) as copy:
        copy.set_types(["int4", "int4", "text", "text", "timestamptz", "text", "text"])
        for oid, status, at, reason in events:
            copy.write_row((oid, 1, None, status, at, LOADED_BY, reason))
    done("order_event", len(events))
    return counts


def customer_position(dealer: GenDealer, customer_code: str) -> tuple[float, float]:
    """Where a generated customer takes deliveries: a point 2-40 km from its dealer, the same
    for the same code on every load (flat-earth offset: fine at this distance)."""
    rng = random.Random(customer_code)
    km = rng.uniform(*CUSTOMER_RADIUS_KM)
    bearing = rng.uniform(0.0, 2 * math.pi)
    lat = dealer.lat + km * math.cos(bearing) / KM_PER_DEGREE
    lon = dealer.lon + km * math.sin(bearing) / (KM_PER_DEGREE * math.cos(math.radians(dealer.lat)))
    return round(lat, 6), round(lon, 6)


def _purchases(c: GenCustomer, n: int) -> int:
    """Purchases that match the stage: none before a first order, two or more when repeat."""
    return {"customer": 1, "repeat_customer": 2 + n % 5}.get(c.stage, 0)


def _copy_customers(
    cur: psycopg.Cursor,
    net: Network,
    dealer_ids: dict[str, int],
    dealer_units: dict[str, tuple[int, str]],
    regions: dict[str, tuple[int, str]],
) -> int:
    dealers = {d.code: d for d in net.dealers}
    region_names = {r.code: r.name.split(" / ")[0] for r in net.regions}
    # Spread the customers' creation over the history the orders cover.
    step = dt.timedelta(days=net.days) / max(1, len(net.customers))
    start = dt.datetime.combine(net.start, dt.time(8), dt.UTC)
    with cur.copy(
        "COPY customer (code, dealer_id, region_id, owner_unit_id, name, phone, email, address, "
        "area_code, lat, lon, status, purchases, source, created_at, updated_at) "
        "FROM STDIN (FORMAT BINARY)"
    ) as copy:
        copy.set_types(CUSTOMER_TYPES)
        for n, c in enumerate(net.customers):
            dealer = dealers[c.dealer]
            lat, lon = customer_position(dealer, c.code)
            at = start + step * n
            copy.write_row(
                (
                    c.code,
                    dealer_ids[c.dealer],
                    regions[dealer.region][0],
                    dealer_units[c.dealer][0],
                    c.name,
                    f"+86 138 {n // 10_000:04d} {n % 10_000:04d}",
                    None,
                    f"{n % 900 + 1} Industrial Road, {region_names[dealer.region]}",
                    f"CN-{dealer.region.removeprefix('R-')}",
                    lat,
                    lon,
                    c.stage,
                    _purchases(c, n),
                    "import",
                    at,
                    at,
                )
            )
    return len(net.customers)


def sizes(settings: Settings) -> dict[str, int]:
    """Row counts of the loaded network (what a benchmark ran against)."""
    queries = {
        "regions": "SELECT count(*) FROM org_unit WHERE level = 'region' AND code LIKE 'NET-%'",
        "dealers": "SELECT count(*) FROM dealer d JOIN org_unit u ON u.id = d.org_unit_id "
        "WHERE u.code LIKE 'NET-%'",
        "users": "SELECT count(*) FROM app_user WHERE username LIKE 'net.%'",
        "customers": "SELECT count(*) FROM customer c JOIN org_unit u ON u.id = c.owner_unit_id "
        "WHERE u.code LIKE 'NET-%'",
        "products": "SELECT count(*) FROM product",
        "orders": "SELECT count(*) FROM sales_order",
        "order_lines": "SELECT count(*) FROM order_line",
        "order_events": "SELECT count(*) FROM order_event",
    }
    with psycopg.connect(settings.database_url(), autocommit=True) as conn:
        out = {}
        for name, q in queries.items():
            row = conn.execute(q).fetchone()
            out[name] = int(row[0]) if row else 0
    return out
