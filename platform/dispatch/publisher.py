"""Routes to trucks over MQTT: ``wh/v1/{agent}/route``, QoS 1, retained, so a truck unit that
connects later (or reconnects) still gets its latest route. Sent as the platform user, the
only account the broker's ACL lets write there; each truck may read only its own topic."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Protocol

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from wayhouse.config import PLATFORM_USER, Settings
from wayhouse.edge.agents import route_topic


class Send(Protocol):
    def __call__(self, agent_id: str, payload: bytes) -> None: ...


@contextmanager
def route_sender(settings: Settings, timeout_s: float = 10.0) -> Iterator[Send]:
    """Yields ``send(agent_id, payload)``; on exit waits until the broker acknowledged every
    message (raises ``TimeoutError`` otherwise, so a publish is never reported done unsent)."""
    target = settings.mqtt(user=PLATFORM_USER, password=settings.secret("platform_password"))
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    client.username_pw_set(target.username, target.password)
    connected = threading.Event()
    client.on_connect = lambda c, u, f, rc, p: connected.set() if not rc.is_failure else None
    client.connect(target.host, target.port)
    client.loop_start()
    infos: list[mqtt.MQTTMessageInfo] = []
    try:
        if not connected.wait(timeout_s):
            raise TimeoutError("the broker did not accept the platform's connection")

        def send(agent_id: str, payload: bytes) -> None:
            infos.append(client.publish(route_topic(agent_id), payload, qos=1, retain=True))

        yield send
        for info in infos:
            info.wait_for_publish(timeout_s)
            if not info.is_published():
                raise TimeoutError("a route was not acknowledged by the broker")
    finally:
        client.disconnect()
        client.loop_stop()
