"""Anomalies injected into a simulated warehouse at known times, and their ground truth.

``AnomalyWorld`` plays a scenario (``World``: floor, scales, scanners) and injects its
``AnomalyMix``: units vanishing or appearing without a scan, a bin drained by picks below its
reorder point, a load cell stuck / jumping / out of its physical range, a zone too hot or too
humid, a gateway that falls silent or dies (its last will). It also plays the zones' climate
sensors and the gateways' heartbeats. Deterministic for a seed, however time is sliced.

The ground truth (``truths``) names each anomaly the way the alarm engine does: its alarm
type, its subject (``bin:<site>/<code>``, ``sensor:<id>``, ``agent:<id>``) and two times:

- ``t``, the onset: when it physically happened (the units vanished, the cell froze);
- ``due``, when the rule *as specified* can first decide, on this scenario's reading grid:
  a loss is unexplained once a scale reading has settled on it (``settle_readings``) and no
  pick scan came within ``scan_grace_s``; stuck is ``stuck_readings`` identical values; out of
  range is ``range_readings`` readings outside; a jump is the second short spike, known as
  short once ``settle_readings`` readings are back; a climate excursion counts after
  ``env_hold_s``; a silent agent after ``heartbeat_s x offline_missed``.

So ``due - t`` is what the rules' definitions cost, and alarm time minus ``due`` is what the
pipeline (broker, ingest, evaluation, database) adds. Truth is derived from what happened,
not only from what was injected: a random pick that takes a bin to its reorder point is a
``below_reorder_point`` as much as an injected drain.
"""

from __future__ import annotations

import dataclasses
import json
import math
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from wayhouse.simulators.scenario import AnomalyMix, Scenario
from wayhouse.simulators.trucks import GpsFix
from wayhouse.simulators.warehouse import BinSpec
from wayhouse.simulators.world import Emission, ShelfBatch, World

HEARTBEAT_EVERY_S = 10.0  # a gateway's heartbeat (the world sends them: known times)
SPIKE_SIGMA = 50.0  # a jump: one reading this many sigma off, then back
SPIKE_GAP = 6  # readings between the two spikes of a jump
STUCK_READINGS = 20  # a stuck cell repeats one value this many readings, then recovers
OUT_OF_RANGE_G = -5000.0  # what a broken cell reports (below any tare and the cell's minimum)
OUT_OF_RANGE_READINGS = 4
ENV_EXTRA_READINGS = 6  # a climate excursion lasts the hold time plus this many readings


@dataclass(frozen=True)
class RuleTiming:
    """What the rules need before they decide (the alarm thresholds' defaults)."""

    settle_readings: int = 3
    scan_grace_s: float = 15.0
    discrepancy_settle_s: float = 120.0
    stuck_readings: int = 12
    range_readings: int = 2
    env_hold_s: float = 60.0
    heartbeat_s: float = 30.0
    offline_missed: int = 3
    reorder_fraction: float = 0.2
    temperature_max: float = 30.0
    humidity_max: float = 70.0

    def reorder_point(self, capacity: int) -> int:
        return math.floor(self.reorder_fraction * capacity)


@dataclass(frozen=True)
class Truth:
    """One anomaly as the alarm engine should see it (see the module docstring)."""

    type: str
    subject: str
    t: float
    due: float
    detail: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Truth:
        return cls(d["type"], d["subject"], float(d["t"]), float(d["due"]), d.get("detail", {}))


def write_truth(path: Path, truths: Iterable[Truth]) -> int:
    """Ground truth as JSON lines, in ``due`` order; returns how many."""
    rows = sorted(truths, key=lambda x: (x.due, x.type, x.subject))
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as f:
        for x in rows:
            f.write(json.dumps(x.to_dict(), sort_keys=True) + "\n")
    return len(rows)


def read_truth(path: Path) -> list[Truth]:
    return [Truth.from_dict(json.loads(line)) for line in path.read_text().splitlines() if line]


