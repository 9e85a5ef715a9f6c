"""The shelf family: everything judged from a bin's load cell, its scans and its book.

Per bin, one slot object holds the scale's sensed count (``stocktake.sensing``), the scale's
health, the weight-vs-scans watch, the discrepancy clock (``stocktake.discrepancy``) and
the reorder state, so a reading costs one dict lookup and a few comparisons. Alarms:

- ``sensor_out_of_range``, ``sensor_stuck``, ``sensor_jump`` on ``sensor:<id>``; readings out
  of range never reach the count;
- ``weight_loss_unexplained``, ``weight_gain_unexpected`` on ``bin:<code>``;
- ``stock_discrepancy`` (sensed != book) on ``bin:<code>``;
- ``below_reorder_point`` on ``bin:<code>``, from the sensed count, with a suggestion to fill
  back up to capacity.

Everything but the health checks waits for a *confident* count (see sensing), so noise alone
raises nothing within the false-alarm budget.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Any

from wayhouse.edge.schema import ScanReading, ShelfReading
from wayhouse.platform.alarms.inputs import BinConfig, BookLevel
from wayhouse.platform.alarms.model import AlarmType, Condition, Severity
from wayhouse.platform.alarms.thresholds import ThresholdConfig, Thresholds
from wayhouse.platform.stocktake.discrepancy import (
    CLEAR,
    RAISE,
    UPDATE,
    Discrepancy,
    DiscrepancyWatch,
)
from wayhouse.platform.stocktake.sensing import SPIKE, BinSensor, ScaleParams, SensedCount

from .base import Changes
from .sensor_health import (
    JUMP_CLEAR,
    JUMP_RAISE,
    RANGE_CLEAR,
    RANGE_RAISE,
    STUCK_CLEAR,
    STUCK_RAISE,
    SensorHealth,
)
from .weight import Decision, WeightWatch

SCAN_DELTA = {"pick": -1, "putaway": 1, "return": 1}  # scan action -> direction in the bin
LAST_SCANS = 5  # kept per bin for evidence
EVIDENCE_READINGS = 12


def scale_params(cfg: BinConfig, th: Thresholds) -> ScaleParams:
    return ScaleParams(
        tare_g=cfg.tare_g,
        unit_g=cfg.unit_weight_g,
        sigma_g=cfg.noise_sigma_g or th.noise_sigma_g,
        settle_readings=th.settle_readings,
        break_z=th.break_z,
        cusum_h=th.cusum_h,
        confidence_z=th.confidence_z,
        level_window=th.level_window,
        jump_sigma=th.jump_sigma,
        spike_readings=th.spike_readings,
    )


class _Bin:
    __slots__ = (
        "bin_subject",
        "cfg",
        "disc",
        "health",
        "hi",
        "last_c",
        "last_t",
        "lo",
        "low",
        "rop",
        "scans",
        "sensor",
        "sensor_subject",
        "th",
        "weight",
    )

    def __init__(self, cfg: BinConfig, th: Thresholds) -> None:
        self.cfg = cfg
        self.bin_subject = f"bin:{cfg.bin}"
        self.sensor_subject = f"sensor:{cfg.sensor}"
        self.sensor = BinSensor(scale_params(cfg, th))
        self.health = SensorHealth()
        self.weight = WeightWatch()
        self.disc = DiscrepancyWatch()
        self.low = False
        self.last_c: int | None = None
        self.last_t = -math.inf
        self.scans: deque[tuple[float, str, int, str]] = deque(maxlen=LAST_SCANS)
        self.th = th
        self.lo = self.hi = self.rop = 0
        self.configure(th)

    def configure(self, th: Thresholds) -> None:
        cfg = self.cfg
        self.th = th
        self.lo = max(th.scale_min_g, cfg.tare_g - th.below_tare_g)
        self.hi = th.scale_max_g
        if cfg.reorder_point is not None:
            self.rop = cfg.reorder_point
        elif cfg.capacity > 0:
            self.rop = math.floor(th.reorder_fraction * cfg.capacity)
        else:
            self.rop = -1  # nothing to reorder against

    def evidence(self) -> dict[str, Any]:
        s = self.sensor
        return {
            "bin": self.cfg.bin,
            "product": self.cfg.product,
            "sensor": self.cfg.sensor,
            "count": s.count,
            "confidence": round(s.confidence(), 6),
            "level_g": round(s.level, 3),
            "readings": [[t, w] for t, w in s.recent(EVIDENCE_READINGS)],
            "scans": [list(x) for x in self.scans],
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "cfg": self.cfg.to_dict(),
            "sensor": self.sensor.to_dict(),
            "health": self.health.to_dict(),
            "weight": self.weight.to_list(),
            "disc": self.disc.to_dict(),
            "low": self.low,
            "last_c": self.last_c,
            "last_t": None if self.last_t == -math.inf else self.last_t,
            "scans": [list(x) for x in self.scans],
        }

    def load(self, d: dict[str, Any]) -> None:
        self.sensor = BinSensor.from_dict(self.sensor.p, d["sensor"])
        self.health = SensorHealth.from_dict(d["health"])
        self.weight = WeightWatch.from_list(d["weight"])
        self.disc = DiscrepancyWatch.from_dict(d["disc"])
        self.low = bool(d["low"])
        self.last_c = d["last_c"]
        self.last_t = -math.inf if d["last_t"] is None else float(d["last_t"])
        self.scans = deque((tuple(x) for x in d["scans"]), maxlen=LAST_SCANS)  # type: ignore[misc]


class ShelfRules:
    name = "shelf"

    def __init__(self, config: ThresholdConfig) -> None:
        self.config = config
        self._by_sensor: dict[str, _Bin] = {}
        self._by_bin: dict[str, _Bin] = {}

    # ---- registration -------------------------------------------------------------------

    def register(self, cfg: BinConfig) -> None:
        """Add a bin, or recalibrate one (its count is kept, re-derived from its weight)."""
        th = self._resolve(cfg)
        old = self._by_bin.get(cfg.bin)
        if old is not None:
            self._by_sensor.pop(old.cfg.sensor, None)
            before = (old.cfg.product, old.cfg.unit_weight_g, old.cfg.tare_g)
            if before != (cfg.product, cfg.unit_weight_g, cfg.tare_g):
                # Another product or calibration: counts before and after are not comparable,
                # so no step between them may read as a loss or gain.
                old.weight = WeightWatch()
                old.last_c = None
                old.low = False
            old.cfg = cfg
            old.sensor_subject = f"sensor:{cfg.sensor}"
            old.configure(th)
            old.sensor.reconfigure(scale_params(cfg, th))
            b = old
        else:
            b = _Bin(cfg, th)
        self._by_bin[cfg.bin] = b
        self._by_sensor[cfg.sensor] = b

    def _resolve(self, cfg: BinConfig) -> Thresholds:
        return self.config.resolve(
            site=cfg.site, product_class=cfg.product_class, device=cfg.sensor
        )

    def reconfigure(self) -> None:
        for b in self._by_bin.values():
            th = self._resolve(b.cfg)
            b.configure(th)
            b.sensor.reconfigure(scale_params(b.cfg, th))

    def bins(self) -> list[BinConfig]:
        return [b.cfg for b in self._by_bin.values()]

    # ---- events -------------------------------------------------------------------------

    def feed(self, event: Any) -> Changes:
        if isinstance(event, ShelfReading):
            return self.reading(event)
        if isinstance(event, ScanReading):
            return self.scan(event)
        if isinstance(event, BookLevel):
            return self.book(event)
        return None

    def tick(self, now: float) -> Changes:
        return None  # everything here is judged on the bin's own readings

    def cleared(self, type_: AlarmType, subject: str) -> None:
        if type_ is AlarmType.WEIGHT_LOSS_UNEXPLAINED and subject.startswith("bin:"):
            b = self._by_bin.get(subject[4:])
            if b is not None:
                b.weight.open_loss = 0

    def reading(self, r: ShelfReading) -> Changes:
        b = self._by_sensor.get(r.s)
        if b is None:
            return None
        t = r.t
        if t <= b.last_t:
            return None  # a late replay: the stream has moved on
        b.last_t = t
        w = r.w
        th = b.th
        h = b.health
        out: Changes = None
        bits = h.value(w, b.lo, b.hi, th.range_readings, th.stuck_readings)
        if bits:
            out = self._health(b, bits, t, w, [])
        if not h.in_range:
            return out
        s = b.sensor
        if s.update(t, w) == SPIKE:
            if h.spike(t, th.jump_count, th.jump_window_s):
                out = self._health(b, JUMP_RAISE, t, w, out or [])
        elif h.jumping and h.expire(t, th.jump_window_s):
            out = self._health(b, JUMP_CLEAR, t, w, out or [])
        if not s.confident:
            return out
        c = s.count
        d = b.weight.observe(
            t, c, th.scan_grace_s, th.scan_window_s, th.loss_min_units, th.gain_min_units
        )
        if d is not None:
            out = self._weight(b, d, t, out or [])
        k = b.disc.observe(t, c, True, th.discrepancy_settle_s)
        if k:
            out = self._discrepancy(b, k, t, out or [])
        if c != b.last_c:
            b.last_c = c
            out = self._reorder(b, c, t, out)
        return out

    def scan(self, r: ScanReading) -> Changes:
        sign = SCAN_DELTA.get(r.a)
        if sign is None or r.b is None:
            return None
        b = self._by_bin.get(r.b)
        if b is None:
            return None
        b.weight.scan(r.t, sign * r.q)
        b.sensor.expect_change()
        b.scans.append((r.t, r.a, r.q, r.s))
        return None

    def book(self, e: BookLevel) -> Changes:
        b = self._by_bin.get(e.bin)
        if b is not None and b.disc.set_book(e.lot, e.qty, e.t):
            b.sensor.expect_change()
        return None

    # ---- conditions ---------------------------------------------------------------------

    def _cond(
        self,
        b: _Bin,
        type_: AlarmType,
        subject: str,
        raised: bool,
        t: float,
        message: str,
        evidence: dict[str, Any],
        severity: Severity | None = None,
    ) -> Condition:
        return Condition(type_, subject, raised, t, message, evidence, severity, b.cfg.site)

    def _health(self, b: _Bin, bits: int, t: float, w: float, out: list[Condition]) -> Changes:
        cfg = b.cfg
        ev = {"sensor": cfg.sensor, "bin": cfg.bin, "value_g": w, "range_g": [b.lo, b.hi]}
        subj = b.sensor_subject
        if bits & RANGE_RAISE:
            msg = f"load cell {cfg.sensor} reads {w} g, outside {b.lo:g}..{b.hi:g} g"
            out.append(self._cond(b, AlarmType.SENSOR_OUT_OF_RANGE, subj, True, t, msg, ev))
        if bits & RANGE_CLEAR:
            out.append(self._cond(b, AlarmType.SENSOR_OUT_OF_RANGE, subj, False, t, "", ev))
        if bits & STUCK_RAISE:
            n = b.health.same_n + 1
            msg = f"load cell {cfg.sensor} repeated {w} g {n} times"
            out.append(
                self._cond(b, AlarmType.SENSOR_STUCK, subj, True, t, msg, {**ev, "repeats": n})
            )
        if bits & STUCK_CLEAR:
            out.append(self._cond(b, AlarmType.SENSOR_STUCK, subj, False, t, "", ev))
        if bits & JUMP_RAISE:
            spikes = list(b.health.spikes)
            msg = f"load cell {cfg.sensor} spiked {len(spikes)} times"
            ev = {**ev, "spikes": spikes, "readings": [[x, y] for x, y in b.sensor.recent()]}
            out.append(self._cond(b, AlarmType.SENSOR_JUMP, subj, True, t, msg, ev))
        if bits & JUMP_CLEAR:
            out.append(self._cond(b, AlarmType.SENSOR_JUMP, subj, False, t, "", ev))
        return out

    def _weight(self, b: _Bin, d: Decision, t: float, out: list[Condition]) -> Changes:
        cfg = b.cfg
        ev = b.evidence()
        ev.update(changed_at=d.since, count_after=d.count)
        subj = b.bin_subject
        if d.loss:
            ev.update(units=d.loss, grams=round(d.loss * cfg.unit_weight_g, 3))
            msg = f"{d.loss} x {cfg.product} left bin {cfg.bin} without a pick scan"
            out.append(self._cond(b, AlarmType.WEIGHT_LOSS_UNEXPLAINED, subj, True, t, msg, ev))
        if d.restored and b.weight.open_loss == 0:
            msg = f"the missing {cfg.product} came back to bin {cfg.bin}"
            out.append(
                self._cond(b, AlarmType.WEIGHT_LOSS_UNEXPLAINED, subj, False, t, msg, dict(ev))
            )
        if d.gain:
            ev = {**ev, "units": d.gain, "grams": round(d.gain * cfg.unit_weight_g, 3)}
            msg = f"{d.gain} x {cfg.product} appeared in bin {cfg.bin} without a put-away scan"
            out.append(self._cond(b, AlarmType.WEIGHT_GAIN_UNEXPECTED, subj, True, t, msg, ev))
        return out

    def _discrepancy(self, b: _Bin, kind: int, t: float, out: list[Condition]) -> Changes:
        d = self.current_discrepancy(b, t)
        subj = b.bin_subject
        if kind == CLEAR:
            out.append(self._cond(b, AlarmType.STOCK_DISCREPANCY, subj, False, t, "", d.to_dict()))
            return out
        assert kind in (RAISE, UPDATE)
        msg = (
            f"bin {d.bin}: scale counts {d.sensed} x {d.product}, book says {d.book} "
            f"({d.difference:+d})"
        )
        out.append(self._cond(b, AlarmType.STOCK_DISCREPANCY, subj, True, t, msg, d.to_dict()))
        return out

    def current_discrepancy(self, b: _Bin, t: float) -> Discrepancy:
        s = b.sensor
        ev = {
            "readings": [[x, y] for x, y in s.recent(EVIDENCE_READINGS)],
            "scans": [list(x) for x in b.scans],
            "level_g": round(s.level, 3),
            "sensor": b.cfg.sensor,
        }
        return b.disc.discrepancy(b.cfg.bin, b.cfg.product, t, s.count, s.confidence(), ev)

    def _reorder(self, b: _Bin, c: int, t: float, out: Changes) -> Changes:
        rop = b.rop
        if rop < 0 or (not b.low and c > rop):
            return out
        cfg = b.cfg
        low = c <= rop
        ev = {
            "bin": cfg.bin,
            "product": cfg.product,
            "count": c,
            "reorder_point": rop,
            "max_level": cfg.capacity,
            "suggested_qty": max(cfg.capacity - c, 0) if low else 0,
        }
        b.low = low
        msg = (
            f"bin {cfg.bin}: {c} x {cfg.product} left, reorder point {rop}; "
            f"replenish {ev['suggested_qty']}"
            if low
            else ""
        )
        cond = self._cond(b, AlarmType.BELOW_REORDER_POINT, b.bin_subject, low, t, msg, ev)
        if out is None:
            return [cond]
        out.append(cond)
        return out

    # ---- queries ------------------------------------------------------------------------

    def sensed_all(self) -> dict[str, SensedCount]:
        """Every bin's sensed count now (for the bin map and the latest-value table)."""
        return {code: b.sensor.sensed() for code, b in self._by_bin.items()}

    def sensed(self, bin_code: str) -> SensedCount | None:
        b = self._by_bin.get(bin_code)
        return b.sensor.sensed() if b is not None else None

    def discrepancy(self, bin_code: str, t: float) -> Discrepancy | None:
        """The bin's disagreement now, if the book is known and the count confident."""
        b = self._by_bin.get(bin_code)
        if b is None or b.disc.total is None or not b.sensor.confident:
            return None
        if b.sensor.count == b.disc.total:
            return None
        return self.current_discrepancy(b, t)

    # ---- state --------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return {code: b.to_dict() for code, b in self._by_bin.items()}

    def item_dict(self, bin_code: str) -> dict[str, Any] | None:
        """One bin's entry of ``to_dict`` (for a store that saves bin by bin)."""
        b = self._by_bin.get(bin_code)
        return b.to_dict() if b is not None else None

    def bin_of_sensor(self, sensor: str) -> str | None:
        b = self._by_sensor.get(sensor)
        return b.cfg.bin if b is not None else None

    def config_of(self, bin_code: str) -> BinConfig | None:
        b = self._by_bin.get(bin_code)
        return b.cfg if b is not None else None

    def book_of(self, bin_code: str) -> int | None:
        """The book total the bin is compared with (None until the ledger said)."""
        b = self._by_bin.get(bin_code)
        return b.disc.total if b is not None else None

    def load(self, d: dict[str, Any]) -> None:
        self._by_bin.clear()
        self._by_sensor.clear()
        for code, bd in d.items():
            self.register(BinConfig.from_dict(bd["cfg"]))
            self._by_bin[code].load(bd)
