"""Geofences around stops and arrival/departure detection with hysteresis.

A fence is a core shape in the local metric plane (the stop's point, or a yard outline) with
two distances around it: a fix within ``enter_m`` starts an arrival, and only a fix beyond the
wider ``exit_m`` can end it. An arrival counts once the truck has stayed within ``exit_m`` for
``min_dwell_s`` (a truck driving past a stop is not an arrival), and a departure needs
``depart_fixes`` consecutive fixes beyond ``exit_m`` (one GPS outlier is not a departure).
GPS jitter smaller than ``exit_m - enter_m`` around a standing truck can therefore never
produce a false departure, nor a second arrival.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum

import shapely
from shapely.geometry.base import BaseGeometry


@dataclass(frozen=True, slots=True)
class FenceConfig:
    enter_m: float = 75.0
    exit_m: float = 150.0
    min_dwell_s: float = 60.0
    depart_fixes: int = 2

    def __post_init__(self) -> None:
        if not 0.0 <= self.enter_m < self.exit_m:
            raise ValueError(f"need 0 <= enter_m < exit_m, got {self.enter_m}, {self.exit_m}")
        if self.min_dwell_s < 0 or self.depart_fixes < 1:
            raise ValueError("min_dwell_s must be >= 0 and depart_fixes >= 1")


class Fence:
    """A prepared shape plus its enter/exit distances (metres, in the local plane)."""

    __slots__ = ("enter_m", "exit_m", "shape")

    def __init__(self, shape: BaseGeometry, enter_m: float, exit_m: float) -> None:
        if not 0.0 <= enter_m < exit_m:
            raise ValueError(f"need 0 <= enter_m < exit_m, got {enter_m}, {exit_m}")
        if shape.is_empty:
            raise ValueError("empty geofence shape")
        shapely.prepare(shape)
        self.shape = shape
        self.enter_m = enter_m
        self.exit_m = exit_m

    @classmethod
    def circle(cls, x: float, y: float, enter_m: float, exit_m: float) -> Fence:
        """Distance to a point: an exact circle, no polygon approximation of the radius."""
        return cls(shapely.Point(x, y), enter_m, exit_m)

    @classmethod
    def polygon(
        cls, ring: list[tuple[float, float]], enter_m: float = 0.0, exit_m: float = 50.0
    ) -> Fence:
        """A yard or loading area: inside the outline (plus ``enter_m``) counts as there."""
        poly = shapely.Polygon(ring)
        if not poly.is_valid or poly.area <= 0:
            raise ValueError("geofence outline must be a valid, non-degenerate polygon")
        return cls(poly, enter_m, exit_m)

    def distance(self, x: float, y: float) -> float:
        """Metres from the shape (0 inside a polygon)."""
        return float(shapely.distance(self.shape, shapely.Point(x, y)))

    def in_enter(self, x: float, y: float) -> bool:
        return self.distance(x, y) <= self.enter_m

    def in_exit(self, x: float, y: float) -> bool:
        return self.distance(x, y) <= self.exit_m


class FencePhase(StrEnum):
    OUTSIDE = "outside"
    ENTERING = "entering"  # inside, not yet for min_dwell_s
    INSIDE = "inside"  # arrival confirmed


class FenceEventKind(StrEnum):
    ARRIVED = "arrived"
    DEPARTED = "departed"


@dataclass(frozen=True, slots=True)
class FenceEvent:
    kind: FenceEventKind
    at: float  # arrival: first fix inside; departure: first fix of the run beyond exit_m


@dataclass(frozen=True, slots=True)
class FenceState:
    phase: FencePhase = FencePhase.OUTSIDE
    entered_at: float | None = None
    out_since: float | None = None  # first fix of the current run beyond exit_m
    out_fixes: int = 0

    def to_dict(self) -> dict[str, object]:
        return {
            "phase": self.phase.value,
            "entered_at": self.entered_at,
            "out_since": self.out_since,
            "out_fixes": self.out_fixes,
        }

    @classmethod
    def from_dict(cls, d: dict[str, object]) -> FenceState:
        return cls(
            FencePhase(str(d["phase"])),
            _opt_float(d.get("entered_at")),
            _opt_float(d.get("out_since")),
            int(d.get("out_fixes", 0)),  # type: ignore[call-overload]
        )


def _opt_float(v: object) -> float | None:
    return None if v is None else float(v)  # type: ignore[arg-type]


OUTSIDE = FenceState()
INSIDE = FenceState(FencePhase.INSIDE)


def step_fence(
    fence: Fence, state: FenceState, t: float, x: float, y: float, cfg: FenceConfig
) -> tuple[FenceState, FenceEvent | None]:
    """Advance one fence by one fix; returns the new state and at most one event."""
    d = fence.distance(x, y)
    if state.phase is FencePhase.OUTSIDE:
        if d <= fence.enter_m:
            state = FenceState(FencePhase.ENTERING, entered_at=t)
            if cfg.min_dwell_s <= 0:
                return FenceState(FencePhase.INSIDE, entered_at=t), FenceEvent(
                    FenceEventKind.ARRIVED, t
                )
        return state, None
    if state.phase is FencePhase.ENTERING:
        assert state.entered_at is not None
        if d > fence.exit_m:  # drove through: no arrival, no event
            return OUTSIDE, None
        if t - state.entered_at >= cfg.min_dwell_s:
            return replace(state, phase=FencePhase.INSIDE), FenceEvent(
                FenceEventKind.ARRIVED, state.entered_at
            )
        return state, None
    # INSIDE
    if d <= fence.exit_m:
        return replace(state, out_since=None, out_fixes=0), None
    out_since = state.out_since if state.out_since is not None else t
    out_fixes = state.out_fixes + 1
    if out_fixes >= cfg.depart_fixes:
        return OUTSIDE, FenceEvent(FenceEventKind.DEPARTED, out_since)
    return replace(state, out_since=out_since, out_fixes=out_fixes), None
