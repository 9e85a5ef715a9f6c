"""The client's delivery bookkeeping without a broker: paho's publish is replaced by a recorder
and PUBACKs, connects and disconnects are played by calling the callbacks."""

from __future__ import annotations

import pytest
from paho.mqtt.client import MQTTMessageInfo
from paho.mqtt.enums import MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from wayhouse.config import MqttTarget
from wayhouse.edge.client import EdgeClient
from wayhouse.edge.outbox import MemoryOutbox
from wayhouse.edge.schema import (
    SCHEMA_VERSION,
    ShelfMessage,
    ShelfReading,
    StatusMessage,
    Stream,
    decode,
)

TARGET = MqttTarget("127.0.0.1", 1, "dev", "pw")
T0 = 1_700_000_000.0


class Wire:
    """Stands in for paho.publish: records (mid, topic, payload), hands out mids."""

    def __init__(self) -> None:
        self.sent: list[tuple[int, str, bytes]] = []
        self._mid = 0
        self.connected = True

    def publish(self, topic: str, payload: bytes, qos: int = 0) -> MQTTMessageInfo:
        self._mid = self._mid % 65535 + 1
        info = MQTTMessageInfo(self._mid)
        info.rc = (
            MQTTErrorCode.MQTT_ERR_SUCCESS if self.connected else MQTTErrorCode.MQTT_ERR_NO_CONN
        )
        if self.connected:
            self.sent.append((self._mid, topic, payload))
        return info

    def seqs(self) -> list[int]:
        return [decode(Stream(t.rsplit("/", 1)[1]), p).seq for _, t, p in self.sent]


def _client(window: int = 3, status: bool = False) -> tuple[EdgeClient, Wire]:
    c = EdgeClient("dev", TARGET, MemoryOutbox(), window=window, status=status, clock=lambda: T0)
    wire = Wire()
    c._mqtt.publish = wire.publish  # type: ignore[method-assign]
    return c, wire


def _connack(c: EdgeClient, receive_maximum: int | None = None) -> None:
    props = Properties(PacketTypes.CONNACK)
    if receive_maximum is not None:
        props.ReceiveMaximum = receive_maximum
    c._on_connect(c._mqtt, None, None, ReasonCode(PacketTypes.CONNACK, identifier=0), props)  # type: ignore[arg-type]


def _puback(c: EdgeClient, mid: int, code: int = 0) -> None:
    rc = ReasonCode(PacketTypes.PUBACK, identifier=code)
    c._on_publish(c._mqtt, None, mid, rc, Properties(PacketTypes.PUBACK))


def _put(c: EdgeClient, w: float) -> int:
    return c.put(
        Stream.SHELF,
        lambda seq: ShelfMessage(v=SCHEMA_VERSION, seq=seq, r=[ShelfReading(s="lc-1", t=T0, w=w)]),
    )


def test_nothing_is_sent_before_the_connection_is_up() -> None:
    c, wire = _client()
    _put(c, 1.0)
    assert c.pump() == 0 and wire.sent == []
    assert c.backlog() == 1


def test_at_most_window_messages_are_unacknowledged() -> None:
    c, wire = _client(window=3)
    _connack(c)
    for i in range(10):
        _put(c, float(i))
    assert c.pump() == 3
    assert c.pump() == 0  # window full
    assert wire.seqs() == [1, 2, 3] and c.in_flight == 3
    _puback(c, wire.sent[0][0])
    assert c.pump() == 1
    assert wire.seqs() == [1, 2, 3, 4]


def test_the_broker_receive_maximum_narrows_the_window() -> None:
    c, wire = _client(window=100)
    _connack(c, receive_maximum=2)
    for i in range(5):
        _put(c, float(i))
    c.pump()
    assert c.effective_window == 2 and len(wire.sent) == 2


def test_a_row_leaves_the_outbox_only_on_a_successful_puback() -> None:
    c, wire = _client(window=10)
    _connack(c)
    for i in range(3):
        _put(c, float(i))
    c.pump()
    assert c.outbox.count() == 3  # sent is not acknowledged
    _puback(c, wire.sent[1][0])
    assert [p.seq for p in c.outbox.pending()] == [1, 3]
    assert c.stats.acked == 1


