"""The alarm evaluator saves its engine part by part (only what a batch changed); the parts it
saved, put back together, must be exactly the engine it had: otherwise a restart would lose
or invent state. Also: silence judged on the devices' own clock, the webhook signature and
backoff (pure)."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wayhouse.config import Settings
from wayhouse.edge import schema as S
from wayhouse.platform.alarms.engine import AlarmEngine, Lifecycle
from wayhouse.platform.alarms.evaluator import AlarmEvaluator
from wayhouse.platform.alarms.inputs import AgentConfig, AgentStatus, BinConfig
from wayhouse.platform.alarms.model import AlarmType
from wayhouse.platform.alarms.registry import BinInfo, Registry
from wayhouse.platform.alarms.webhooks import RetryPolicy, sign, verify
from wayhouse.platform.dms.domain.types import DomainError
from wayhouse.platform.ingest.batch import Accepted

T0 = 1_800_000_000.0
BINS = ["A", "B", "C"]


def _evaluator() -> AlarmEvaluator:
    ev = AlarmEvaluator(Settings(), lifecycle=Lifecycle(clear_hold_s=2.0))
    reg = Registry()
    for i, code in enumerate(BINS):
        cfg = BinConfig(f"W/{code}", f"cell-{code}", "SKU", 100.0, 500.0, 2.0, 20, site="W")
        reg.bins[cfg.bin] = BinInfo(i + 1, cfg.bin, 1, 1, cfg)
        reg.bin_ids[i + 1] = cfg.bin
        reg.sensor_bins[cfg.sensor] = cfg.bin
        ev.engine.register_bin(cfg)
        ev._dirty_bins.add(cfg.bin)  # as a registration does
    reg.agents["shelf"] = AgentConfig("shelf", "W")
    ev.engine.register_agent(reg.agents["shelf"])
    ev._dirty_agents.add("shelf")
    ev.registry = reg
    return ev


def _message(seq: int, readings: list[S.ShelfReading]) -> Accepted:
    return Accepted("shelf", 1, S.Stream.SHELF, S.ShelfMessage(v=1, seq=seq, r=readings), ())


batches = st.lists(
    st.lists(
        st.tuples(
            st.sampled_from(BINS),
            st.sampled_from([3, 5, 8, 12]),  # units on the shelf
            st.integers(1, 6),  # readings at that level
            st.sampled_from(["none", "ack", "clear", "force", "offline"]),
        ),
        min_size=1,
        max_size=4,
    ),
    min_size=1,
    max_size=8,
)


@settings(max_examples=40, deadline=None)
@given(batches, st.integers(0, 2**16))
def test_saved_parts_reassemble_into_the_same_engine(
    plan: list[list[tuple[str, int, int, str]]], seed: int
) -> None:
    ev = _evaluator()
    rng = random.Random(seed)
    saved: dict[str, object] = {}
    t = T0
    seq = 0
    for batch in plan:
        for code, units, n, op in batch:
            readings = []
            for _ in range(n):
                t += 1.0
                w = round(500.0 + units * 100.0 + rng.gauss(0, 1.0), 1)
                readings.append(S.ShelfReading(s=f"cell-{code}", t=t, w=w))
            seq += 1
            ev.feed(_message(seq, readings), t)
            open_ = ev.engine.open_alarms()
            if op in ("ack", "clear", "force") and open_:
                a = open_[0]
                try:
                    if op == "ack":
                        ev.engine.acknowledge(a.id, "op", t)
                    else:
                        ev.engine.clear(a.id, "op", t, "checked", force=op == "force")
                except DomainError:
                    pass
            elif op == "offline":
                status = S.StatusMessage(v=1, seq=seq + 10_000, t=t, state="offline")
                ev.feed(Accepted("shelf", 1, S.Stream.STATUS, status, ()), t)
        ev.tick(t)
        for key, part in ev._changed_parts().items():
            if part is None:
                saved.pop(key, None)
            else:
                saved[key] = part
        ev._dirty_bins.clear()
    restored = ev._assemble(saved)  # type: ignore[arg-type]
    assert restored.to_dict() == ev.engine.to_dict()


def test_signature_verifies_only_the_same_body_secret_and_a_fresh_time() -> None:
    body = b'{"event":"alarm.raise"}'
    header = sign("secret", 1_800_000_000, body)
    assert header.startswith("t=1800000000,v1=")
    assert verify("secret", header, body, now=1_800_000_010)
    assert not verify("secret", header, body + b" ", now=1_800_000_010)
    assert not verify("other", header, body, now=1_800_000_010)
    assert not verify("secret", header, body, now=1_800_000_000 + 3600)  # replayed later
    assert not verify("secret", "garbage", body)


@pytest.mark.parametrize(("attempts", "delay"), [(1, 2.0), (2, 4.0), (5, 32.0), (20, 3600.0)])
def test_backoff_is_exponential_and_capped(attempts: int, delay: float) -> None:
    assert RetryPolicy().delay(attempts) == delay


def test_readings_from_a_fast_clock_do_not_make_agents_look_silent() -> None:
    """Silence is judged on the devices' own clock (status times and explicit ticks), not on
    the newest reading time of any sensor."""
    eng = AlarmEngine()
    eng.register_bin(BinConfig("W/A", "cell-A", "SKU", 100.0, 500.0, 2.0))
    trs = [*eng.feed(AgentStatus("gw-1", T0, "heartbeat"))]
    trs += eng.feed(S.ShelfReading(s="cell-A", t=T0 + 600, w=1500.0))  # 10 minutes ahead
    trs += eng.tick(T0 + 60)
    assert [tr for tr in trs if tr.type is AlarmType.DEVICE_OFFLINE] == []
    trs += eng.tick(T0 + 91)  # but real silence still counts
    assert [tr.type for tr in trs if tr.type is AlarmType.DEVICE_OFFLINE] == [
        AlarmType.DEVICE_OFFLINE
    ]
