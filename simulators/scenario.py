"""Scenarios: what is on the floor and on the road, and the agents the platform provisions.

The default: one warehouse (site ``WH1``) east of Lyon with 200 instrumented bins (20
shelf-row controllers x 10 load cells, aisles A-E, racks 01-04, positions 1-10), two handheld
scanners and one dock gate reader, and five trucks serving 40 made-up dealers within ~40 km.
Everything is drawn from ``random.Random`` seeded with the scenario seed.

The ``alarms*`` scenarios add what the alarm benchmark needs: climate sensors per zone,
heartbeat-only gateways to take offline, trucks on short routes, and an anomaly mix
(``simulators/anomalies.py`` injects it and keeps the ground truth). They vary the noise,
the pickers' pace, how many anomalies happen at once and the shelf-scale interval.
"""

from __future__ import annotations

import dataclasses
import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from wayhouse.platform.devices.model import AgentSpec, SensorSpec
from wayhouse.simulators.trucks import EARTH_RADIUS_M, Stop, TruckSim, TruckSpec
from wayhouse.simulators.warehouse import BinSpec, ScannerSpec, WarehouseFloor

SITE = "WH1"
DEPOT = Stop("WH1", "Wayhouse central warehouse", 45.7262, 4.9575, 0.0)

# The product range of a manufacturer's spare-parts warehouse (unit weights in grams).
_PRODUCTS = [
    ("oil filter", 350),
    ("air filter", 420),
    ("brake pad set", 1800),
    ("spark plug", 60),
    ("wiper blade", 250),
    ("v-belt", 300),
    ("bearing 6204", 110),
    ("hydraulic hose", 900),
    ("fuse 30A", 5),
    ("gasket set", 150),
    ("water pump", 2600),
    ("alternator", 5200),
    ("clutch kit", 6500),
    ("headlamp bulb", 30),
    ("seal ring", 12),
]


@dataclass(frozen=True)
class EnvZoneSpec:
    """A zone's climate sensors on one agent: temperature (degC) and humidity (%RH), each
    its own sensor (an alarm names one sensor and one quantity)."""

    zone: str
    agent_id: str
    temp_sensor: str
    rh_sensor: str
    base_temp: float = 18.0
    base_rh: float = 45.0
    noise_temp: float = 0.2
    noise_rh: float = 1.0


@dataclass(frozen=True)
class AnomalyMix:
    """Which anomalies to inject, how many, and how they are spread over the run."""

    per_kind: int = 3  # injections of each kind
    warmup_s: float = 60.0  # scales settle and agents connect before the first one
    spacing_s: float = 20.0  # between injection slots
    together: int = 1  # injections sharing a slot: several anomalies at the same instant
    tail_s: float = 60.0  # quiet end (no operations, no injection): every bin settles
    kinds: tuple[str, ...] = (
        "shrink",
        "gain",
        "stuck",
        "jump",
        "out_of_range",
        "temperature",
        "humidity",
        "offline_silent",
        "offline_will",
        "drain",
    )
    truck_kinds: tuple[str, ...] = ("off_route", "long_stop", "slow")


@dataclass(frozen=True)
class Scenario:
    name: str
    seed: int
    site: str
    bins: tuple[BinSpec, ...]
    scanners: tuple[ScannerSpec, ...]
    trucks: tuple[TruckSpec, ...]
    depot: Stop
    customers: tuple[Stop, ...]
    first_routes: tuple[tuple[Stop, ...], ...]  # one per truck
    shelf_interval_s: float = 5.0
    ops_per_hour: float = 240.0  # pickers' pace: random picks and put-aways per hour
    shrink_per_hour: float = 0.5  # random unscanned losses per hour
    max_pick: int = 5
    env_zones: tuple[EnvZoneSpec, ...] = ()
    env_interval_s: float = 5.0
    gateways: tuple[str, ...] = ()  # heartbeat-only agents (what goes offline in a bench)
    anomalies: AnomalyMix | None = None

    def shelf_rows(self) -> dict[str, list[BinSpec]]:
        """Shelf-row controller id -> the bins (load cells) it reads, in cell order."""
        rows: dict[str, list[BinSpec]] = {}
        for b in self.bins:
            rows.setdefault(b.agent_id, []).append(b)
        return rows

    def agents(self) -> list[AgentSpec]:
        """Every agent with its sensors, for the platform's registry."""
        out = [
            AgentSpec(
                agent_id,
                "shelf",
                tuple(
                    SensorSpec(
                        b.sensor_id,
                        "scale",
                        {
                            "bin": b.code,
                            "sku": b.sku,
                            "product": b.product,
                            "unit_weight_g": b.unit_weight_g,
                            "tare_g": b.tare_g,
                            "noise_sigma_g": b.noise_sigma_g,
                            "capacity": b.capacity,
                            "rfid_tagged": b.rfid_tagged,
                        },
                    )
                    for b in bins
                ),
                site=self.site,
            )
            for agent_id, bins in self.shelf_rows().items()
        ]
        for s in self.scanners:
            meta: dict[str, object] = {"zone": s.gate_zone} if s.gate_zone else {}
            sensors = []
            if s.barcode_sensor:
                sensors.append(SensorSpec(s.barcode_sensor, "barcode", dict(meta)))
            if s.rfid_sensor:
                sensors.append(SensorSpec(s.rfid_sensor, "rfid", dict(meta)))
            out.append(AgentSpec(s.agent_id, "scanner", tuple(sensors), site=self.site))
        for z in self.env_zones:
            out.append(
                AgentSpec(
                    z.agent_id,
                    "gateway",
                    (
                        SensorSpec(z.temp_sensor, "env", {"kind": "temperature", "zone": z.zone}),
                        SensorSpec(z.rh_sensor, "env", {"kind": "humidity", "zone": z.zone}),
                    ),
                    site=self.site,
                )
            )
        for g in self.gateways:
            out.append(AgentSpec(g, "gateway", (), site=self.site))
        for t in self.trucks:
            out.append(
                AgentSpec(
                    t.agent_id,
                    "truck",
                    (SensorSpec(t.sensor_id, "gps", {"plate": t.plate}),),
                    site=self.site,
                )
            )
        return out

    def floor(self, start_time: float, **options: Any) -> WarehouseFloor:
        opts: dict[str, Any] = {
            "ops_per_hour": self.ops_per_hour,
            "shrink_per_hour": self.shrink_per_hour,
            "max_pick": self.max_pick,
        }
        opts.update(options)
        return WarehouseFloor(
            list(self.bins), list(self.scanners), seed=self.seed, start_time=start_time, **opts
        )

    def truck_sims(self, start_time: float) -> list[TruckSim]:
        return [
            TruckSim(
                spec,
                self.depot,
                list(route),
                start_time=start_time,
                seed=self.seed,
                customers=list(self.customers),
            )
            for spec, route in zip(self.trucks, self.first_routes, strict=True)
        ]


