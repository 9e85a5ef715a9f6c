"""Turn a batch of raw MQTT messages into accepted messages and dead letters (no I/O).

A message is accepted or dead-lettered whole: a message that names one sensor not registered
to its agent goes to the dead-letter table with its raw bytes, so nothing is half-stored.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from wayhouse.edge.schema import (
    InvalidMessage,
    Message,
    StatusMessage,
    Stream,
    decode,
    parse_topic,
)


class LookupUnavailable(RuntimeError):
    """The registry could not be asked (database down): retry the batch, never dead-letter it."""


class SensorLookup(Protocol):
    def agent(self, agent_id: str) -> object | None: ...
    def sensor_key(self, agent_id: str, sensor_id: str) -> int | None: ...


@dataclass(frozen=True)
class RawMessage:
    topic: str
    payload: bytes
    arrived: float = 0.0  # monotonic clock when the worker received it (for lag)


@dataclass(frozen=True)
class Accepted:
    agent_id: str
    agent_key: int
    stream: Stream
    message: Message
    sensor_keys: tuple[int, ...]  # one per reading, in order (empty for status)


@dataclass(frozen=True)
class DeadLetter:
    topic: str
    agent_id: str | None
    reason: str
    payload: bytes


@dataclass
class DecodedBatch:
    accepted: list[Accepted] = field(default_factory=list)
    dead: list[DeadLetter] = field(default_factory=list)
    duplicates_in_batch: int = 0


def decode_one(raw: RawMessage, directory: SensorLookup) -> Accepted | DeadLetter:
    agent_id: str | None = None
    try:
        agent_id, stream = parse_topic(raw.topic)
        msg = decode(stream, raw.payload)
        agent = directory.agent(agent_id)
        if agent is None:
            raise InvalidMessage(f"agent {agent_id} is not registered or was revoked")
        agent_key: int = agent.agent_key  # type: ignore[attr-defined]
        if isinstance(msg, StatusMessage):
            return Accepted(agent_id, agent_key, stream, msg, ())
        keys = []
        for r in msg.r:
            key = directory.sensor_key(agent_id, r.s)
            if key is None:
                raise InvalidMessage(f"sensor {r.s} is not registered to agent {agent_id}")
            keys.append(key)
        return Accepted(agent_id, agent_key, stream, msg, tuple(keys))
    except InvalidMessage as exc:
        return DeadLetter(raw.topic, agent_id, exc.reason, raw.payload)
    except LookupUnavailable:
        raise
    except Exception as exc:
        return DeadLetter(
            raw.topic, agent_id, f"internal: {type(exc).__name__}: {exc}", raw.payload
        )


def decode_batch(raws: list[RawMessage], directory: SensorLookup) -> DecodedBatch:
    out = DecodedBatch()
    seen: set[tuple[int, int]] = set()
    for raw in raws:
        result = decode_one(raw, directory)
        if isinstance(result, DeadLetter):
            out.dead.append(result)
            continue
        key = (result.agent_key, result.message.seq)
        if key in seen:
            out.duplicates_in_batch += 1
            continue
        seen.add(key)
        out.accepted.append(result)
    return out
