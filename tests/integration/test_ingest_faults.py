"""Faults during a stream: the ingest worker killed, the database restarted, the broker
restarted, the broker reloading its auth files. Each ends with exactly the readings sent."""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path

import pytest
from conftest import Stack, wait_for
from wh_testkit import publish_all, shelf_agents, shelf_message, stored_shelf

from wayhouse.edge import schema as S
from wayhouse.edge.agents import ShelfScaleAgent
from wayhouse.edge.fleet import Fleet
from wayhouse.edge.outbox import SqliteOutbox
from wayhouse.platform.devices.model import AgentSpec, SensorSpec
from wayhouse.platform.ingest.worker import retire_session
from wayhouse.platform.services import mosquitto

pytestmark = pytest.mark.integration

SENSORS = 2


def _agents(prefix: str, n: int) -> list[AgentSpec]:
    return shelf_agents(prefix, n, SENSORS)


def _message(agent: AgentSpec, seq: int) -> tuple[str, bytes]:
    return shelf_message(agent, seq, time.time(), float(seq))


def _counts(stack: Stack, prefix: str) -> tuple[int, int]:
    """(distinct messages, reading rows) stored for this prefix's agents."""
    with stack.db() as conn:
        return stored_shelf(conn, prefix)


class Publisher(threading.Thread):
    """Each agent publishes ``per_agent`` messages in small chunks, paced, over its own login."""

    def __init__(self, stack: Stack, agents: list[AgentSpec], per_agent: int, pause: float = 0.02):
        super().__init__(daemon=True)
        self.stack, self.agents, self.per_agent, self.pause = stack, agents, per_agent, pause
        self.acked = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            for start in range(0, self.per_agent, 25):
                for a in self.agents:
                    msgs = [
                        _message(a, seq) for seq in range(start, min(start + 25, self.per_agent))
                    ]
                    target = self.stack.settings.mqtt(
                        a.agent_id, self.stack.settings.sim_password(a.agent_id)
                    )
                    report = publish_all(target, a.agent_id, msgs)
                    assert report.connect_refused is None and not report.refused
                    self.acked += report.ok
                time.sleep(self.pause)
        except BaseException as exc:  # surfaced by the test
            self.error = exc


def _assert_exactly(stack: Stack, prefix: str, expected: int) -> None:
    wait_for(lambda: _counts(stack, prefix)[0] >= expected, 90, f"{expected} messages stored")
    time.sleep(0.5)  # anything extra (there must be none) would land now
    messages, rows = _counts(stack, prefix)
    assert messages == expected, "lost or extra messages"
    assert rows == expected * SENSORS, "duplicate readings"


def test_worker_killed_and_restarted_mid_stream(stack: Stack) -> None:
    prefix = f"kill{uuid.uuid4().hex[:6]}"
    agents = _agents(prefix, 4)
    stack.provision(agents)
    worker = stack.start_ingest("faults-kill")
    pub = Publisher(stack, agents, per_agent=400)
    pub.start()
    wait_for(lambda: _counts(stack, prefix)[0] >= 200, 60, "the stream to be flowing")
    worker.kill()  # SIGKILL: no clean-up, batches in memory and unacknowledged
    stored_at_kill = _counts(stack, prefix)[0]
    time.sleep(1.0)  # the broker queues for the dead worker's session meanwhile
    worker = stack.start_ingest("faults-kill")
    pub.join(120)
    assert pub.error is None and pub.acked == 4 * 400
    assert stored_at_kill < 4 * 400, "the kill did not interrupt the stream"
    _assert_exactly(stack, prefix, 4 * 400)
    worker.stop()


