"""Raw MQTT 5 publishing for the load generator: many agents' connections on one selector.

paho spends tens of microseconds of Python per QoS 1 publish and per PUBACK; at 20,000+
messages/s that alone fills a core. Here each agent still has its own TCP connection, client
id and credentials (CONNECT is written by hand, MQTT 5), but a batch of PUBLISH frames for an
agent goes out in one ``send`` and the PUBACKs that come back are decoded in bulk.

What it keeps from the real client (edge/client.py):
- every PUBLISH is QoS 1; a message counts as acknowledged only when its PUBACK arrives with a
  success reason (< 0x80); a failure reason (e.g. 135 not authorized) is counted as rejected
  and not resent;
- at most ``window`` messages are unacknowledged per connection (capped by the broker's
  Receive Maximum), and a packet id is never reused while in flight;
- on a lost connection, what was in flight is resent, in order, after reconnecting (clean
  start, with backoff); the platform dedupes on (agent, seq).

No TLS: this is for load tests on the broker's plain listener (use paho for TLS).
"""

from __future__ import annotations

import contextlib
import errno
import random
import selectors
import socket
import struct
import sys
import time
from array import array
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from wayhouse.config import MqttTarget

# ---- codec ----------------------------------------------------------------------------------

CONNECT = 0x10
CONNACK = 0x20
PUBLISH_QOS1 = 0x32  # PUBLISH, DUP 0, QoS 1, RETAIN 0
PUBACK = 0x40
PINGREQ = b"\xc0\x00"
PINGRESP = 0xD0
DISCONNECT_NORMAL = b"\xe0\x00"  # reason 0: the broker discards the will
DISCONNECT = 0xE0

MAX_PACKET_ID = 65_535
MAX_REMAINING_LENGTH = 268_435_455
# We only publish, so the broker sends us small packets; anything bigger is a broken stream.
MAX_INCOMING_PACKET = 64 * 1024

# MQTT 5 property identifier -> value type (2.2.2.2): how to skip or read it.
_BYTE, _TWO, _FOUR, _VARINT_T, _STR, _BIN, _PAIR = range(7)
_PROPERTY_TYPES = {
    0x01: _BYTE,  # payload format indicator
    0x02: _FOUR,  # message expiry interval
    0x03: _STR,  # content type
    0x08: _STR,  # response topic
    0x09: _BIN,  # correlation data
    0x0B: _VARINT_T,  # subscription identifier
    0x11: _FOUR,  # session expiry interval
    0x12: _STR,  # assigned client identifier
    0x13: _TWO,  # server keep alive
    0x15: _STR,  # authentication method
    0x16: _BIN,  # authentication data
    0x17: _BYTE,  # request problem information
    0x18: _FOUR,  # will delay interval
    0x19: _BYTE,  # request response information
    0x1A: _STR,  # response information
    0x1C: _STR,  # server reference
    0x1F: _STR,  # reason string
    0x21: _TWO,  # receive maximum
    0x22: _TWO,  # topic alias maximum
    0x23: _TWO,  # topic alias
    0x24: _BYTE,  # maximum QoS
    0x25: _BYTE,  # retain available
    0x26: _PAIR,  # user property
    0x27: _FOUR,  # maximum packet size
    0x28: _BYTE,  # wildcard subscription available
    0x29: _BYTE,  # subscription identifier available
    0x2A: _BYTE,  # shared subscription available
}
RECEIVE_MAXIMUM = 0x21
MAXIMUM_QOS = 0x24
MAXIMUM_PACKET_SIZE = 0x27
SERVER_KEEP_ALIVE = 0x13
REASON_STRING = 0x1F


class ProtocolError(ValueError):
    """The broker's byte stream is not what MQTT 5 allows here."""


def encode_varint(n: int) -> bytes:
    """MQTT variable byte integer (1-4 bytes, 7 bits each, least significant first)."""
    if not 0 <= n <= MAX_REMAINING_LENGTH:
        raise ValueError(f"{n} does not fit an MQTT variable byte integer")
    out = bytearray()
    while True:
        b, n = n & 0x7F, n >> 7
        if not n:
            out.append(b)
            return bytes(out)
        out.append(b | 0x80)