# ---- what the world emits besides shelves, scans and GPS ------------------------------------


@dataclass(frozen=True)
class EnvBatch:
    """One reading of a zone's climate sensors: (sensor, temp degC, rh %) each."""

    t: float
    agent_id: str
    readings: tuple[tuple[str, float | None, float | None], ...]


@dataclass(frozen=True)
class Heartbeat:
    t: float
    agent_id: str


@dataclass(frozen=True)
class AgentKill:
    """The agent dies without a goodbye (power cut): only its last will tells."""

    t: float
    agent_id: str


WorldEmission = Emission | EnvBatch | Heartbeat | AgentKill


class FixSource(Protocol):
    def fixes_until(self, t: float) -> list[GpsFix]: ...


@dataclass(frozen=True)
class Injection:
    kind: str
    t: float
    target: str  # bin code, zone or agent id
    qty: int = 0


# ---- the plan ---------------------------------------------------------------------------------


def _visible(b: BinSpec) -> bool:
    """One unit is a clear step on this cell (not a CUSUM-slow one): a fair test of the rules."""
    return b.unit_weight_g >= 20.0 * b.noise_sigma_g


def plan_injections(
    sc: Scenario, start: float, timing: RuleTiming | None = None
) -> list[Injection]:
    """Every injection of the scenario's mix, each on its own bin, zone or gateway, at slot
    times ``warmup + k x spacing`` (``together`` per slot), slightly off the reading grid."""
    mix = sc.anomalies or AnomalyMix(per_kind=0)
    timing = timing or RuleTiming()
    rng = random.Random(f"{sc.seed}:anomalies")
    candidates = [b for b in sc.bins if _visible(b)]
    rng.shuffle(candidates)
    zones = [z.zone for z in sc.env_zones]
    gateways = list(sc.gateways)
    order = [k for _ in range(mix.per_kind) for k in mix.kinds]
    out: list[Injection] = []
    used: set[str] = set()
    for i, kind in enumerate(order):
        slot = i // max(mix.together, 1)
        t = start + mix.warmup_s + slot * mix.spacing_s + 0.37 + 0.11 * (i % 7)
        if kind in ("temperature", "humidity"):
            n = sum(1 for x in out if x.kind == kind)
            if n < len(zones):
                out.append(Injection(kind, t, zones[n]))
            continue
        if kind in ("offline_silent", "offline_will"):
            free = [g for g in gateways if g not in used]
            if free:
                used.add(free[0])
                out.append(Injection(kind, t, free[0]))
            continue
        b = _pick_bin(kind, candidates, used, timing)
        if b is None:
            continue
        used.add(b.code)
        qty = 0
        if kind in ("shrink", "gain"):
            qty = 1 + rng.randrange(3)
        elif kind == "drain":
            qty = b.initial_count - timing.reorder_point(b.capacity)
        out.append(Injection(kind, t, b.code, qty))
    return out


def _pick_bin(
    kind: str, candidates: list[BinSpec], used: set[str], timing: RuleTiming
) -> BinSpec | None:
    for b in candidates:
        if b.code in used:
            continue
        rop = timing.reorder_point(b.capacity)
        if kind == "shrink" and b.initial_count <= rop + 3:
            continue  # a loss that also crosses the reorder point would muddle the truth
        if kind == "gain" and (b.initial_count + 3 > b.capacity or b.initial_count <= rop):
            continue
        if kind == "drain" and (b.capacity < 10 or b.initial_count <= rop + 1):
            continue
        return b
    return None


def run_length_s(sc: Scenario) -> float:
    """Seconds from the start by which every injection's truth is due, plus the quiet tail."""
    mix = sc.anomalies or AnomalyMix(per_kind=0)
    n = mix.per_kind * len(mix.kinds)
    slots = math.ceil(n / max(mix.together, 1))
    timing = RuleTiming()
    slowest = max(
        timing.discrepancy_settle_s + 4 * sc.shelf_interval_s,
        timing.heartbeat_s * timing.offline_missed + HEARTBEAT_EVERY_S,
        timing.env_hold_s + 2 * sc.env_interval_s,
    )
    return mix.warmup_s + slots * mix.spacing_s + slowest + mix.tail_s


