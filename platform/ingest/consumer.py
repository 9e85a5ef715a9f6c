"""A paho client tuned for a high-rate QoS 1 consumer.

Stock paho reads a packet with several ``recv`` calls (command byte, each length byte, the
body) and writes every PUBACK with its own ``send`` and loop wake-up: at tens of thousands of
messages per second the system calls dominate the worker's CPU. This subclass reads the socket
in 64 KiB chunks and serves paho's small reads from that buffer, keeps reading while buffered
packets remain (paho would otherwise go back to ``select`` and leave them waiting), and sends
the acknowledgements of a committed batch as one write, in order.

It overrides two private paho methods, ``_sock_recv`` and ``loop_read`` (stable across paho
2.x); the tests run this client against the real broker.
"""

from __future__ import annotations

import ssl
import struct
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import MQTTErrorCode

PUBACK = 0x40
CHUNK = 65536
_PUBACK_SUCCESS = struct.Struct("!BBH")


RawSink = Callable[[int, int, bytes, bytes], None]


class BufferedConsumer(mqtt.Client):
    def __init__(self, *args: Any, raw_sink: RawSink | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._rbuf = bytearray()
        self._rpos = 0
        self._raw_sink = raw_sink

    def _handle_publish(self) -> MQTTErrorCode:
        # MQTT 3.1.1 QoS 0/1 PUBLISH straight to the sink as (mid, qos, topic, payload): no
        # MQTTMessage object, no topic-filter matching, no logging call per message. The
        # acknowledgement is the caller's (manual ack, after its commit).
        command = self._in_packet["command"]
        qos = (command & 0x06) >> 1
        if self._raw_sink is None or self._protocol != mqtt.MQTTv311 or qos == 2:
            return super()._handle_publish()
        body = self._in_packet["packet"]
        if len(body) < 2:
            return MQTTErrorCode.MQTT_ERR_PROTOCOL
        tlen = (body[0] << 8) | body[1]
        pos = 2 + tlen
        topic = bytes(body[2:pos])
        mid = 0
        if qos == 1:
            if len(body) < pos + 2:
                return MQTTErrorCode.MQTT_ERR_PROTOCOL
            mid = (body[pos] << 8) | body[pos + 1]
            pos += 2
        self._raw_sink(mid, qos, topic, bytes(body[pos:]))
        return MQTTErrorCode.MQTT_ERR_SUCCESS

    def _sock_recv(self, bufsize: int) -> bytes:
        available = len(self._rbuf) - self._rpos
        if available == 0:
            if self._sock is None:
                raise ConnectionError("self._sock is None")
            try:
                data = self._sock.recv(max(CHUNK, bufsize))
            except ssl.SSLWantReadError as err:
                raise BlockingIOError() from err
            except ssl.SSLWantWriteError as err:
                self._call_socket_register_write()
                raise BlockingIOError() from err
            except AttributeError as err:
                raise ConnectionError() from err
            if not data:
                return b""  # connection closed: paho handles the empty read
            self._rbuf = bytearray(data)
            self._rpos = 0
            available = len(data)
        n = min(bufsize, available)
        out = bytes(self._rbuf[self._rpos : self._rpos + n])
        self._rpos += n
        return out

    def loop_read(self, max_packets: int = 1) -> MQTTErrorCode:
        # Keep reading until the socket would block, buffered packets included.
        if self._sock is None:
            return MQTTErrorCode.MQTT_ERR_NO_CONN
        while True:
            if self._sock is None:
                return MQTTErrorCode.MQTT_ERR_NO_CONN
            rc = self._packet_read()
            if rc > 0:
                return self._loop_rc_handle(rc)
            if rc == MQTTErrorCode.MQTT_ERR_AGAIN:
                return MQTTErrorCode.MQTT_ERR_SUCCESS

    def _reset_sockets(self, sockpair_only: bool = False) -> None:
        # A new connection must not read the old one's leftovers.
        if not sockpair_only:
            self._rbuf = bytearray()
            self._rpos = 0
        super()._reset_sockets(sockpair_only)

    def ack_many(self, mids: list[int]) -> None:
        """Acknowledge QoS 1 messages in one write (PUBACK, success, no properties)."""
        if not mids:
            return
        packet = b"".join(_PUBACK_SUCCESS.pack(PUBACK, 2, mid) for mid in mids)
        self._packet_queue(PUBACK, packet, 0, 0)
