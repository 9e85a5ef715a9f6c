"""Run a scenario against the real broker: provision its agents, then play the warehouse floor
and the trucks through real edge agents (durable outboxes, one network thread for all).

Simulated time runs ``speed`` times faster than the wall clock from the moment it starts,
so with speed > 1 the readings are stamped ahead of real time.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import queue
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from wayhouse.config import MqttTarget, Settings, get_settings
from wayhouse.edge.agents import ScannerAgent, ShelfScaleAgent, TruckGpsAgent
from wayhouse.edge.fleet import Fleet
from wayhouse.edge.outbox import Outbox, SqliteOutbox
from wayhouse.simulators.scenario import Scenario, get_scenario
from wayhouse.simulators.trucks import GpsFix, Stop
from wayhouse.simulators.world import ScanBatch, ShelfBatch, World

log = logging.getLogger(__name__)


@dataclass
class RunStats:
    emitted: Counter[str] = field(default_factory=Counter)
    sim_seconds: float = 0.0
    wall_seconds: float = 0.0
    flushed: bool = False


class SimAgents:
    """The scenario's agents, wired to outboxes and one fleet."""

    def __init__(
        self,
        scenario: Scenario,
        clock: Callable[[], float],
        target_for: Callable[[str], MqttTarget],
        outbox_for: Callable[[str], Outbox],
    ) -> None:
        self.outboxes: list[Outbox] = []

        def opts(agent_id: str) -> dict[str, object]:
            ob = outbox_for(agent_id)
            self.outboxes.append(ob)
            return {"target": target_for(agent_id), "outbox": ob, "clock": clock}

        self.shelves: dict[str, ShelfScaleAgent] = {}
        for agent_id, bins in scenario.shelf_rows().items():
            self.shelves[agent_id] = ShelfScaleAgent(
                agent_id,
                cells=[b.sensor_id for b in bins],
                **opts(agent_id),  # type: ignore[arg-type]
            )
        self.scanners = {
            s.agent_id: ScannerAgent(
                s.agent_id,
                barcode_sensor=s.barcode_sensor,
                rfid_sensor=s.rfid_sensor,
                **opts(s.agent_id),  # type: ignore[arg-type]
            )
            for s in scenario.scanners
        }
        # Routes published to the trucks arrive on the fleet's network thread; the
        # simulation loop applies them (``take_routes``).
        self.routes: queue.SimpleQueue[tuple[str, bytes]] = queue.SimpleQueue()
        self.trucks = {
            t.agent_id: TruckGpsAgent(
                t.agent_id,
                sensor_id=t.sensor_id,
                on_route=lambda payload, aid=t.agent_id: self.routes.put((aid, payload)),
                **opts(t.agent_id),  # type: ignore[arg-type]
            )
            for t in scenario.trucks
        }
        clients = [a.client for a in (*self.shelves.values(), *self.scanners.values())]
        clients += [a.client for a in self.trucks.values()]
        self.fleet = Fleet(clients, name="sim-agents")

    def deliver(self, emission: ShelfBatch | ScanBatch | GpsFix) -> str:
        """Queue one emission on its agent; returns the stream it went to."""
        if isinstance(emission, ShelfBatch):
            self.shelves[emission.agent_id].emit(dict(emission.weights), emission.t)
            return "shelf"
        if isinstance(emission, ScanBatch):
            scanner = self.scanners[emission.agent_id]
            scanner.emit(
                [
                    scanner.reading(
                        e.code,
                        e.action,
                        kind=e.kind,
                        qty=e.qty,
                        bin_code=e.bin_code,
                        zone=e.zone,
                        t=e.t,
                    )
                    for e in emission.events
                ]
            )
            return "scan"
        self.trucks[emission.agent_id].fix(
            emission.lat,
            emission.lon,
            spd=emission.spd,
            hdg=emission.hdg,
            acc=emission.acc,
            t=emission.t,
        )
        return "gps"

    def take_routes(self) -> list[tuple[str, bytes]]:
        out = []
        while True:
            try:
                out.append(self.routes.get_nowait())
            except queue.Empty:
                return out

    def status_line(self) -> str:
        clients = self.fleet.clients
        up = sum(c.connected for c in clients)
        acked = sum(c.stats.acked for c in clients)
        rejected = sum(c.stats.rejected for c in clients)
        backlog = sum(c.backlog() for c in clients)
        return (
            f"agents {up}/{len(clients)} up | acked {acked} rejected {rejected} backlog {backlog}"
        )

    def close(self) -> None:
        for ob in self.outboxes:
            ob.close()


