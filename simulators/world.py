"""A scenario played in simulated time: the warehouse floor, the trucks and the shelf-scale
ticks merged into one time-ordered stream of what each agent reports.

``World.advance(t)`` is deterministic for a seed whatever the steps: the same scenario,
seed and start time give the same emissions whether time moves in one jump or many.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import groupby

from wayhouse.simulators.scenario import Scenario
from wayhouse.simulators.trucks import GpsFix, TruckSim
from wayhouse.simulators.warehouse import ScanEvent, WarehouseFloor


@dataclass(frozen=True)
class ShelfBatch:
    """One tick of a shelf-row controller: gross weight per load cell."""

    t: float
    agent_id: str
    weights: tuple[tuple[str, float], ...]


@dataclass(frozen=True)
class ScanBatch:
    """Scans one scanner made at one instant (a gate reads a whole pallet at once)."""

    t: float
    agent_id: str
    events: tuple[ScanEvent, ...]


Emission = ShelfBatch | ScanBatch | GpsFix


class World:
    def __init__(self, scenario: Scenario, start_time: float, **floor_options: float) -> None:
        self.scenario = scenario
        self.start_time = start_time
        self.floor: WarehouseFloor = scenario.floor(start_time, **floor_options)
        self.trucks: list[TruckSim] = scenario.truck_sims(start_time)
        self.rows = {
            agent_id: [b.sensor_id for b in bins]
            for agent_id, bins in scenario.shelf_rows().items()
        }
        self._next_tick = start_time
        self.now = start_time

    def advance(self, t: float) -> list[Emission]:
        """Everything reported in (now, t], in time order (ties: floor, shelves, trucks)."""
        out: list[Emission] = []
        interval = self.scenario.shelf_interval_s
        while self._next_tick <= t:
            # Operations up to the tick first, so the scales weigh what is on the shelf then.
            out += self._scans(self.floor.run_until(self._next_tick))
            tick = self._next_tick
            for agent_id, cells in self.rows.items():
                weights = tuple((cell, self.floor.read_cell(cell)) for cell in cells)
                out.append(ShelfBatch(tick, agent_id, weights))
            self._next_tick = tick + interval
        out += self._scans(self.floor.run_until(t))
        for truck in self.trucks:
            out += truck.fixes_until(t)
        self.now = max(self.now, t)
        out.sort(key=lambda e: e.t)  # stable: ties keep the order above
        return out

    @staticmethod
    def _scans(events: list[ScanEvent]) -> list[Emission]:
        return [
            ScanBatch(t, agent_id, tuple(group))
            for (t, agent_id), group in groupby(events, key=lambda e: (e.t, e.agent_id))
        ]
