"""The raw MQTT engine's codec and connection logic (simulators/rawmqtt.py).

Frames are checked with a decoder written here from the MQTT 5 spec, not with the module's
own parser; the connection logic runs against a scripted broker on a local socket."""

from __future__ import annotations

import itertools
import random
import socket
import threading
import time
from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wayhouse.config import MqttTarget
from wayhouse.simulators.rawmqtt import (
    CONNECTED,
    MAX_REMAINING_LENGTH,
    PacketReader,
    ProtocolError,
    RawFleet,
    connect_frame,
    decode_varint,
    encode_varint,
    parse_connack,
    parse_puback,
    publish_frame,
    topic_field,
)

# ---- a reference decoder, straight from the spec ------------------------------------------


def ref_varint(buf: bytes, pos: int) -> tuple[int, int]:
    mult, value = 1, 0
    while True:
        b = buf[pos]
        pos += 1
        value += (b & 127) * mult
        if b < 128:
            return value, pos
        mult *= 128


def ref_packets(buf: bytes) -> list[tuple[int, bytes]]:
    out, pos = [], 0
    while pos < len(buf):
        rl, start = ref_varint(buf, pos + 1)
        out.append((buf[pos], buf[start : start + rl]))
        pos = start + rl
    assert pos == len(buf)
    return out


def ref_string(body: bytes, pos: int) -> tuple[bytes, int]:
    n = body[pos] * 256 + body[pos + 1]
    return body[pos + 2 : pos + 2 + n], pos + 2 + n


def ref_publish(frame: bytes) -> tuple[int, str, int, bytes]:
    """(first byte, topic, packet id, payload) of one MQTT 5 QoS 1 PUBLISH."""
    [(first, body)] = ref_packets(frame)
    topic, pos = ref_string(body, 0)
    pid = body[pos] * 256 + body[pos + 1]
    props_len, pos = ref_varint(body, pos + 2)
    assert props_len == 0
    return first, topic.decode(), pid, body[pos:]


def puback(pid: int, reason: int = 0, reason_string: bytes | None = None) -> bytes:
    """PUBACK as a broker may send it: 2-byte body on success, else reason (+ properties)."""
    body = pid.to_bytes(2, "big")
    if reason or reason_string is not None:
        body += bytes([reason])
    if reason_string is not None:
        prop = b"\x1f" + len(reason_string).to_bytes(2, "big") + reason_string
        body += encode_varint(len(prop)) + prop
    return b"\x40" + encode_varint(len(body)) + body


def connack(reason: int = 0, receive_maximum: int | None = None) -> bytes:
    props = b""
    if receive_maximum is not None:
        props += b"\x21" + receive_maximum.to_bytes(2, "big")
    props += b"\x27" + (300_000).to_bytes(4, "big")  # maximum packet size, as Mosquitto
    props += b"\x26\x00\x01k\x00\x01v"  # a user property: must be skipped correctly
    body = b"\x00" + bytes([reason]) + encode_varint(len(props)) + props
    return b"\x20" + encode_varint(len(body)) + body


# ---- codec ------------------------------------------------------------------------------


@given(st.integers(0, MAX_REMAINING_LENGTH))
def test_varint_round_trips(n: int) -> None:
    b = encode_varint(n)
    assert len(b) == 1 + (n >= 128) + (n >= 16_384) + (n >= 2_097_152)
    assert decode_varint(b"\xff" + b + b"\xff", 1) == (n, 1 + len(b))
    assert ref_varint(b, 0) == (n, len(b))
    assert decode_varint(b[:-1], 0) is None  # truncated: wait for more


def test_varint_limits() -> None:
    with pytest.raises(ValueError):
        encode_varint(MAX_REMAINING_LENGTH + 1)
    with pytest.raises(ValueError):
        encode_varint(-1)
    with pytest.raises(ProtocolError):
        decode_varint(b"\x80\x80\x80\x80\x01", 0)


topics = st.text(
    st.characters(blacklist_characters="+#\0", blacklist_categories=("Cs",)), min_size=1
).filter(lambda t: len(t.encode()) <= 300)


payloads = st.binary(max_size=300) | st.integers(16_000, 70_000).map(lambda n: b"\xab" * n)


@given(topics, st.integers(1, 65_535), payloads)
@settings(max_examples=200)
def test_publish_frame_round_trips(topic: str, pid: int, payload: bytes) -> None:
    first, t, p, body = ref_publish(publish_frame(topic_field(topic), pid, payload))
    assert (first, t, p, body) == (0x32, topic, pid, payload)  # QoS 1, not DUP, not retained


