"""Edge agents against the real Mosquitto: nothing is lost when the agent is killed or the
broker restarts, and nothing gets through without the right credentials and topic."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import time
import uuid
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from conftest import Stack, wait_for
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from wayhouse.config import MqttTarget, Settings
from wayhouse.edge.agents import ShelfScaleAgent
from wayhouse.edge.client import EdgeClient
from wayhouse.edge.fleet import Fleet
from wayhouse.edge.outbox import MemoryOutbox, SqliteOutbox
from wayhouse.edge.schema import (
    InvalidMessage,
    Message,
    ShelfMessage,
    ShelfReading,
    StatusMessage,
    Stream,
    decode,
    encode,
    parse_topic,
    topic,
)
from wayhouse.platform.devices.model import AgentSpec, SensorSpec

pytestmark = pytest.mark.integration

T0 = 1_700_000_000.0


class Collector:
    """Subscribes as the ingest user to some agents' topics and keeps every arrival in order.

    A persistent session (clean start off, session expiry) that the broker saves on a
    restart, so a broker restart loses nothing on the receiving side either."""

    def __init__(self, settings: Settings, agents: list[str]) -> None:
        self.arrivals: list[tuple[str, Stream, bytes]] = []
        self.invalid = 0
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        target = settings.mqtt()
        c = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"collector-{uuid.uuid4().hex[:8]}",
            protocol=MQTTProtocolVersion.MQTTv5,
        )
        c.username_pw_set(target.username, target.password)
        c.reconnect_delay_set(1, 2)
        filters = [(f"wh/v1/{a}/#", 1) for a in agents]
        c.on_connect = lambda cl, ud, fl, rc, pr: cl.subscribe(filters)
        c.on_subscribe = lambda *a: self._subscribed.set()
        c.on_message = self._on_message
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = 600
        c.connect(target.host, target.port, clean_start=False, properties=props)
        c.loop_start()
        self._client = c

    def __enter__(self) -> Collector:
        if not self._subscribed.wait(30):
            raise TimeoutError("collector did not subscribe")
        return self

    def __exit__(self, *exc: object) -> None:
        props = Properties(PacketTypes.DISCONNECT)
        props.SessionExpiryInterval = 0  # end the session: nothing queues for it afterwards
        self._client.disconnect(properties=props)
        self._client.loop_stop()

    def _on_message(self, client: mqtt.Client, userdata: object, m: mqtt.MQTTMessage) -> None:
        try:
            agent, stream = parse_topic(m.topic)
        except InvalidMessage:
            return  # not an agent's stream: e.g. the retained route the platform sent a truck
        with self._lock:
            self.arrivals.append((agent, stream, bytes(m.payload)))

    def _decoded(self, agent: str, stream: Stream | None = None) -> list[Message]:
        with self._lock:
            rows = [
                (s, p)
                for a, s, p in self.arrivals
                if a == agent and (stream is None or s == stream)
            ]
        out = []
        for s, p in rows:
            try:
                out.append(decode(s, p))
            except InvalidMessage:
                self.invalid += 1
        return out

    def seqs(self, agent: str, stream: Stream) -> list[int]:
        """Seqs in arrival order, duplicates included."""
        return [m.seq for m in self._decoded(agent, stream)]

    def messages(self, agent: str, stream: Stream) -> dict[int, Message]:
        return {m.seq: m for m in self._decoded(agent, stream)}

    def statuses(self, agent: str, state: str) -> list[StatusMessage]:
        return [
            m
            for m in self._decoded(agent, Stream.STATUS)
            if isinstance(m, StatusMessage) and m.state == state
        ]

    def all_messages(self, agent: str) -> list[Message]:
        return self._decoded(agent)

    def raw(self, agent: str) -> list[tuple[Stream, bytes]]:
        with self._lock:
            return [(s, p) for a, s, p in self.arrivals if a == agent]


def _spec(agent_id: str) -> AgentSpec:
    return AgentSpec(agent_id, "shelf", (SensorSpec(f"{agent_id}:c1", "scale"),))


def _target(stack: Stack, agent_id: str, password: str | None = None) -> MqttTarget:
    s = stack.settings
    return s.mqtt(agent_id, password or s.sim_password(agent_id))


_AGENT_PROCESS = textwrap.dedent(
    """
    import sys, time
    from wayhouse.config import MqttTarget
    from wayhouse.edge.agents import ShelfScaleAgent
    from wayhouse.edge.outbox import SqliteOutbox
    path, agent, host, port, password, n = sys.argv[1:7]
    cell = agent + ":c1"
    ob = SqliteOutbox(path)
    a = ShelfScaleAgent(agent, MqttTarget(host, int(port), agent, password), ob, cells=[cell],
                        window=10)
    for i in range(int(n)):
        a.emit({cell: float(i)}, t=1_700_000_000.0 + i)
    ob.flush()
    print("queued", flush=True)
    a.start()
    time.sleep(600)
    """
)


def test_agent_killed_mid_stream_and_restarted_loses_nothing(stack: Stack, tmp_path: Path) -> None:
    agent_id = f"kill-{uuid.uuid4().hex[:6]}"
    stack.provision([_spec(agent_id)])
    target = _target(stack, agent_id)
    n = 5000
    path = tmp_path / "outbox.db"
    with Collector(stack.settings, [agent_id]) as seen:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-c",
                _AGENT_PROCESS,
                str(path),
                agent_id,
                target.host,
                str(target.port),
                target.password,
                str(n),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert proc.stdout is not None and proc.stdout.readline().strip() == "queued"
            wait_for(lambda: len(seen.seqs(agent_id, Stream.SHELF)) >= 50, 30, "first readings")
        finally:
            proc.kill()
            proc.wait()
        outbox = SqliteOutbox(path)
        assert outbox.count() > 0, "the agent was killed after it had sent everything"
        # The broker noticed the dead connection and published the last will.
        wait_for(lambda: bool(seen.statuses(agent_id, "offline")), 30, "the last will")
        [will] = seen.statuses(agent_id, "offline")
        assert will.info == "will"

        again = ShelfScaleAgent(agent_id, target, outbox, cells=[f"{agent_id}:c1"])
        again.start()
        try:
            expected = set(range(1, n + 1))
            wait_for(
                lambda: expected <= set(seen.seqs(agent_id, Stream.SHELF)),
                60,
                "every queued reading after the restart",
            )
            wait_for(lambda: outbox.count() == 0, 30, "the outbox to drain")
        finally:
            again.stop()
        shelf = seen.messages(agent_id, Stream.SHELF)
        assert set(shelf) == expected  # nothing extra either
        for seq, msg in shelf.items():
            assert isinstance(msg, ShelfMessage)
            assert msg.r[0].w == float(seq - 1) and msg.r[0].t == T0 + seq - 1
        # The restarted agent continued the seq: nothing it sent reused a seq of the old run.
        online = seen.statuses(agent_id, "online")
        assert online and min(m.seq for m in online[1:] or online) > n
        assert len({m.seq for m in seen.all_messages(agent_id)}) == len(
            {(m.seq, type(m)) for m in seen.all_messages(agent_id)}
        )
        outbox.close()


def test_broker_restart_mid_stream_delivers_everything_in_seq_order(
    stack: Stack, tmp_path: Path
) -> None:
    ids = [f"brk-{uuid.uuid4().hex[:6]}-{i}" for i in range(3)]
    stack.provision([_spec(a) for a in ids])
    agents = [
        ShelfScaleAgent(
            a,
            _target(stack, a),
            SqliteOutbox(tmp_path / f"{a}.db"),
            cells=[f"{a}:c1"],
            backoff_min=0.2,
            backoff_max=1.0,
        )
        for a in ids
    ]
    fleet = Fleet([a.client for a in agents])
    put: dict[str, list[int]] = {a: [] for a in ids}
    put_while_down = 0
    with Collector(stack.settings, ids) as seen:
        fleet.start()
        try:
            wait_for(lambda: all(a.client.connected for a in agents), 30, "agents to connect")
            restart = threading.Timer(1.0, stack.restart_broker, kwargs={"down_for": 1.0})
            restart.start()
            t_end = time.monotonic() + 4.0
            i = 0
            while time.monotonic() < t_end:
                for a in agents:
                    put_while_down += not a.client.connected
                    put[a.agent_id] += a.emit({f"{a.agent_id}:c1": float(i)})
                i += 1
                time.sleep(0.005)
            restart.join()
            wait_for(
                lambda: all(set(put[a]) <= set(seen.seqs(a, Stream.SHELF)) for a in ids),
                60,
                "every reading after the broker restart",
            )
        finally:
            fleet.stop()
    assert put_while_down > 0, "the broker restart did not overlap the stream"
    for a in agents:
        assert a.client.stats.disconnects >= 1 and a.client.stats.connects >= 2
        assert a.outbox.count() == 0
        arrivals = seen.seqs(a.agent_id, Stream.SHELF)
        first_seen = list(dict.fromkeys(arrivals))  # duplicates (QoS 1 resends) dropped
        assert first_seen == sorted(first_seen), f"{a.agent_id}: out of seq order"
        assert set(first_seen) == set(put[a.agent_id])


def test_wrong_password_or_foreign_topic_gets_nothing_through(stack: Stack) -> None:
    honest, victim = f"acl-{uuid.uuid4().hex[:6]}", f"acl-{uuid.uuid4().hex[:6]}"
    stack.provision([_spec(honest), _spec(victim)])
    cell = f"{honest}:c1"

    def shelf(seq: int, sensor: str) -> ShelfMessage:
        return ShelfMessage(v=1, seq=seq, r=[ShelfReading(s=sensor, t=T0, w=1.0)])

    with Collector(stack.settings, [honest, victim]) as seen:
        # The victim's id with a wrong password: refused at CONNACK, again and again.
        impostor = EdgeClient(
            victim,
            _target(stack, victim, "wrong"),
            MemoryOutbox(),
            backoff_min=0.1,
            backoff_max=0.2,
        )
        impostor.put(Stream.SHELF, lambda seq: shelf(seq, f"{victim}:c1"))
        fleet = Fleet([impostor])
        fleet.start()
        try:
            wait_for(lambda: impostor.stats.connect_failures >= 2, 30, "refused connects")
        finally:
            fleet.stop(flush_timeout=0)
        assert impostor.stats.connects == 0 and impostor.stats.acked == 0
        assert impostor.outbox.count() == 1  # kept, for when the credentials are fixed

        # A real agent writing under another agent's topic: PUBACK 135, dropped, not retried.
        outbox = MemoryOutbox()
        client = EdgeClient(honest, _target(stack, honest), outbox)
        outbox.put(topic(victim, Stream.SHELF), lambda seq: encode(shelf(seq, f"{victim}:c1")))
        own = client.put(Stream.SHELF, lambda seq: shelf(seq, cell))
        fleet = Fleet([client])
        fleet.start()
        try:
            wait_for(lambda: own in seen.seqs(honest, Stream.SHELF), 30, "the honest reading")
            wait_for(lambda: client.stats.rejected == 1, 30, "the refusal")
        finally:
            fleet.stop()
        [refused] = list(client.rejected)
        assert refused.reason_code == 135 and refused.topic == topic(victim, Stream.SHELF)
        assert outbox.count() == 0 and client.stats.sent == client.stats.acked + 1
        time.sleep(0.5)  # anything that slipped through would have arrived by now
        assert seen.raw(victim) == []
