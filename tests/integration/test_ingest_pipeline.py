"""The telemetry pipeline end to end on the real Mosquitto and PostgreSQL."""

from __future__ import annotations

import random
import time
import uuid

import pytest
from conftest import Stack, wait_for
from wh_testkit import publish_all, shelf_agents, shelf_message, stored_shelf

from wayhouse.edge import schema as S
from wayhouse.platform.devices.model import AgentSpec

pytestmark = pytest.mark.integration


def _agents(prefix: str, n: int, sensors: int = 3) -> list[AgentSpec]:
    return shelf_agents(prefix, n, sensors)


def _shelf(agent: AgentSpec, seq: int, t: float) -> tuple[str, bytes]:
    return shelf_message(agent, seq, t, 1000.0 + seq)


def _stored_for(stack: Stack, prefix: str) -> tuple[int, int]:
    """(readings, distinct (agent, seq)) stored for agents with this prefix."""
    with stack.db() as conn:
        messages, readings = stored_shelf(conn, prefix)
    return readings, messages


def _dead_for(stack: Stack, prefix: str) -> int:
    return int(
        stack.scalar("SELECT count(*) FROM dead_letter WHERE topic LIKE %s", (f"%/{prefix}-%",))
    )  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def worker(stack: Stack):  # type: ignore[no-untyped-def]
    w = stack.start_ingest("pipeline")
    yield w
    w.stop()


def test_exactly_once_with_replays_and_malformed(stack: Stack, worker) -> None:  # type: ignore[no-untyped-def]
    prefix = f"eo{uuid.uuid4().hex[:6]}"
    agents = _agents(prefix, 8)
    stack.provision(agents)
    rng = random.Random(7)
    now = time.time()
    per_agent = 150
    good = [_shelf(a, seq, now + seq * 0.001) for a in agents for seq in range(per_agent)]
    replays = rng.sample(good, 300)  # QoS1 redelivery / store-and-forward replay: same (agent, seq)
    a0 = agents[0]
    malformed = [
        (S.topic(a0.agent_id, "shelf"), b"{not json"),
        (S.topic(a0.agent_id, "shelf"), b'{"v":2,"seq":9999,"r":[{"s":"x","t":1.8e9,"w":1}]}'),
        (S.topic(a0.agent_id, "shelf"), b'{"v":1,"seq":9998}'),
        (
            S.topic(a0.agent_id, "shelf"),
            b'{"v":1,"seq":9997,"r":[{"s":"'
            + a0.sensors[0].sensor_id.encode()
            + b'","t":1.8e9,"w":1e999}]}',
        ),
        (
            S.topic(a0.agent_id, "gps"),
            S.encode(
                S.ShelfMessage(
                    v=1, seq=9996, r=[S.ShelfReading(s=a0.sensors[0].sensor_id, t=now, w=1.0)]
                )
            ),
        ),
        (
            S.topic(a0.agent_id, "shelf"),
            S.encode(
                S.ShelfMessage(v=1, seq=9995, r=[S.ShelfReading(s="not-registered", t=now, w=1.0)])
            ),
        ),
        (S.topic(a0.agent_id, "shelf"), b"\xff\xfe\x00binary"),
    ]
    stream = good + replays + malformed
    rng.shuffle(stream)
    # Each agent publishes its own share over its own credentials, in shuffled order.
    by_agent: dict[str, list[tuple[str, bytes]]] = {}
    for topic, payload in stream:
        by_agent.setdefault(topic.split("/")[2], []).append((topic, payload))
    for agent_id, msgs in by_agent.items():
        report = publish_all(publisher_as(stack, agent_id), agent_id, msgs)
        assert report.refused == [] and report.connect_refused is None
    expected = len(agents) * per_agent
    wait_for(
        lambda: (
            _stored_for(stack, prefix)[1] >= expected
            and _dead_for(stack, prefix) >= len(malformed) - 1
        ),
        60,
        "the batch to be stored",
    )
    time.sleep(0.5)  # let anything extra (it must not exist) arrive before counting
    readings, unique = _stored_for(stack, prefix)
    assert unique == expected
    assert readings == expected * len(a0.sensors)
    assert _dead_for(stack, prefix) == len(malformed)
    reasons = [
        r[0]
        for r in stack.db().execute(
            "SELECT reason FROM dead_letter WHERE topic LIKE %s", (f"%/{prefix}-%",)
        )
    ]
    assert any("not registered" in r for r in reasons)
    assert any("version" in r for r in reasons)


