"""Following the ledger from the evaluator on the real database: a movement whose id was drawn
first but committed last is still seen (its id waits as a gap), and a rolled-back id is
forgotten after the gap time-to-live."""

from __future__ import annotations

import time
import uuid
from decimal import Decimal

import psycopg
import pytest
from conftest import Stack

from wayhouse.platform.alarms.ledger_follow import GAP_TTL_S, LedgerFollower
from wayhouse.platform.db.base import unit_of_work
from wayhouse.platform.dms.domain.types import OrgLevel
from wayhouse.platform.dms.models import Bin, Product, Warehouse
from wayhouse.platform.dms.org import create_unit

pytestmark = pytest.mark.integration

INSERT = (
    "INSERT INTO stock_movement (kind, product_id, bin_id, qty, source) "
    "VALUES ('receive', %s, %s, %s, 'api') RETURNING id"
)


def test_a_movement_committed_after_a_higher_id_is_not_missed(stack: Stack) -> None:
    p = f"lf{uuid.uuid4().hex[:6]}"
    with unit_of_work(stack.settings.sqlalchemy_url()) as s:
        hq = create_unit(s, OrgLevel.HQ, f"{p}-HQ", "HQ", None)
        product = Product(
            sku=f"{p}-X",
            name="x",
            product_class="parts",
            unit_weight_g=10.0,
            unit_volume_l=0.1,
            list_price=Decimal("1.00"),
        )
        wh = Warehouse(org_unit_id=hq.id, code=f"{p}-W", name="W")
        s.add_all([product, wh])
        s.flush()
        b = Bin(warehouse_id=wh.id, code="B1")
        s.add(b)
        s.flush()
        pid, bin_id = product.id, b.id
    url = stack.settings.database_url()
    follower = LedgerFollower()
    with psycopg.connect(url, autocommit=True) as reader:
        follower.start(reader)
        slow = psycopg.connect(url)  # draws its id first, commits last
        try:
            (early,) = slow.execute(INSERT, (pid, bin_id, 5)).fetchone()  # type: ignore[misc]
            with psycopg.connect(url, autocommit=True) as fast:
                (late,) = fast.execute(INSERT, (pid, bin_id, 3)).fetchone()  # type: ignore[misc]
            assert late > early
            now = time.time()
            levels = follower.poll(reader, now, {bin_id})
            assert [(lv.bin_id, lv.qty) for lv in levels] == [(bin_id, 3)]
            assert early in follower.gaps and follower.watermark == late
            slow.commit()
        finally:
            slow.close()
        levels = follower.poll(reader, now + 1, {bin_id})
        assert [(lv.bin_id, lv.qty) for lv in levels] == [(bin_id, 8)]
        assert early not in follower.gaps
        # A rolled-back insert leaves a gap that is given up after its time-to-live.
        with psycopg.connect(url) as lost:
            (gone,) = lost.execute(INSERT, (pid, bin_id, 1)).fetchone()  # type: ignore[misc]
            lost.rollback()
        with psycopg.connect(url, autocommit=True) as fast:
            fast.execute(INSERT, (pid, bin_id, 1))
        follower.poll(reader, now + 2, {bin_id})
        assert gone in follower.gaps
        follower.poll(reader, now + 3 + GAP_TTL_S, {bin_id})
        assert gone not in follower.gaps
        restored = LedgerFollower.from_dict(follower.to_dict())
        assert restored == follower
