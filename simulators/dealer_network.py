"""A deterministic, realistic dealer network for demos and load: regions, dealers, customers,
products and two years of historical orders with seasonality.

Pure generation (no I/O): the same seed gives the same records, so benchmarks and demos are
comparable run to run. ``full()`` is the issue's size (1 HQ, 4 regions, 60 dealers, 2,000
customers, 500 products, 50,000 orders); ``small()`` is what `make run` loads.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal

REGIONS = (
    ("R-EAST", "East / 华东", 31.23, 121.47),
    ("R-NORTH", "North / 华北", 39.90, 116.40),
    ("R-SOUTH", "South / 华南", 23.13, 113.26),
    ("R-WEST", "West / 西部", 30.57, 104.07),
)
PRODUCT_LINES = ("engine", "brakes", "filters", "electrical", "body", "tyres")
TIERS = ("platinum", "gold", "silver", "standard")
TIER_WEIGHTS = (1, 3, 5, 8)
# Monthly demand multipliers: spring maintenance season, a dip before Chinese New Year.
SEASON = (0.7, 0.8, 1.1, 1.25, 1.2, 1.05, 0.95, 0.9, 1.1, 1.15, 1.05, 0.85)


@dataclass(frozen=True)
class GenRegion:
    code: str
    name: str
    lat: float
    lon: float


@dataclass(frozen=True)
class GenDealer:
    code: str
    region: str
    legal_name: str
    tier: str
    lat: float
    lon: float
    credit_limit: Decimal
    size: float  # relative order volume


@dataclass(frozen=True)
class GenCustomer:
    code: str
    dealer: str
    name: str
    stage: str


@dataclass(frozen=True)
class GenProduct:
    sku: str
    name: str
    product_line: str
    unit_weight_g: float
    unit_volume_l: float
    list_price: Decimal
    shelf_life_days: int | None


@dataclass(frozen=True)
class GenOrderLine:
    sku: str
    qty: int
    unit_price: Decimal


@dataclass(frozen=True)
class GenOrder:
    ref: str
    dealer: str
    placed_at: dt.datetime
    status: str
    lines: tuple[GenOrderLine, ...]

    @property
    def total(self) -> Decimal:
        return sum((ln.unit_price * ln.qty for ln in self.lines), Decimal("0.00"))


@dataclass
class Network:
    regions: list[GenRegion] = field(default_factory=list)
    dealers: list[GenDealer] = field(default_factory=list)
    customers: list[GenCustomer] = field(default_factory=list)
    products: list[GenProduct] = field(default_factory=list)
    n_orders: int = 0
    seed: int = 0
    start: dt.date = dt.date(2024, 12, 1)
    days: int = 730

    def orders(self) -> Iterator[GenOrder]:
        """Orders in time order, generated lazily (50,000 orders need not sit in memory)."""
        rng = random.Random(self.seed * 7919 + 1)
        weights = [d.size for d in self.dealers]
        # Day weights: season x weekday (fewer orders at weekends) x slow growth.
        day_w = []
        for i in range(self.days):
            day = self.start + dt.timedelta(days=i)
            weekday = 0.35 if day.weekday() >= 5 else 1.0
            day_w.append(SEASON[day.month - 1] * weekday * (1 + 0.25 * i / self.days))
        # (day, minute of the business day), sorted: orders come out in time order.
        slots = sorted(
            (d, rng.randint(0, 600))
            for d in rng.choices(range(self.days), weights=day_w, k=self.n_orders)
        )
        products = self.products
        popularity = [1 / (k + 1) ** 0.8 for k in range(len(products))]  # a long tail
        cutoff = self.start + dt.timedelta(days=self.days - 14)
        for n, (d, minute) in enumerate(slots):
            dealer = rng.choices(self.dealers, weights=weights)[0]
            day = self.start + dt.timedelta(days=d)
            at = dt.datetime.combine(day, dt.time(8), dt.UTC) + dt.timedelta(minutes=minute)
            picks = rng.choices(range(len(products)), weights=popularity, k=rng.randint(1, 6))
            lines = tuple(
                GenOrderLine(products[k].sku, rng.randint(1, 40), products[k].list_price)
                for k in dict.fromkeys(picks)
            )
            # Old orders are finished; the last two weeks still move through the workflow.
            status = (
                "paid"
                if day < cutoff
                else rng.choice(("submitted", "approval", "allocated", "shipped"))
            )
            yield GenOrder(f"SO-{n + 1:06d}", dealer.code, at, status, lines)


def generate(
    seed: int = 0,
    dealers: int = 60,
    customers: int = 2000,
    products: int = 500,
    orders: int = 50_000,
) -> Network:
    rng = random.Random(seed)
    net = Network(n_orders=orders, seed=seed)
    net.regions = [GenRegion(*r) for r in REGIONS]
    for i in range(dealers):
        region = net.regions[i % len(net.regions)]
        tier = rng.choices(TIERS, weights=TIER_WEIGHTS)[0]
        size = {"platinum": 4.0, "gold": 2.5, "silver": 1.5, "standard": 1.0}[tier] * rng.uniform(
            0.6, 1.4
        )
        radius, bearing = rng.uniform(5, 300), rng.uniform(0, 2 * math.pi)
        net.dealers.append(
            GenDealer(
                code=f"DL-{i + 1:03d}",
                region=region.code,
                legal_name=f"{region.name.split(' / ')[0]} Auto Parts {i + 1:03d} Co., Ltd.",
                tier=tier,
                lat=round(region.lat + radius / 111 * math.cos(bearing), 5),
                lon=round(region.lon + radius / 96 * math.sin(bearing), 5),
                credit_limit=Decimal(int(size * 200_000)).quantize(Decimal("1000")),
                size=round(size, 3),
            )
        )
    stages = ("lead", "prospect", "customer", "repeat_customer")
    for i in range(customers):
        net.customers.append(
            GenCustomer(
                f"CU-{i + 1:05d}",
                rng.choice(net.dealers).code,
                f"Customer {i + 1:05d}",
                rng.choices(stages, weights=(2, 2, 4, 3))[0],
            )
        )
    for i in range(products):
        line = PRODUCT_LINES[i % len(PRODUCT_LINES)]
        weight = round(rng.lognormvariate(6.5, 1.0), 1)
        net.products.append(
            GenProduct(
                sku=f"{line[:3].upper()}-{i + 1:04d}",
                name=f"{line.title()} part {i + 1:04d}",
                product_line=line,
                unit_weight_g=weight,
                unit_volume_l=round(weight / 700, 3),
                list_price=Decimal(str(round(5 + weight / 15 * rng.uniform(0.7, 1.6), 2))),
                shelf_life_days=rng.choice((None, None, 365, 730))
                if line in ("filters", "tyres")
                else None,
            )
        )
    return net


def full(seed: int = 0) -> Network:
    return generate(seed)


def small(seed: int = 0) -> Network:
    return generate(seed, dealers=8, customers=120, products=60, orders=1500)
