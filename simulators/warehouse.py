"""A simulated warehouse floor: bins on shelf scales, operators picking and putting away with
scanners, RFID-tagged cases passing a dock gate, and the ground truth of every bin over time.

Deterministic for a seed: operations and sensor noise draw from separate ``random.Random``
streams, and operations are a Poisson process in simulated time, so the same seed gives the
same history however the caller slices time into steps.

Anomalies are injected at known times (``inject``: units vanishing or appearing without a
scan, a bin drained by picks) and played in time order with the random operations; bins
marked ``quiet`` get no random operations, so what happens to them is only what was injected.
"""

from __future__ import annotations

import bisect
import heapq
import math
import random
from collections import deque
from dataclasses import dataclass, field
from typing import Literal

from wayhouse.edge.schema import ScanAction, ScanKind

MovementReason = Literal["pick", "putaway", "shrink", "gain"]
InjectedOp = Literal["shrink", "gain", "pick"]


@dataclass(frozen=True)
class BinSpec:
    """One instrumented bin: a product on one load cell."""

    code: str  # aisle-rack-position, e.g. "A-03-2"
    sku: str
    unit_weight_g: float
    tare_g: float  # tray/shelf share weighed by the cell when the bin is empty
    noise_sigma_g: float
    capacity: int
    initial_count: int
    agent_id: str  # the shelf-row controller reading this cell
    sensor_id: str  # the load cell
    rfid_tagged: bool = False  # units carry RFID tags read at the dock gate
    product: str = ""


@dataclass(frozen=True)
class ScannerSpec:
    agent_id: str
    barcode_sensor: str | None
    rfid_sensor: str | None
    gate_zone: str | None = None  # set for a fixed gate reader; None for a handheld


@dataclass(frozen=True)
class ScanEvent:
    """What a scanner reads; the runner turns it into a ScanReading of ``agent_id``."""

    t: float
    agent_id: str
    kind: ScanKind
    code: str
    action: ScanAction
    qty: int = 1
    bin_code: str | None = None
    zone: str | None = None


@dataclass(frozen=True)
class Movement:
    """Ground truth: a change of a bin's true count (shrink and gain have no scan)."""

    t: float
    bin_code: str
    delta: int
    count_after: int
    reason: MovementReason


@dataclass
class _BinState:
    spec: BinSpec
    count: int
    times: list[float] = field(default_factory=list)
    counts: list[int] = field(default_factory=list)
    tags: deque[str] = field(default_factory=deque)