@pytest.mark.parametrize("bad", ["", "wh/+/x", "wh/#", "a\0b"])
def test_topic_field_refuses_what_no_one_may_publish_to(bad: str) -> None:
    with pytest.raises(ValueError):
        topic_field(bad)


@given(
    st.text(min_size=1, max_size=40),
    st.text(max_size=40),
    st.text(max_size=80),
    st.integers(0, 65_535),
    st.none() | st.tuples(topics, st.binary(max_size=300)),
)
def test_connect_frame_is_mqtt5_with_clean_start_and_credentials(
    client_id: str, user: str, password: str, keepalive: int, will: tuple[str, bytes] | None
) -> None:
    [(first, body)] = ref_packets(
        connect_frame(client_id, user, password, keepalive=keepalive, will=will)
    )
    assert first == 0x10
    assert body[:7] == b"\x00\x04MQTT\x05"
    flags = body[7]
    assert flags & 0xC2 == 0xC2  # username, password, clean start
    assert (body[8] << 8 | body[9]) == keepalive
    props_len, pos = ref_varint(body, 10)
    assert props_len == 0
    cid, pos = ref_string(body, pos)
    assert cid.decode() == client_id
    if will is None:
        assert flags & 0x3C == 0
    else:
        assert flags & 0x3C == 0x0C  # will flag, will QoS 1, not retained
        will_props, pos = ref_varint(body, pos)
        assert will_props == 0
        wt, pos = ref_string(body, pos)
        wp, pos = ref_string(body, pos)
        assert (wt.decode(), wp) == will
    u, pos = ref_string(body, pos)
    pw, pos = ref_string(body, pos)
    assert (u.decode(), pw.decode(), pos) == (user, password, len(body))


def test_connack_and_puback_parsing() -> None:
    [(first, body)] = ref_packets(connack(0, receive_maximum=7))
    assert first == 0x20
    reason, props = parse_connack(body)
    assert reason == 0 and props[0x21] == 7 and props[0x27] == 300_000
    assert parse_connack(ref_packets(connack(0x87))[0][1])[0] == 0x87
    assert parse_puback(ref_packets(puback(513))[0][1]) == (513, 0)
    assert parse_puback(ref_packets(puback(9, 0x10))[0][1]) == (9, 0x10)
    assert parse_puback(ref_packets(puback(9, 0x87, b"not authorized"))[0][1]) == (9, 0x87)


# ---- reading acks across recv boundaries ----------------------------------------------------

packet_ids = st.integers(1, 65_535)
broker_packets = st.lists(
    st.one_of(
        packet_ids.map(lambda p: ("ack", p, 0, puback(p))),
        packet_ids.map(lambda p: ("ack", p, 0, puback(p))),  # the usual case, twice as likely
        st.tuples(packet_ids, st.sampled_from([0x10, 0x80, 0x87, 0x97])).map(
            lambda x: ("ack", x[0], x[1], puback(x[0], x[1]))
        ),
        st.tuples(packet_ids, st.binary(max_size=200)).map(
            lambda x: ("ack", x[0], 0x87, puback(x[0], 0x87, x[1]))
        ),
        st.just(("other", 0xD0, 0, b"\xd0\x00")),  # PINGRESP
    ),
    max_size=60,
)


def read_like_a_connection(reader: PacketReader, chunks: list[bytes]) -> list[tuple[int, int]]:
    """What RawConn does per recv: the bulk path if it applies, else the packet parser."""
    seen: list[tuple[int, int]] = []
    for chunk in chunks:
        pids = reader.bulk_acks(chunk)
        if pids is not None:
            seen += [(p, 0) for p in pids]
            continue
        for first, body in reader.feed(chunk):
            seen.append(parse_puback(body) if first == 0x40 else (-first, 0))
    return seen