def test_no_matching_subscribers_keeps_the_row_and_sends_it_again(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import wayhouse.edge.client as client_module

    monkeypatch.setattr(client_module, "UNROUTED_RETRY_S", 0.0)
    c, wire = _client(window=10)
    _connack(c)
    for i in range(3):
        _put(c, float(i))
    c.pump()
    # PUBACK 16: the broker took it but nobody was subscribed (the platform's subscription
    # is missing, e.g. just after a broker restart): delivered to no one is not delivered.
    _puback(c, wire.sent[1][0], code=16)
    _puback(c, wire.sent[0][0])
    _puback(c, wire.sent[2][0])
    assert [p.seq for p in c.outbox.pending()] == [2]
    assert c.stats.unrouted == 1 and c.stats.acked == 2
    c._housekeeping(0.0)  # the retry is due and nothing is in flight: rewind
    c.pump()
    assert wire.seqs()[-1] == 2
    _puback(c, wire.sent[-1][0])
    assert c.outbox.count() == 0


def test_a_refused_publish_is_counted_and_dropped_not_retried() -> None:
    c, wire = _client(window=10)
    _connack(c)
    _put(c, 1.0)
    c.pump()
    _puback(c, wire.sent[0][0], code=135)
    assert c.stats.rejected == 1 and c.stats.acked == 0
    assert c.rejected[0].seq == 1 and c.rejected[0].reason_code == 135
    assert c.outbox.count() == 0
    assert c.pump() == 0


def test_after_a_reconnect_everything_unacknowledged_is_resent_in_seq_order() -> None:
    c, wire = _client(window=4)
    _connack(c)
    for i in range(8):
        _put(c, float(i))
    c.pump()  # 1..4 in flight
    _puback(c, wire.sent[1][0])  # 2 acked
    c.pump()  # 5 joins
    c._on_disconnect(c._mqtt, None, None, None, None)
    assert c.in_flight == 0 and not c.connected
    _puback(c, wire.sent[0][0])  # a stale mid from the old connection changes nothing
    assert c.outbox.count() == 7
    wire.sent.clear()
    c._state = "connecting"  # what _attempt() sets before paho connects
    c._cursor = 0
    _connack(c)
    c.pump()
    assert wire.seqs() == [1, 3, 4, 5]
    for mid, _, _ in list(wire.sent):
        _puback(c, mid)
    c.pump()
    assert wire.seqs() == [1, 3, 4, 5, 6, 7, 8]


def test_online_status_is_queued_on_connect_behind_the_backlog() -> None:
    c, wire = _client(window=10, status=True)
    _put(c, 1.0)
    _connack(c)
    c.pump()
    msgs = [decode(Stream(t.rsplit("/", 1)[1]), p) for _, t, p in wire.sent]
    assert isinstance(msgs[0], ShelfMessage)
    assert isinstance(msgs[1], StatusMessage) and msgs[1].state == "online"
    assert msgs[1].seq > msgs[0].seq


def test_the_will_reuses_its_seq_until_a_connection_was_made() -> None:
    """A will the broker may have published must not share its seq with anything else."""
    c, _ = _client(status=True)
    c._mqtt.connect = lambda *a, **k: (_ for _ in ()).throw(ConnectionRefusedError())  # type: ignore[method-assign]
    c._attempt(0.0)
    first = c._will_seq
    c._attempt(0.0)
    assert c._will_seq == first and c.stats.connect_failures == 2
    c._state = "connecting"
    _connack(c)
    c._on_disconnect(c._mqtt, None, None, None, None)
    c._attempt(0.0)
    assert c._will_seq is not None and first is not None and c._will_seq > first
    will = decode(Stream.STATUS, c._mqtt._will_payload)
    assert isinstance(will, StatusMessage) and will.state == "offline"
    assert will.seq == c._will_seq


def test_raw_injected_messages_bypass_the_outbox() -> None:
    c, wire = _client(window=2)
    _connack(c)
    c.inject("wh/v1/dev/shelf", b"not json")
    _put(c, 1.0)
    c.pump()
    assert [t for _, t, _ in wire.sent] == ["wh/v1/dev/shelf", "wh/v1/dev/shelf"]
    assert wire.sent[0][2] == b"not json"
    _puback(c, wire.sent[0][0])
    assert c.stats.injected_acked == 1 and c.outbox.count() == 1


def test_window_beyond_paho_mid_space_is_refused() -> None:
    with pytest.raises(ValueError, match="window"):
        EdgeClient("dev", TARGET, MemoryOutbox(), window=70_000)


def test_heartbeats_are_queued_every_interval_while_connected() -> None:
    c, wire = _client(window=10, status=True)
    c.heartbeat_s = 30.0
    c._housekeeping(1000.0)
    assert c.outbox.count() == 0  # not connected: no heartbeat piles up offline
    _connack(c)
    c._next_heartbeat = 1000.0
    c._housekeeping(1000.0)
    c._housekeeping(1029.0)
    c._housekeeping(1030.0)
    c.pump()
    states = [decode(Stream.STATUS, p).state for _, _, p in wire.sent]  # type: ignore[union-attr]
    assert states == ["online", "heartbeat", "heartbeat"]
