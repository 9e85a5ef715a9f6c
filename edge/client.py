"""MQTT side of an edge agent: store-and-forward from the outbox to the broker.

``EdgeClient`` is one agent's connection (paho-mqtt 2.x, MQTT v5, QoS 1). It owns no thread:
a ``Fleet`` (edge/fleet.py) drives one or thousands of clients from a single thread on a
selector, which is both how one device runs (``EdgeClient.start()`` makes a fleet of one)
and how a load generator plays many devices.

Delivery rules:
- a message leaves only from the outbox, in seq order, with at most ``window`` unacknowledged
  (paho loses QoS 1 messages past 65,535 outstanding; the broker's Receive Maximum is honoured
  too); the outbox row is deleted only when the PUBACK reason code is a success;
- on disconnect the client stops feeding and forgets what paho still holds; on reconnect it
  resends everything unacknowledged from the outbox, in seq order (duplicates are harmless:
  the platform dedupes on ``(agent_id, seq)``);
- a PUBACK with a failure reason (>= 128, e.g. 135 not authorized) is logged, counted in
  ``stats.rejected`` / ``rejected`` and dropped: resending it would fail forever;
- the last will is an ``offline`` status whose seq is reserved from the outbox at connect time.
"""

from __future__ import annotations

import contextlib
import logging
import random
import ssl
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode, MQTTProtocolVersion
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from wayhouse.config import MqttTarget
from wayhouse.edge.outbox import Outbox
from wayhouse.edge.schema import SCHEMA_VERSION, Message, StatusMessage, Stream, encode, topic

if TYPE_CHECKING:
    from wayhouse.edge.fleet import Fleet

log = logging.getLogger(__name__)

# MQTT 5 PUBACK reason 16: accepted, but no subscription matched (Mosquitto says so).
NO_MATCHING_SUBSCRIBERS = 16
UNROUTED_RETRY_S = 1.0

DEFAULT_WINDOW = 1000
# paho message ids are 16-bit and reused: more outstanding than this and they collide.
PAHO_MAX_OUTSTANDING = 65_535


@dataclass
class ClientStats:
    queued: int = 0  # messages put through this client (readings and statuses)
    sent: int = 0  # handed to paho; a resend after a reconnect counts again
    acked: int = 0  # PUBACK success: the outbox row is gone
    rejected: int = 0  # PUBACK failure: logged and dropped
    connects: int = 0
    connect_failures: int = 0  # TCP refused or CONNACK refused (bad password...)
    disconnects: int = 0
    injected: int = 0  # raw messages outside the outbox (replay / malformed load)
    injected_acked: int = 0
    injected_lost: int = 0  # raw messages in flight when the connection dropped
    unrouted: int = 0  # PUBACK 16 "no matching subscribers": kept and sent again later


class Rejected(NamedTuple):
    seq: int | None
    topic: str
    reason_code: int
    reason: str


