"""decode_batch and the sensor directory, with plain-Python fakes (no broker, no database)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wayhouse.edge import schema as S
from wayhouse.platform.ingest.batch import (
    Accepted,
    DeadLetter,
    RawMessage,
    decode_batch,
    decode_one,
)
from wayhouse.platform.ingest.directory import AgentEntry, Directory

T = 1_700_000_000.0


@dataclass
class FakeAgent:
    agent_key: int


@dataclass
class FakeDirectory:
    """agent id -> (agent key, {sensor id: sensor key})."""

    agents: dict[str, tuple[int, dict[str, int]]] = field(default_factory=dict)
    calls: int = 0

    def agent(self, agent_id: str) -> FakeAgent | None:
        self.calls += 1
        entry = self.agents.get(agent_id)
        return FakeAgent(entry[0]) if entry else None

    def sensor_key(self, agent_id: str, sensor_id: str) -> int | None:
        entry = self.agents.get(agent_id)
        return entry[1].get(sensor_id) if entry else None


def _directory() -> FakeDirectory:
    return FakeDirectory(
        {
            "shelf-1": (1, {"s1a": 11, "s1b": 12}),
            "shelf-2": (2, {"s2a": 21}),
            "truck-1": (3, {"g1": 31}),
        }
    )


def _shelf(agent: str, seq: int, *sensors: str, w: float = 1.0) -> RawMessage:
    msg = S.ShelfMessage(v=1, seq=seq, r=[S.ShelfReading(s=s, t=T, w=w) for s in sensors])
    return RawMessage(S.topic(agent, "shelf"), S.encode(msg))


def _gps(agent: str, seq: int, sensor: str) -> RawMessage:
    msg = S.GpsMessage(v=1, seq=seq, r=[S.GpsReading(s=sensor, t=T, lat=1.0, lon=2.0)])
    return RawMessage(S.topic(agent, "gps"), S.encode(msg))


def _status(agent: str, seq: int, state: str = "online") -> RawMessage:
    msg = S.StatusMessage(v=1, seq=seq, t=T, state=state)  # type: ignore[arg-type]
    return RawMessage(S.topic(agent, "status"), S.encode(msg))


def _only_dead(raw: RawMessage, directory: FakeDirectory | None = None) -> DeadLetter:
    out = decode_batch([raw], directory or _directory())
    assert out.accepted == [] and out.duplicates_in_batch == 0
    (dead,) = out.dead
    assert dead.topic == raw.topic and dead.payload == raw.payload  # raw bytes kept as they came
    return dead


def test_valid_messages_are_accepted_with_keys_in_reading_order() -> None:
    out = decode_batch(
        [
            _shelf("shelf-1", 5, "s1b", "s1a", "s1b"),
            _gps("truck-1", 1, "g1"),
            _status("shelf-2", 9),
        ],
        _directory(),
    )
    assert out.dead == [] and out.duplicates_in_batch == 0
    shelf, gps, status = out.accepted
    assert (shelf.agent_id, shelf.agent_key, shelf.stream) == ("shelf-1", 1, S.Stream.SHELF)
    assert shelf.sensor_keys == (12, 11, 12)
    assert shelf.message.seq == 5
    assert (gps.agent_key, gps.stream, gps.sensor_keys) == (3, S.Stream.GPS, (31,))
    assert (status.agent_key, status.stream, status.sensor_keys) == (2, S.Stream.STATUS, ())
    assert isinstance(status.message, S.StatusMessage) and status.message.state == "online"


def test_unknown_agent_is_dead_lettered_with_a_reason() -> None:
    dead = _only_dead(_shelf("ghost", 1, "s1a"))
    assert dead.agent_id == "ghost"
    assert "ghost" in dead.reason and "not registered" in dead.reason


def test_unknown_agent_status_is_dead_lettered_too() -> None:
    dead = _only_dead(_status("ghost", 1))
    assert "not registered" in dead.reason


def test_unknown_sensor_is_dead_lettered_with_a_reason() -> None:
    dead = _only_dead(_shelf("shelf-1", 1, "nope"))
    assert dead.agent_id == "shelf-1"
    assert "nope" in dead.reason and "not registered to agent shelf-1" in dead.reason


def test_sensor_of_another_agent_dead_letters_the_whole_message() -> None:
    # One legitimate reading and one of shelf-2's sensors: nothing of it is half-stored.
    dead = _only_dead(_shelf("shelf-1", 1, "s1a", "s2a"))
    assert "s2a" in dead.reason and "shelf-1" in dead.reason


def test_bad_topic_and_bad_payload_are_dead_lettered() -> None:
    no_agent = _only_dead(RawMessage("wh/v1/shelf-1/bogus", b"{}"))
    assert no_agent.agent_id is None and "stream" in no_agent.reason
    wrong_root = _only_dead(RawMessage("wh/v2/shelf-1/shelf", b"{}"))
    assert wrong_root.agent_id is None
    garbage = _only_dead(RawMessage(S.topic("shelf-1", "shelf"), b"\xff\x00garbage"))
    assert garbage.agent_id == "shelf-1" and "JSON" in garbage.reason


def test_payload_is_validated_before_the_directory_is_asked() -> None:
    directory = _directory()
    _only_dead(RawMessage(S.topic("shelf-1", "shelf"), b"{not json"), directory)
    assert directory.calls == 0


def test_a_failing_directory_gives_a_dead_letter_not_an_exception() -> None:
    class Broken(FakeDirectory):
        def sensor_key(self, agent_id: str, sensor_id: str) -> int | None:
            raise RuntimeError("registry down")

    dead = _only_dead(_shelf("shelf-1", 1, "s1a"), Broken(_directory().agents))
    assert dead.reason.startswith("internal:") and "registry down" in dead.reason


def test_in_batch_duplicates_are_counted_once() -> None:
    raws = [
        _shelf("shelf-1", 1, "s1a"),
        _shelf("shelf-1", 1, "s1a"),  # QoS1 redelivery
        _status("shelf-1", 1),  # same (agent, seq) on another stream: still the same message
        _shelf("shelf-2", 1, "s2a"),  # same seq, other agent: a different message
        _shelf("shelf-1", 2, "s1b"),
    ]
    out = decode_batch(raws, _directory())
    assert out.dead == []
    assert out.duplicates_in_batch == 2
    assert [(a.agent_id, a.message.seq) for a in out.accepted] == [
        ("shelf-1", 1),
        ("shelf-2", 1),
        ("shelf-1", 2),
    ]
    assert out.accepted[0].stream == S.Stream.SHELF  # the first copy wins


def test_a_dead_letter_does_not_claim_its_seq() -> None:
    raws = [_shelf("shelf-1", 7, "s2a"), _shelf("shelf-1", 7, "s1a")]
    out = decode_batch(raws, _directory())
    assert len(out.dead) == 1 and out.duplicates_in_batch == 0
    (ok,) = out.accepted
    assert ok.sensor_keys == (11,)


def test_empty_batch() -> None:
    out = decode_batch([], _directory())
    assert (out.accepted, out.dead, out.duplicates_in_batch) == ([], [], 0)


# --- property: nothing is lost, nothing raises ------------------------------------------------

AGENTS = _directory().agents
SENSORS = [s for _, sensors in AGENTS.values() for s in sensors]


@st.composite
def raw_messages(draw: st.DrawFn) -> tuple[RawMessage, bool]:
    """A raw message and whether it must be accepted (before dedupe)."""
    kind = draw(
        st.sampled_from(["good", "good", "good", "status", "foreign", "ghost", "bytes", "topic"])
    )
    agent = draw(st.sampled_from(sorted(AGENTS)))
    seq = draw(st.integers(0, 6))  # small: duplicates happen often
    own = sorted(AGENTS[agent][1])
    if kind == "good":
        sensors = draw(st.lists(st.sampled_from(own), min_size=1, max_size=4))
        return _shelf(agent, seq, *sensors, w=draw(st.floats(-1e6, 1e6))), True
    if kind == "status":
        return _status(agent, seq, draw(st.sampled_from(["online", "offline", "heartbeat"]))), True
    if kind == "foreign":
        foreign = draw(st.sampled_from([s for s in SENSORS if s not in own] + ["unknown"]))
        sensors = draw(st.permutations([*own[:1], foreign]))
        return _shelf(agent, seq, *sensors), False
    if kind == "ghost":
        return _shelf("ghost-" + agent, seq, *own), False
    if kind == "bytes":
        stream = draw(st.sampled_from(list(S.Stream)))
        return RawMessage(S.topic(agent, stream), draw(st.binary(max_size=64))), False
    name = draw(st.text(max_size=30) | st.sampled_from(["wh/v1/x", "wh/v1//shelf", "#", ""]))
    return RawMessage(name, draw(st.binary(max_size=16))), False


@settings(max_examples=300, deadline=None)
@given(items=st.lists(raw_messages(), max_size=40))
def test_every_message_is_accepted_dead_or_a_duplicate(
    items: list[tuple[RawMessage, bool]],
) -> None:
    raws = [raw for raw, _ in items]
    out = decode_batch(raws, _directory())  # must not raise
    assert len(out.accepted) + len(out.dead) + out.duplicates_in_batch == len(raws)

    # An independent model of the outcome.
    expected_keys: list[tuple[int, int]] = []
    for raw, good in items:
        if good:
            agent_id, _ = S.parse_topic(raw.topic)
            key = (AGENTS[agent_id][0], S.decode(S.parse_topic(raw.topic)[1], raw.payload).seq)
            if key not in expected_keys:
                expected_keys.append(key)
    assert [(a.agent_key, a.message.seq) for a in out.accepted] == expected_keys
    assert len(out.dead) == sum(1 for _, good in items if not good)
    assert all(isinstance(d, DeadLetter) and d.reason for d in out.dead)
    assert [d.payload for d in out.dead] == [raw.payload for raw, good in items if not good]
    for a in out.accepted:
        assert isinstance(a, Accepted)
        sensors = AGENTS[a.agent_id][1]
        readings = [] if isinstance(a.message, S.StatusMessage) else a.message.r
        assert a.sensor_keys == tuple(sensors[r.s] for r in readings)


@settings(deadline=None)
@given(payload=st.binary(max_size=200), name=st.text(max_size=40))
def test_decode_one_never_raises(payload: bytes, name: str) -> None:
    result = decode_one(RawMessage(name, payload), _directory())
    assert isinstance(result, Accepted | DeadLetter)


# --- the caching directory ---------------------------------------------------------------------


class FakeRegistry:
    """What sql_loader would return, with a call log."""

    def __init__(self) -> None:
        self.rows: dict[str, AgentEntry] = {"a1": AgentEntry(1, {"s1": 10})}
        self.calls: list[str | None] = []

    def __call__(self, agent_id: str | None) -> dict[str, AgentEntry]:
        self.calls.append(agent_id)
        rows = {k: AgentEntry(v.agent_key, dict(v.sensors)) for k, v in self.rows.items()}
        return rows if agent_id is None else {k: v for k, v in rows.items() if k == agent_id}


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def registry() -> FakeRegistry:
    return FakeRegistry()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def directory(registry: FakeRegistry, clock: FakeClock) -> Directory:
    d = Directory(registry, refresh_s=2.0, clock=clock)
    d.load_all()
    return d


def test_directory_serves_known_agents_from_its_cache(
    directory: Directory, registry: FakeRegistry
) -> None:
    for _ in range(5):
        entry = directory.agent("a1")
        assert entry is not None and entry.agent_key == 1
        assert directory.sensor_key("a1", "s1") == 10
    assert registry.calls == [None]


def test_directory_finds_a_sensor_provisioned_after_load(
    directory: Directory, registry: FakeRegistry
) -> None:
    registry.rows["a1"].sensors["s2"] = 20
    assert directory.sensor_key("a1", "s2") == 20
    assert registry.calls == [None, "a1"]


def test_directory_finds_an_agent_provisioned_after_load(
    directory: Directory, registry: FakeRegistry
) -> None:
    registry.rows["a2"] = AgentEntry(2, {"s9": 90})
    entry = directory.agent("a2")
    assert entry is not None and entry.agent_key == 2
    assert directory.sensor_key("a2", "s9") == 90


def test_directory_reloads_an_agent_at_most_once_per_interval(
    directory: Directory, registry: FakeRegistry, clock: FakeClock
) -> None:
    for _ in range(100):  # a flood of readings from an unknown agent
        assert directory.agent("ghost") is None
        assert directory.sensor_key("a1", "nope") is None
    assert registry.calls == [None, "ghost", "a1"]
    clock.now += 2.0
    registry.rows["ghost"] = AgentEntry(7)
    entry = directory.agent("ghost")
    assert entry is not None and entry.agent_key == 7
    assert registry.calls[-1] == "ghost"


def test_directory_forgets_a_revoked_agent_on_reload(
    directory: Directory, registry: FakeRegistry, clock: FakeClock
) -> None:
    assert directory.agent("a1") is not None
    del registry.rows["a1"]
    assert directory.sensor_key("a1", "s-unknown") is None  # a miss triggers the reload
    clock.now += 5.0
    assert directory.agent("a1") is None
    assert directory.sensor_key("a1", "s1") is None


def test_directory_drives_decode_batch(directory: Directory, registry: FakeRegistry) -> None:
    registry.rows["a1"].sensors["s2"] = 20
    raw = RawMessage(
        S.topic("a1", "shelf"),
        S.encode(
            S.ShelfMessage(
                v=1, seq=1, r=[S.ShelfReading(s="s1", t=T, w=1), S.ShelfReading(s="s2", t=T, w=2)]
            )
        ),
    )
    out = decode_batch([raw, _shelf("zz", 1, "s1")], directory)
    assert [a.sensor_keys for a in out.accepted] == [(10, 20)]
    assert [d.agent_id for d in out.dead] == ["zz"]
