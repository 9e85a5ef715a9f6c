"""The simulator runner provisions its scenario and plays it through real agents and broker."""

from __future__ import annotations

import threading

import pytest
from conftest import Stack
from test_edge_store_and_forward import Collector

from wayhouse.edge.schema import Stream
from wayhouse.simulators.runner import run
from wayhouse.simulators.scenario import get_scenario

pytestmark = pytest.mark.integration


def test_runner_plays_the_small_scenario_through_the_broker(stack: Stack) -> None:
    scenario = get_scenario("small", seed=0)
    ids = [a.agent_id for a in scenario.agents()]
    lines: list[str] = []
    stop = threading.Event()
    with Collector(stack.settings, ids) as seen:
        # 3 wall seconds at x300: 15 simulated minutes of shelf ticks, scans and GPS fixes.
        stats = run(
            stack.settings,
            "small",
            seed=0,
            speed=300,
            duration=3.0,
            stop_event=stop,
            status_every=1.0,
            out=lines.append,
        )
        assert stats.flushed and stats.sim_seconds >= 600
        for stream in (Stream.SHELF, Stream.SCAN, Stream.GPS):
            assert stats.emitted[stream.value] > 0
            got = sum(len(seen.seqs(a, stream)) for a in ids)
            assert got >= stats.emitted[stream.value], stream
        for a in ids:
            assert seen.statuses(a, "online") and seen.statuses(a, "offline")
    assert any("agents 6/6 up" in line for line in lines), lines
