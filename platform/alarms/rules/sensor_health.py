"""Sensor health, shared by the scale and environment families: out of physical range,
stuck, jumping.

- out of range: ``n`` readings in a row outside the physical range raise, ``n`` in a row
  inside clear (one glitch does neither);
- stuck: the same raw value ``stuck_readings`` times in a row. A live cell with sigma of a
  few grams read to 0.1 g repeats a value two readings running a few % of the time, twelve
  running practically never; a frozen value repeats forever. Any different value clears;
- jumping: ``jump_count`` spikes (short, large excursions that come back: the caller
  decides what a spike is) within ``jump_window_s``; clears when the window holds fewer.

Changes come back as a bit mask so the hot path allocates nothing.
"""

from __future__ import annotations

from typing import Any

from .base import RAISE, Consecutive

RANGE_RAISE = 1
RANGE_CLEAR = 2
STUCK_RAISE = 4
STUCK_CLEAR = 8
JUMP_RAISE = 16
JUMP_CLEAR = 32


class SensorHealth:
    __slots__ = ("jumping", "last_v", "range", "same_n", "spikes", "stuck")

    def __init__(self) -> None:
        self.range = Consecutive()
        self.last_v: float | None = None
        self.same_n = 0  # readings equal to last_v after the first
        self.stuck = False
        self.spikes: list[float] = []  # times of the recent spikes (at most jump_count)
        self.jumping = False

    def value(
        self, v: float, lo: float, hi: float, range_readings: int, stuck_readings: int
    ) -> int:
        """One raw reading; returns the change bits. ``in_range`` tells whether to use it."""
        out = 0
        r = self.range.update(v < lo or v > hi, range_readings)
        if r:
            out = RANGE_RAISE if r == RAISE else RANGE_CLEAR
        if v == self.last_v:
            self.same_n += 1
            if stuck_readings and not self.stuck and self.same_n + 1 >= stuck_readings:
                self.stuck = True
                out |= STUCK_RAISE
        else:
            self.last_v = v
            self.same_n = 0
            if self.stuck:
                self.stuck = False
                out |= STUCK_CLEAR
        return out

    @property
    def in_range(self) -> bool:
        """The last reading is usable: inside the range, and the range alarm is not up (while
        it is, readings that wander back in one at a time are not trusted yet)."""
        return not self.range.active and self.range.run == 0

    def spike(self, t: float, count: int, window_s: float) -> int:
        spikes = self.spikes
        spikes.append(t)
        if len(spikes) > count:
            del spikes[0]
        if not self.jumping and len(spikes) >= count and t - spikes[0] <= window_s:
            self.jumping = True
            return JUMP_RAISE
        return 0

    def expire(self, t: float, window_s: float) -> int:
        """Clear the jump alarm once its last spike is older than the window."""
        if self.jumping and t - self.spikes[-1] > window_s:
            self.jumping = False
            return JUMP_CLEAR
        return 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "range": self.range.to_list(),
            "last_v": self.last_v,
            "same_n": self.same_n,
            "stuck": self.stuck,
            "spikes": list(self.spikes),
            "jumping": self.jumping,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SensorHealth:
        h = cls()
        h.range = Consecutive.from_list(d["range"])
        h.last_v = d["last_v"]
        h.same_n = int(d["same_n"])
        h.stuck = bool(d["stuck"])
        h.spikes = [float(x) for x in d["spikes"]]
        h.jumping = bool(d["jumping"])
        return h