def follow_route(
    world: World,
    applied: dict[str, tuple[int, int]],
    agent_id: str,
    payload: bytes,
    out: Callable[[str], None],
) -> bool:
    """Make a simulated truck drive a route the dispatcher published (once per revision: the
    retained message comes again on every reconnect). Stops already served are skipped."""
    try:
        msg = json.loads(payload)
        key = (int(msg["plan"]), int(msg["revision"]))
        stops = [
            Stop(
                f"o{s['order']}",
                f"order {s['order']}",
                float(s["lat"]),
                float(s["lon"]),
                float(s.get("service_s") or 0.0),
            )
            for s in msg["stops"]
            if s.get("status", "planned") == "planned"
        ]
    except (ValueError, KeyError, TypeError) as exc:
        out(f"simulator: ignoring a malformed route for {agent_id}: {exc}")
        return False
    if applied.get(agent_id) == key:
        return False
    truck = next((t for t in world.trucks if t.spec.agent_id == agent_id), None)
    if truck is None:
        return False
    truck.follow(stops, world.now)
    applied[agent_id] = key
    out(f"simulator: {agent_id} follows plan {key[0]} rev {key[1]} ({len(stops)} stops)")
    return True


def run(
    settings: Settings,
    scenario: str = "default",
    seed: int = 0,
    speed: float = 1.0,
    duration: float | None = None,
    stop_event: threading.Event | None = None,
    *,
    provision: bool = True,
    status_every: float = 5.0,
    step_s: float = 0.2,
    out: Callable[[str], None] = print,
) -> RunStats:
    """Play ``scenario`` until ``stop_event`` is set or ``duration`` wall seconds passed."""
    if speed <= 0:
        raise ValueError("speed must be positive")
    sc = get_scenario(scenario, seed)
    if provision:
        from wayhouse.platform.devices.service import ensure_agents

        ensure_agents(settings, sc.agents(), password_for=settings.sim_password)
    wall0 = time.time()
    mono0 = time.monotonic()

    def clock() -> float:
        return wall0 + (time.monotonic() - mono0) * speed

    world = World(sc, wall0)
    outbox_dir = settings.data_dir / "sim" / "outbox" / sc.name
    agents = SimAgents(
        sc,
        clock,
        lambda agent: settings.mqtt(agent, settings.sim_password(agent)),
        lambda agent: SqliteOutbox(outbox_dir / f"{agent}.db"),
    )
    agents.fleet.start()
    applied: dict[str, tuple[int, int]] = {}
    stats = RunStats()
    stop = stop_event or threading.Event()
    next_status = time.monotonic() + status_every
    out(f"simulator: scenario {sc.name} seed {seed} speed x{speed:g}, {len(sc.agents())} agents")
    try:
        while not stop.is_set():
            elapsed = time.monotonic() - mono0
            if duration is not None and elapsed >= duration:
                break
            for agent_id, payload in agents.take_routes():
                follow_route(world, applied, agent_id, payload, out)
            for e in world.advance(clock()):
                stats.emitted[agents.deliver(e)] += 1
            if time.monotonic() >= next_status:
                next_status += status_every
                sim_s = world.now - wall0
                out(
                    f"sim +{sim_s:8.0f}s | shelf {stats.emitted['shelf']} scan "
                    f"{stats.emitted['scan']} gps {stats.emitted['gps']} | {agents.status_line()}"
                )
            stop.wait(step_s)
    finally:
        stats.sim_seconds = world.now - wall0
        stats.wall_seconds = time.monotonic() - mono0
        agents.fleet.stop(flush_timeout=5.0)
        stats.flushed = agents.fleet.all_idle()
        out(f"simulator stopped | {agents.status_line()}")
        agents.close()
    return stats


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="Run the Wayhouse warehouse + trucks simulator.")
    ap.add_argument("--scenario", default="default")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--speed", type=float, default=1.0)
    ap.add_argument("--duration", type=float, default=None, help="wall seconds (default: forever)")
    ap.add_argument("--no-provision", action="store_true")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(message)s")
    with contextlib.suppress(KeyboardInterrupt):
        run(
            get_settings(),
            args.scenario,
            args.seed,
            args.speed,
            args.duration,
            provision=not args.no_provision,
        )


if __name__ == "__main__":
    main()