@given(broker_packets, st.lists(st.integers(0, 10_000), max_size=12), st.randoms())
@settings(max_examples=300)
def test_acks_survive_any_split_into_recv_chunks(
    packets: list[tuple[str, int, int, bytes]], cuts: list[int], rnd: random.Random
) -> None:
    stream = b"".join(p[3] for p in packets)
    points = sorted({c % (len(stream) + 1) for c in cuts} | {0, len(stream)})
    if rnd.random() < 0.3:  # also cut on packet boundaries, where the bulk path may apply
        points = sorted(
            set(points) | {sum(len(p[3]) for p in packets[:i]) for i in range(len(packets))}
        )
    chunks = [stream[a:b] for a, b in itertools.pairwise(points)]
    reader = PacketReader()
    got = read_like_a_connection(reader, chunks)
    want = [(p[1], p[2]) if p[0] == "ack" else (-p[1], 0) for p in packets]
    assert got == want
    assert reader.pending == 0


@given(st.lists(packet_ids, min_size=1, max_size=50))
def test_bulk_path_takes_plain_success_acks_and_only_those(pids: list[int]) -> None:
    plain = b"".join(puback(p) for p in pids)
    got = PacketReader().bulk_acks(plain)
    assert got is not None and list(got) == pids
    # One ack with a reason code in the run, or a packet split off: not for the bulk path.
    mixed = plain + puback(1, 0x10) + puback(2)
    assert PacketReader().bulk_acks(mixed) is None
    assert PacketReader().bulk_acks(plain[:-1]) is None
    # A byte held from the last read starts a packet: 0x40 then remaining length 0x40 (64),
    # so what follows is not a run of PUBACKs although it looks like one.
    r = PacketReader()
    assert r.feed(b"\x40") == []
    assert r.bulk_acks(b"\x40\x02\x00\x01") is None
    assert r.feed(b"\x40\x02\x00\x01") == [] and r.pending == 5


def test_reader_refuses_a_packet_too_big_for_a_publisher() -> None:
    with pytest.raises(ProtocolError):
        PacketReader().feed(b"\x30" + encode_varint(10_000_000))


# ---- connections, against a scripted broker -------------------------------------------------


@dataclass
class ScriptedBroker:
    """Accepts connections; CONNACKs with a Receive Maximum; PUBACKs what it gets (135 for
    topics under `refuse`) in odd-sized pieces; hangs up once after `drop_after` publishes."""

    receive_maximum: int
    refuse: str = "wh/v1/other/"
    drop_after: int | None = None
    seed: int = 1
    connects: list[tuple[str, str, str]] = field(default_factory=list)  # (client, user, pass)
    publishes: list[tuple[int, str, bytes]] = field(
        default_factory=list
    )  # (connection, topic, payload)
    max_outstanding: int = 0
    errors: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._srv = socket.create_server(("127.0.0.1", 0))
        self.port = self._srv.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        self._srv.close()
        self._thread.join(5)

    def _serve(self) -> None:
        self._srv.settimeout(0.1)
        n = 0
        while not self._stop.is_set():
            try:
                conn, _ = self._srv.accept()
            except OSError:
                continue
            threading.Thread(target=self._run_session, args=(conn, n), daemon=True).start()
            n += 1

    def _run_session(self, conn: socket.socket, n: int) -> None:
        try:
            self._session(conn, n, random.Random(self.seed + n))
        except Exception as exc:  # reported by the test
            self.errors.append(repr(exc))
        finally:
            conn.close()

    def _session(self, conn: socket.socket, n: int, rnd: random.Random) -> None:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn.settimeout(0.2)
        buf = b""
        outstanding = 0
        while not self._stop.is_set():
            try:
                data = conn.recv(65_536)
            except TimeoutError:
                continue
            if not data:
                return
            buf += data
            out = b""
            while len(buf) >= 2:
                try:
                    rl, start = ref_varint(buf, 1)
                except IndexError:
                    break
                if len(buf) < start + rl:
                    break
                first, body, buf = buf[0], buf[start : start + rl], buf[start + rl :]
                if first == 0x10:
                    pos = ref_varint(body, 10)[1]
                    cid, pos = ref_string(body, pos)
                    if body[7] & 0x04:
                        pos = ref_varint(body, pos)[1]
                        pos = ref_string(body, ref_string(body, pos)[1])[1]
                    user, pos = ref_string(body, pos)
                    pw, pos = ref_string(body, pos)
                    self.connects.append((cid.decode(), user.decode(), pw.decode()))
                    out += connack(0, self.receive_maximum)
                elif first & 0xF0 == 0x30:
                    _, topic, pid, payload = ref_publish(bytes([first]) + encode_varint(rl) + body)
                    outstanding += 1
                    self.max_outstanding = max(self.max_outstanding, outstanding)
                    self.publishes.append((n, topic, payload))
                    if (
                        n == 0
                        and self.drop_after is not None
                        and len(self.publishes) >= self.drop_after
                    ):
                        return  # hang up with everything unacknowledged
                    refused = topic.startswith(self.refuse)
                    out += (
                        puback(pid, 0x87, b"no")
                        if refused
                        else puback(pid, rnd.choice([0, 0, 0x10]))
                    )
                    outstanding -= 1
                elif first == 0xE0:
                    return
            while out:  # in odd pieces, so the client sees acks split across reads
                k = rnd.randint(1, 9)
                conn.sendall(out[:k])
                out = out[k:]
                if rnd.random() < 0.2:
                    time.sleep(0.001)


