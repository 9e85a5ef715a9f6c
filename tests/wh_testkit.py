"""Test helpers: a plain paho publisher that reports each PUBACK, and a collecting subscriber."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

import paho.mqtt.client as mqtt
import psycopg
from paho.mqtt.enums import CallbackAPIVersion

from wayhouse.config import MqttTarget
from wayhouse.edge import schema as S
from wayhouse.platform.devices.model import AgentSpec, SensorSpec


@dataclass
class PublishReport:
    ok: int = 0
    refused: list[str] = field(default_factory=list)
    connect_refused: str | None = None


def publish_all(
    target: MqttTarget,
    client_id: str,
    messages: Iterable[tuple[str, bytes]],
    timeout: float = 60.0,
    window: int = 1000,
) -> PublishReport:
    """Publish QoS 1, at most ``window`` unacknowledged, and wait for every PUBACK."""
    report = PublishReport()
    lock = threading.Lock()
    slots = threading.BoundedSemaphore(window)
    all_acked = threading.Event()
    sent = 0
    acked = 0
    finished_sending = False
    connected = threading.Event()
    failed = threading.Event()

    c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    c.username_pw_set(target.username, target.password)
    c.max_inflight_messages_set(window)

    def on_connect(client, userdata, flags, rc, props):  # type: ignore[no-untyped-def]
        if rc.is_failure:
            report.connect_refused = str(rc)
            failed.set()
        else:
            connected.set()

    def on_publish(client, userdata, mid, rc, props):  # type: ignore[no-untyped-def]
        # Never hold our lock while calling into paho: its network thread runs this callback.
        nonlocal acked
        with lock:
            if rc.is_failure:
                report.refused.append(str(rc))
            else:
                report.ok += 1
            acked += 1
            if finished_sending and acked == sent:
                all_acked.set()
        slots.release()

    c.on_connect = on_connect
    c.on_publish = on_publish
    c.connect(target.host, target.port)
    c.loop_start()
    try:
        deadline = time.monotonic() + timeout
        while not (connected.is_set() or failed.is_set()):
            if time.monotonic() > deadline:
                raise TimeoutError("no CONNACK")
            time.sleep(0.01)
        if failed.is_set():
            return report
        for topic, payload in messages:
            if not slots.acquire(timeout=max(0.0, deadline - time.monotonic())):
                raise TimeoutError("PUBACKs stopped arriving")
            with lock:
                sent += 1
            c.publish(topic, payload, qos=1)
        with lock:
            finished_sending = True
            if acked == sent:
                all_acked.set()
        if not all_acked.wait(timeout=max(0.0, deadline - time.monotonic())):
            raise TimeoutError(f"{sent - acked} PUBACKs missing")
    finally:
        c.disconnect()
        c.loop_stop()
    return report


def shelf_agents(prefix: str, n: int, sensors: int) -> list[AgentSpec]:
    """``n`` shelf agents named ``{prefix}-a{i}``, each with ``sensors`` load cells."""
    return [
        AgentSpec(
            f"{prefix}-a{i}",
            "shelf",
            tuple(SensorSpec(f"{prefix}-a{i}-s{j}", "scale") for j in range(sensors)),
        )
        for i in range(n)
    ]


def shelf_message(agent: AgentSpec, seq: int, t: float, weight: float) -> tuple[str, bytes]:
    """One shelf message carrying a reading of every cell of ``agent``."""
    readings = [S.ShelfReading(s=s.sensor_id, t=t, w=weight) for s in agent.sensors]
    return S.topic(agent.agent_id, "shelf"), S.encode(S.ShelfMessage(v=1, seq=seq, r=readings))


def stored_shelf(conn: psycopg.Connection, prefix: str) -> tuple[int, int]:
    """(distinct (agent, seq) messages, reading rows) stored for agents named ``{prefix}-*``."""
    row = conn.execute(
        "SELECT count(DISTINCT (r.agent_key, r.seq)), count(*) FROM shelf_reading r "
        "JOIN agent a USING (agent_key) WHERE a.agent_id LIKE %s",
        (prefix + "-%",),
    ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])