# One- and two-byte lengths cover every normal publish: a list lookup instead of a call.
_VARINTS = [encode_varint(n) for n in range(16_384)]


def decode_varint(buf: bytes | bytearray, pos: int) -> tuple[int, int] | None:
    """(value, position after it), or None if ``buf`` ends before the integer does."""
    value = shift = 0
    for i in range(pos, pos + 4):
        if i >= len(buf):
            return None
        b = buf[i]
        value |= (b & 0x7F) << shift
        if not b & 0x80:
            return value, i + 1
        shift += 7
    raise ProtocolError("variable byte integer longer than 4 bytes")


def string_field(s: str | bytes) -> bytes:
    """A UTF-8 string or binary field: 2-byte big-endian length, then the bytes."""
    b = s.encode() if isinstance(s, str) else s
    if len(b) > 0xFFFF:
        raise ValueError("MQTT string fields are at most 65,535 bytes")
    return len(b).to_bytes(2, "big") + b


def topic_field(topic: str) -> bytes:
    """A PUBLISH topic name, encoded once and reused for every frame."""
    if not topic or "+" in topic or "#" in topic or "\0" in topic:
        raise ValueError(f"{topic!r} is not a valid topic name to publish to")
    return string_field(topic)


def connect_frame(
    client_id: str,
    username: str,
    password: str,
    *,
    keepalive: int = 60,
    will: tuple[str, bytes] | None = None,
) -> bytes:
    """MQTT 5 CONNECT with clean start, no session expiry; the will (if any) is QoS 1."""
    if not 0 <= keepalive <= 0xFFFF:
        raise ValueError("keepalive must be 0..65535 s")
    flags = 0x80 | 0x40 | 0x02  # username, password, clean start
    payload = string_field(client_id)
    if will is not None:
        flags |= 0x04 | 0x08  # will flag, will QoS 1
        payload += b"\x00" + topic_field(will[0]) + string_field(will[1])  # no will properties
    payload += string_field(username) + string_field(password)
    variable = b"\x00\x04MQTT\x05" + bytes([flags]) + keepalive.to_bytes(2, "big") + b"\x00"
    body = variable + payload
    return bytes([CONNECT]) + encode_varint(len(body)) + body


_pid_props = struct.Struct(">HB").pack  # packet id, then a property length of 0


def publish_frame(topic_f: bytes, pid: int, payload: bytes) -> bytes:
    """One QoS 1 PUBLISH; ``topic_f`` comes from ``topic_field``."""
    rl = len(topic_f) + 3 + len(payload)
    return b"".join(
        (
            b"\x32",
            _VARINTS[rl] if rl < 16_384 else encode_varint(rl),
            topic_f,
            _pid_props(pid, 0),
            payload,
        )
    )


def parse_properties(body: bytes, pos: int) -> tuple[dict[int, object], int]:
    """MQTT 5 properties at ``pos`` (length first): ({id: value}, position after them)."""
    head = decode_varint(body, pos)
    if head is None:
        raise ProtocolError("truncated property length")
    length, pos = head
    end = pos + length
    if end > len(body):
        raise ProtocolError("properties run past the packet")
    props: dict[int, object] = {}
    while pos < end:
        pid = body[pos]
        kind = _PROPERTY_TYPES.get(pid)
        pos += 1
        value: object
        if kind == _BYTE:
            value, pos = body[pos], pos + 1
        elif kind == _TWO:
            value, pos = int.from_bytes(body[pos : pos + 2], "big"), pos + 2
        elif kind == _FOUR:
            value, pos = int.from_bytes(body[pos : pos + 4], "big"), pos + 4
        elif kind == _VARINT_T:
            v = decode_varint(body, pos)
            if v is None:
                raise ProtocolError("truncated property")
            value, pos = v
        elif kind in (_STR, _BIN, _PAIR):
            values = []
            for _ in range(2 if kind == _PAIR else 1):
                n = int.from_bytes(body[pos : pos + 2], "big")
                values.append(body[pos + 2 : pos + 2 + n])
                pos += 2 + n
            value = tuple(values) if kind == _PAIR else values[0]
        else:
            raise ProtocolError(f"unknown property 0x{pid:02x}")
        if pos > end:
            raise ProtocolError("property runs past the property block")
        props[pid] = value
    return props, end