def _fleet(broker: ScriptedBroker, window: int, agents: int = 1) -> RawFleet:
    targets = [
        (f"a{i}", MqttTarget("127.0.0.1", broker.port, f"a{i}", f"pw{i}")) for i in range(agents)
    ]
    return RawFleet(targets, window=window, backoff_min=0.01, backoff_max=0.05)


def _items(agent: str, seqs: range) -> list[tuple[int, int, bytes, bytes]]:
    tf = topic_field(f"wh/v1/{agent}/shelf")
    return [(s, 0, tf, b"m%d" % s) for s in seqs]


def test_connects_with_each_agents_own_credentials_and_honours_receive_maximum() -> None:
    broker = ScriptedBroker(receive_maximum=5)
    fleet = _fleet(broker, window=100, agents=3)
    try:
        assert fleet.run(fleet.all_connected, 10)
        assert sorted(broker.connects) == [
            ("a0", "a0", "pw0"),
            ("a1", "a1", "pw1"),
            ("a2", "a2", "pw2"),
        ]
        c = fleet.conns[0]
        assert c.effective_window == 5  # the broker's Receive Maximum, below our 100
        fleet.enqueue(c, _items("a0", range(1, 201)))
        assert fleet.run(fleet.all_idle, 20)
        assert c.acked[0] == 200 and c.rejected == 0
        assert [p[2] for p in broker.publishes] == [b"m%d" % s for s in range(1, 201)]
        assert broker.max_outstanding <= 5
        big = b"\xab" * 20_000  # a 3-byte remaining length
        c.publish([(201, 0, topic_field("wh/v1/a0/shelf"), big)])
        assert fleet.run(fleet.all_idle, 20)
        assert c.acked[0] == 201 and broker.publishes[-1][2] == big
        with pytest.raises(RuntimeError):
            c.publish(_items("a0", range(300, 306)))  # more than the window: refused
    finally:
        fleet.close()
        broker.close()
    assert not broker.errors


def test_refused_publish_is_counted_as_rejected_not_acked_and_not_resent() -> None:
    broker = ScriptedBroker(receive_maximum=50)
    fleet = _fleet(broker, window=50)
    try:
        assert fleet.run(fleet.all_connected, 10)
        c = fleet.conns[0]
        other = topic_field("wh/v1/other/shelf")
        c.publish([*_items("a0", range(1, 4)), (4, 0, other, b"x"), *_items("a0", range(5, 8))])
        assert fleet.run(fleet.all_idle, 10)
        assert (c.acked[0], c.rejected, c.connected) == (6, 1, True)
        [rej] = fleet.rejections
        assert (rej.seq, rej.topic, rej.reason_code) == (4, "wh/v1/other/shelf", 0x87)
        assert len(broker.publishes) == 7
    finally:
        fleet.close()
        broker.close()
    assert not broker.errors


def test_a_dropped_connection_resends_what_was_in_flight_in_order() -> None:
    broker = ScriptedBroker(receive_maximum=20, drop_after=15)
    fleet = _fleet(broker, window=20)
    try:
        assert fleet.run(fleet.all_connected, 10)
        c = fleet.conns[0]
        fleet.enqueue(c, _items("a0", range(1, 61)))
        assert fleet.run(lambda: fleet.all_idle() and c.connected, 20)
        assert c.acked[0] == 60 and c.disconnects == 1 and c.connects == 2
        assert c.state == CONNECTED
        first = [p for n, _, p in broker.publishes if n == 0]
        second = [p for n, _, p in broker.publishes if n == 1]
        assert len(first) == 15  # none of them acknowledged
        assert second == [b"m%d" % s for s in range(1, 61)]  # all again, in seq order
    finally:
        fleet.close()
        broker.close()
    assert not broker.errors