def test_database_restarted_mid_stream(stack: Stack) -> None:
    prefix = f"dbr{uuid.uuid4().hex[:6]}"
    agents = _agents(prefix, 3)
    stack.provision(agents)
    worker = stack.start_ingest("faults-db")
    pub = Publisher(stack, agents, per_agent=300, pause=0.05)
    pub.start()
    wait_for(lambda: _counts(stack, prefix)[0] >= 100, 60, "the stream to be flowing")
    stack.restart_db(down_for=2.0)
    pub.join(120)
    assert pub.error is None and pub.acked == 3 * 300
    _assert_exactly(stack, prefix, 3 * 300)
    assert worker.proc.poll() is None, "the worker must ride out a database restart"
    assert (
        "batch not stored" in worker.log.read_text()
        or "database unavailable" in worker.log.read_text()
    )
    worker.stop()


def test_broker_restarted_mid_stream_end_to_end(stack: Stack, tmp_path: Path) -> None:
    prefix = f"brk{uuid.uuid4().hex[:6]}"
    specs = _agents(prefix, 3)
    stack.provision(specs)
    # A durable worker, as in production: its session is re-armed when the broker starts.
    worker = stack.start_ingest("faults-broker", ephemeral=False)
    agents = [
        ShelfScaleAgent(
            s.agent_id,
            stack.settings.mqtt(s.agent_id, stack.settings.sim_password(s.agent_id)),
            SqliteOutbox(tmp_path / f"{s.agent_id}.db"),
            cells=[x.sensor_id for x in s.sensors],
            backoff_min=0.2,
            backoff_max=1.0,
        )
        for s in specs
    ]
    fleet = Fleet([a.client for a in agents])
    fleet.start()
    sent = 0
    try:
        wait_for(lambda: all(a.client.connected for a in agents), 30, "agents to connect")
        restart = threading.Timer(0.7, stack.restart_broker, kwargs={"down_for": 1.0})
        restart.start()
        t_end = time.monotonic() + 3.0
        i = 0
        while time.monotonic() < t_end:
            for a in agents:
                a.emit({c: float(i) for c in a.cells})
                sent += 1
            i += 1
            time.sleep(0.01)
        restart.join()
        wait_for(
            lambda: all(a.outbox.count() == 0 for a in agents), 60, "agents to drain their outboxes"
        )
    finally:
        fleet.stop()
    _assert_exactly(stack, prefix, sent)
    assert worker.proc.poll() is None
    worker.stop()
    retire_session(stack.settings, "faults-broker")


def test_provisioning_reloads_the_broker_without_losing_queued_messages(stack: Stack) -> None:
    from wayhouse.platform.devices.service import add_agent

    prefix = f"rel{uuid.uuid4().hex[:6]}"
    agents = _agents(prefix, 2)
    stack.provision(agents)
    worker = stack.start_ingest("faults-reload")
    worker.kill()  # its session stays and queues what arrives
    for a in agents:
        target = stack.settings.mqtt(a.agent_id, stack.settings.sim_password(a.agent_id))
        assert publish_all(target, a.agent_id, [_message(a, seq) for seq in range(150)]).ok == 150
    broker_pid = mosquitto.pid(stack.settings)
    newcomer = AgentSpec(f"{prefix}-new", "scanner", (SensorSpec(f"{prefix}-new-bc", "barcode"),))
    password = add_agent(stack.settings, newcomer)
    # The newcomer can log in at once; the broker process is the same one (reloaded, not restarted).
    target = stack.settings.mqtt(newcomer.agent_id, password)
    scan = S.ScanMessage(
        v=1,
        seq=1,
        r=[S.ScanReading(s=f"{prefix}-new-bc", t=time.time(), k="barcode", c="SKU-1", a="count")],
    )
    wait_for(
        lambda: (
            publish_all(
                target, newcomer.agent_id, [(S.topic(newcomer.agent_id, "scan"), S.encode(scan))]
            ).ok
            == 1
        ),
        10,
        "the new agent's login",
    )
    assert mosquitto.pid(stack.settings) == broker_pid
    worker = stack.start_ingest("faults-reload")
    _assert_exactly(stack, prefix, 2 * 150)
    worker.stop()