# ---- the world --------------------------------------------------------------------------------


class _Grid:
    """Reading times ``start + k x every``; as the world's own tick, so indices match."""

    def __init__(self, start: float, every: float) -> None:
        self.start = start
        self.every = every

    def index(self, t: float) -> int:
        return round((t - self.start) / self.every)

    def at_or_after(self, t: float) -> float:
        k = math.ceil((t - self.start) / self.every - 1e-9)
        return self.start + max(k, 0) * self.every

    def before(self, t: float) -> float:
        k = math.ceil((t - self.start) / self.every - 1e-9) - 1
        return self.start + k * self.every


class AnomalyWorld:
    """A scenario with its anomaly mix injected; ``advance(t)`` like ``World.advance``."""

    def __init__(
        self,
        scenario: Scenario,
        start_time: float,
        *,
        timing: RuleTiming | None = None,
        trucks: Sequence[FixSource] = (),
    ) -> None:
        self.scenario = scenario
        self.start_time = start_time
        self.timing = timing or RuleTiming()
        self.injections = plan_injections(scenario, start_time, self.timing)
        quiet = frozenset(
            i.target for i in self.injections if i.kind not in _AGENT_KINDS | _ENV_KINDS
        )
        # Trucks are played by the caller's sources (anomalous drives), not the world's own.
        floor_sc = dataclasses.replace(scenario, trucks=(), first_routes=())
        self.world = World(floor_sc, start_time, quiet=quiet)
        self.floor = self.world.floor
        self.trucks = list(trucks)
        self.shelf_grid = _Grid(start_time, scenario.shelf_interval_s)
        self.env_grid = _Grid(start_time, scenario.env_interval_s)
        self.end_time = start_time + run_length_s(scenario)
        mix = scenario.anomalies or AnomalyMix(per_kind=0)
        self.floor.ops_until = self.end_time - mix.tail_s
        self._bins = {b.code: b for b in scenario.bins}
        self._cell_faults: dict[str, Injection] = {}
        self._stuck_value: dict[str, float] = {}
        self._env_faults: dict[tuple[str, str], Injection] = {}
        self._silent: dict[str, float] = {}
        self._kills: list[AgentKill] = []
        for inj in self.injections:
            if inj.kind in ("shrink", "gain"):
                self.floor.inject(inj.t, inj.kind, inj.target, inj.qty)  # type: ignore[arg-type]
            elif inj.kind == "drain":
                scanner = self.floor.handhelds[0].agent_id
                self.floor.inject(inj.t, "pick", inj.target, inj.qty, scanner)
            elif inj.kind in _CELL_KINDS:
                self._cell_faults[self._bins[inj.target].sensor_id] = inj
            elif inj.kind in _ENV_KINDS:
                self._env_faults[(inj.target, inj.kind)] = inj
            elif inj.kind == "offline_silent":
                self._silent[inj.target] = inj.t
            elif inj.kind == "offline_will":
                self._kills.append(AgentKill(inj.t, inj.target))
        self._will = frozenset(k.agent_id for k in self._kills)
        self._env_rng = random.Random(f"{scenario.seed}:anomalies:env")
        self._next_env = start_time
        # Each gateway beats on its own phase, so their messages do not all land at once.
        self._next_hb = {
            g: start_time + (i * 0.73) % HEARTBEAT_EVERY_S for i, g in enumerate(scenario.gateways)
        }
        self.now = start_time

    @property
    def will_agents(self) -> list[str]:
        """Gateways that die by their last will: the caller runs them in their own process."""
        return sorted(self._will)

    def advance(self, t: float) -> list[WorldEmission]:
        out: list[WorldEmission] = []
        for e in self.world.advance(t):
            out.append(self._faulty(e) if isinstance(e, ShelfBatch) else e)
        out += self._env_until(t)
        out += self._heartbeats_until(t)
        while self._kills and self._kills[0].t <= t:
            out.append(self._kills.pop(0))
        for truck in self.trucks:
            out += truck.fixes_until(t)
        self.now = max(self.now, t)
        out.sort(key=lambda e: e.t)
        return out

    # ---- injected faults ------------------------------------------------------------------

    def _faulty(self, batch: ShelfBatch) -> ShelfBatch:
        if not self._cell_faults:
            return batch
        changed = False
        weights = []
        for cell, w in batch.weights:
            inj = self._cell_faults.get(cell)
            if inj is not None:
                nw = self._cell(inj, cell, batch.t, w)
                changed = changed or nw != w
                w = nw
            weights.append((cell, w))
        return dataclasses.replace(batch, weights=tuple(weights)) if changed else batch

    def _cell(self, inj: Injection, cell: str, t: float, w: float) -> float:
        g = self.shelf_grid
        k = g.index(t) - g.index(g.at_or_after(inj.t))
        if k < 0:
            return w
        if inj.kind == "stuck":
            if k < STUCK_READINGS:
                return self._stuck_value.setdefault(cell, w)
            return w
        if inj.kind == "jump":
            if k in (0, SPIKE_GAP):
                return round(w + SPIKE_SIGMA * self._bins[inj.target].noise_sigma_g, 1)
            return w
        if k < OUT_OF_RANGE_READINGS:
            return OUT_OF_RANGE_G
        return w

    def _env_until(self, t: float) -> list[EnvBatch]:
        out = []
        rng = self._env_rng
        every = self.scenario.env_interval_s
        span = self.timing.env_hold_s + ENV_EXTRA_READINGS * every
        while self._next_env <= t:
            tick = self._next_env
            for z in self.scenario.env_zones:
                temp = z.base_temp + rng.gauss(0.0, z.noise_temp)
                rh = z.base_rh + rng.gauss(0.0, z.noise_rh)
                hot = self._env_faults.get((z.zone, "temperature"))
                if hot is not None and self._env_on(hot, tick, span):
                    temp = self.timing.temperature_max + 5.0 + rng.gauss(0.0, z.noise_temp)
                wet = self._env_faults.get((z.zone, "humidity"))
                if wet is not None and self._env_on(wet, tick, span):
                    rh = self.timing.humidity_max + 10.0 + rng.gauss(0.0, z.noise_rh)
                rh = min(max(rh, 0.0), 100.0)
                out.append(
                    EnvBatch(
                        tick,
                        z.agent_id,
                        ((z.temp_sensor, round(temp, 2), None), (z.rh_sensor, None, round(rh, 2))),
                    )
                )
            self._next_env = tick + every
        return out

    def _env_on(self, inj: Injection, tick: float, span: float) -> bool:
        first = self.env_grid.at_or_after(inj.t)
        return first - 1e-6 <= tick < first + span - 1e-6

    def _heartbeats_until(self, t: float) -> list[Heartbeat]:
        out = []
        for g, nxt in self._next_hb.items():
            if g in self._will:
                continue  # its own process beats for it
            silent_from = self._silent.get(g, math.inf)
            while nxt <= t:
                if nxt < silent_from:
                    out.append(Heartbeat(nxt, g))
                nxt += HEARTBEAT_EVERY_S
            self._next_hb[g] = nxt
        return out

    # ---- ground truth -----------------------------------------------------------------------

    def truths(self, until: float | None = None) -> list[Truth]:
        """The ground truth of everything played so far whose ``due`` is at most ``until``."""
        until = self.now if until is None else until
        site = self.scenario.site
        tm = self.timing
        g = self.shelf_grid
        every = self.scenario.shelf_interval_s
        out: list[Truth] = []

        def settled(t: float) -> float:
            return g.at_or_after(t) + (tm.settle_readings - 1) * every

        rops = {b.code: tm.reorder_point(b.capacity) for b in self.scenario.bins}
        for b in self.scenario.bins:
            if b.capacity > 0 and b.initial_count <= rops[b.code]:
                out.append(
                    Truth(
                        "below_reorder_point",
                        f"bin:{site}/{b.code}",
                        self.start_time,
                        settled(self.start_time),
                        {"count": b.initial_count, "reorder_point": rops[b.code]},
                    )
                )
        for m in self.floor.movements:
            subject = f"bin:{site}/{m.bin_code}"
            before = m.count_after - m.delta
            rop = rops[m.bin_code]
            if before > rop >= m.count_after:
                out.append(
                    Truth(
                        "below_reorder_point",
                        subject,
                        m.t,
                        settled(m.t),
                        {"count": m.count_after, "reorder_point": rop, "by": m.reason},
                    )
                )
            if m.reason in ("shrink", "gain"):
                kind = (
                    "weight_loss_unexplained" if m.reason == "shrink" else "weight_gain_unexpected"
                )
                detail = {"units": abs(m.delta), "count_after": m.count_after}
                out.append(
                    Truth(kind, subject, m.t, g.at_or_after(settled(m.t) + tm.scan_grace_s), detail)
                )
                out.append(
                    Truth(
                        "stock_discrepancy",
                        subject,
                        m.t,
                        g.at_or_after(settled(m.t) + tm.discrepancy_settle_s),
                        {"difference": m.delta},
                    )
                )
        for inj in self.injections:
            out += self._injection_truth(inj)
        return [x for x in out if x.due <= until]

    def _injection_truth(self, inj: Injection) -> list[Truth]:
        tm = self.timing
        every = self.scenario.shelf_interval_s
        if inj.kind in _CELL_KINDS:
            b = self._bins[inj.target]
            first = self.shelf_grid.at_or_after(inj.t)
            if inj.kind == "stuck":
                kind, due = "sensor_stuck", first + (tm.stuck_readings - 1) * every
            elif inj.kind == "jump":
                kind, due = "sensor_jump", first + (SPIKE_GAP + tm.settle_readings) * every
            else:
                kind, due = "sensor_out_of_range", first + (tm.range_readings - 1) * every
            return [Truth(kind, f"sensor:{b.sensor_id}", first, due, {"bin": b.code})]
        if inj.kind in _ENV_KINDS:
            z = next(z for z in self.scenario.env_zones if z.zone == inj.target)
            first = self.env_grid.at_or_after(inj.t)
            due = self.env_grid.at_or_after(first + tm.env_hold_s)
            if inj.kind == "temperature":
                return [Truth("temperature_out_of_range", f"sensor:{z.temp_sensor}", first, due)]
            return [Truth("humidity_out_of_range", f"sensor:{z.rh_sensor}", first, due)]
        if inj.kind == "offline_silent":
            start = self._next_hb_phase(inj.target)
            k = math.ceil((inj.t - start) / HEARTBEAT_EVERY_S) - 1
            last = start + k * HEARTBEAT_EVERY_S
            due = last + tm.heartbeat_s * tm.offline_missed
            return [Truth("device_offline", f"agent:{inj.target}", inj.t, due, {"last_seen": last})]
        if inj.kind == "offline_will":
            return [Truth("device_offline", f"agent:{inj.target}", inj.t, inj.t, {"how": "will"})]
        return []  # floor injections: their truth comes from the movements

    def _next_hb_phase(self, gateway: str) -> float:
        i = self.scenario.gateways.index(gateway)
        return self.start_time + (i * 0.73) % HEARTBEAT_EVERY_S

    def true_counts(self, at: float | None = None) -> dict[str, int]:
        return self.floor.counts(at)


_CELL_KINDS = frozenset({"stuck", "jump", "out_of_range"})
_ENV_KINDS = frozenset({"temperature", "humidity"})
_AGENT_KINDS = frozenset({"offline_silent", "offline_will"})