def _offset(origin: Stop, distance_m: float, bearing_rad: float) -> tuple[float, float]:
    """A point ``distance_m`` from ``origin`` (flat-earth: fine within ~50 km)."""
    dlat = distance_m * math.cos(bearing_rad) / EARTH_RADIUS_M
    dlon = (
        distance_m * math.sin(bearing_rad) / (EARTH_RADIUS_M * math.cos(math.radians(origin.lat)))
    )
    return round(origin.lat + math.degrees(dlat), 6), round(origin.lon + math.degrees(dlon), 6)


def default_scenario(
    seed: int = 0,
    *,
    aisles: str = "ABCDE",
    racks: int = 4,
    cells_per_row: int = 10,
    n_trucks: int = 5,
    n_customers: int = 40,
    noise: tuple[float, float] = (1.0, 6.0),
    customer_km: tuple[float, float] = (5.0, 40.0),
) -> Scenario:
    rng = random.Random(f"{seed}:scenario")
    bins: list[BinSpec] = []
    for aisle in aisles:
        for rack in range(1, racks + 1):
            agent_id = f"shelf-{aisle}-{rack:02d}"
            for pos in range(1, cells_per_row + 1):
                code = f"{aisle}-{rack:02d}-{pos}"
                name, base_w = _PRODUCTS[rng.randrange(len(_PRODUCTS))]
                unit_w = round(base_w * rng.uniform(0.9, 1.1), 1)
                capacity = max(5, min(400, int(40_000 // unit_w)))  # a 40 kg bin limit
                bins.append(
                    BinSpec(
                        code=code,
                        sku=f"P{10000 + len(bins) + 1}",
                        unit_weight_g=unit_w,
                        tare_g=round(rng.uniform(600.0, 2400.0), 1),
                        noise_sigma_g=round(rng.uniform(*noise), 2),
                        capacity=capacity,
                        initial_count=rng.randint(capacity // 4, capacity),
                        agent_id=agent_id,
                        sensor_id=f"lc-{code}",
                        rfid_tagged=rng.random() < 0.3,
                        product=name,
                    )
                )
    scanners = (
        ScannerSpec("scan-01", "scan-01.bc", "scan-01.rfid"),
        ScannerSpec("scan-02", "scan-02.bc", "scan-02.rfid"),
        ScannerSpec("scan-03", "scan-03.bc", "scan-03.rfid", gate_zone="DOCK-1"),
    )
    customers = []
    for i in range(1, n_customers + 1):
        dist = rng.uniform(customer_km[0] * 1000.0, customer_km[1] * 1000.0)
        lat, lon = _offset(DEPOT, dist, rng.uniform(0.0, 2 * math.pi))
        service = round(rng.uniform(600.0, 1800.0), 0)
        customers.append(Stop(f"D{i:03d}", f"Dealer {i:03d}", lat, lon, service))
    trucks = tuple(
        TruckSpec(
            agent_id=f"truck-{k:02d}",
            sensor_id=f"truck-{k:02d}.gps",
            plate=f"WH-T{k:02d}",
            speed_mps=round(rng.uniform(10.0, 14.0), 2),
        )
        for k in range(1, n_trucks + 1)
    )
    routes = tuple(tuple(rng.sample(customers, rng.randint(4, 7))) for _ in trucks)
    return Scenario(
        name="default",
        seed=seed,
        site=SITE,
        bins=tuple(bins),
        scanners=scanners,
        trucks=trucks,
        depot=DEPOT,
        customers=tuple(customers),
        first_routes=routes,
    )


def small_scenario(seed: int = 0) -> Scenario:
    """Two shelf rows of four cells and one truck: for quick tests."""
    sc = default_scenario(seed, aisles="A", racks=2, cells_per_row=4, n_trucks=1, n_customers=6)
    return dataclasses.replace(sc, name="small")


def alarms_scenario(
    seed: int = 0,
    *,
    name: str = "alarms",
    noise: tuple[float, float] = (1.0, 6.0),
    env_noise: float = 1.0,
    ops_per_hour: float = 240.0,
    max_pick: int = 5,
    shelf_interval_s: float = 5.0,
    mix: AnomalyMix | None = None,
) -> Scenario:
    """The default floor (200 bins) with climate sensors, gateways and four trucks on short
    routes (stops 1.5-4 km out), plus an anomaly mix. Random shrink is off: every unscanned
    loss is an injected, recorded one."""
    mix = mix or AnomalyMix()
    sc = default_scenario(seed, n_trucks=4, n_customers=12, noise=noise, customer_km=(1.5, 4.0))
    rng = random.Random(f"{seed}:scenario:env")
    zones = tuple(
        EnvZoneSpec(
            zone=f"Z{i + 1}",
            agent_id=f"env-{i + 1:02d}",
            temp_sensor=f"env-{i + 1:02d}.t",
            rh_sensor=f"env-{i + 1:02d}.rh",
            base_temp=round(rng.uniform(14.0, 22.0), 1),
            base_rh=round(rng.uniform(35.0, 55.0), 1),
            noise_temp=round(0.2 * env_noise, 3),
            noise_rh=round(1.0 * env_noise, 3),
        )
        for i in range(max(mix.per_kind, 1))
    )
    gateways = tuple(f"gw-{i + 1:02d}" for i in range(2 * mix.per_kind))
    return dataclasses.replace(
        sc,
        name=name,
        shelf_interval_s=shelf_interval_s,
        env_interval_s=shelf_interval_s,
        ops_per_hour=ops_per_hour,
        shrink_per_hour=0.0,
        max_pick=max_pick,
        env_zones=zones,
        gateways=gateways,
        anomalies=mix,
    )


def renamed(sc: Scenario, prefix: str, site: str) -> Scenario:
    """The same scenario with every agent, sensor and SKU id prefixed and another site code:
    a run that shares a database with others (the demo, earlier benchmark runs) then owns
    everything it provisions."""

    def p(x: str) -> str:
        return f"{prefix}{x}"

    bins = tuple(
        dataclasses.replace(b, sku=p(b.sku), agent_id=p(b.agent_id), sensor_id=p(b.sensor_id))
        for b in sc.bins
    )
    scanners = tuple(
        dataclasses.replace(
            s,
            agent_id=p(s.agent_id),
            barcode_sensor=p(s.barcode_sensor) if s.barcode_sensor else None,
            rfid_sensor=p(s.rfid_sensor) if s.rfid_sensor else None,
        )
        for s in sc.scanners
    )
    trucks = tuple(
        dataclasses.replace(t, agent_id=p(t.agent_id), sensor_id=p(t.sensor_id)) for t in sc.trucks
    )
    zones = tuple(
        dataclasses.replace(
            z, agent_id=p(z.agent_id), temp_sensor=p(z.temp_sensor), rh_sensor=p(z.rh_sensor)
        )
        for z in sc.env_zones
    )
    depot = dataclasses.replace(sc.depot, stop_id=site)
    return dataclasses.replace(
        sc,
        site=site,
        depot=depot,
        bins=bins,
        scanners=scanners,
        trucks=trucks,
        env_zones=zones,
        gateways=tuple(p(g) for g in sc.gateways),
    )


SCENARIOS: dict[str, Callable[[int], Scenario]] = {
    "default": default_scenario,
    "small": small_scenario,
    # Alarm benchmark scenarios (``wayhouse bench alarms --scenario NAME``).
    "alarms": alarms_scenario,
    "alarms-noisy": lambda seed=0: alarms_scenario(
        seed, name="alarms-noisy", noise=(4.0, 15.0), env_noise=3.0
    ),
    "alarms-fast": lambda seed=0: alarms_scenario(
        seed, name="alarms-fast", ops_per_hour=3600.0, max_pick=12
    ),
    "alarms-burst": lambda seed=0: alarms_scenario(
        seed, name="alarms-burst", mix=AnomalyMix(per_kind=4, together=5, spacing_s=45.0)
    ),
    "alarms-1s": lambda seed=0: alarms_scenario(seed, name="alarms-1s", shelf_interval_s=1.0),
}


def get_scenario(name: str, seed: int = 0) -> Scenario:
    try:
        return SCENARIOS[name](seed)
    except KeyError:
        raise ValueError(f"unknown scenario {name!r}; known: {', '.join(SCENARIOS)}") from None