class _CorkingClient(mqtt.Client):
    """A paho client that, while ``cork`` is set, collects what paho sends and lets the fleet
    write it in one system call: a pump of 100 publishes costs one ``send``, not 100.

    Overrides paho's private ``_sock_send`` (stable across paho 2.x). Bytes are only ever
    appended in paho's order, and once anything is buffered everything after it is too."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.cork = False
        self.wbuf = bytearray()

    def _sock_send(self, buf: bytes | bytearray) -> int:
        if self.cork or self.wbuf:
            if self._sock is None:
                raise ConnectionError("self._sock is None")
            self.wbuf += buf
            return len(buf)
        return super()._sock_send(buf)

    def flush_wbuf(self) -> bool:
        """Write buffered bytes; False if the socket pushed back before all were written."""
        sock = self._sock
        while self.wbuf:
            if sock is None:
                self.wbuf.clear()
                break
            try:
                n = sock.send(self.wbuf)
            except (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
                return False
            except OSError:
                self.wbuf.clear()  # the connection is gone; the next read reports it
                break
            del self.wbuf[:n]
        return True

    def wants_write(self) -> bool:
        return bool(self.wbuf) or self.want_write()


class EdgeClient:
    """One agent's MQTT connection, fed from its outbox. Drive it with a ``Fleet``."""

    def __init__(
        self,
        agent_id: str,
        target: MqttTarget,
        outbox: Outbox,
        *,
        window: int = DEFAULT_WINDOW,
        heartbeat_s: float | None = 30.0,
        keepalive: int = 30,
        status: bool = True,
        clock: Callable[[], float] = time.time,
        backoff_min: float = 0.5,
        backoff_max: float = 30.0,
        connack_timeout: float = 10.0,
        subscriptions: Sequence[str] = (),
        on_message: Callable[[str, bytes], None] | None = None,
    ) -> None:
        if not 1 <= window <= PAHO_MAX_OUTSTANDING:
            raise ValueError(f"window must be 1..{PAHO_MAX_OUTSTANDING}, got {window}")
        self.agent_id = agent_id
        self.target = target
        self.outbox = outbox
        self.window = window
        self.heartbeat_s = heartbeat_s
        self.keepalive = keepalive
        self.status = status
        self.clock = clock
        self.backoff_min = backoff_min
        self.backoff_max = backoff_max
        self.connack_timeout = connack_timeout
        # Topics the agent reads (a truck: its route), subscribed on every connect.
        self.subscriptions = tuple(subscriptions)
        self.stats = ClientStats()
        self.rejected: deque[Rejected] = deque(maxlen=1000)
        self.last_error: str | None = None

        self._fleet: Fleet | None = None
        self._rng = random.Random(agent_id)  # jitter differs per agent, deterministically
        self._inflight: dict[int, tuple[int | None, str]] = {}  # mid -> (seq, topic)
        self._cursor = 0  # highest outbox seq handed to paho on this connection
        self._inject: deque[tuple[str, bytes]] = deque()
        self._state = "idle"  # idle | connecting | connected | stopped
        self._effective_window = window
        self._next_attempt = 0.0
        self._backoff = backoff_min
        self._connack_deadline = 0.0
        self._next_heartbeat = 0.0
        self._rewind_at: float | None = None  # when to resend rows nobody was subscribed for
        self._will_seq: int | None = None
        self._will_armed = False  # the broker may have published the will with _will_seq
        self._wake_queued = False
        self._write_interest = False

        c = _CorkingClient(
            CallbackAPIVersion.VERSION2,
            client_id=agent_id,
            protocol=MQTTProtocolVersion.MQTTv5,
        )
        c.username_pw_set(target.username, target.password)
        if target.tls:
            c.tls_set()
        c.connect_timeout = 5.0
        # paho must never queue on its own: everything it holds is in flight and in our map.
        c.max_inflight_messages_set(window)
        c.max_queued_messages_set(window)
        c.on_connect = self._on_connect
        c.on_disconnect = self._on_disconnect
        c.on_publish = self._on_publish
        c.on_socket_open = self._on_socket_open
        c.on_socket_close = self._on_socket_close
        if on_message is not None:
            c.on_message = lambda client, userdata, msg: on_message(msg.topic, msg.payload)
        self._mqtt = c

    # ---- producer side (any thread) ---------------------------------------------------

    def put(self, stream: Stream | str, make: Callable[[int], Message]) -> int:
        """Queue a message: ``make(seq)`` builds it with the seq the outbox assigns."""
        seq = self.outbox.put(topic(self.agent_id, stream), lambda s: encode(make(s)))
        self.stats.queued += 1
        self.wake()
        return seq

    def inject(self, topic_name: str, payload: bytes) -> None:
        """Publish raw bytes outside the outbox (load generator: replays, malformed input)."""
        self._inject.append((topic_name, payload))
        self.wake()

    def wake(self) -> None:
        if self._fleet is not None:
            self._fleet.wake(self)

    # ---- state ------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self._state == "connected"

    @property
    def in_flight(self) -> int:
        return len(self._inflight)

    @property
    def effective_window(self) -> int:
        return self._effective_window

    def backlog(self) -> int:
        """Messages not yet acknowledged (in the outbox, plus raw ones waiting)."""
        return self.outbox.count() + len(self._inject)

    def idle(self) -> bool:
        return not self._inflight and not self._inject and self.outbox.count() == 0

    def counters(self) -> dict[str, int]:
        d = dict(vars(self.stats))
        d["in_flight"] = self.in_flight
        d["backlog"] = self.backlog()
        return d

    # ---- standalone use -----------------------------------------------------------------

    def start(self) -> Fleet:
        """Run this client alone in a background thread (a fleet of one)."""
        from wayhouse.edge.fleet import Fleet

        fleet = Fleet([self], name=f"edge-{self.agent_id}")
        fleet.start()
        return fleet

    def stop(self, flush_timeout: float = 5.0) -> None:
        """Send what the outbox holds for up to ``flush_timeout`` s, then disconnect cleanly;
        whatever is still unacknowledged stays in the outbox for the next start."""
        if self._fleet is not None:
            self._fleet.stop(flush_timeout)

    # ---- driven by the fleet (its thread only) -------------------------------------------

    def _status(self, state: str, info: str | None = None) -> None:
        t = self.clock()
        self.put(
            Stream.STATUS,
            lambda seq: StatusMessage(v=SCHEMA_VERSION, seq=seq, t=t, state=state, info=info),  # type: ignore[arg-type]
        )

    def _attempt(self, now: float) -> None:
        """Open a connection (the TCP connect blocks; on a LAN that is short)."""
        # Whatever paho still holds is either acked or will be resent from the outbox.
        self._mqtt.drop_out_messages()
        self._inflight.clear()
        self._cursor = 0
        if self.status:
            # A will the broker may already have published must not reuse its seq.
            if self._will_seq is None or self._will_armed:
                self._will_seq = self.outbox.reserve()
                self._will_armed = False
            will = StatusMessage(
                v=SCHEMA_VERSION, seq=self._will_seq, t=self.clock(), state="offline", info="will"
            )
            self._mqtt.will_set(topic(self.agent_id, Stream.STATUS), encode(will), qos=1)
        self._state = "connecting"
        self._connack_deadline = now + self.connack_timeout
        try:
            self._mqtt.connect(
                self.target.host, self.target.port, keepalive=self.keepalive, clean_start=True
            )
        except (OSError, ssl.SSLError) as exc:
            self.last_error = f"connect: {exc}"
            self.stats.connect_failures += 1
            self._schedule_retry(now)

    def _schedule_retry(self, now: float) -> None:
        self._state = "idle"
        self._next_attempt = now + self._backoff * (0.5 + self._rng.random())
        self._backoff = min(self._backoff * 2, self.backoff_max)

    def _housekeeping(self, now: float) -> None:
        state = self._state
        if state == "connected":
            self._mqtt.loop_misc()  # keepalive pings, dead-peer detection
            if (
                self._rewind_at is not None
                and time.monotonic() >= self._rewind_at
                and not self._inflight
            ):
                # Resend, in seq order, everything still in the outbox (the unrouted rows).
                self._rewind_at = None
                self._cursor = 0
                self.wake()
            if self.status and self.heartbeat_s and now >= self._next_heartbeat:
                self._next_heartbeat = now + self.heartbeat_s
                self._status("heartbeat")
        elif state == "connecting" and now >= self._connack_deadline:
            self.last_error = "no CONNACK in time"
            self.stats.connect_failures += 1
            sock = self._mqtt.socket()
            if sock is not None and self._fleet is not None:
                self._fleet._unregister(sock)
                sock.close()  # the next attempt's reconnect() discards it
            self._schedule_retry(now)
        self.outbox.flush()

    def pump(self) -> int:
        """Hand paho what the window allows, in seq order; return how many."""
        if self._state != "connected":
            return 0
        self._mqtt.cork = True
        try:
            return self._pump()
        finally:
            self._mqtt.cork = False

    def _pump(self) -> int:
        room = self._effective_window - len(self._inflight)
        n = 0
        publish = self._mqtt.publish
        while room > 0 and self._inject:
            topic_name, payload = self._inject.popleft()
            try:
                info = publish(topic_name, payload, qos=1)
            except ValueError as exc:  # a topic paho itself refuses
                self.stats.rejected += 1
                self.rejected.append(Rejected(None, topic_name, -1, str(exc)))
                continue
            if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
                self._inject.appendleft((topic_name, payload))
                return n
            self._inflight[info.mid] = (None, topic_name)
            self.stats.injected += 1
            room -= 1
            n += 1
        if room <= 0:
            return n
        last = self.outbox.last_seq
        if last <= self._cursor:
            return n
        rows = self.outbox.pending(self._cursor, room)
        for row in rows:
            info = publish(row.topic, row.payload, qos=1)
            if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
                log.debug("%s: publish of seq %d returned %s", self.agent_id, row.seq, info.rc)
                self.stats.sent += n
                return n
            self._inflight[info.mid] = (row.seq, row.topic)
            self._cursor = row.seq
            n += 1
        self.stats.sent += len(rows)
        if len(rows) < room:
            # Nothing else up to `last`: skip the query until something new is put.
            self._cursor = max(self._cursor, last)
        return n

    # ---- paho callbacks -----------------------------------------------------------------

    def _on_connect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.ConnectFlags,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        if reason_code.is_failure:
            # paho closes the socket next and calls _on_disconnect, which schedules a retry.
            self.last_error = f"CONNACK: {reason_code}"
            self.stats.connect_failures += 1
            log.warning("%s: broker refused the connection: %s", self.agent_id, reason_code)
            return
        self._state = "connected"
        self._will_armed = True
        self._backoff = self.backoff_min
        self.stats.connects += 1
        recv_max = getattr(properties, "ReceiveMaximum", None) if properties else None
        self._effective_window = min(self.window, recv_max) if recv_max else self.window
        if self.status:
            self._next_heartbeat = time.monotonic() + (self.heartbeat_s or 0)
            self._status("online")
        if self.subscriptions:
            client.subscribe([(topic_filter, 1) for topic_filter in self.subscriptions])
        self.wake()

    def _on_disconnect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.DisconnectFlags | None,
        reason_code: ReasonCode | None,
        properties: Properties | None,
    ) -> None:
        was = self._state
        if was == "connected":
            self.stats.disconnects += 1
            log.info("%s: disconnected (%s)", self.agent_id, reason_code)
        self.stats.injected_lost += sum(1 for seq, _ in self._inflight.values() if seq is None)
        self._inflight.clear()
        if was in ("stopped", "idle"):
            return
        self._schedule_retry(time.monotonic())

    def _on_publish(
        self,
        client: mqtt.Client,
        userdata: Any,
        mid: int,
        reason_code: ReasonCode,
        properties: Properties,
    ) -> None:
        entry = self._inflight.pop(mid, None)
        if entry is None:
            return
        seq, topic_name = entry
        if reason_code.value == NO_MATCHING_SUBSCRIBERS and seq is not None:
            # Accepted, but nobody subscribed: the platform's subscription is not there (yet),
            # e.g. right after a broker restart. Delivered to no one is not delivered: keep
            # the row and send it again shortly.
            self.stats.unrouted += 1
            if self._rewind_at is None:
                self._rewind_at = time.monotonic() + UNROUTED_RETRY_S
            return
        if reason_code.is_failure:
            self.stats.rejected += 1
            self.rejected.append(Rejected(seq, topic_name, reason_code.value, str(reason_code)))
            log.warning(
                "%s: broker refused seq %s on %s: %s", self.agent_id, seq, topic_name, reason_code
            )
        elif seq is None:
            self.stats.injected_acked += 1
        else:
            self.stats.acked += 1
        if seq is not None:
            self.outbox.ack(seq)
        if not self._wake_queued and self._fleet is not None:
            self._fleet.wake(self)

    def _on_socket_open(self, client: mqtt.Client, userdata: Any, sock: Any) -> None:
        assert self._fleet is not None
        self._fleet._register(self, sock)

    def _on_socket_close(self, client: mqtt.Client, userdata: Any, sock: Any) -> None:
        assert self._fleet is not None
        if self._mqtt.wbuf:  # e.g. a DISCONNECT behind buffered publishes: best effort
            with contextlib.suppress(OSError):
                sock.send(self._mqtt.wbuf)
            self._mqtt.wbuf.clear()
        self._fleet._unregister(sock)
