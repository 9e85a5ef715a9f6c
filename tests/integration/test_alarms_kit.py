"""Shared by the alarm and stocktake integration tests (imported by them; no tests here): a
world (org tree with two regions, a warehouse per region with instrumented bins, agents for
shelves, a scanner and climate sensors, users per role), an evaluation worker running the
alarm evaluator in a thread on the real broker and database, and publishing helpers.

Reading times are the stream's: series start at the wall clock and step forward, so the
engine's clocks (settle times, grace periods) run on the readings, not on the test's pace.
"""

from __future__ import annotations

import datetime as dt
import random
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from conftest import Stack, wait_for
from fastapi.testclient import TestClient
from psycopg.rows import dict_row
from wh_testkit import publish_all

from wayhouse.edge import schema as S
from wayhouse.platform.alarms.engine import Lifecycle
from wayhouse.platform.alarms.evaluator import AlarmEvaluator
from wayhouse.platform.alarms.models import AlarmRuleConfig
from wayhouse.platform.api.app import create_app
from wayhouse.platform.db.base import unit_of_work
from wayhouse.platform.devices.model import AgentSpec, SensorSpec
from wayhouse.platform.dms import org, stock
from wayhouse.platform.dms.domain.types import MovementKind, OrgLevel, Role
from wayhouse.platform.dms.models import Bin, Lot, Product, Warehouse, Zone
from wayhouse.platform.evaluate.framework import Evaluator
from wayhouse.platform.evaluate.worker import EvaluationWorker
from wayhouse.platform.ingest.worker import retire_session

PASSWORD = "alarms password 1"
UNIT_G = 100.0
TARE_G = 500.0
SIGMA_G = 2.0
# Fast clocks for tests, on this world's warehouses only (the stream time is compressed).
SITE_THRESHOLDS = {
    "discrepancy_settle_s": 3.0,
    "scan_grace_s": 2.0,
    "env_hold_s": 2.0,
}
FAST = Lifecycle(clear_hold_s=1.0, repeat_every_s=60.0)