def parse_connack(body: bytes) -> tuple[int, dict[int, object]]:
    """(reason code, properties) of a CONNACK body."""
    if len(body) < 2:
        raise ProtocolError("CONNACK shorter than 2 bytes")
    props = parse_properties(body, 2)[0] if len(body) > 2 else {}
    return body[1], props


def parse_puback(body: bytes) -> tuple[int, int]:
    """(packet id, reason code) of a PUBACK body; a 2-byte body means success (MQTT 5 3.4.2.1)."""
    if len(body) < 2:
        raise ProtocolError("PUBACK shorter than 2 bytes")
    return (body[0] << 8) | body[1], body[2] if len(body) > 2 else 0


_LITTLE = sys.byteorder == "little"


class PacketReader:
    """Splits the broker's byte stream into packets, across ``recv`` boundaries."""

    __slots__ = ("_buf",)

    def __init__(self) -> None:
        self._buf = bytearray()

    @property
    def pending(self) -> int:
        """Bytes held of a packet not complete yet."""
        return len(self._buf)

    def bulk_acks(self, data: bytes) -> array[int] | None:
        """Packet ids, if ``data`` is nothing but whole 4-byte success PUBACKs (the common
        case), decoded without a Python loop; otherwise None (use ``feed``).

        Sound because a 4-byte group that starts at a packet boundary and reads 0x40 0x02 is
        a whole PUBACK, so the next group starts at a packet boundary too."""
        if self._buf or len(data) & 3:
            return None
        a = array("H", data)
        if _LITTLE:
            a.byteswap()
        heads = a[0::2]
        if heads.count(0x4002) != len(heads):
            return None
        return a[1::2]

    def feed(self, data: bytes) -> list[tuple[int, bytes]]:
        """The complete packets now available: (first byte, body)."""
        buf = self._buf
        buf += data
        out: list[tuple[int, bytes]] = []
        pos, n = 0, len(buf)
        while pos < n:
            head = decode_varint(buf, pos + 1)
            if head is None:
                break
            rl, start = head
            if rl > MAX_INCOMING_PACKET:
                raise ProtocolError(f"incoming packet of {rl} bytes")
            end = start + rl
            if end > n:
                break
            out.append((buf[pos], bytes(buf[start:end])))
            pos = end
        del buf[:pos]
        return out


# ---- connections ------------------------------------------------------------------------------

# A message to publish: (seq, kind, topic field, payload). ``kind`` says which counter its
# PUBACK goes to (the caller's categories, e.g. counted readings vs injected bad input).
Item = tuple[int, int, bytes, bytes]

IDLE, CONNECTING, CONNECTED, CLOSED = range(4)


@dataclass
class Rejection:
    agent_id: str
    seq: int
    topic: str
    reason_code: int