def test_a_topic_outside_the_contract_is_refused_by_the_broker(stack: Stack, worker) -> None:  # type: ignore[no-untyped-def]
    prefix = f"bog{uuid.uuid4().hex[:6]}"
    (agent,) = _agents(prefix, 1)
    stack.provision([agent])
    report = publish_all(
        publisher_as(stack, agent.agent_id),
        agent.agent_id,
        [(f"wh/v1/{agent.agent_id}/bogus", b"{}")],
    )
    assert report.ok == 0 and report.refused == ["Not authorized"]


def publisher_as(stack: Stack, agent_id: str, password: str | None = None):  # type: ignore[no-untyped-def]
    return stack.settings.mqtt(
        user=agent_id, password=password or stack.settings.sim_password(agent_id)
    )


def test_agent_cannot_publish_for_others_or_unregistered_sensors(stack: Stack, worker) -> None:  # type: ignore[no-untyped-def]
    prefix = f"sec{uuid.uuid4().hex[:6]}"
    mallory, victim = _agents(prefix, 2)
    stack.provision([mallory, victim])
    now = time.time()

    # Under another agent's id: the broker refuses (ACL), nothing reaches ingest.
    forged = S.topic(victim.agent_id, "shelf"), _shelf(victim, 1, now)[1]
    report = publish_all(publisher_as(stack, mallory.agent_id), mallory.agent_id, [forged])
    assert report.ok == 0 and report.refused == ["Not authorized"]

    # Wrong password: the connection is refused.
    report = publish_all(
        publisher_as(stack, mallory.agent_id, "wrong"), mallory.agent_id, [_shelf(mallory, 2, now)]
    )
    assert report.connect_refused is not None and report.ok == 0

    # Its own topic but the victim's sensor: accepted by the broker, dead-lettered by ingest.
    stolen = S.ShelfMessage(
        v=1, seq=3, r=[S.ShelfReading(s=victim.sensors[0].sensor_id, t=now, w=5.0)]
    )
    report = publish_all(
        publisher_as(stack, mallory.agent_id),
        mallory.agent_id,
        [(S.topic(mallory.agent_id, "shelf"), S.encode(stolen))],
    )
    assert report.ok == 1

    # And a legitimate message from the same agent afterwards, to know ingest has caught up.
    report = publish_all(
        publisher_as(stack, mallory.agent_id), mallory.agent_id, [_shelf(mallory, 4, now)]
    )
    assert report.ok == 1
    wait_for(
        lambda: _stored_for(stack, prefix)[1] == 1 and _dead_for(stack, prefix) == 1, 30, "ingest"
    )
    readings, _ = _stored_for(stack, prefix)
    assert readings == len(mallory.sensors)  # only seq 4
    assert (
        stack.scalar(
            "SELECT count(*) FROM shelf_reading r JOIN agent a USING (agent_key) WHERE a.agent_id = %s",
            (victim.agent_id,),
        )
        == 0
    )


def test_revoked_agent_is_locked_out(stack: Stack, worker) -> None:  # type: ignore[no-untyped-def]
    from wayhouse.platform.devices.service import revoke_agent

    prefix = f"rev{uuid.uuid4().hex[:6]}"
    (agent,) = _agents(prefix, 1)
    stack.provision([agent])
    target = publisher_as(stack, agent.agent_id)
    assert publish_all(target, agent.agent_id, [_shelf(agent, 1, time.time())]).ok == 1
    revoke_agent(stack.settings, agent.agent_id)
    wait_for(
        lambda: (
            publish_all(target, agent.agent_id, [_shelf(agent, 2, time.time())]).connect_refused
            is not None
        ),
        10,
        "the broker to reload its password file",
    )


def test_latest_values_follow_the_newest_reading(stack: Stack, worker) -> None:  # type: ignore[no-untyped-def]
    prefix = f"lat{uuid.uuid4().hex[:6]}"
    (agent,) = _agents(prefix, 1, sensors=1)
    stack.provision([agent])
    t0 = time.time()
    sid = agent.sensors[0].sensor_id
    msgs = [
        (
            S.topic(agent.agent_id, "shelf"),
            S.encode(S.ShelfMessage(v=1, seq=seq, r=[S.ShelfReading(s=sid, t=t0 + dt, w=w)])),
        )
        for seq, dt, w in [
            (1, 1.0, 10.0),
            (2, 3.0, 30.0),
            (3, 2.0, 20.0),
        ]  # seq 3 is older: must not win
    ]
    publish_all(publisher_as(stack, agent.agent_id), agent.agent_id, msgs)
    wait_for(lambda: _stored_for(stack, prefix)[1] == 3, 30, "ingest")
    w = stack.scalar(
        "SELECT l.weight_g FROM shelf_latest l JOIN sensor s USING (sensor_key) WHERE s.sensor_id = %s",
        (sid,),
    )
    assert w == 30.0
