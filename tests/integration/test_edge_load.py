"""The load generator against the real Mosquitto, on both engines: every valid message
arrives once per (agent, seq) and is acknowledged; replays repeat seqs and add none;
malformed ones are counted by kind. The raw engine's agents publish with their own
credentials: under another agent's id the broker refuses (MQTT 5 PUBACK 135)."""

from __future__ import annotations

import threading
import uuid

import paho.mqtt.client as mqtt
import pytest
from conftest import Stack, wait_for
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from test_edge_store_and_forward import Collector

from wayhouse.edge.schema import ShelfMessage, ShelfReading, Stream, encode, topic
from wayhouse.simulators.load import MALFORMED_KINDS, LoadConfig, load_agent_specs, run_load
from wayhouse.simulators.rawmqtt import RawFleet, topic_field

pytestmark = pytest.mark.integration


def _run(stack: Stack, engine: str, mode: str, **kw: float) -> None:
    cfg = LoadConfig(
        engine=engine,  # type: ignore[arg-type]
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
        # Every valid message and each agent's online status got its PUBACK.
        assert res.acked == res.produced + cfg.agents

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


ENGINES = pytest.mark.parametrize("engine", ["raw", "paho"])


@ENGINES
def test_load_generator_delivers_each_message_once(stack: Stack, engine: str) -> None:
    _run(stack, engine, "normal")


@ENGINES
def test_load_generator_replays_with_the_same_seqs(stack: Stack, engine: str) -> None:
    _run(stack, engine, "replay")


@ENGINES
def test_load_generator_sends_every_kind_of_malformed_message(stack: Stack, engine: str) -> None:
    _run(stack, engine, "malformed", malformed_fraction=0.05)


def _two_agents(stack: Stack) -> tuple[str, str]:
    cfg = LoadConfig(agents=2, sensors_per_agent=1, prefix=f"acl{uuid.uuid4().hex[:5]}")
    specs = load_agent_specs(cfg)
    stack.provision(specs)
    return specs[0].agent_id, specs[1].agent_id


def _shelf(agent: str, seq: int) -> bytes:
    r = [ShelfReading(s=f"{agent}:c1", t=1_700_000_000.0, w=1.0)]
    return encode(ShelfMessage(v=1, seq=seq, r=r))


def test_raw_engine_cannot_publish_under_another_agents_id(stack: Stack) -> None:
    """Mosquitto 2.0.11 answers an MQTT 5 QoS 1 publish the ACL denies with PUBACK 135 and
    keeps the connection; the message reaches no one."""
    me, victim = _two_agents(stack)
    s = stack.settings
    with Collector(s, [me, victim]) as seen:
        fleet = RawFleet([(me, s.mqtt(me, s.sim_password(me)))], window=10)
        try:
            assert fleet.run(fleet.all_connected, 30)
            c = fleet.conns[0]
            c.publish(
                [
                    (1, 0, topic_field(topic(victim, Stream.SHELF)), _shelf(victim, 1)),
                    (2, 0, topic_field(topic(me, Stream.SHELF)), _shelf(me, 2)),
                ]
            )
            assert fleet.run(fleet.all_idle, 30)
            assert (c.acked[0], c.rejected, c.disconnects, c.connected) == (1, 1, 0, True)
            [refused] = fleet.rejections
            assert (refused.seq, refused.reason_code) == (1, 135)
            assert refused.topic == topic(victim, Stream.SHELF)
            wait_for(lambda: seen.seqs(me, Stream.SHELF) == [2], 30, "the agent's own message")
            assert seen.all_messages(victim) == []
        finally:
            fleet.close()


def test_raw_engine_with_a_wrong_password_never_connects(stack: Stack) -> None:
    me, _ = _two_agents(stack)
    s = stack.settings
    fleet = RawFleet([(me, s.mqtt(me, "not-the-password"))], window=10)
    try:
        assert not fleet.run(fleet.all_connected, 2)
        c = fleet.conns[0]
        assert c.connect_failures >= 1 and c.last_error == "CONNACK reason 135"
    finally:
        fleet.close()


def test_mqtt311_agent_is_not_told_its_publish_was_refused(stack: Stack) -> None:
    """Why the raw engine speaks MQTT 5: to a 3.1.1 client, Mosquitto 2.0.11 acknowledges
    the denied publish like any other (no reason codes in 3.1.1) and drops it; the
    connection stays up. Only the receiving side can tell."""
    me, victim = _two_agents(stack)
    s = stack.settings
    target = s.mqtt(me, s.sim_password(me))
    acked = threading.Event()
    dropped: list[object] = []
    c = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id=me, protocol=MQTTProtocolVersion.MQTTv311
    )
    c.username_pw_set(target.username, target.password)
    c.on_publish = lambda cl, ud, mid, rc, pr: acked.set() if not rc.is_failure else None
    c.on_disconnect = lambda cl, ud, fl, rc, pr: dropped.append(rc)
    with Collector(s, [me, victim]) as seen:
        c.connect(target.host, target.port)
        c.loop_start()
        try:
            c.publish(topic(victim, Stream.SHELF), _shelf(victim, 1), qos=1)
            assert acked.wait(30)
            marker = threading.Event()
            c.on_publish = lambda *a: marker.set()
            c.publish(topic(me, Stream.SHELF), _shelf(me, 2), qos=1)  # still connected
            assert marker.wait(30)
            assert dropped == [] and c.is_connected()
            # One connection, in order: once the later message is in, the first is not coming.
            wait_for(lambda: seen.seqs(me, Stream.SHELF) == [2], 30, "the agent's own message")
            assert seen.all_messages(victim) == []
        finally:
            c.disconnect()
            c.loop_stop()
