"""What the alarm evaluator watches, read from the database: instrumented bins (their load
cell, product, unit weight, tare), environment sensors, agents, warehouses, vehicles.

A bin's engine key is ``<warehouse code>/<bin code>`` (bin codes repeat across warehouses);
scanners name bins by code, so their agent's site (a warehouse code) completes the key. The
product of a bin comes from its load cell's registration (``meta.sku``) or else from the
ledger (the one product on hand there); the tare, noise and capacity from the registration.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import psycopg

from wayhouse.platform.alarms.inputs import AgentConfig, BinConfig, EnvKind, EnvSensorConfig


@dataclass(frozen=True, slots=True)
class BinInfo:
    bin_id: int
    key: str  # <warehouse code>/<bin code>
    warehouse_id: int
    product_id: int
    config: BinConfig


@dataclass(frozen=True, slots=True)
class SiteInfo:
    warehouse_id: int
    org_unit_id: int


@dataclass
class Registry:
    bins: dict[str, BinInfo] = field(default_factory=dict)  # by key
    env: dict[str, EnvSensorConfig] = field(default_factory=dict)  # by sensor id
    agents: dict[str, AgentConfig] = field(default_factory=dict)
    sites: dict[str, SiteInfo] = field(default_factory=dict)  # warehouse code -> ids
    trucks: dict[str, str] = field(default_factory=dict)  # vehicle code or agent id -> site
    bin_ids: dict[int, str] = field(default_factory=dict)  # bin id -> key
    keys_by_code: dict[str, list[str]] = field(default_factory=dict)  # bin code -> keys
    sensor_bins: dict[str, str] = field(default_factory=dict)  # load cell -> bin key

    def bin_key(self, code: str, site: str | None) -> str | None:
        """The key of the bin a scanner names: its site's bin, else the only bin so named."""
        if site is not None:
            key = f"{site}/{code}"
            if key in self.bins:
                return key
        keys = self.keys_by_code.get(code)
        return keys[0] if keys is not None and len(keys) == 1 else None


BINS_SQL = """
SELECT b.id, b.code, w.id, w.code, s.sensor_id, s.meta, a.agent_id, p.id
FROM bin b
JOIN warehouse w ON w.id = b.warehouse_id
JOIN sensor s ON s.sensor_id = b.scale_sensor_id AND s.active
JOIN agent a ON a.agent_key = s.agent_key AND a.active
LEFT JOIN product p ON p.sku = s.meta->>'sku'
WHERE b.scale_sensor_id IS NOT NULL
"""
# A bin whose load cell does not name its product: the one product on hand there.
LEDGER_PRODUCT_SQL = """
SELECT bin_id, min(product_id), count(*) FROM (
    SELECT bin_id, product_id FROM stock_movement WHERE bin_id = ANY(%s)
    GROUP BY bin_id, product_id HAVING sum(qty) > 0
) x GROUP BY bin_id
"""
PRODUCTS_SQL = "SELECT id, sku, unit_weight_g, product_class FROM product WHERE id = ANY(%s)"


def _num(meta: dict[str, Any], name: str) -> float | None:
    v = meta.get(name)
    if isinstance(v, bool) or not isinstance(v, int | float):
        return None
    return float(v)


def load_registry(conn: psycopg.Connection) -> Registry:
    reg = Registry()
    for wid, code, org in conn.execute("SELECT id, code, org_unit_id FROM warehouse"):
        reg.sites[code] = SiteInfo(wid, org)
    rows = conn.execute(BINS_SQL).fetchall()
    missing = [r[0] for r in rows if r[7] is None]
    from_ledger: dict[int, int] = {}
    if missing:
        for bin_id, product_id, n in conn.execute(LEDGER_PRODUCT_SQL, (missing,)):
            if n == 1:  # a bin holding several products cannot be counted by weight
                from_ledger[bin_id] = product_id
    wanted = {r[7] or from_ledger.get(r[0]) for r in rows} - {None}
    products = {
        pid: (sku, unit_g, pclass)
        for pid, sku, unit_g, pclass in conn.execute(PRODUCTS_SQL, (list(wanted),))
    }
    for bin_id, code, wid, wcode, sensor, meta, agent, pid in rows:
        pid = pid or from_ledger.get(bin_id)
        product = products.get(pid) if pid is not None else None
        if product is None or not product[1] or product[1] <= 0:
            continue  # nothing to count in units
        meta = meta or {}
        capacity = _num(meta, "capacity")
        rop = _num(meta, "reorder_point")
        key = f"{wcode}/{code}"
        cfg = BinConfig(
            bin=key,
            sensor=sensor,
            product=product[0],
            unit_weight_g=float(product[1]),
            tare_g=_num(meta, "tare_g") or 0.0,
            noise_sigma_g=_num(meta, "noise_sigma_g"),
            capacity=int(capacity) if capacity else 0,
            reorder_point=int(rop) if rop is not None else None,
            agent=agent,
            site=wcode,
            product_class=product[2],
        )
        reg.bins[key] = BinInfo(bin_id, key, wid, int(pid), cfg)  # type: ignore[arg-type]
        reg.bin_ids[bin_id] = key
        reg.keys_by_code.setdefault(code, []).append(key)
        reg.sensor_bins[sensor] = key
    for sensor, kind, agent, site in conn.execute(
        "SELECT s.sensor_id, coalesce(s.meta->>'kind', 'temperature'), a.agent_id, a.site "
        "FROM sensor s JOIN agent a ON a.agent_key = s.agent_key "
        "WHERE s.kind = 'env' AND s.active AND a.active"
    ):
        env_kind: EnvKind = "humidity" if kind == "humidity" else "temperature"
        reg.env[sensor] = EnvSensorConfig(sensor, env_kind, site, agent)
    for agent, site in conn.execute("SELECT agent_id, site FROM agent WHERE active"):
        reg.agents[agent] = AgentConfig(agent, site)
    for vcode, agent, wcode in conn.execute(
        "SELECT v.code, v.agent_id, w.code FROM vehicle v JOIN warehouse w ON w.id = v.warehouse_id"
    ):
        reg.trucks[vcode] = wcode
        if agent:
            reg.trucks[agent] = wcode
    return reg
