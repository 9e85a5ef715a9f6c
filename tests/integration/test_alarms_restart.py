"""Exactly-once across a database restart and a worker restart, on the real broker and
database: readings published while the evaluation worker is down are evaluated after it comes
back from its saved state,
a replay of what it already evaluated changes nothing, and the alarms and their steps equal
what the pure engine makes of the same readings (no alarm lost, none doubled)."""

from __future__ import annotations

import threading
import time

import msgspec
import psycopg
import pytest
from conftest import Stack, wait_for
from fastapi.testclient import TestClient
from test_alarms_kit import (  # noqa: F401 - fixtures
    FAST,
    SIGMA_G,
    SITE_THRESHOLDS,
    TARE_G,
    UNIT_G,
    Runner,
    World,
    build_world,
    client_fixture,
    publish,
    shelf_series,
)

from wayhouse.edge import schema as S
from wayhouse.platform.alarms.engine import AlarmEngine
from wayhouse.platform.alarms.inputs import BinConfig, BookLevel
from wayhouse.platform.alarms.model import AlarmType
from wayhouse.platform.alarms.thresholds import ThresholdConfig

pytestmark = pytest.mark.integration

LOSS = "weight_loss_unexplained"


def _steps(stack: Stack, subject: str) -> list[tuple[str, int, str]]:
    with psycopg.connect(stack.settings.database_url()) as conn:
        rows = conn.execute(
            "SELECT a.id, t.seq, t.action FROM alarm a JOIN alarm_transition t ON t.alarm_id = a.id "
            "WHERE a.subject = %s AND a.type = %s ORDER BY t.at, t.seq",
            (subject, LOSS),
        ).fetchall()
    return [(r[0], r[1], r[2]) for r in rows]


def _truth(world: World, key: str, sensor: str, messages: list[tuple[str, bytes]]) -> list[str]:
    """The pure engine on the same readings: the weight-loss steps it records."""
    cfg = ThresholdConfig()
    cfg.set("site", world.wh_code["w1"], **SITE_THRESHOLDS)
    eng = AlarmEngine(cfg, FAST)
    eng.register_bin(
        BinConfig(key, sensor, world.sku, UNIT_G, TARE_G, SIGMA_G, site=world.wh_code["w1"])
    )
    readings = [
        r for _, payload in messages for r in msgspec.json.decode(payload, type=S.ShelfMessage).r
    ]
    out = eng.feed_all([BookLevel(key, "L1", 10, readings[0].t - 1), *readings])
    return [tr.action.value for tr in out if tr.type is AlarmType.WEIGHT_LOSS_UNEXPLAINED]


def test_no_alarm_lost_or_doubled_across_a_worker_restart(stack: Stack, client: TestClient) -> None:
    world = build_world(stack, client, {"R": (10, 0)}, prefix="ar")
    key, cell = world.key("R"), world.sensors["R"]
    subject = f"bin:{key}"
    runner = Runner(stack, f"{world.p}-rs")
    runner.start()
    try:
        t0 = time.time()
        first = shelf_series(world, world.shelf, cell, t0, [10] * 10 + [8] * 10)
        publish(stack, world.shelf, first)
        wait_for(lambda: len(_steps(stack, subject)) == 1, timeout=30, what="the first loss")
        # The units come back while the database restarts under the worker (it rolls back,
        # reloads its saved state and evaluates the batch again) ...
        second = shelf_series(
            world, world.shelf, cell, t0 + 20, [8] * 5 + [10] * 10 + [7] * 10, seed=2
        )
        sender = threading.Thread(target=publish, args=(stack, world.shelf, second[:15]))
        sender.start()
        stack.restart_db(down_for=1.0)
        sender.join(timeout=60)
        wait_for(
            lambda: [s[2] for s in _steps(stack, subject)] == ["raise", "clear"],
            timeout=60,
            what="the loss cleared after the database restart",
        )
        # ... then three leave while the worker is down (its broker session queues them).
        runner.stop()
        publish(stack, world.shelf, second[15:])
        runner.start()
        wait_for(
            lambda: [s[2] for s in _steps(stack, subject)] == ["raise", "clear", "raise"],
            timeout=60,
            what="the second loss after the worker restart",
        )
        # A replay of messages already evaluated (same agent and seq) is skipped.
        assert runner.worker is not None
        before_in = runner.worker.counters.msgs_in
        before_eval = runner.worker.evaluated
        publish(stack, world.shelf, first)
        wait_for(
            lambda: (
                runner.worker is not None
                and runner.worker.counters.msgs_in >= before_in + len(first)
            ),
            timeout=30,
            what="the replay to be received",
        )
        time.sleep(1.0)
        assert runner.worker.evaluated == before_eval
    finally:
        runner.retire()
    steps = _steps(stack, subject)
    assert [s[2] for s in steps] == ["raise", "clear", "raise"]
    assert len({s[0] for s in steps}) == 2, "two alarms: the first cleared, the second open"
    assert _truth(world, key, cell, first + second) == ["raise", "clear", "raise"]
    with psycopg.connect(stack.settings.database_url()) as conn:
        open_per_key = conn.execute(
            "SELECT count(*) FROM alarm WHERE subject = %s AND type = %s AND state <> 'cleared'",
            (subject, LOSS),
        ).fetchone()
    assert open_per_key == (1,)
