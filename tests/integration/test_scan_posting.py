"""Scanner reads reach the stock ledger through the real broker, ingest and database: a pick
scan fulfils the order that has those units reserved in that bin, a free pick may not touch
reservations, put-aways and returns add stock, bad reads are kept with the reason, and a
replayed message or a restarted poster posts nothing twice."""

from __future__ import annotations

import time
import uuid
from decimal import Decimal

import pytest
from conftest import Stack, wait_for
from sqlalchemy import func, select
from wh_testkit import publish_all

from wayhouse.edge import schema as S
from wayhouse.platform.auth.principal import Principal
from wayhouse.platform.db.base import session_factory, unit_of_work
from wayhouse.platform.devices.model import AgentSpec, SensorSpec
from wayhouse.platform.dms import orders_service, org, stock
from wayhouse.platform.dms.domain.types import MovementKind, OrgLevel, Role
from wayhouse.platform.dms.models import Bin, Lot, Product, StockMovement, Warehouse
from wayhouse.platform.dms.models_fulfilment import ScanPosting
from wayhouse.platform.dms.models_orders import SalesOrder
from wayhouse.platform.dms.scan_posting import ScanPoster, sku_of

pytestmark = pytest.mark.integration


def test_sku_of_reads_barcodes_and_case_tags() -> None:
    assert sku_of("SKU-001") == "SKU-001"
    assert sku_of("EPC-SKU-001-00000042") == "SKU-001"


def _principal(user) -> Principal:  # type: ignore[no-untyped-def]
    return Principal(user.id, user.username, Role(user.role), user.org_unit_id, user.org_unit.path)


def _on_hand(url: str, product_id: int) -> dict[str, int]:
    with unit_of_work(url) as s:
        rows = s.execute(
            select(Bin.code, func.sum(StockMovement.qty))
            .join(Bin, Bin.id == StockMovement.bin_id)
            .where(StockMovement.product_id == product_id)
            .group_by(Bin.code)
        ).all()
    return {code: int(q) for code, q in rows}


