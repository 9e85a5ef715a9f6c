"""The load generator against the real Mosquitto: every valid message arrives once per
(agent, seq); replays repeat seqs and add none; malformed ones are counted by kind."""

from __future__ import annotations

import uuid

import pytest
from conftest import Stack, wait_for
from test_edge_store_and_forward import Collector

from wayhouse.edge.schema import Stream
from wayhouse.simulators.load import MALFORMED_KINDS, LoadConfig, load_agent_specs, run_load

pytestmark = pytest.mark.integration


def _run(stack: Stack, mode: str, **kw: float) -> None:
    cfg = LoadConfig(
        agents=20,
        rate=1500,
        duration=1.0,
        readings_per_message=3,
        sensors_per_agent=5,
        mode=mode,  # type: ignore[arg-type]
        prefix=f"ld{uuid.uuid4().hex[:5]}",
        **kw,  # type: ignore[arg-type]
    )
    specs = load_agent_specs(cfg)
    stack.provision(specs)
    ids = [s.agent_id for s in specs]
    s = stack.settings
    with Collector(s, ids) as seen:
        res = run_load(cfg, lambda a: s.mqtt(a, s.sim_password(a)), progress=None)
        assert res.connected == cfg.agents and res.backlog_left == 0 and res.rejected == 0
        assert res.produced > 0.5 * cfg.rate * cfg.duration

        def shelf_arrivals() -> list[tuple[str, int]]:
            return [(a, q) for a in ids for q in seen.seqs(a, Stream.SHELF)]

        # unknown_sensor is valid JSON for the contract: only the registry check refuses it.
        valid = res.produced + res.malformed.get("unknown_sensor", 0)
        if mode == "replay":
            # Everything acknowledged comes again: the readings and each agent's online status.
            assert res.replayed == res.produced + cfg.agents
            assert res.replay_acked == res.replayed
            wait_for(lambda: len(shelf_arrivals()) >= 2 * res.produced, 30, "the replays")
        else:
            wait_for(lambda: len(set(shelf_arrivals())) >= valid, 30, "every message")
        assert len(set(shelf_arrivals())) == valid
        if mode == "malformed":
            assert set(res.malformed) == set(MALFORMED_KINDS)
            total = sum(res.malformed.values())
            assert res.malformed_acked == total  # the broker took them: ingest must dead-letter
            # Valid + malformed + online and offline status per agent, and nothing else.
            expected = res.produced + total + 2 * cfg.agents

            def arrived() -> int:
                return sum(len(seen.raw(a)) for a in ids)

            wait_for(lambda: arrived() >= expected, 30, "every raw message")
            assert arrived() == expected


def test_load_generator_delivers_each_message_once(stack: Stack) -> None:
    _run(stack, "normal")


def test_load_generator_replays_with_the_same_seqs(stack: Stack) -> None:
    _run(stack, "replay")


def test_load_generator_sends_every_kind_of_malformed_message(stack: Stack) -> None:
    _run(stack, "malformed", malformed_fraction=0.05)
