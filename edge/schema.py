"""The edge -> platform message contract, shared by agents, simulators and ingest.

Topic ``wh/v1/{agent_id}/{stream}`` (streams: shelf, scan, gps, status, env); payload is
compact JSON, schema-versioned. Every
message carries the agent's own monotonically increasing ``seq`` (``(agent_id, seq)`` makes
every write idempotent) and each reading its sensor id and reading time (unix seconds).
Decoding uses msgspec typed structs: several times cheaper than ``json`` on the hot path.
"""

from __future__ import annotations

import math
import re
from enum import StrEnum
from typing import Annotated, Literal

import msgspec
from msgspec import Meta, Struct

SCHEMA_VERSION = 1
TOPIC_ROOT = "wh/v1"
MAX_READINGS_PER_MESSAGE = 1000
MAX_PAYLOAD_BYTES = 256 * 1024
# Readings outside this window are rejected: they would land in far-away partitions and
# are always a clock or encoding bug (2001-09-09 .. 2100-01-01).
MIN_READING_TIME = 1_000_000_000.0
MAX_READING_TIME = 4_102_444_800.0

# \Z, not $: "$" also matches before a trailing newline, which would split ACL lines.
AGENT_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}\Z")

SensorId = Annotated[str, Meta(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}\Z")]
ReadingTime = Annotated[float, Meta(ge=MIN_READING_TIME, le=MAX_READING_TIME)]
Seq = Annotated[int, Meta(ge=0, le=2**63 - 1)]
Code = Annotated[str, Meta(min_length=1, max_length=128)]
Ref = Annotated[str, Meta(min_length=1, max_length=64)]


class Stream(StrEnum):
    SHELF = "shelf"
    SCAN = "scan"
    GPS = "gps"
    STATUS = "status"
    ENV = "env"


class ShelfReading(Struct, frozen=True, forbid_unknown_fields=True):
    """Gross weight on one load cell (shelf-scale channel), in grams."""

    s: SensorId
    t: ReadingTime
    w: float


ScanKind = Literal["rfid", "barcode"]
ScanAction = Literal["receive", "putaway", "pick", "ship", "return", "transfer", "count", "gate"]


class ScanReading(Struct, frozen=True, forbid_unknown_fields=True):
    """One scan: a barcode or RFID tag read, with what the operator was doing.

    ``b`` is the bin scanned with it (picks and put-aways), ``z`` the zone of a gate
    reader, ``q`` the quantity the operator confirmed.
    """

    s: SensorId
    t: ReadingTime
    k: ScanKind
    c: Code
    a: ScanAction
    q: Annotated[int, Meta(ge=0, le=1_000_000)] = 1
    b: Ref | None = None
    z: Ref | None = None


class GpsReading(Struct, frozen=True, forbid_unknown_fields=True):
    """A GPS fix from a truck unit: degrees, m/s, degrees from north, metres."""

    s: SensorId
    t: ReadingTime
    lat: Annotated[float, Meta(ge=-90.0, le=90.0)]
    lon: Annotated[float, Meta(ge=-180.0, le=180.0)]
    spd: Annotated[float, Meta(ge=0.0, le=100.0)] | None = None
    hdg: Annotated[float, Meta(ge=0.0, le=360.0)] | None = None
    acc: Annotated[float, Meta(ge=0.0, le=100_000.0)] | None = None


# What any temperature or humidity element can physically report: absolute zero up to far
# beyond every sensor's rated range (a rated range, e.g. -40..125 degC, is the alarm rules'
# business: a reading outside it is a sensor fault to raise, not a malformed message).
Celsius = Annotated[float, Meta(ge=-273.15, le=1000.0)]
RelativeHumidity = Annotated[float, Meta(ge=0.0, le=100.0)]


class EnvReading(Struct, frozen=True, forbid_unknown_fields=True, omit_defaults=True):
    """Climate at one sensor: temperature in degC and/or relative humidity in %; at least one
    of the two (``decode`` refuses a reading with neither)."""

    s: SensorId
    t: ReadingTime
    temp: Celsius | None = None
    rh: RelativeHumidity | None = None


AgentState = Literal["online", "offline", "heartbeat"]


class ShelfMessage(Struct, frozen=True, forbid_unknown_fields=True):
    v: int
    seq: Seq
    r: Annotated[list[ShelfReading], Meta(min_length=1, max_length=MAX_READINGS_PER_MESSAGE)]


class ScanMessage(Struct, frozen=True, forbid_unknown_fields=True):
    v: int
    seq: Seq
    r: Annotated[list[ScanReading], Meta(min_length=1, max_length=MAX_READINGS_PER_MESSAGE)]


class GpsMessage(Struct, frozen=True, forbid_unknown_fields=True):
    v: int
    seq: Seq
    r: Annotated[list[GpsReading], Meta(min_length=1, max_length=MAX_READINGS_PER_MESSAGE)]


class EnvMessage(Struct, frozen=True, forbid_unknown_fields=True):
    v: int
    seq: Seq
    r: Annotated[list[EnvReading], Meta(min_length=1, max_length=MAX_READINGS_PER_MESSAGE)]


class StatusMessage(Struct, frozen=True, forbid_unknown_fields=True):
    """Agent liveness. The last will is an ``offline`` status registered at connect time,
    with a ``seq`` the agent reserved for it then."""

    v: int
    seq: Seq
    t: ReadingTime
    state: AgentState
    info: Annotated[str, Meta(max_length=256)] | None = None


Message = ShelfMessage | ScanMessage | GpsMessage | StatusMessage | EnvMessage
Reading = ShelfReading | ScanReading | GpsReading | EnvReading

MESSAGE_TYPES: dict[Stream, type[Message]] = {
    Stream.SHELF: ShelfMessage,
    Stream.SCAN: ScanMessage,
    Stream.GPS: GpsMessage,
    Stream.STATUS: StatusMessage,
    Stream.ENV: EnvMessage,
}

_DECODERS = {stream: msgspec.json.Decoder(t) for stream, t in MESSAGE_TYPES.items()}
_ENCODER = msgspec.json.Encoder()


class InvalidMessage(ValueError):
    """A topic or payload that breaks the contract; ``reason`` says how, for the dead letter."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def topic(agent_id: str, stream: Stream | str) -> str:
    return f"{TOPIC_ROOT}/{agent_id}/{Stream(stream).value}"


def parse_topic(topic_name: str) -> tuple[str, Stream]:
    """Split ``wh/v1/{agent_id}/{stream}``; raise InvalidMessage for anything else."""
    parts = topic_name.split("/")
    if len(parts) != 4 or f"{parts[0]}/{parts[1]}" != TOPIC_ROOT:
        raise InvalidMessage(f"topic {topic_name!r} is not {TOPIC_ROOT}/<agent>/<stream>")
    agent_id, stream = parts[2], parts[3]
    if not AGENT_ID_RE.match(agent_id):
        raise InvalidMessage(f"agent id {agent_id!r} is not valid")
    try:
        return agent_id, Stream(stream)
    except ValueError:
        raise InvalidMessage(f"unknown stream {stream!r}") from None


def decode(stream: Stream, payload: bytes) -> Message:
    """Decode and validate one payload of ``stream``. Never raises anything but InvalidMessage."""
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise InvalidMessage(f"payload of {len(payload)} bytes exceeds {MAX_PAYLOAD_BYTES}")
    try:
        msg = _DECODERS[stream].decode(payload)
    except msgspec.ValidationError as exc:
        raise InvalidMessage(f"schema: {exc}") from None
    except msgspec.DecodeError as exc:
        raise InvalidMessage(f"not JSON: {exc}") from None
    if msg.v != SCHEMA_VERSION:
        raise InvalidMessage(f"schema version {msg.v} is not supported (expected {SCHEMA_VERSION})")
    if isinstance(msg, ShelfMessage):
        for r in msg.r:
            if not math.isfinite(r.w):
                raise InvalidMessage(f"sensor {r.s}: weight is not a finite number")
    elif isinstance(msg, EnvMessage):
        for e in msg.r:
            if e.temp is None and e.rh is None:
                raise InvalidMessage(f"sensor {e.s}: an env reading needs temp or rh")
    return msg


def encode(msg: Message) -> bytes:
    return _ENCODER.encode(msg)


def reading_times(msg: Message) -> list[float]:
    """The reading times a message carries (status: its own time)."""
    if isinstance(msg, StatusMessage):
        return [msg.t]
    return [r.t for r in msg.r]
