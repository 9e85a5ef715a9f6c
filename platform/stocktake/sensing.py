"""Sensed count of one bin from its shelf scale, reading by reading.

count = (weight - tare) / unit weight, taken from a *settled* level: the mean of the readings
since the weight last moved. Two ways a level ends:

- a reading far from it (``break_z`` sigma): a pick or put-away in progress. The readings that
  follow are transients until ``settle_readings`` in a row agree with each other; if they agree
  with the old level again it was a bump (or a spike, when it was short and large);
- a small sustained shift that no single reading shows (one 4.5 g fuse on a 6 g-noise cell):
  a two-sided CUSUM tuned to a shift of one unit; the new level is the mean of the readings
  since the CUSUM last sat at zero (its change-point estimate).

The count is *confident* when the settled mean is at least ``confidence_z`` standard errors
from the nearest half unit, so a wrong confident count has probability about
``1 - Phi(confidence_z)`` per decision: that is the false-alarm budget every stock rule
inherits. The level keeps averaging while it holds (window ``n_max``, sized so even the
smallest unit can get confident), and the noise used is the larger of the configured sigma
and the one observed, so a noisier cell than configured gets less confident, not wrong.

O(1) work and no allocation per reading; state round-trips through a JSON-compatible dict.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

# What one reading did to the sensor (returned by ``BinSensor.update``).
IGNORED = -1  # out of order or a duplicate time: older than the last reading
STEADY = 0  # joined the current settled level
MOVING = 1  # the weight is moving (pick/put-away in progress, or a bump)
SETTLED = 2  # settled at a new level (after moving, or a small shift the CUSUM found)
RETURNED = 3  # settled back at the level it had before moving
SPIKE = 4  # RETURNED after a short, large excursion: a sensor jump

RECENT = 16  # raw readings kept for evidence
_SQRT2 = math.sqrt(2.0)
_VAR_ALPHA = 1.0 / 128.0  # observed-noise estimate: exponential window of ~128 readings
_VAR_MIN_READINGS = 32  # trust the observed noise only after this many settled readings


def z_for(p: float) -> float:
    """One-sided z with tail probability ``p``: the confidence for a false-alarm budget."""
    if not 0.0 < p < 0.5:
        raise ValueError("a false-alarm probability must be in (0, 0.5)")
    return NormalDist().inv_cdf(1.0 - p)


def window_for(unit_g: float, sigma_g: float, z: float, minimum: int = 256) -> int:
    """Readings the level may average: enough that a level centred on a whole count is
    ``2 z`` standard errors from the rounding boundary (half the margin is left for drift
    and an off-centre mean), capped so a level still follows slow drift."""
    need = math.ceil((4.0 * z * sigma_g / unit_g) ** 2)
    return max(minimum, min(need, 20_000))


def readings_to_confident(unit_g: float, sigma_g: float, z: float) -> int:
    """Readings a settled level needs before a centred count is confident: d >= z * se with
    d = unit / 2, so n >= (2 z sigma / unit)^2."""
    return math.ceil((2.0 * z * sigma_g / unit_g) ** 2)


@dataclass(frozen=True, slots=True)
class ScaleParams:
    """What the sensor needs to know about its bin and how cautious to be."""

    tare_g: float
    unit_g: float
    sigma_g: float
    settle_readings: int = 3
    break_z: float = 5.0
    cusum_h: float = 10.0
    confidence_z: float = 4.75
    level_window: int = 256
    jump_sigma: float = 10.0  # an excursion at least this large that returns is a spike
    spike_readings: int = 2  # ... if it lasted at most this many readings

    def __post_init__(self) -> None:
        if not (self.unit_g > 0 and self.sigma_g > 0 and math.isfinite(self.tare_g)):
            raise ValueError("a scale needs a finite tare, unit weight > 0 and sigma > 0")
        if self.settle_readings < 1 or self.level_window < 1 or self.spike_readings < 1:
            raise ValueError("settle_readings, level_window and spike_readings must be >= 1")
        if self.break_z <= 0 or self.cusum_h <= 0 or self.confidence_z <= 0:
            raise ValueError("break_z, cusum_h and confidence_z must be positive")

    @property
    def n_max(self) -> int:
        return window_for(self.unit_g, self.sigma_g, self.confidence_z, self.level_window)


@dataclass(frozen=True, slots=True)
class SensedCount:
    """The bin's count as the scale sees it now."""

    count: int
    confidence: float  # probability that ``count`` is the true count (0 while moving)
    confident: bool  # confidence clears the false-alarm budget (z test)
    settled: bool
    mean_g: float  # settled level (gross)
    readings: int  # readings behind the level
    since: float  # when the level settled


