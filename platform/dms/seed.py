"""A small demo network for `make run`: HQ, four regions, eight dealers, a user per role, and
the central warehouse of the default simulator scenario with its 200 instrumented bins, each
bound to its load cell and stocked with the scenario's initial counts.

Idempotent: a database that already has the demo HQ is left alone. Passwords are generated
once and kept in ``<data>/secrets/demo_users.json`` (mode 600).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import random
import secrets
from decimal import Decimal
from typing import TYPE_CHECKING

from sqlalchemy import select

from wayhouse.config import Settings
from wayhouse.platform.db.base import unit_of_work
from wayhouse.platform.dms import org, stock
from wayhouse.platform.dms.domain.types import DealerTier, MovementKind, OrgLevel, Role
from wayhouse.platform.dms.models import Bin, Dealer, Lot, OrgUnit, Product, Warehouse, Zone
from wayhouse.platform.dms.models_customers import CustomerInteractionRow, CustomerRow
from wayhouse.platform.dms.models_orders import ApprovalRuleRow

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from wayhouse.simulators.trucks import Stop

HQ_CODE = "HQ"
REGIONS = [
    ("R-EAST", "East / 华东"),
    ("R-WEST", "West / 西部"),
    ("R-NORTH", "North / 华北"),
    ("R-SOUTH", "South / 华南"),
]
TIERS = [DealerTier.GOLD, DealerTier.STANDARD, DealerTier.SILVER, DealerTier.PLATINUM]
# (name, stage, purchases) of the demo customers, dealt out to the six active demo dealers in
# turn: dealer1 gets the first (a lead to qualify) and the seventh (a prospect to sell to).
DEMO_CUSTOMERS = [
    ("Lumière Garage", "lead", 0),
    ("Presqu'île Auto", "prospect", 0),
    ("Rhône Fleet Services", "customer", 1),
    ("Croix-Rousse Motors", "repeat_customer", 3),
    ("Part-Dieu Taxis", "lead", 0),
    ("Gerland Logistics", "customer", 1),
    ("Vaise Car Care", "prospect", 0),
    ("Villeurbanne Pneus", "repeat_customer", 2),
    ("Confluence Rentals", "lead", 0),
    ("Bron Auto École", "customer", 1),
]


def _passwords(settings: Settings, users: list[str]) -> dict[str, str]:
    path = settings.secrets_dir / "demo_users.json"
    known: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    for u in users:
        known.setdefault(u, secrets.token_urlsafe(12))
    settings.secrets_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.write_text(json.dumps(known, indent=2))
    path.chmod(0o600)
    return known


def _demo_customers(s: Session, dealers: list[Dealer], depot: Stop) -> None:
    """A handful of end customers of the active demo dealers, 3-25 km from the central
    warehouse (the trucks' depot), so deliveries to them can be routed and tracked."""
    active = [d for d in dealers if d.status == "active"]
    now = dt.datetime.now(dt.UTC)
    rng = random.Random("demo customers")
    for i, (name, stage, purchases) in enumerate(DEMO_CUSTOMERS):
        dealer = active[i % len(active)]
        km, bearing = rng.uniform(3.0, 25.0), rng.uniform(0.0, 2 * math.pi)
        lat = depot.lat + km * math.cos(bearing) / 111.32
        lon = depot.lon + km * math.sin(bearing) / (111.32 * math.cos(math.radians(depot.lat)))
        row = CustomerRow(
            code=f"DEMO-C{i + 1:02d}",
            dealer_id=dealer.id,
            region_id=dealer.org_unit.parent_id,
            owner_unit_id=dealer.org_unit_id,
            name=name,
            phone=f"+33 4 78 {10 + i:02d} {20 + i:02d} {30 + i:02d}",
            address=f"{name}, Lyon area",
            area_code="FR-ARA-69",
            lat=round(lat, 6),
            lon=round(lon, 6),
            status=stage,
            purchases=purchases,
            source="demo",
            created_at=now - dt.timedelta(days=60 - 5 * i),
            updated_at=now,
        )
        s.add(row)
        s.flush()
        s.add(
            CustomerInteractionRow(
                customer_id=row.id,
                kind="call",
                summary=f"first call with {name}",
                next_step="send the catalogue" if stage == "lead" else "",
                at=row.created_at,
            )
        )
        row.last_interaction_at = row.created_at


def seed_demo(settings: Settings, scenario_seed: int = 0) -> dict[str, str]:
    """Create the demo network if absent; return the demo users' passwords."""
    from wayhouse.simulators.scenario import default_scenario

    users = ["admin", "east.manager", "dealer1", "operator", "dispatcher", "driver", "technician"]
    passwords = _passwords(settings, users)
    with unit_of_work(settings.sqlalchemy_url()) as s:
        if s.scalar(select(OrgUnit.id).where(OrgUnit.code == HQ_CODE)) is not None:
            return passwords
        hq = org.create_unit(s, OrgLevel.HQ, HQ_CODE, "Wayhouse HQ / 总部", None)
        regions = [org.create_unit(s, OrgLevel.REGION, code, name, hq) for code, name in REGIONS]
        # The first region's manager signs off its dealers' orders (the demo's approval step).
        s.add(
            ApprovalRuleRow(
                name=f"demo: {regions[0].name} regional approval",
                level=1,
                role=Role.REGION_MANAGER.value,
                min_amount=Decimal("0.00"),
                regions=[str(regions[0].id)],
                product_classes=[],
                active=True,
            )
        )
        scenario = default_scenario(scenario_seed)
        dealers = []
        for i, stop in enumerate(scenario.customers[:8]):
            region = regions[i % len(regions)]
            dealers.append(
                org.create_dealer(
                    s,
                    region,
                    f"DL-{i + 1:03d}",
                    f"{stop.name} Trading Co.",
                    None,
                    tier=TIERS[i % len(TIERS)],
                    addresses=[
                        {"label": "warehouse", "line": stop.name, "lat": stop.lat, "lon": stop.lon}
                    ],
                )
            )
        for d in dealers[:6]:
            d.status = "active"
        roles = {
            "admin": (Role.HQ_ADMIN, hq),
            "east.manager": (Role.REGION_MANAGER, regions[0]),
            "dealer1": (Role.DEALER_USER, dealers[0].org_unit),
            "operator": (Role.WAREHOUSE_OPERATOR, hq),
            "dispatcher": (Role.DISPATCHER, hq),
            "driver": (Role.DRIVER, hq),
            "technician": (Role.TECHNICIAN, hq),
        }
        for name, (role, unit) in roles.items():
            org.create_user(
                s, name, passwords[name], role, unit, display_name=name.replace(".", " ").title()
            )
        depot = scenario.depot
        wh = Warehouse(
            org_unit_id=hq.id, code=depot.stop_id, name=depot.name, lat=depot.lat, lon=depot.lon
        )
        s.add(wh)
        s.flush()
        zones: dict[str, Zone] = {}
        products: dict[str, Product] = {}
        lots: dict[str, Lot] = {}
        for b in scenario.bins:
            aisle = b.code.split("-")[0]
            if aisle not in zones:
                zones[aisle] = Zone(warehouse_id=wh.id, code=aisle, name=f"Aisle {aisle}")
                s.add(zones[aisle])
            if b.sku not in products:
                products[b.sku] = Product(
                    sku=b.sku,
                    name=b.product or b.sku,
                    product_class="parts",
                    unit_weight_g=b.unit_weight_g,
                    unit_volume_l=round(b.unit_weight_g / 800, 3),
                    shelf_life_days=None,
                    list_price=Decimal(str(round(10 + b.unit_weight_g / 20, 2))),
                )
                s.add(products[b.sku])
        s.flush()
        for sku, product in products.items():
            lots[sku] = Lot(product_id=product.id, code=f"{sku}-L1", expires_on=None)
            s.add(lots[sku])
        s.flush()
        for b in scenario.bins:
            bin_ = Bin(
                warehouse_id=wh.id,
                zone_id=zones[b.code.split("-")[0]].id,
                code=b.code,
                scale_sensor_id=b.sensor_id,
            )
            s.add(bin_)
            s.flush()
            if b.initial_count:
                stock.post_movement(
                    s,
                    kind=MovementKind.RECEIVE,
                    product_id=products[b.sku].id,
                    bin_id=bin_.id,
                    lot_id=lots[b.sku].id,
                    qty=b.initial_count,
                    user_id=None,
                    reason=f"demo opening stock {dt.date.today().isoformat()}",
                    source="seed",
                )
        _demo_customers(s, dealers, depot)
    return passwords