@dataclass
class World:
    p: str
    wh: dict[str, int]  # "w1" (region 1), "w2" (region 2) -> id
    wh_code: dict[str, str]
    product: int
    sku: str
    lot: int
    bins: dict[str, int]  # bin code -> id (all in w1 unless named w2-*)
    sensors: dict[str, str]  # bin code -> load cell id
    shelf: AgentSpec
    shelf2: AgentSpec
    scanner: AgentSpec
    climate: AgentSpec
    tokens: dict[str, str]
    user_ids: dict[str, int]
    seqs: dict[str, int] = field(default_factory=dict)

    def seq(self, agent: str) -> int:
        n = self.seqs.get(agent, 0)
        self.seqs[agent] = n + 1
        return n

    def headers(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    def key(self, code: str) -> str:
        wh = "w2" if code.startswith("Z") else "w1"
        return f"{self.wh_code[wh]}/{code}"


@pytest.fixture(name="client", scope="module")
def client_fixture(stack: Stack) -> Iterator[TestClient]:
    with TestClient(create_app(stack.settings)) as c:
        yield c


def build_world(
    stack: Stack, client: TestClient, bins: dict[str, tuple[int, int]], prefix: str = "al"
) -> World:
    """``bins``: code -> (opening book, capacity); codes starting with Z go to warehouse 2."""
    p = f"{prefix}{uuid.uuid4().hex[:6]}"
    url = stack.settings.sqlalchemy_url()
    with unit_of_work(url) as s:
        hq = org.create_unit(s, OrgLevel.HQ, f"{p}-HQ", "HQ", None)
        r1 = org.create_unit(s, OrgLevel.REGION, f"{p}-R1", "East", hq)
        r2 = org.create_unit(s, OrgLevel.REGION, f"{p}-R2", "West", hq)
        d1 = org.create_dealer(s, r1, f"{p}-D1", "Dealer One", None)
        users = {
            "hq": org.create_user(s, f"{p}-hq", PASSWORD, Role.HQ_ADMIN, hq),
            "rm1": org.create_user(s, f"{p}-rm1", PASSWORD, Role.REGION_MANAGER, r1),
            "rm2": org.create_user(s, f"{p}-rm2", PASSWORD, Role.REGION_MANAGER, r2),
            "op": org.create_user(s, f"{p}-op", PASSWORD, Role.WAREHOUSE_OPERATOR, hq),
            "op2": org.create_user(s, f"{p}-op2", PASSWORD, Role.WAREHOUSE_OPERATOR, hq),
            "du": org.create_user(s, f"{p}-du", PASSWORD, Role.DEALER_USER, d1.org_unit),
            "drv": org.create_user(s, f"{p}-drv", PASSWORD, Role.DRIVER, hq),
        }
        product = Product(
            sku=f"{p}-BOLT",
            name="Bolt box",
            product_class=f"{p}-parts",
            unit_weight_g=UNIT_G,
            unit_volume_l=0.1,
            shelf_life_days=None,
            list_price=Decimal("12.50"),
        )
        w1 = Warehouse(org_unit_id=r1.id, code=f"{p}-W1", name="East WH")
        w2 = Warehouse(org_unit_id=r2.id, code=f"{p}-W2", name="West WH")
        s.add_all([product, w1, w2])
        s.flush()
        lot = Lot(product_id=product.id, code="L1", expires_on=None)
        zone = Zone(warehouse_id=w1.id, code="A", name="Aisle A")
        s.add_all([lot, zone])
        s.flush()
        bin_ids: dict[str, int] = {}
        sensors: dict[str, str] = {}
        for code, (book, _cap) in bins.items():
            wh = w2 if code.startswith("Z") else w1
            sensor = f"{p}-{code}-cell"
            b = Bin(
                warehouse_id=wh.id,
                zone_id=zone.id if wh is w1 else None,
                code=code,
                scale_sensor_id=sensor,
            )
            s.add(b)
            s.flush()
            bin_ids[code], sensors[code] = b.id, sensor
            if book:
                stock.post_movement(
                    s,
                    kind=MovementKind.RECEIVE,
                    product_id=product.id,
                    bin_id=b.id,
                    lot_id=lot.id,
                    qty=book,
                    user_id=None,
                )
        for wh in (w1, w2):
            s.add(AlarmRuleConfig(scope="site", key=wh.code, values=dict(SITE_THRESHOLDS)))
        ids = {
            "w1": w1.id,
            "w2": w2.id,
            "product": product.id,
            "lot": lot.id,
            **{f"u:{k}": u.id for k, u in users.items()},
        }
        codes = {"w1": w1.code, "w2": w2.code}
    meta = {"sku": f"{p}-BOLT", "tare_g": TARE_G, "noise_sigma_g": SIGMA_G}
    shelf = AgentSpec(
        f"{p}-shelf",
        "shelf",
        tuple(
            SensorSpec(sensors[c], "scale", {**meta, "capacity": cap})
            for c, (_, cap) in bins.items()
            if not c.startswith("Z")
        ),
        site=codes["w1"],
    )
    shelf2 = AgentSpec(
        f"{p}-shelf2",
        "shelf",
        tuple(
            SensorSpec(sensors[c], "scale", {**meta, "capacity": cap})
            for c, (_, cap) in bins.items()
            if c.startswith("Z")
        ),
        site=codes["w2"],
    )
    scanner = AgentSpec(
        f"{p}-scan",
        "scanner",
        (SensorSpec(f"{p}-bc", "barcode"), SensorSpec(f"{p}-rf", "rfid")),
        site=codes["w1"],
    )
    climate = AgentSpec(
        f"{p}-clim",
        "gateway",
        (
            SensorSpec(f"{p}-temp", "env", {"kind": "temperature"}),
            SensorSpec(f"{p}-hum", "env", {"kind": "humidity"}),
            SensorSpec(f"{p}-both", "env", {"kind": "temperature"}),
        ),
        site=codes["w1"],
    )
    stack.provision([a for a in (shelf, shelf2, scanner, climate) if a.sensors])
    tokens = {
        who: client.post(
            "/auth/login", json={"username": f"{p}-{who}", "password": PASSWORD}
        ).json()["token"]
        for who in users
    }
    return World(
        p=p,
        wh={"w1": ids["w1"], "w2": ids["w2"]},
        wh_code=codes,
        product=ids["product"],
        sku=f"{p}-BOLT",
        lot=ids["lot"],
        bins=bin_ids,
        sensors=sensors,
        shelf=shelf,
        shelf2=shelf2,
        scanner=scanner,
        climate=climate,
        tokens=tokens,
        user_ids={k.removeprefix("u:"): v for k, v in ids.items() if k.startswith("u:")},
    )


# ---- publishing ---------------------------------------------------------------------------


def publish(stack: Stack, agent: AgentSpec, messages: list[tuple[str, bytes]]) -> None:
    cred = stack.settings.mqtt(
        user=agent.agent_id, password=stack.settings.sim_password(agent.agent_id)
    )
    report = publish_all(cred, f"{agent.agent_id}-pub-{uuid.uuid4().hex[:4]}", messages)
    assert report.ok == len(messages), report


def noisy(rng: random.Random, grams: float) -> float:
    return round(grams + rng.gauss(0.0, SIGMA_G * 0.6), 1)


def weight_of(units: int) -> float:
    return TARE_G + units * UNIT_G


def shelf_series(
    world: World,
    agent: AgentSpec,
    sensor: str,
    t0: float,
    units: Iterable[float],
    dt_s: float = 1.0,
    seed: int = 1,
    raw: bool = False,
) -> list[tuple[str, bytes]]:
    """One message per reading of ``sensor``: a count (units) or, with ``raw``, grams."""
    rng = random.Random(seed)
    out = []
    for i, u in enumerate(units):
        w = u if raw else noisy(rng, weight_of(int(u)))
        msg = S.ShelfMessage(
            v=1, seq=world.seq(agent.agent_id), r=[S.ShelfReading(s=sensor, t=t0 + i * dt_s, w=w)]
        )
        out.append((S.topic(agent.agent_id, "shelf"), S.encode(msg)))
    return out


def scan(
    world: World,
    t: float,
    action: str,
    bin_code: str,
    qty: int = 1,
    kind: str = "barcode",
    code: str = "X",
) -> tuple[str, bytes]:
    sensor = f"{world.p}-bc" if kind == "barcode" else f"{world.p}-rf"
    r = S.ScanReading(s=sensor, t=t, k=kind, c=code, a=action, q=qty, b=bin_code)  # type: ignore[arg-type]
    msg = S.ScanMessage(v=1, seq=world.seq(world.scanner.agent_id), r=[r])
    return S.topic(world.scanner.agent_id, "scan"), S.encode(msg)


def status(world: World, agent: AgentSpec, t: float, state: str) -> tuple[str, bytes]:
    msg = S.StatusMessage(v=1, seq=world.seq(agent.agent_id), t=t, state=state)  # type: ignore[arg-type]
    return S.topic(agent.agent_id, "status"), S.encode(msg)


# ---- the evaluation worker -----------------------------------------------------------------


class Runner:
    """An EvaluationWorker with the alarm evaluator, in a thread; restartable."""

    def __init__(self, stack: Stack, name: str, extra: list[Evaluator] | None = None) -> None:
        self.stack = stack
        self.name = name
        self.extra = extra or []
        self.worker: EvaluationWorker | None = None
        self.thread: threading.Thread | None = None
        self.evaluator: AlarmEvaluator | None = None

    def start(self) -> None:
        tracking = self.extra[0] if self.extra else None
        self.evaluator = AlarmEvaluator(
            self.stack.settings,
            tracking=tracking,  # type: ignore[arg-type]
            lifecycle=FAST,
            registry_every_s=1.0,
            expiry_every_s=1.0,
        )
        self.worker = EvaluationWorker(
            self.stack.settings, [*self.extra, self.evaluator], f"t-{self.name}"
        )
        self.thread = threading.Thread(target=self.worker.run, daemon=True)
        self.thread.start()
        wait_for(self.worker._connected.is_set, timeout=30, what="the evaluation worker")

    def stop(self) -> None:
        if self.worker is not None and self.thread is not None:
            self.worker.stop_event.set()
            self.thread.join(timeout=30)
            assert not self.thread.is_alive(), "the evaluation worker did not stop"

    def retire(self) -> None:
        self.stop()
        if self.worker is not None:
            retire_session(self.stack.settings, self.worker.session_key)


@pytest.fixture(name="runner", scope="module")
def runner_fixture(stack: Stack, request: pytest.FixtureRequest) -> Iterator[Runner]:
    r = Runner(stack, request.module.__name__.rsplit(".", 1)[-1][-12:] + uuid.uuid4().hex[:4])
    r.start()
    try:
        yield r
    finally:
        r.retire()


# ---- reading results -------------------------------------------------------------------------


def alarms(stack: Stack, subject: str, type_: str | None = None) -> list[dict[str, Any]]:
    with psycopg.connect(stack.settings.database_url(), row_factory=dict_row) as conn:
        return conn.execute(
            "SELECT * FROM alarm WHERE subject = %s AND (%s::text IS NULL OR type = %s) "
            "ORDER BY raised_at, id",
            (subject, type_, type_),
        ).fetchall()


def wait_alarm(
    stack: Stack, subject: str, type_: str, state: str | None = None, timeout: float = 30
) -> dict[str, Any]:
    found: list[dict[str, Any]] = []

    def ready() -> bool:
        rows = [a for a in alarms(stack, subject, type_) if state is None or a["state"] == state]
        found[:] = rows
        return bool(rows)

    wait_for(ready, timeout=timeout, what=f"{type_} alarm on {subject} ({state or 'any'})")
    return found[-1]


def transitions(stack: Stack, alarm_id: str) -> list[dict[str, Any]]:
    with psycopg.connect(stack.settings.database_url(), row_factory=dict_row) as conn:
        return conn.execute(
            "SELECT * FROM alarm_transition WHERE alarm_id = %s ORDER BY seq", (alarm_id,)
        ).fetchall()


def post_adjust(stack: Stack, world: World, bin_code: str, qty: int) -> None:
    with unit_of_work(stack.settings.sqlalchemy_url()) as s:
        stock.post_movement(
            s,
            kind=MovementKind.ADJUST,
            product_id=world.product,
            bin_id=world.bins[bin_code],
            lot_id=world.lot,
            qty=qty,
            user_id=world.user_ids["op"],
            reason="test",
        )


def now() -> float:
    return time.time()


def today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()