class BinSensor:
    """Settle detection, level and count for one load cell."""

    __slots__ = (
        "_bz2",
        "_inv_unit",
        "_k",
        "_n_max",
        "_spike_g",
        "cand",
        "cand_n",
        "cn",
        "cn_n",
        "cn_sum",
        "confident",
        "count",
        "cp",
        "cp_n",
        "cp_sum",
        "last_spike_t",
        "last_t",
        "level",
        "max_dev",
        "moved",
        "n",
        "p",
        "prev_level",
        "prev_n",
        "recent_i",
        "recent_t",
        "recent_w",
        "se",
        "settled",
        "since",
        "spikes",
        "var",
        "var_n",
    )

    def __init__(self, params: ScaleParams) -> None:
        self.p = params
        self._derive()
        self.settled = False
        self.level = 0.0
        self.n = 0
        self.since = 0.0
        self.cp = self.cn = self.cp_sum = self.cn_sum = 0.0
        self.cp_n = self.cn_n = 0
        self.cand = 0.0
        self.cand_n = 0
        self.moved = 0  # readings since the weight started moving
        self.max_dev = 0.0  # largest departure from the previous level while moving
        self.prev_level = 0.0
        self.prev_n = 0
        self.last_t = -math.inf
        self.var = params.sigma_g * params.sigma_g
        self.var_n = 0
        self.count = 0
        self.confident = False
        self.se = math.inf
        self.spikes = 0
        self.last_spike_t = -math.inf
        self.recent_t = [0.0] * RECENT
        self.recent_w = [0.0] * RECENT
        self.recent_i = 0  # readings seen in all (ring position = recent_i % RECENT)

    def _derive(self) -> None:
        p = self.p
        self._inv_unit = 1.0 / p.unit_g
        self._k = 0.5 * p.unit_g / p.sigma_g  # CUSUM reference: half a unit, in sigmas
        self._bz2 = (p.break_z * p.sigma_g) ** 2
        self._n_max = p.n_max
        self._spike_g = p.jump_sigma * p.sigma_g

    # ---- the hot path -------------------------------------------------------------------

    def update(self, t: float, w: float) -> int:
        """Take one reading; return what it did (STEADY, MOVING, SETTLED, RETURNED, SPIKE)."""
        if t <= self.last_t:
            return IGNORED
        self.last_t = t
        i = self.recent_i
        self.recent_t[i % RECENT] = t
        self.recent_w[i % RECENT] = w
        self.recent_i = i + 1
        if not self.settled:
            return self._moving(t, w)
        sigma = self.p.sigma_g
        dev = w - self.level
        n = self.n
        if dev * dev > self._bz2 * (1.0 + 1.0 / n):
            self._start_moving(w, dev)
            return MOVING
        z = dev / sigma
        k = self._k
        cp = self.cp + z - k
        if cp > 0.0:
            self.cp_sum += w
            self.cp_n += 1
        else:
            cp = 0.0
            self.cp_sum = 0.0
            self.cp_n = 0
        cn = self.cn - z - k
        if cn > 0.0:
            self.cn_sum += w
            self.cn_n += 1
        else:
            cn = 0.0
            self.cn_sum = 0.0
            self.cn_n = 0
        h = self.p.cusum_h
        if cp > h or cn > h:
            # A sustained shift: the new level is the mean since the change point.
            if cp > h:
                seg_sum, seg_n = self.cp_sum, self.cp_n
            else:
                seg_sum, seg_n = self.cn_sum, self.cn_n
            self._settle(t, seg_sum / seg_n, seg_n)
            return SETTLED
        self.cp = cp
        self.cn = cn
        if n < self._n_max:
            n += 1
            self.n = n
        self.level += dev / n
        self.var += _VAR_ALPHA * (dev * dev - self.var)
        self.var_n += 1
        self._recount()
        return STEADY

    def _start_moving(self, w: float, dev: float) -> None:
        self.prev_level = self.level
        self.prev_n = self.n
        self.settled = False
        self.confident = False
        self.cand = w
        self.cand_n = 1
        self.moved = 1
        self.max_dev = abs(dev)

    def _moving(self, t: float, w: float) -> int:
        self.moved += 1
        if self.prev_n:
            d = abs(w - self.prev_level)
            if d > self.max_dev:
                self.max_dev = d
        cn = self.cand_n
        dev = w - self.cand
        if cn == 0 or dev * dev > self._bz2 * (1.0 + 1.0 / cn):
            self.cand = w  # still moving: start the candidate level again here
            self.cand_n = 1
            cn = 1
        else:
            cn += 1
            self.cand_n = cn
            self.cand += dev / cn
        if cn < self.p.settle_readings:
            return MOVING
        prev_n = self.prev_n
        if prev_n:
            back = self.cand - self.prev_level
            if back * back <= self._bz2 * (1.0 / cn + 1.0 / prev_n):
                # Back where it was: a bump, or a spike if short and large. Keep the old level.
                excursion = self.moved - cn
                spiked = excursion <= self.p.spike_readings and self.max_dev >= self._spike_g
                n = min(prev_n + cn, self._n_max)
                self._settle(t, (self.prev_level * prev_n + self.cand * cn) / (prev_n + cn), n)
                if spiked:
                    self.spikes += 1
                    self.last_spike_t = t
                    return SPIKE
                return RETURNED
        self._settle(t, self.cand, cn)
        return SETTLED

    def _settle(self, t: float, level: float, n: int) -> None:
        self.settled = True
        self.level = level
        self.n = n
        self.since = t
        self.cp = self.cn = self.cp_sum = self.cn_sum = 0.0
        self.cp_n = self.cn_n = 0
        self.cand_n = 0
        self.moved = 0
        self.max_dev = 0.0
        self._recount()

    def _recount(self) -> None:
        p = self.p
        x = (self.level - p.tare_g) * self._inv_unit
        c = round(x)
        self.count = c
        var = self.var if self.var_n >= _VAR_MIN_READINGS else 0.0
        sigma = p.sigma_g if var <= p.sigma_g * p.sigma_g else math.sqrt(var)
        se = sigma / math.sqrt(self.n)
        self.se = se
        margin = (0.5 - abs(x - c)) * p.unit_g
        self.confident = self.n >= p.settle_readings and margin >= p.confidence_z * se

    def expect_change(self) -> None:
        """A pick, put-away or book change for this bin: the settled level may be stale, so
        it keeps its value but only the weight of ``settle_readings`` readings, and the count
        must earn its confidence again from fresh readings. (Without this a small unit on a
        noisy cell stays confidently at the old count until the CUSUM sees the shift.)"""
        if self.settled and self.n > self.p.settle_readings:
            self.n = self.p.settle_readings
            self._recount()

    # ---- queries ------------------------------------------------------------------------

    def confidence(self) -> float:
        """Probability that ``count`` is the true count, given the level's standard error."""
        if not self.settled:
            return 0.0
        p = self.p
        x = (self.level - p.tare_g) * self._inv_unit
        frac = x - self.count
        s = self.se * self._inv_unit * _SQRT2
        return max(0.0, 1.0 - 0.5 * math.erfc((0.5 - frac) / s) - 0.5 * math.erfc((0.5 + frac) / s))

    def sensed(self) -> SensedCount:
        return SensedCount(
            count=self.count,
            confidence=self.confidence(),
            confident=self.confident,
            settled=self.settled,
            mean_g=self.level,
            readings=self.n,
            since=self.since,
        )

    def recent(self, k: int = RECENT) -> list[tuple[float, float]]:
        """The last ``k`` raw readings (oldest first): evidence for alarms and discrepancies."""
        n = min(k, self.recent_i, RECENT)
        if n <= 0:
            return []
        # Rotate the ring so the oldest comes first, then keep the last n (saved per batch).
        i = self.recent_i % RECENT
        ts = self.recent_t[i:] + self.recent_t[:i]
        ws = self.recent_w[i:] + self.recent_w[:i]
        return list(zip(ts[-n:], ws[-n:], strict=True))

    # ---- state --------------------------------------------------------------------------

    def reconfigure(self, params: ScaleParams) -> None:
        """New calibration: a different tare or unit weight invalidates the level's count but
        not its weight, so keep the level and recount."""
        self.p = params
        self._derive()
        if self.n > self._n_max:
            self.n = self._n_max
        if self.settled:
            self._recount()

    def to_dict(self) -> dict[str, Any]:
        return {
            "settled": self.settled,
            "level": self.level,
            "n": self.n,
            "since": self.since,
            "cusum": [self.cp, self.cp_sum, self.cp_n, self.cn, self.cn_sum, self.cn_n],
            "cand": [self.cand, self.cand_n, self.moved, self.max_dev],
            "prev": [self.prev_level, self.prev_n],
            "last_t": None if self.last_t == -math.inf else self.last_t,
            "var": [self.var, self.var_n],
            "spikes": [self.spikes, None if self.last_spike_t == -math.inf else self.last_spike_t],
            "recent": self.recent(),
            "seen": self.recent_i,
            "count": self.count,
        }

    @classmethod
    def from_dict(cls, params: ScaleParams, d: dict[str, Any]) -> BinSensor:
        s = cls(params)
        s.settled = bool(d["settled"])
        s.level = float(d["level"])
        s.n = int(d["n"])
        s.since = float(d["since"])
        s.cp, s.cp_sum, s.cp_n, s.cn, s.cn_sum, s.cn_n = d["cusum"]
        s.cand, s.cand_n, s.moved, s.max_dev = d["cand"]
        s.prev_level, s.prev_n = d["prev"]
        s.last_t = -math.inf if d["last_t"] is None else float(d["last_t"])
        s.var, s.var_n = d["var"]
        s.spikes, last_spike = d["spikes"]
        s.last_spike_t = -math.inf if last_spike is None else float(last_spike)
        recent = d["recent"]
        s.recent_i = int(d["seen"])
        start = s.recent_i - len(recent)
        for j, (t, w) in enumerate(recent):
            s.recent_t[(start + j) % RECENT] = t
            s.recent_w[(start + j) % RECENT] = w
        s.count = int(d["count"])
        if s.settled:
            s._recount()
        return s
