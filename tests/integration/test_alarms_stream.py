"""Every alarm type reachable from the stream, through the real broker and database: agents
publish (shelf scales, a scanner, climate sensors, a truck), the evaluation worker runs the
alarm evaluator, and each alarm shows up as a row with its raise transition and evidence.
Expiry alarms come from the lot and document tables the evaluator reads; truck alarms from
the tracking evaluator's events (a stand-in tracker here: the real one is tracking's own)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from conftest import Stack, wait_for
from fastapi.testclient import TestClient
from test_alarms_kit import (  # noqa: F401 - fixtures
    Runner,
    World,
    build_world,
    client_fixture,
    publish,
    scan,
    shelf_series,
    status,
    today,
    transitions,
    wait_alarm,
    weight_of,
)

from wayhouse.edge import schema as S
from wayhouse.platform.db.base import unit_of_work
from wayhouse.platform.devices.model import AgentSpec, SensorSpec
from wayhouse.platform.dispatch.models import VehicleRow
from wayhouse.platform.dms import stock
from wayhouse.platform.dms.domain.types import MovementKind
from wayhouse.platform.dms.models import Bin, Dealer, Lot, OrgUnit
from wayhouse.platform.dms.models_documents import DealerDocument
from wayhouse.platform.ingest.batch import Accepted
from wayhouse.platform.tracking.events import EventKind, TrackingEvent

pytestmark = pytest.mark.integration

BINS = {
    "LOSS": (10, 50),  # 10 on the book, 8 stay on the shelf: weight lost, no pick scan
    "GAIN": (2, 50),  # 2 on the book, 4 appear: no put-away scan
    "PICK": (5, 50),  # one picked with its scan (explained: no loss alarm)
    "DISC": (10, 50),  # the scale always saw 9
    "LOW": (3, 20),  # reorder point 4 (20% of 20)
    "RANGE": (10, 50),
    "STUCK": (10, 50),
    "JUMP": (10, 50),
}


class StubTracking:
    """Stands in for the tracking evaluator: a GPS fix at 99 m/s means 'off route', one at
    98 m/s 'arrived at stop 1' (the real tracker derives these from geometry)."""

    name = "tracking"

    def __init__(self, truck: str) -> None:
        self.truck = truck
        self.events: list[TrackingEvent] = []

    def load(self, conn: psycopg.Connection) -> None:
        self.events = []

    def feed(self, message: Accepted, received_at: float) -> None:
        if message.agent_id != self.truck or not isinstance(message.message, S.GpsMessage):
            return
        for r in message.message.r:
            if r.spd == 99.0:
                self.events.append(
                    TrackingEvent(
                        EventKind.OFF_ROUTE, r.t, self.truck, "R1", value=800.0, limit=500.0
                    )
                )
            elif r.spd == 98.0:
                self.events.append(
                    TrackingEvent(EventKind.ARRIVED, r.t, self.truck, "R1", 1, "S1", r.t, r.t + 60)
                )

    def tick(self, now: float) -> None:
        pass

    def flush(self, conn: psycopg.Connection) -> None:
        pass

    def drain_events(self) -> list[object]:
        out, self.events = list(self.events), []
        return out


@pytest.fixture(scope="module")
def world(stack: Stack, client: TestClient) -> World:
    return build_world(stack, client, BINS, prefix="as")


@pytest.fixture(scope="module")
def truck(stack: Stack, world: World) -> AgentSpec:
    agent = AgentSpec(f"{world.p}-truck", "truck", (SensorSpec(f"{world.p}-gps", "gps"),))
    stack.provision([agent])
    with unit_of_work(stack.settings.sqlalchemy_url()) as s:
        s.add(
            VehicleRow(
                code=f"{world.p}-T1",
                plate="AB-123",
                warehouse_id=world.wh["w1"],
                agent_id=agent.agent_id,
                capacity_kg=1000.0,
                capacity_m3=10.0,
            )
        )
    return agent


@pytest.fixture(scope="module")
def expiring(stack: Stack, world: World) -> dict[str, Any]:
    """A lot expiring in 10 days with stock on hand, and a dealer licence ending in 5."""
    with unit_of_work(stack.settings.sqlalchemy_url()) as s:
        lot = Lot(
            product_id=world.product, code="L-EXP", expires_on=today() + dt.timedelta(days=10)
        )
        plain = Bin(warehouse_id=world.wh["w1"], code="PLAIN")
        s.add_all([lot, plain])
        s.flush()
        stock.post_movement(
            s,
            kind=MovementKind.RECEIVE,
            product_id=world.product,
            bin_id=plain.id,
            lot_id=lot.id,
            qty=5,
            user_id=None,
        )
        dealer = s.query(Dealer).join(OrgUnit).filter(OrgUnit.code == f"{world.p}-D1").one()
        s.add(
            DealerDocument(
                dealer_id=dealer.id,
                doc_type="business_licence",
                number="BL-1",
                valid_from=today() - dt.timedelta(days=360),
                valid_until=today() + dt.timedelta(days=5),
                file_path="documents/none.pdf",
                sha256="0" * 64,
                size_bytes=1,
                content_type="application/pdf",
                uploaded_at=dt.datetime.now(dt.UTC),
            )
        )
        return {"dealer": dealer.id}


@pytest.fixture(scope="module")
def scenario(
    stack: Stack, world: World, truck: AgentSpec, expiring: dict[str, Any]
) -> Iterator[dict[str, Any]]:
    r = Runner(stack, f"{world.p}-st", extra=[StubTracking(truck.agent_id)])
    r.start()
    t0 = dt.datetime.now(dt.UTC).timestamp()
    cell = world.sensors
    msgs = []
    shelf = world.shelf
    msgs += shelf_series(world, shelf, cell["LOSS"], t0, [10] * 15 + [8] * 15)
    msgs += shelf_series(world, shelf, cell["GAIN"], t0, [2] * 15 + [4] * 15, seed=2)
    msgs += shelf_series(world, shelf, cell["DISC"], t0, [9] * 30, seed=3)
    msgs += shelf_series(world, shelf, cell["LOW"], t0, [3] * 30, seed=4)
    msgs += shelf_series(world, shelf, cell["PICK"], t0, [5] * 15 + [4] * 15, seed=5)
    msgs += shelf_series(world, shelf, cell["RANGE"], t0, [250_000.0] * 3, raw=True)
    msgs += shelf_series(world, shelf, cell["STUCK"], t0, [1500.0] * 20, raw=True)
    level = weight_of(10)
    jumps = [level, level + 1.2, level - 0.8, level + 0.4] * 3
    jumps[5] = level + 400.0  # a spike: one reading far off, then back
    jumps[9] = level - 400.0
    msgs += shelf_series(
        world, shelf, cell["JUMP"], t0, [*jumps, level + 0.3, level - 0.5], raw=True
    )
    # The pick of PICK is scanned (and booked) as it happens.
    scans = [scan(world, t0 + 15.5, "pick", "PICK", 1)]
    climate = world.climate
    temps = [20.0, 20.5, 21.0, 35.0, 35.5, 36.0, 36.5, 37.0]
    hums = [50.0, 51.0, 52.0, 85.0, 86.0, 87.0, 88.0, 89.0]
    env = []
    for i, (tc, rh) in enumerate(zip(temps, hums, strict=True)):
        readings = [
            S.EnvReading(s=f"{world.p}-temp", t=t0 + i, temp=tc),
            S.EnvReading(s=f"{world.p}-hum", t=t0 + i, rh=rh),
            # A combined sensor registered for temperature: fine there, too humid.
            S.EnvReading(s=f"{world.p}-both", t=t0 + i, temp=20.0 + i * 0.1, rh=rh),
        ]
        env.append(
            (
                S.topic(climate.agent_id, "env"),
                S.encode(S.EnvMessage(v=1, seq=world.seq(climate.agent_id), r=readings)),
            )
        )
    env.append(status(world, climate, t0 + 20, "offline"))  # its last will
    gps = []
    for i, spd in enumerate([10.0, 99.0, 98.0]):
        fix = S.GpsReading(s=f"{world.p}-gps", t=t0 + i, lat=45.0, lon=5.0, spd=spd)
        gps.append(
            (
                S.topic(truck.agent_id, "gps"),
                S.encode(S.GpsMessage(v=1, seq=world.seq(truck.agent_id), r=[fix])),
            )
        )
    publish(stack, world.scanner, scans)
    # The ledger learns of the scanned pick like the scan poster would tell it.
    with unit_of_work(stack.settings.sqlalchemy_url()) as s:
        stock.post_movement(
            s,
            kind=MovementKind.PICK,
            product_id=world.product,
            bin_id=world.bins["PICK"],
            lot_id=world.lot,
            qty=-1,
            user_id=None,
        )
    publish(stack, shelf, msgs)
    publish(stack, climate, env)
    publish(stack, truck, gps)
    try:
        yield {"t0": t0, "runner": r}
    finally:
        r.retire()


def _raised(stack: Stack, subject: str, type_: str) -> dict[str, Any]:
    a = wait_alarm(stack, subject, type_)
    steps = transitions(stack, a["id"])
    assert steps[0]["action"] == "raise" and steps[0]["seq"] == 0
    assert a["evidence"], "an alarm carries its evidence"
    return a


def test_weight_lost_without_a_pick_scan(stack: Stack, world: World, scenario: Any) -> None:
    a = _raised(stack, f"bin:{world.key('LOSS')}", "weight_loss_unexplained")
    assert a["evidence"]["units"] == 2 and a["severity"] == "critical"
    assert a["warehouse_id"] == world.wh["w1"] and a["device"] == world.sensors["LOSS"]
    assert a["product_class"] == f"{world.p}-parts"


def test_weight_gained_without_a_putaway_scan(stack: Stack, world: World, scenario: Any) -> None:
    a = _raised(stack, f"bin:{world.key('GAIN')}", "weight_gain_unexpected")
    assert a["evidence"]["units"] == 2


def test_stock_discrepancy_names_bin_lot_and_difference(
    stack: Stack, world: World, scenario: Any
) -> None:
    a = _raised(stack, f"bin:{world.key('DISC')}", "stock_discrepancy")
    ev = a["evidence"]
    assert (ev["book"], ev["sensed"], ev["difference"], ev["lot"]) == (10, 9, -1, "L1")
    assert ev["evidence"]["readings"], "the readings behind it"


def test_a_scanned_pick_explains_the_weight_it_took(
    stack: Stack, world: World, scenario: Any
) -> None:
    # The other bins' alarms are in: this one's readings were evaluated with them.
    wait_alarm(stack, f"bin:{world.key('GAIN')}", "weight_gain_unexpected")
    wait_for(
        lambda: _sensed(stack, world.bins["PICK"]) == (4, 4),
        timeout=30,
        what="PICK counted 4 with a book of 4",
    )
    subject = f"bin:{world.key('PICK')}"
    with psycopg.connect(stack.settings.database_url()) as conn:
        kinds = conn.execute("SELECT type FROM alarm WHERE subject = %s", (subject,)).fetchall()
    assert ("weight_loss_unexplained",) not in kinds


def _sensed(stack: Stack, bin_id: int) -> tuple[int, int | None] | None:
    with psycopg.connect(stack.settings.database_url()) as conn:
        row = conn.execute(
            "SELECT count, book FROM bin_sensed WHERE bin_id = %s AND confident", (bin_id,)
        ).fetchone()
    return (row[0], row[1]) if row else None


def test_below_reorder_point_suggests_replenishment(
    stack: Stack, world: World, scenario: Any
) -> None:
    a = _raised(stack, f"bin:{world.key('LOW')}", "below_reorder_point")
    assert a["evidence"]["reorder_point"] == 4 and a["evidence"]["suggested_qty"] == 17


def test_sensor_out_of_physical_range(stack: Stack, world: World, scenario: Any) -> None:
    a = _raised(stack, f"sensor:{world.sensors['RANGE']}", "sensor_out_of_range")
    assert a["evidence"]["value_g"] == 250_000.0


def test_sensor_stuck(stack: Stack, world: World, scenario: Any) -> None:
    a = _raised(stack, f"sensor:{world.sensors['STUCK']}", "sensor_stuck")
    assert a["evidence"]["repeats"] >= 12


def test_sensor_jumping(stack: Stack, world: World, scenario: Any) -> None:
    a = _raised(stack, f"sensor:{world.sensors['JUMP']}", "sensor_jump")
    assert len(a["evidence"]["spikes"]) == 2


def test_temperature_and_humidity_out_of_range(stack: Stack, world: World, scenario: Any) -> None:
    t = _raised(stack, f"sensor:{world.p}-temp", "temperature_out_of_range")
    h = _raised(stack, f"sensor:{world.p}-hum", "humidity_out_of_range")
    both = _raised(stack, f"sensor:{world.p}-both:rh", "humidity_out_of_range")
    assert t["evidence"]["max"] == 30.0 and t["evidence"]["value"] >= 35.0
    assert h["evidence"]["value"] >= 85.0 and h["site"] == world.wh_code["w1"]
    assert both["warehouse_id"] == world.wh["w1"]
    with psycopg.connect(stack.settings.database_url()) as conn:
        fine = conn.execute(
            "SELECT count(*) FROM alarm WHERE subject = %s", (f"sensor:{world.p}-both",)
        ).fetchone()
    assert fine == (0,), "its temperature stayed in range"


def test_device_offline_on_last_will(stack: Stack, world: World, scenario: Any) -> None:
    a = _raised(stack, f"agent:{world.climate.agent_id}", "device_offline")
    assert a["evidence"]["reason"] == "last will" and a["severity"] == "critical"
    assert a["warehouse_id"] == world.wh["w1"]


def test_lot_expiring_with_stock_on_hand(stack: Stack, world: World, scenario: Any) -> None:
    a = _raised(stack, f"lot:{world.sku}/L-EXP@{world.wh_code['w1']}", "lot_expiring")
    assert a["evidence"]["on_hand"] == 5 and 9 <= a["evidence"]["days_left"] <= 10


def test_dealer_document_expiring(stack: Stack, world: World, scenario: Any) -> None:
    dealer = stack.scalar("SELECT id FROM dealer WHERE legal_name = 'Dealer One' ORDER BY id DESC")
    a = _raised(stack, f"document:{dealer}:business_licence", "document_expiring")
    # A document alarm belongs to the dealer: its region's manager may see it.
    ou = stack.scalar("SELECT org_unit_id FROM dealer WHERE id = %s", (dealer,))
    assert a["org_unit_id"] == ou and a["warehouse_id"] is None


def test_truck_off_route_and_arrival_from_tracking_events(
    stack: Stack, world: World, truck: AgentSpec, scenario: Any
) -> None:
    off = _raised(stack, f"truck:{truck.agent_id}/R1", "off_route")
    arrived = _raised(stack, f"truck:{truck.agent_id}/R1/1", "geofence_enter")
    assert off["evidence"]["value"] == 800.0 and off["site"] == world.wh_code["w1"]
    assert arrived["device"] == truck.agent_id


def test_one_open_alarm_per_rule_and_subject(stack: Stack, world: World, scenario: Any) -> None:
    wait_alarm(stack, f"bin:{world.key('LOSS')}", "weight_loss_unexplained")
    with psycopg.connect(stack.settings.database_url()) as conn:
        dup = conn.execute(
            "SELECT type, subject, count(*) FROM alarm WHERE state <> 'cleared' "
            "GROUP BY type, subject HAVING count(*) > 1"
        ).fetchall()
    assert dup == []
