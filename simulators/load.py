"""Load generator: one process plays thousands of shelf-scale agents.

All agents share one thread and one selector. Two engines:

- ``raw`` (default): each agent's own MQTT 5 connection and credentials, but PUBLISH frames
  are written in batches (one ``send`` per agent and burst) and PUBACKs decoded in bulk
  (simulators/rawmqtt.py): several times cheaper per message than paho, so one process can
  drive 20,000+ messages/s next to the broker, database and ingest on two cores. Messages are
  built when their agent has window room, so a reading's time is its publish time;
- ``paho``: the real agents' ``EdgeClient``/``Fleet`` with in-memory outboxes (what ships
  to devices; its per-message cost is paho's).

Modes:

- ``normal``: valid ShelfMessages at ``rate`` messages/s in total, round-robin over agents;
- ``replay``: the normal run, then every acknowledged message is published again with the
  same agent and seq (ingest must store each once);
- ``malformed``: a ``malformed_fraction`` of the messages are bad, cycling through
  ``MALFORMED_KINDS``; each is counted so a test can check it was dead-lettered.

    python -m wayhouse.simulators.load --agents 2000 --rate 20000 --duration 5
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Literal

from wayhouse.config import MqttTarget, get_settings
from wayhouse.edge.client import EdgeClient
from wayhouse.edge.fleet import Fleet
from wayhouse.edge.outbox import MemoryOutbox
from wayhouse.edge.schema import (
    MAX_PAYLOAD_BYTES,
    SCHEMA_VERSION,
    AgentState,
    ShelfMessage,
    ShelfReading,
    StatusMessage,
    Stream,
    encode,
    topic,
)
from wayhouse.platform.devices.model import AgentSpec, SensorSpec

Mode = Literal["normal", "replay", "malformed"]
Engine = Literal["raw", "paho"]
# Raw engine: messages per agent per send. A send (and the PUBACK read) costs more than
# building a message, so per-agent bursts are what makes it cheap: measured with `wayhouse
# bench ingest` at 20k msg/s, ~4 us of generator CPU per message (paho engine: ~50).
RAW_BURST = 16
MALFORMED_KINDS = (
    "bad_json",  # not JSON at all
    "bad_version",  # valid shape, schema version 99
    "missing_field",  # no readings
    "nan",  # a weight of 1e999 (infinite once parsed)
    "oversize",  # over MAX_PAYLOAD_BYTES (still under the broker's packet limit)
    "unknown_sensor",  # valid, but the sensor is not registered to the agent
    "wrong_stream",  # a shelf message on the gps topic
)


@dataclass
class LoadConfig:
    agents: int = 1000
    rate: float = 10_000.0  # messages/s, all agents together
    duration: float = 5.0  # seconds of producing (connecting and draining not included)
    readings_per_message: int = 10
    sensors_per_agent: int = 10
    mode: Mode = "normal"
    malformed_fraction: float = 0.05
    replay_max: int = 200_000  # messages kept for the replay phase
    window: int = 100  # unacknowledged messages per agent
    # Consecutive messages for one agent before moving to the next; None: the engine's
    # default (paho 1, raw RAW_BURST).
    burst: int | None = None
    engine: Engine = "raw"
    prefix: str = "load"
    site: str = "LOAD"
    seed: int = 0
    # In-memory outboxes forget their seq on exit; starting from the clock (microseconds)
    # keeps seqs increasing across runs, so a new run is never mistaken for a replay.
    first_seq: int | None = None
    connect_timeout: float = 60.0
    drain_timeout: float = 30.0
    max_backlog: int = 200_000  # stop producing while this many are unacknowledged


@dataclass
class LoadResult:
    agents: int
    connected: int
    produced: int  # valid messages queued
    acked: int  # valid messages (and statuses) the broker acknowledged
    rejected: int
    backlog_left: int
    malformed: dict[str, int] = field(default_factory=dict)
    malformed_acked: int = 0
    replayed: int = 0
    replay_acked: int = 0
    connect_s: float = 0.0
    produce_s: float = 0.0
    drain_s: float = 0.0

    @property
    def produce_rate(self) -> float:
        return self.produced / self.produce_s if self.produce_s else 0.0

    @property
    def ack_rate(self) -> float:
        """Acknowledged messages per second over producing plus draining."""
        busy = self.produce_s + self.drain_s
        return self.acked / busy if busy else 0.0

    def summary(self) -> str:
        s = (
            f"{self.connected}/{self.agents} agents | produced {self.produced} in "
            f"{self.produce_s:.1f}s ({self.produce_rate:,.0f}/s) | acked {self.acked} "
            f"({self.ack_rate:,.0f}/s incl. {self.drain_s:.1f}s drain) | rejected {self.rejected}"
            f" | left {self.backlog_left}"
        )
        if self.malformed:
            s += f" | malformed {sum(self.malformed.values())} {dict(self.malformed)}"
        if self.replayed:
            s += f" | replayed {self.replayed} (acked {self.replay_acked})"
        return s


def agent_ids(n: int, prefix: str = "load") -> list[str]:
    return [f"{prefix}-{i:05d}" for i in range(1, n + 1)]


def sensor_ids(agent_id: str, n: int) -> list[str]:
    return [f"{agent_id}:c{j}" for j in range(1, n + 1)]


def load_agent_specs(cfg: LoadConfig) -> list[AgentSpec]:
    """The load agents for the registry: shelf controllers with ``sensors_per_agent`` cells."""
    return [
        AgentSpec(
            a,
            "shelf",
            tuple(
                SensorSpec(s, "scale", {"load": True}) for s in sensor_ids(a, cfg.sensors_per_agent)
            ),
            site=cfg.site,
        )
        for a in agent_ids(cfg.agents, cfg.prefix)
    ]


class _ArchivingOutbox(MemoryOutbox):
    """Keeps acknowledged rows (up to a cap) so they can be replayed."""

    def __init__(self, keep: int, archive: list[tuple[str, bytes]], first_seq: int = 1) -> None:
        super().__init__(first_seq)
        self._keep = keep
        self._archive = archive

    def ack(self, seq: int) -> None:
        with self._lock:
            row = self._rows.pop(seq, None)
            if row is not None and len(self._archive) < self._keep:
                self._archive.append(row)


def malformed_payload(kind: str, agent_id: str, seq: int, t: float) -> tuple[str, bytes]:
    """A bad message of ``kind`` from ``agent_id``: (topic, payload)."""
    shelf = topic(agent_id, Stream.SHELF)
    sensor = sensor_ids(agent_id, 1)[0]
    if kind == "bad_json":
        return shelf, b'{"v":1,"seq":%d,"r":[{"s":"%s","t":' % (seq, sensor.encode())
    if kind == "bad_version":
        r = [ShelfReading(s=sensor, t=t, w=1000.0)]
        return shelf, encode(ShelfMessage(v=99, seq=seq, r=r))
    if kind == "missing_field":
        return shelf, b'{"v":%d,"seq":%d}' % (SCHEMA_VERSION, seq)
    if kind == "nan":
        return shelf, b'{"v":%d,"seq":%d,"r":[{"s":"%s","t":%r,"w":1e999}]}' % (
            SCHEMA_VERSION,
            seq,
            sensor.encode(),
            t,
        )
    if kind == "oversize":
        one = encode(ShelfReading(s=sensor, t=t, w=1000.0))
        n = MAX_PAYLOAD_BYTES // (len(one) + 1) + 100
        body = b",".join([one] * n)
        return shelf, b'{"v":%d,"seq":%d,"r":[%s]}' % (SCHEMA_VERSION, seq, body)
    if kind == "unknown_sensor":
        r = [ShelfReading(s=f"{agent_id}:x999", t=t, w=1000.0)]
        return shelf, encode(ShelfMessage(v=SCHEMA_VERSION, seq=seq, r=r))
    if kind == "wrong_stream":
        r = [ShelfReading(s=sensor, t=t, w=1000.0)]
        return topic(agent_id, Stream.GPS), encode(ShelfMessage(v=SCHEMA_VERSION, seq=seq, r=r))
    raise ValueError(f"unknown malformed kind {kind!r}")


def run_load(
    cfg: LoadConfig,
    target_for: Callable[[str], MqttTarget],
    *,
    clock: Callable[[], float] = time.time,
    progress: Callable[[str], None] | None = print,
    stop: threading.Event | None = None,
) -> LoadResult:
    """Connect ``cfg.agents`` agents, produce for ``cfg.duration`` s, drain, disconnect."""
    if cfg.agents < 1 or cfg.rate <= 0 or cfg.readings_per_message < 1:
        raise ValueError("agents, rate and readings per message must be positive")
    if cfg.readings_per_message > cfg.sensors_per_agent:
        raise ValueError("readings per message cannot exceed the sensors per agent")
    say = progress or (lambda _line: None)
    stop = stop or threading.Event()
    if cfg.engine == "raw":
        return _run_raw(cfg, target_for, clock=clock, say=say, stop=stop)
    if cfg.engine != "paho":
        raise ValueError(f"unknown engine {cfg.engine!r}")
    rng = random.Random(cfg.seed)
    archive: list[tuple[str, bytes]] = []
    ids = agent_ids(cfg.agents, cfg.prefix)
    first_seq = cfg.first_seq if cfg.first_seq is not None else time.time_ns() // 1000
    clients = [
        EdgeClient(
            a,
            target_for(a),
            _ArchivingOutbox(cfg.replay_max, archive, first_seq)
            if cfg.mode == "replay"
            else MemoryOutbox(first_seq),
            window=cfg.window,
            heartbeat_s=None,
            keepalive=60,
            clock=clock,
        )
        for a in ids
    ]
    fleet = Fleet(clients, housekeeping_s=0.5, max_connects_per_round=2500, name="load")
    sensors = [sensor_ids(a, cfg.sensors_per_agent) for a in ids]
    base = [[rng.uniform(1000.0, 20000.0) for _ in s] for s in sensors]
    res = LoadResult(
        agents=cfg.agents, connected=0, produced=0, acked=0, rejected=0, backlog_left=0
    )
    malformed: Counter[str] = Counter()

    t0 = time.monotonic()
    fleet.run(stop, until=lambda: all(c.connected for c in clients), timeout=cfg.connect_timeout)
    res.connect_s = time.monotonic() - t0
    res.connected = sum(c.connected for c in clients)
    say(f"load: {res.connected}/{cfg.agents} agents connected in {res.connect_s:.1f}s")

    def unacked() -> int:
        return sum(c.outbox.count() for c in clients)

    rpm = cfg.readings_per_message
    n_agents = len(clients)
    every = (
        round(1 / cfg.malformed_fraction)
        if cfg.mode == "malformed" and cfg.malformed_fraction > 0
        else 0
    )
    produced = i = 0
    t_start = time.monotonic()
    next_report = t_start + 1.0
    backlog = 0
    burst = max(1, cfg.burst or 1)
    while not stop.is_set():
        now = time.monotonic()
        elapsed = now - t_start
        if elapsed >= cfg.duration:
            break
        due = int(cfg.rate * elapsed) - produced
        if now >= next_report:
            next_report += 1.0
            backlog = unacked()
            say(f"load: {elapsed:4.1f}s produced {produced} unacknowledged {backlog}")
        if due > 0 and backlog < cfg.max_backlog:
            # Then let the network catch up; touch each agent about once per round.
            batch = min(due, max(2000, n_agents * burst))
            t = clock()
            for n in range(batch):
                c, k = clients[i], i
                if n % burst == burst - 1:
                    i = (i + 1) % n_agents
                produced += 1
                if every and produced % every == 0:
                    kind = MALFORMED_KINDS[(produced // every) % len(MALFORMED_KINDS)]
                    c.inject(*malformed_payload(kind, c.agent_id, c.outbox.reserve(), t))
                    malformed[kind] += 1
                    continue
                ss, bb = sensors[k], base[k]
                j0 = rng.randrange(len(ss) - rpm + 1)
                r = [
                    ShelfReading(s=ss[j], t=t, w=bb[j] + rng.random()) for j in range(j0, j0 + rpm)
                ]
                c.put(Stream.SHELF, lambda seq, r=r: ShelfMessage(v=SCHEMA_VERSION, seq=seq, r=r))
            fleet.step(0.0)
        else:
            fleet.step(0.001)
    res.produce_s = time.monotonic() - t_start
    res.produced = produced - sum(malformed.values())
    res.malformed = dict(malformed)

    t_drain = time.monotonic()
    fleet.run(stop, until=fleet.all_idle, timeout=cfg.drain_timeout)
    res.drain_s = time.monotonic() - t_drain

    if cfg.mode == "replay" and not stop.is_set():
        per_agent = {c.agent_id: c for c in clients}
        for topic_name, payload in archive:
            per_agent[topic_name.split("/")[2]].inject(topic_name, payload)
        res.replayed = len(archive)
        say(f"load: replaying {res.replayed} acknowledged messages")
        fleet.run(stop, until=fleet.all_idle, timeout=cfg.drain_timeout)

    res.acked = sum(c.stats.acked for c in clients)
    res.rejected = sum(c.stats.rejected for c in clients)
    injected_acked = sum(c.stats.injected_acked for c in clients)
    if cfg.mode == "replay":
        res.replay_acked = injected_acked
    else:
        res.malformed_acked = injected_acked
    res.backlog_left = sum(c.backlog() + c.in_flight for c in clients)
    fleet.close(flush_timeout=5.0)
    say(f"load: {res.summary()}")
    return res


# Raw engine: which counter a PUBACK goes to.
_COUNTED, _INJECTED, _REPLAYED = 0, 1, 2


def _run_raw(
    cfg: LoadConfig,
    target_for: Callable[[str], MqttTarget],
    *,
    clock: Callable[[], float],
    say: Callable[[str], None],
    stop: threading.Event,
) -> LoadResult:
    """``run_load`` on the raw engine: same modes, seqs, statuses and result."""
    from wayhouse.simulators.rawmqtt import Archive, Item, RawConn, RawFleet, topic_field

    rng = random.Random(cfg.seed)
    ids = agent_ids(cfg.agents, cfg.prefix)
    first_seq = cfg.first_seq if cfg.first_seq is not None else time.time_ns() // 1000
    next_seq = [first_seq] * len(ids)
    shelf_topic = [topic_field(topic(a, Stream.SHELF)) for a in ids]
    status_topic = [topic_field(topic(a, Stream.STATUS)) for a in ids]

    def status(c: RawConn, state: AgentState, info: str | None = None) -> Item:
        seq = next_seq[c.index]
        next_seq[c.index] = seq + 1
        msg = StatusMessage(v=SCHEMA_VERSION, seq=seq, t=clock(), state=state, info=info)
        return seq, _COUNTED, status_topic[c.index], encode(msg)

    def will_for(c: RawConn) -> tuple[str, bytes]:
        # As EdgeClient: the will's seq is reserved at connect time, so it never repeats one.
        return topic(c.agent_id, Stream.STATUS), status(c, "offline", "will")[3]

    archive = Archive(cfg.replay_max) if cfg.mode == "replay" else None
    fleet = RawFleet(
        [(a, target_for(a)) for a in ids],
        window=cfg.window,
        keepalive=60,
        will_for=will_for,
        on_connect=lambda c: [status(c, "online")],
        archive=archive,
        seed=cfg.seed,
    )
    conns = fleet.conns
    sensors = [sensor_ids(a, cfg.sensors_per_agent) for a in ids]
    base = [[rng.uniform(1000.0, 20000.0) for _ in s] for s in sensors]
    res = LoadResult(
        agents=cfg.agents, connected=0, produced=0, acked=0, rejected=0, backlog_left=0
    )
    malformed: Counter[str] = Counter()

    t0 = time.monotonic()
    fleet.run(fleet.all_connected, cfg.connect_timeout, stop.is_set)
    res.connect_s = time.monotonic() - t0
    res.connected = sum(c.connected for c in conns)
    say(f"load: {res.connected}/{cfg.agents} agents connected in {res.connect_s:.1f}s")

    rpm = cfg.readings_per_message
    span = cfg.sensors_per_agent - rpm + 1
    n_agents = len(conns)
    every = (
        round(1 / cfg.malformed_fraction)
        if cfg.mode == "malformed" and cfg.malformed_fraction > 0
        else 0
    )
    burst = max(1, cfg.burst or RAW_BURST)
    tick, max_wait = 0.002, 0.005
    last_sent = 0.0
    rnd = rng.random
    reading, message, enc, version = ShelfReading, ShelfMessage, encode, SCHEMA_VERSION
    produced = i = 0
    t_start = time.monotonic()
    next_report = t_start + 1.0
    backlog = 0
    while not stop.is_set():
        now = time.monotonic()
        elapsed = now - t_start
        if elapsed >= cfg.duration:
            break
        if now >= next_report:
            next_report += 1.0
            backlog = fleet.in_flight()
            say(f"load: {elapsed:4.1f}s produced {produced} unacknowledged {backlog}")
        due = int(cfg.rate * elapsed) - produced
        # Whole bursts only; a remainder waits for more (at most `max_wait`): a send per
        # message would cost more than the message.
        sendable = due if now - last_sent >= max_wait else due - due % burst
        if backlog >= cfg.max_backlog:
            sendable = 0
        # Round-robin over agents with window room, `burst` messages each, one send per agent.
        misses = 0
        while sendable > 0 and misses < n_agents:
            c, k = conns[i], i
            i = i + 1 if i + 1 < n_agents else 0
            m = min(burst, sendable, c.room()) if c.ready else 0
            if m <= 0:
                misses += 1
                continue
            misses = 0
            ss, bb, tf = sensors[k], base[k], shelf_topic[k]
            t = clock()  # built just before they are written: reading time = publish time
            items: list[Item] = []
            first = next_seq[k]
            for seq in range(first, first + m):
                produced += 1
                if every and produced % every == 0:
                    kind = MALFORMED_KINDS[(produced // every) % len(MALFORMED_KINDS)]
                    name, payload = malformed_payload(kind, c.agent_id, seq, t)
                    items.append((seq, _INJECTED, topic_field(name), payload))
                    malformed[kind] += 1
                    continue
                j0 = int(rnd() * span)
                r = [reading(ss[j], t, bb[j] + rnd()) for j in range(j0, j0 + rpm)]
                items.append((seq, _COUNTED, tf, enc(message(version, seq, r))))
            next_seq[k] = first + m
            c.publish(items)
            sendable -= m
            last_sent = now
        fleet.poll(0.0)
        # Sleep out the tick (rather than select): PUBACKs pile up and are read many per recv.
        rest = tick - (time.monotonic() - now)
        if rest > 0:
            time.sleep(rest)
    res.produce_s = time.monotonic() - t_start
    res.produced = produced - sum(malformed.values())
    res.malformed = dict(malformed)

    t_drain = time.monotonic()
    fleet.run(fleet.all_idle, cfg.drain_timeout, stop.is_set)
    res.drain_s = time.monotonic() - t_drain

    if archive is not None and not stop.is_set():
        rows = list(archive.rows)
        for index, (seq, _kind, tf, payload) in rows:
            fleet.enqueue(conns[index], [(seq, _REPLAYED, tf, payload)])
        res.replayed = len(rows)
        say(f"load: replaying {res.replayed} acknowledged messages")
        fleet.run(fleet.all_idle, cfg.drain_timeout, stop.is_set)

    res.acked = sum(c.acked[_COUNTED] for c in conns)
    res.rejected = sum(c.rejected for c in conns)
    if cfg.mode == "replay":
        res.replay_acked = sum(c.acked[_REPLAYED] for c in conns)
    else:
        res.malformed_acked = sum(c.acked[_INJECTED] for c in conns)
    res.backlog_left = sum(len(c.inflight) + len(c.queue) for c in conns)
    for rej in list(fleet.rejections)[:5]:
        say(f"load: broker refused {rej.agent_id} seq {rej.seq} on {rej.topic}: {rej.reason_code}")
    # Like Fleet.close: an offline status from each agent, then a clean DISCONNECT.
    for c in conns:
        if c.connected:
            fleet.enqueue(c, [status(c, "offline", "shutdown")])
    fleet.run(fleet.all_idle, 5.0, stop.is_set)
    fleet.close()
    say(f"load: {res.summary()}")
    return res


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="One process playing thousands of shelf agents.")
    ap.add_argument("--agents", type=int, default=1000)
    ap.add_argument("--rate", type=float, default=10_000.0, help="messages/s in total")
    ap.add_argument("--duration", type=float, default=5.0, help="seconds of producing")
    ap.add_argument("--readings-per-message", type=int, default=10)
    ap.add_argument("--sensors-per-agent", type=int, default=10)
    ap.add_argument("--mode", choices=["normal", "replay", "malformed"], default="normal")
    ap.add_argument("--malformed-fraction", type=float, default=0.05)
    ap.add_argument("--window", type=int, default=100)
    ap.add_argument(
        "--burst",
        type=int,
        default=None,
        help=f"messages per agent in a row (default: paho 1, raw {RAW_BURST})",
    )
    ap.add_argument(
        "--engine",
        choices=["raw", "paho"],
        default="raw",
        help="raw: batched MQTT 5 frames (cheap); paho: the edge agents' own client",
    )
    ap.add_argument("--prefix", default="load")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--first-seq", type=int, default=None, help="default: from the clock")
    ap.add_argument("--no-provision", action="store_true", help="agents already exist")
    ap.add_argument("--json", action="store_true", help="print the result as JSON last")
    a = ap.parse_args(argv)
    cfg = LoadConfig(
        agents=a.agents,
        rate=a.rate,
        duration=a.duration,
        readings_per_message=a.readings_per_message,
        sensors_per_agent=max(a.sensors_per_agent, a.readings_per_message),
        mode=a.mode,
        malformed_fraction=a.malformed_fraction,
        window=a.window,
        burst=a.burst,
        engine=a.engine,
        prefix=a.prefix,
        seed=a.seed,
        first_seq=a.first_seq,
    )
    settings = get_settings()
    if not a.no_provision:
        from wayhouse.platform.devices.service import ensure_agents

        t = time.monotonic()
        ensure_agents(settings, load_agent_specs(cfg), password_for=settings.sim_password)
        print(f"load: provisioned {cfg.agents} agents in {time.monotonic() - t:.1f}s")
    res = run_load(cfg, lambda agent: settings.mqtt(agent, settings.sim_password(agent)))
    if a.json:
        out = asdict(res) | {"produce_rate": res.produce_rate, "ack_rate": res.ack_rate}
        print(json.dumps(out))
    return 0 if res.connected == cfg.agents and res.backlog_left == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