def test_scans_post_movements_exactly_once(stack: Stack) -> None:
    p = f"sp{uuid.uuid4().hex[:6]}"
    url = stack.settings.sqlalchemy_url()
    with unit_of_work(url) as s:
        hq = org.create_unit(s, OrgLevel.HQ, f"{p}-HQ", "HQ", None)
        region = org.create_unit(s, OrgLevel.REGION, f"{p}-R", "R", hq)
        dealer = org.create_dealer(s, region, f"{p}-D", "Dealer", None)
        hq_user = org.create_user(s, f"{p}-hq", "scan password 1", Role.HQ_ADMIN, hq)
        du = org.create_user(s, f"{p}-du", "scan password 1", Role.DEALER_USER, dealer.org_unit)
        op = org.create_user(s, f"{p}-op", "scan password 1", Role.WAREHOUSE_OPERATOR, hq)
        product = Product(
            sku=f"{p}-pads",
            name="pads",
            product_class="parts",
            unit_weight_g=100.0,
            unit_volume_l=0.1,
            list_price=Decimal("10.00"),
        )
        wh = Warehouse(org_unit_id=hq.id, code=f"{p}-WH", name="Scan test")
        s.add_all([product, wh])
        s.flush()
        b1, b2 = Bin(warehouse_id=wh.id, code="B-1"), Bin(warehouse_id=wh.id, code="B-2")
        lot = Lot(product_id=product.id, code=f"{p}-L1", expires_on=None)
        s.add_all([b1, b2, lot])
        s.flush()
        stock.post_movement(
            s,
            kind=MovementKind.RECEIVE,
            product_id=product.id,
            bin_id=b1.id,
            lot_id=lot.id,
            qty=10,
            user_id=None,
        )
        pid, wh_id = product.id, wh.id
        actors = {k: _principal(u) for k, u in (("hq", hq_user), ("du", du), ("op", op))}
    with unit_of_work(url) as s:
        orders_service.set_credit(s, actors["hq"], dealer.id, Decimal("100000"), 30, 0)
    with unit_of_work(url) as s:
        order = orders_service.place_order(
            s, actors["du"], [orders_service.LineIn(pid, 4)], None, None
        )
        oid = order.id
    with unit_of_work(url) as s:
        # No approval rule covers this new region: the order goes straight to allocation.
        orders_service.submit(s, actors["du"], oid)
    with unit_of_work(url) as s:
        assert orders_service.allocate(s, actors["op"], oid, wh_id).status == "allocated"

    agent = AgentSpec(
        f"{p}-scan", "scanner", (SensorSpec(f"{p}-scan-bc", "barcode"),), site=f"{p}-WH"
    )
    stack.provision([agent])
    sensor, sku, t = agent.sensors[0].sensor_id, f"{p}-pads", time.time()

    def read(action: str, qty: int, bin_code: str | None, dt_s: float) -> S.ScanReading:
        return S.ScanReading(s=sensor, t=t + dt_s, k="barcode", c=sku, a=action, q=qty, b=bin_code)  # type: ignore[arg-type]

    first = S.ScanMessage(
        v=1,
        seq=1,
        r=[
            read("putaway", 5, "B-2", 0.1),
            read("pick", 4, "B-1", 0.2),  # the order's 4 reserved units
            read("pick", 3, "B-1", 0.3),  # a free pick of unreserved units
            read("pick", 50, "B-1", 0.4),  # more than the bin holds: rejected
            read("pick", 1, "Z-9", 0.5),  # no such bin: rejected
            read("count", 3, "B-1", 0.6),  # a count moves nothing
        ],
    )
    second = S.ScanMessage(v=1, seq=2, r=[read("return", 1, "B-2", 1.0)])
    topic = S.topic(agent.agent_id, "scan")
    messages = [(topic, S.encode(first)), (topic, S.encode(second))]
    target = stack.settings.mqtt(
        user=agent.agent_id, password=stack.settings.sim_password(agent.agent_id)
    )
    worker = stack.start_ingest(f"scan-{p}")
    try:
        for _ in range(2):  # the second time is a replay: same (agent, seq)
            report = publish_all(target, f"{p}-pub", messages)
            assert report.ok == 2 and not report.refused
        wait_for(
            lambda: (
                stack.scalar(
                    "SELECT count(*) FROM scan_event e JOIN agent a USING (agent_key) "
                    "WHERE a.agent_id = %s",
                    (agent.agent_id,),
                )
                == 7
            ),
            timeout=30,
            what="7 scan rows stored",
        )
    finally:
        worker.stop()

    poster = ScanPoster(session_factory(url), batch=3)  # small batches: resumes mid-message
    while poster.run_once():
        pass
    with unit_of_work(url) as s:
        postings = s.scalars(
            select(ScanPosting)
            .where(ScanPosting.code == sku)
            .order_by(ScanPosting.seq, ScanPosting.idx)
        ).all()
        outcomes = [(x.action, x.qty, x.outcome) for x in postings]
        reasons = {x.bin_code: x.reason for x in postings if x.outcome == "rejected"}
        order = s.get(SalesOrder, oid)
        assert order is not None and order.status == "picking"
        assert any(x.order_id == oid and x.movement_id for x in postings)
    assert sorted(outcomes) == sorted(
        [
            ("putaway", 5, "posted"),
            ("pick", 4, "posted"),
            ("pick", 3, "posted"),
            ("pick", 50, "rejected"),
            ("pick", 1, "rejected"),
            ("return", 1, "posted"),
        ]
    )
    assert "unknown_bin" in (reasons["Z-9"] or "")
    assert "negative_stock" in (reasons["B-1"] or "")
    assert _on_hand(url, pid) == {"B-1": 3, "B-2": 6, "STAGING": 4}

    # A restarted poster (fresh state, reads everything again) posts nothing twice.
    again = ScanPoster(session_factory(url))
    assert again.run_once() == 0
    assert _on_hand(url, pid) == {"B-1": 3, "B-2": 6, "STAGING": 4}