@dataclass(eq=False, slots=True)  # identity hashing: connections go into sets
class RawConn:
    """One agent's connection. The load loop reads ``ready``/``room`` and calls ``publish``."""

    index: int
    agent_id: str
    target: MqttTarget
    window: int
    fleet: RawFleet
    kinds: int = 3
    state: int = IDLE
    effective_window: int = 0
    sock: socket.socket | None = None
    inflight: dict[int, Item] = field(default_factory=dict)  # packet id -> item, send order
    queue: deque[Item] = field(default_factory=deque)  # resends and callers' queued items
    acked: list[int] = field(default_factory=list)  # per kind
    rejected: int = 0
    connects: int = 0
    connect_failures: int = 0
    disconnects: int = 0
    sent: int = 0
    last_error: str | None = None
    max_packet: int = MAX_REMAINING_LENGTH
    keepalive: int = 60
    _pid: int = 0
    _wbuf: bytearray = field(default_factory=bytearray)
    _reader: PacketReader = field(default_factory=PacketReader)
    _next_attempt: float = 0.0
    _backoff: float = 0.0
    _deadline: float = 0.0
    _last_write: float = 0.0
    _write_interest: bool = False

    def __post_init__(self) -> None:
        self.acked = [0] * self.kinds
        self.effective_window = self.window

    @property
    def connected(self) -> bool:
        return self.state == CONNECTED

    @property
    def ready(self) -> bool:
        """Connected, with nothing queued ahead of new messages."""
        return self.state == CONNECTED and not self.queue

    def room(self) -> int:
        return self.effective_window - len(self.inflight)

    def idle(self) -> bool:
        return not self.inflight and not self.queue

    def publish(self, items: Sequence[Item]) -> None:
        """Write ``items`` as QoS 1 PUBLISHes in one ``send``. The caller keeps
        ``len(items) <= room()`` and only calls this when ``ready``."""
        if len(items) > self.effective_window - len(self.inflight) or self.state != CONNECTED:
            raise RuntimeError(f"{self.agent_id}: publish beyond the window or while offline")
        inflight = self.inflight
        pid = self._pid
        limit = self.max_packet
        parts: list[bytes] = []
        extend = parts.extend
        for item in items:
            pid = pid + 1 if pid < MAX_PACKET_ID else 1
            while pid in inflight:  # only after a wrap with a very old message outstanding
                pid = pid + 1 if pid < MAX_PACKET_ID else 1
            topic_f, payload = item[2], item[3]
            rl = len(topic_f) + 3 + len(payload)
            if rl > limit - 5 and 1 + len(encode_varint(rl)) + rl > limit:
                for p in list(inflight)[len(inflight) - len(parts) // 5 :]:
                    del inflight[p]  # nothing of this call was written
                raise ValueError(f"{self.agent_id}: PUBLISH exceeds the broker's {limit} bytes")
            extend(
                (
                    b"\x32",
                    _VARINTS[rl] if rl < 16_384 else encode_varint(rl),
                    topic_f,
                    _pid_props(pid, 0),
                    payload,
                )
            )
            inflight[pid] = item
        self._pid = pid
        self.sent += len(items)
        self._write(b"".join(parts))

    # ---- internals (the fleet's thread) ----------------------------------------------------

    def _write(self, data: bytes) -> None:
        self._last_write = time.monotonic()
        if self._wbuf:  # the socket pushed back earlier: keep the byte order
            self._wbuf += data
            return
        sock = self.sock
        assert sock is not None
        try:
            n = sock.send(data)
        except BlockingIOError:
            n = 0
        except OSError as exc:
            self.fleet._lost(self, f"send: {exc}")
            return
        if n < len(data):
            self._wbuf += memoryview(data)[n:]
            self.fleet._watch_write(self, True)

    def _on_writable(self) -> None:
        sock = self.sock
        assert sock is not None
        try:
            n = sock.send(self._wbuf)
        except BlockingIOError:
            return
        except OSError as exc:  # also how a failed non-blocking connect shows up
            self.fleet._lost(self, f"send: {exc}")
            return
        del self._wbuf[:n]
        if not self._wbuf:
            self.fleet._watch_write(self, False)

    def _on_readable(self) -> None:
        sock = self.sock
        assert sock is not None
        try:
            # Under glibc's mmap threshold: a bigger buffer costs an mmap/mremap per call.
            data = sock.recv(65_536)
        except BlockingIOError:
            return
        except OSError as exc:
            self.fleet._lost(self, f"recv: {exc}")
            return
        if not data:
            self.fleet._lost(self, "closed by the broker")
            return
        pids = self._reader.bulk_acks(data)
        if pids is not None:
            pop = self.inflight.pop
            acked = self.acked
            archive = self.fleet.archive
            for pid in pids:
                item = pop(pid, None)
                if item is None:
                    self.fleet._lost(self, f"PUBACK for packet id {pid}, which is not in flight")
                    return
                acked[item[1]] += 1
                if archive is not None and item[1] == 0:
                    archive.keep(self.index, item)
            return
        try:
            packets = self._reader.feed(data)
            for first, body in packets:
                self._on_packet(first, body)
                if self.sock is None:  # the packet closed the connection
                    return
        except ProtocolError as exc:
            self.fleet._lost(self, f"protocol error: {exc}")

    def _on_packet(self, first: int, body: bytes) -> None:
        kind = first & 0xF0
        if kind == PUBACK:
            pid, reason = parse_puback(body)
            item = self.inflight.pop(pid, None)
            if item is None:
                raise ProtocolError(f"PUBACK for packet id {pid}, which is not in flight")
            if reason >= 0x80:
                self.rejected += 1
                self.fleet._rejected(self, item, reason)
            else:
                self.acked[item[1]] += 1
                if self.fleet.archive is not None and item[1] == 0:
                    self.fleet.archive.keep(self.index, item)
        elif kind == CONNACK and self.state == CONNECTING:
            reason, props = parse_connack(body)
            self.fleet._connack(self, reason, props)
        elif kind == PINGRESP:
            pass
        elif kind == DISCONNECT:
            reason = body[0] if body else 0
            text = ""
            if len(body) > 1:
                msg = parse_properties(body, 1)[0].get(REASON_STRING)
                text = f" ({msg.decode(errors='replace')})" if isinstance(msg, bytes) else ""
            self.fleet._lost(self, f"DISCONNECT from the broker, reason {reason}{text}")
        else:
            raise ProtocolError(f"unexpected packet type 0x{first:02x}")


class Archive:
    """Acknowledged kind-0 items kept (up to ``cap``) so they can be published again."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.rows: list[tuple[int, Item]] = []  # (connection index, item)

    def keep(self, index: int, item: Item) -> None:
        if len(self.rows) < self.cap:
            self.rows.append((index, item))


class RawFleet:
    """Drives ``RawConn``s from one thread on one selector: connects them (at most
    ``max_connecting`` at a time, so the broker's listen backlog never overflows), reconnects
    with backoff, sends queued items as windows free up, and keeps the connections alive.

    ``will_for(conn)`` gives each attempt's last will (topic, payload); ``on_connect(conn)``
    gives items to queue once CONNACK arrives (after whatever must be resent)."""

    def __init__(
        self,
        agents: Iterable[tuple[str, MqttTarget]],
        *,
        window: int = 100,
        keepalive: int = 60,
        kinds: int = 3,
        will_for: Callable[[RawConn], tuple[str, bytes]] | None = None,
        on_connect: Callable[[RawConn], Iterable[Item]] | None = None,
        archive: Archive | None = None,
        connack_timeout: float = 10.0,
        max_connecting: int = 64,
        backoff_min: float = 0.5,
        backoff_max: float = 10.0,
        housekeeping_s: float = 0.25,
        seed: int = 0,
    ) -> None:
        if not 1 <= window < MAX_PACKET_ID:
            raise ValueError(f"window must be 1..{MAX_PACKET_ID - 1}, got {window}")
        self.will_for = will_for
        self.on_connect = on_connect
        self.archive = archive
        self.connack_timeout = connack_timeout
        self.max_connecting = max_connecting
        self.backoff_min = backoff_min
        self.backoff_max = backoff_max
        self.housekeeping_s = housekeeping_s
        self.rejections: deque[Rejection] = deque(maxlen=1000)
        self._rng = random.Random(seed)
        self._sel = selectors.DefaultSelector()
        self._addrs: dict[tuple[str, int], tuple[int, tuple[object, ...]]] = {}
        self._connecting = 0
        self._waiting: list[RawConn] = []  # IDLE, to (re)connect once due
        self._queued: set[RawConn] = set()
        self._next_housekeeping = 0.0
        self.conns: list[RawConn] = []
        for i, (agent_id, target) in enumerate(agents):
            if target.tls:
                raise ValueError("the raw MQTT engine has no TLS; use the paho engine")
            c = RawConn(i, agent_id, target, window, self, kinds=kinds, keepalive=keepalive)
            c._backoff = backoff_min
            self.conns.append(c)
        self._waiting = list(self.conns)

    # ---- public -------------------------------------------------------------------------

    def enqueue(self, conn: RawConn, items: Iterable[Item]) -> None:
        """Queue items on ``conn``: sent in order as its window allows (and after reconnects)."""
        conn.queue.extend(items)
        if conn.queue:
            self._queued.add(conn)

    def poll(self, timeout: float = 0.0) -> None:
        """One round: housekeeping when due, network events, then feed queued items."""
        now = time.monotonic()
        if self._waiting and self._connecting < self.max_connecting:
            self._start_connects(now)
        if now >= self._next_housekeeping:
            self._housekeeping(now)
            self._next_housekeeping = now + self.housekeeping_s
        for key, mask in self._sel.select(min(timeout, max(0.0, self._next_housekeeping - now))):
            c: RawConn = key.data
            if mask & selectors.EVENT_WRITE:
                c._on_writable()
            if mask & selectors.EVENT_READ and c.sock is not None:
                c._on_readable()
        if self._queued:
            self._pump()

    def run(
        self, until: Callable[[], bool], timeout: float, stop: Callable[[], bool] | None = None
    ) -> bool:
        """Poll until ``until()`` holds (True), or ``timeout`` s pass or ``stop()`` (False)."""
        deadline = time.monotonic() + timeout
        while not until():
            if time.monotonic() >= deadline or (stop is not None and stop()):
                return False
            self.poll(0.01)
        return True

    def all_connected(self) -> bool:
        return all(c.state == CONNECTED for c in self.conns)

    def all_idle(self) -> bool:
        return all(not c.inflight and not c.queue for c in self.conns)

    def in_flight(self) -> int:
        return sum(len(c.inflight) for c in self.conns)

    def close(self) -> None:
        """Disconnect cleanly (reason 0: the broker does not publish the wills)."""
        for c in self.conns:
            if c.sock is not None:
                if c.state == CONNECTED and not c._wbuf:
                    with contextlib.suppress(OSError):
                        c.sock.send(DISCONNECT_NORMAL)
                self._drop_socket(c)
            c.state = CLOSED
        self._sel.close()

    # ---- connection management (internal) ---------------------------------------------------

    def _addr(self, target: MqttTarget) -> tuple[int, tuple[object, ...]]:
        key = (target.host, target.port)
        if key not in self._addrs:
            info = socket.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM)[0]
            self._addrs[key] = (info[0], info[4])
        return self._addrs[key]

    def _attempt(self, c: RawConn, now: float) -> None:
        will = self.will_for(c) if self.will_for is not None else None
        frame = connect_frame(
            c.agent_id, c.target.username, c.target.password, keepalive=c.keepalive, will=will
        )
        c._reader = PacketReader()
        c._wbuf = bytearray(frame)  # written once the non-blocking connect completes
        c._pid = 0
        c.effective_window = c.window
        try:
            family, addr = self._addr(c.target)
            sock = socket.socket(family, socket.SOCK_STREAM)
            sock.setblocking(False)
            # Frames are already batched per agent; Nagle would only delay the tail of a batch.
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            err = sock.connect_ex(addr)
        except OSError as exc:
            self._failed(c, now, f"connect: {exc}")
            return
        if err not in (0, errno.EINPROGRESS, errno.EWOULDBLOCK):
            sock.close()
            self._failed(c, now, f"connect: {errno.errorcode.get(err, err)}")
            return
        c.sock = sock
        c.state = CONNECTING
        c._deadline = now + self.connack_timeout
        c._write_interest = True
        self._sel.register(sock, selectors.EVENT_READ | selectors.EVENT_WRITE, c)
        self._connecting += 1

    def _start_connects(self, now: float) -> None:
        waiting, self._waiting = self._waiting, []
        for c in waiting:
            if c.state != IDLE:
                continue
            if self._connecting < self.max_connecting and now >= c._next_attempt:
                self._attempt(c, now)  # a failure puts it back on the (new) waiting list
            else:
                self._waiting.append(c)

    def _retry_later(self, c: RawConn, now: float) -> None:
        c.state = IDLE
        c._next_attempt = now + c._backoff * (0.5 + self._rng.random())
        c._backoff = min(c._backoff * 2, self.backoff_max)
        self._waiting.append(c)

    def _failed(self, c: RawConn, now: float, why: str) -> None:
        c.connect_failures += 1
        c.last_error = why
        self._retry_later(c, now)

    def _drop_socket(self, c: RawConn) -> None:
        if c.state == CONNECTING:
            self._connecting -= 1
        if c.sock is not None:
            with contextlib.suppress(KeyError, ValueError):
                self._sel.unregister(c.sock)
            c.sock.close()
            c.sock = None
        c._wbuf.clear()

    def _connack(self, c: RawConn, reason: int, props: dict[int, object]) -> None:
        if reason >= 0x80:
            self._drop_socket(c)
            self._failed(c, time.monotonic(), f"CONNACK reason {reason}")
            return
        max_qos = props.get(MAXIMUM_QOS, 2)
        if isinstance(max_qos, int) and max_qos < 1:
            self._drop_socket(c)
            self._failed(c, time.monotonic(), "the broker does not accept QoS 1")
            return
        self._connecting -= 1
        c.state = CONNECTED
        c.connects += 1
        c._backoff = self.backoff_min
        recv_max = props.get(RECEIVE_MAXIMUM)
        if isinstance(recv_max, int) and recv_max > 0:
            c.effective_window = min(c.window, recv_max)
        max_packet = props.get(MAXIMUM_PACKET_SIZE)
        if isinstance(max_packet, int):
            c.max_packet = max_packet
        keepalive = props.get(SERVER_KEEP_ALIVE)
        if isinstance(keepalive, int):
            c.keepalive = keepalive
        c._last_write = time.monotonic()
        if self.on_connect is not None:
            c.queue.extend(self.on_connect(c))
        if c.queue:
            self._queued.add(c)

    def _lost(self, c: RawConn, why: str) -> None:
        """Close; what was in flight goes back to the front of the queue, in send order."""
        was = c.state
        self._drop_socket(c)
        if was == CONNECTED:
            c.disconnects += 1
            c.last_error = why
            self._retry_later(c, time.monotonic())
        elif was == CLOSED:
            return
        else:
            self._failed(c, time.monotonic(), why)
        if c.inflight:
            c.queue.extendleft(reversed(list(c.inflight.values())))
            c.inflight.clear()
        if c.queue:
            self._queued.add(c)

    def _rejected(self, c: RawConn, item: Item, reason: int) -> None:
        topic = item[2][2:].decode(errors="replace")
        self.rejections.append(Rejection(c.agent_id, item[0], topic, reason))

    def _watch_write(self, c: RawConn, want: bool) -> None:
        if want != c._write_interest and c.sock is not None:
            c._write_interest = want
            events = selectors.EVENT_READ | (selectors.EVENT_WRITE if want else 0)
            self._sel.modify(c.sock, events, c)

    def _pump(self) -> None:
        done = []
        for c in list(self._queued):  # a failed send may re-add its connection
            if c.state != CONNECTED:
                continue
            n = min(c.room(), len(c.queue))
            if n > 0:
                c.publish([c.queue.popleft() for _ in range(n)])
            if not c.queue:
                done.append(c)
        self._queued.difference_update(done)

    def _housekeeping(self, now: float) -> None:
        for c in self.conns:
            state = c.state
            if state == CONNECTED:
                if c.keepalive and now - c._last_write >= c.keepalive / 2:
                    c._write(PINGREQ)
            elif state == CONNECTING and now >= c._deadline:
                self._drop_socket(c)
                self._failed(c, now, "no CONNACK in time")