class WarehouseFloor:
    """Bins, scanners and the operations that change stock."""

    def __init__(
        self,
        bins: list[BinSpec],
        scanners: list[ScannerSpec],
        *,
        seed: int = 0,
        start_time: float,
        ops_per_hour: float = 240.0,
        shrink_per_hour: float = 0.5,
        reorder_fraction: float = 0.2,
        max_pick: int = 5,
        quiet: frozenset[str] = frozenset(),
    ) -> None:
        if not bins:
            raise ValueError("a warehouse floor needs bins")
        self.handhelds = [s for s in scanners if s.gate_zone is None and s.barcode_sensor]
        self.gates = [s for s in scanners if s.gate_zone is not None and s.rfid_sensor]
        if not self.handhelds:
            raise ValueError("a warehouse floor needs at least one handheld barcode scanner")
        self.scanners = {s.agent_id: s for s in scanners}
        self.ops_per_hour = ops_per_hour
        self.shrink_per_hour = shrink_per_hour
        self.reorder_fraction = reorder_fraction
        self.max_pick = max_pick
        self._ops = random.Random(f"{seed}:warehouse:ops")
        self._noise = random.Random(f"{seed}:warehouse:noise")
        self._bins: dict[str, _BinState] = {}
        self._serial = 0
        self.movements: list[Movement] = []
        for spec in bins:
            if spec.code in self._bins:
                raise ValueError(f"duplicate bin {spec.code}")
            if not 0 <= spec.initial_count <= spec.capacity:
                raise ValueError(f"bin {spec.code}: initial count outside 0..capacity")
            st = _BinState(spec, spec.initial_count, [start_time], [spec.initial_count])
            if spec.rfid_tagged:
                st.tags.extend(self._new_tag(spec) for _ in range(spec.initial_count))
            self._bins[spec.code] = st
        self._by_sensor = {b.spec.sensor_id: b for b in self._bins.values()}
        self._codes = sorted(self._bins)
        # Random operations and shrink draw from every bin but the quiet ones.
        self._busy = [c for c in self._codes if c not in quiet] or self._codes
        self._injected: list[tuple[float, int, InjectedOp, str, int, str | None]] = []
        self.ops_until = math.inf  # no random operation after this (a quiet end)
        self.now = start_time
        self._next_op = start_time + self._interarrival(ops_per_hour)
        self._next_shrink = start_time + self._interarrival(shrink_per_hour)

    # ---- queries (ground truth and the sensor model) ------------------------------------

    @property
    def bins(self) -> list[BinSpec]:
        return [self._bins[c].spec for c in self._codes]

    def count(self, bin_code: str, at: float | None = None) -> int:
        """True count of a bin now, or at simulated time ``at``."""
        st = self._bins[bin_code]
        if at is None:
            return st.count
        i = bisect.bisect_right(st.times, at) - 1
        return st.counts[max(i, 0)]

    def counts(self, at: float | None = None) -> dict[str, int]:
        return {code: self.count(code, at) for code in self._codes}

    def tags(self, bin_code: str) -> list[str]:
        return list(self._bins[bin_code].tags)

    def true_weight(self, bin_code: str) -> float:
        s = self._bins[bin_code]
        return s.spec.tare_g + s.count * s.spec.unit_weight_g

    def weight(self, bin_code: str) -> float:
        """What the load cell reads now: tare + count x unit weight + gaussian noise."""
        s = self._bins[bin_code]
        return round(self.true_weight(bin_code) + self._noise.gauss(0.0, s.spec.noise_sigma_g), 1)

    def read_cell(self, sensor_id: str) -> float:
        return self.weight(self._by_sensor[sensor_id].spec.code)

    # ---- operations ---------------------------------------------------------------------

    def pick(
        self, bin_code: str, qty: int, t: float, scanner: str | None = None
    ) -> list[ScanEvent]:
        """An operator takes ``qty`` units and scans them; tagged units pass the gate."""
        st = self._bins[bin_code]
        if not 0 < qty <= st.count:
            raise ValueError(f"cannot pick {qty} from {bin_code} holding {st.count}")
        self._move(st, -qty, t, "pick")
        events = [self._barcode(st, "pick", qty, t, scanner)]
        if st.spec.rfid_tagged:
            tags = [st.tags.popleft() for _ in range(qty)]
            events += self._gate(tags, t)  # read leaving through the dock gate
        return events

    def putaway(
        self, bin_code: str, qty: int, t: float, scanner: str | None = None
    ) -> list[ScanEvent]:
        """Goods arrive through the dock gate (tagged ones are read) and go into the bin."""
        st = self._bins[bin_code]
        if not 0 < qty <= st.spec.capacity - st.count:
            raise ValueError(f"cannot put {qty} into {bin_code} ({st.count}/{st.spec.capacity})")
        events: list[ScanEvent] = []
        if st.spec.rfid_tagged:
            tags = [self._new_tag(st.spec) for _ in range(qty)]
            st.tags.extend(tags)
            # Read arriving through the gate. Same instant as the put-away scan: a backdated
            # read would land out of time order depending on how the caller slices time.
            events += self._gate(tags, t)
        self._move(st, qty, t, "putaway")
        events.append(self._barcode(st, "putaway", qty, t, scanner))
        return events

    def shrink(self, bin_code: str, qty: int, t: float) -> None:
        """Units vanish without a scan (damage, theft, a mis-pick): only the scale sees it."""
        st = self._bins[bin_code]
        qty = min(qty, st.count)
        if qty <= 0:
            return
        self._move(st, -qty, t, "shrink")
        for _ in range(qty if st.spec.rfid_tagged else 0):
            st.tags.popleft()

    def gain(self, bin_code: str, qty: int, t: float) -> None:
        """Units appear without a put-away scan (a misplaced delivery): only the scale sees it."""
        st = self._bins[bin_code]
        qty = min(qty, st.spec.capacity - st.count)
        if qty <= 0:
            return
        if st.spec.rfid_tagged:
            st.tags.extend(self._new_tag(st.spec) for _ in range(qty))
        self._move(st, qty, t, "gain")

    def inject(
        self, t: float, op: InjectedOp, bin_code: str, qty: int, scanner: str | None = None
    ) -> None:
        """Schedule an operation at simulated time ``t`` (played by ``run_until`` in order)."""
        if bin_code not in self._bins:
            raise ValueError(f"no bin {bin_code}")
        heapq.heappush(self._injected, (t, len(self._injected), op, bin_code, qty, scanner))

    def run_until(self, t: float) -> list[ScanEvent]:
        """Play the random and injected operations due up to ``t``, in time order; return
        their scans."""
        events: list[ScanEvent] = []
        inj = self._injected
        while True:
            random_t = min(self._next_op, self._next_shrink)
            if random_t > self.ops_until:
                random_t = math.inf
            nxt = min(random_t, inj[0][0] if inj else math.inf)
            if nxt > t:
                break
            if inj and inj[0][0] <= random_t:
                events += self._play(*heapq.heappop(inj))
            elif self._next_op <= self._next_shrink:
                events += self._random_op(self._next_op)
                self._next_op += self._interarrival(self.ops_per_hour)
            else:
                code = self._ops.choice(self._busy)
                self.shrink(code, 1, self._next_shrink)
                self._next_shrink += self._interarrival(self.shrink_per_hour)
        self.now = max(self.now, t)
        events.sort(key=lambda e: e.t)
        return events

    def _play(
        self, t: float, _n: int, op: InjectedOp, code: str, qty: int, scanner: str | None
    ) -> list[ScanEvent]:
        if op == "shrink":
            self.shrink(code, qty, t)
        elif op == "gain":
            self.gain(code, qty, t)
        else:
            qty = min(qty, self._bins[code].count)
            if qty > 0:
                return self.pick(code, qty, t, scanner)
        return []

    # ---- internals ----------------------------------------------------------------------

    def _interarrival(self, per_hour: float) -> float:
        return self._ops.expovariate(per_hour / 3600.0) if per_hour > 0 else math.inf

    def _random_op(self, t: float) -> list[ScanEvent]:
        st = self._bins[self._ops.choice(self._busy)]
        scanner = self._ops.choice(self.handhelds).agent_id
        spec = st.spec
        if st.count <= spec.capacity * self.reorder_fraction:
            # Replenish up to 80-100 % of capacity.
            target = self._ops.randint(int(spec.capacity * 0.8), spec.capacity)
            return self.putaway(spec.code, max(target - st.count, 1), t, scanner)
        qty = self._ops.randint(1, min(self.max_pick, st.count))
        return self.pick(spec.code, qty, t, scanner)

    def _move(self, st: _BinState, delta: int, t: float, reason: MovementReason) -> None:
        st.count += delta
        st.times.append(t)
        st.counts.append(st.count)
        self.movements.append(Movement(t, st.spec.code, delta, st.count, reason))

    def _barcode(
        self, st: _BinState, action: ScanAction, qty: int, t: float, scanner: str | None
    ) -> ScanEvent:
        agent = scanner or self.handhelds[0].agent_id
        return ScanEvent(t, agent, "barcode", st.spec.sku, action, qty, bin_code=st.spec.code)

    def _gate(self, tags: list[str], t: float) -> list[ScanEvent]:
        if not self.gates:
            return []
        gate = self.gates[0]
        return [
            ScanEvent(t, gate.agent_id, "rfid", tag, "gate", 1, zone=gate.gate_zone) for tag in tags
        ]

    def _new_tag(self, spec: BinSpec) -> str:
        # An SGTIN-like EPC: product then a serial unique in this warehouse.
        self._serial += 1
        return f"EPC-{spec.sku}-{self._serial:08d}"
