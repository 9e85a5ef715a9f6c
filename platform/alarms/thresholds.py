"""Alarm thresholds, configurable per site, product class or device.

A ``Thresholds`` holds every knob with its default. ``ThresholdConfig`` keeps partial
overrides per scope and resolves them with the precedence device > product class > site >
default, field by field (a device override of one field keeps the site's value of the
others). Resolutions are cached: rules resolve once per subject, not per reading.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Literal

from wayhouse.platform.dms.domain.types import DomainError
from wayhouse.platform.stocktake.sensing import z_for

Scope = Literal["site", "product_class", "device"]
SCOPES: tuple[Scope, ...] = ("site", "product_class", "device")


@dataclass(frozen=True, slots=True)
class Thresholds:
    # -- false-alarm budget of every weight-based decision (per decision, one-sided) --------
    false_alarm_p: float = 1e-6
    # -- shelf scales -------------------------------------------------------------------------
    noise_sigma_g: float = 5.0  # when the sensor's registration gives none
    settle_readings: int = 3  # readings in a row that agree before a moved weight counts
    break_z: float = 5.0  # one reading this many sigma away = the weight is moving
    cusum_h: float = 10.0  # CUSUM decision interval (sigma units) for small shifts
    level_window: int = 256  # readings a settled level averages (at least)
    loss_min_units: int = 1  # unexplained loss that raises weight_loss_unexplained
    gain_min_units: int = 1  # unexplained gain that raises weight_gain_unexpected
    scan_grace_s: float = 15.0  # wait this long for a late pick/put-away scan
    scan_window_s: float = 300.0  # a scan the scale never matched is dropped after this
    discrepancy_settle_s: float = 120.0  # sensed != book this long before a discrepancy
    reorder_fraction: float = 0.2  # reorder point as a share of capacity (no explicit one)
    scale_min_g: float = -100.0  # physical range of the load cell (gross grams)
    scale_max_g: float = 100_000.0
    below_tare_g: float = 200.0  # this far under the empty tray is out of range as well
    range_readings: int = 2  # consecutive readings out of (back in) range to raise (clear)
    stuck_readings: int = 12  # identical raw readings in a row = stuck (0: off)
    jump_sigma: float = 10.0  # a spike: an excursion this many sigma that comes back ...
    spike_readings: int = 2  # ... within this many readings
    jump_count: int = 2  # spikes within jump_window_s that raise sensor_jump
    jump_window_s: float = 600.0
    # -- environment (temperature in degC, humidity in %RH) ------------------------------------
    temperature_min: float = 5.0
    temperature_max: float = 30.0
    humidity_min: float = 20.0
    humidity_max: float = 70.0
    env_hysteresis: float = 1.0  # back inside by this much before it clears
    env_hold_s: float = 60.0  # out of range this long before it raises
    env_sensor_min: float = -40.0  # physical range of an environment sensor
    env_sensor_max: float = 125.0
    env_stuck_readings: int = 0  # environment values repeat legitimately: off by default
    env_jump: float = 0.0  # a change between two readings larger than this (0: off)
    # -- devices ----------------------------------------------------------------------------
    heartbeat_s: float = 30.0
    offline_missed: int = 3  # heartbeats missed before offline
    # -- expiry -----------------------------------------------------------------------------
    lot_expiry_days: float = 30.0
    document_expiry_days: float = 30.0
    # -- trucks -----------------------------------------------------------------------------
    geofence_dwell_s: float = 10.0  # inside/outside this long before it counts (GPS jitter)
    off_route_m: float = 500.0
    off_route_hysteresis_m: float = 100.0
    off_route_hold_s: float = 30.0
    stop_speed_mps: float = 1.0
    stopped_max_s: float = 900.0
    late_tolerance_s: float = 300.0  # predicted arrival this much after the window end

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
                raise DomainError("invalid_threshold", f"{f.name} must be a finite number")
        if not 0.0 < self.false_alarm_p < 0.5:
            raise DomainError("invalid_threshold", "false_alarm_p must be in (0, 0.5)")
        positive = (
            "noise_sigma_g",
            "settle_readings",
            "break_z",
            "cusum_h",
            "level_window",
            "loss_min_units",
            "gain_min_units",
            "range_readings",
            "jump_sigma",
            "spike_readings",
            "jump_count",
            "heartbeat_s",
            "offline_missed",
            "off_route_m",
        )
        for name in positive:
            if getattr(self, name) <= 0:
                raise DomainError("invalid_threshold", f"{name} must be positive")
        if self.temperature_min >= self.temperature_max or self.humidity_min >= self.humidity_max:
            raise DomainError("invalid_threshold", "a range's minimum must be below its maximum")
        if self.scale_min_g >= self.scale_max_g:
            raise DomainError("invalid_threshold", "scale_min_g must be below scale_max_g")

    @property
    def confidence_z(self) -> float:
        return z_for(self.false_alarm_p)

    @classmethod
    def names(cls) -> frozenset[str]:
        return frozenset(f.name for f in dataclasses.fields(cls))


_TYPES = {f.name: type(getattr(Thresholds(), f.name)) for f in dataclasses.fields(Thresholds)}


def _checked(values: dict[str, Any]) -> dict[str, float | int]:
    out: dict[str, float | int] = {}
    for name, v in values.items():
        want = _TYPES.get(name)
        if want is None:
            raise DomainError("unknown_threshold", f"no threshold named {name!r}")
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise DomainError("invalid_threshold", f"{name} must be a number")
        if want is int:
            if isinstance(v, float) and not v.is_integer():
                raise DomainError("invalid_threshold", f"{name} must be a whole number")
            v = int(v)
        out[name] = want(v)
    return out


class ThresholdConfig:
    """Defaults plus partial overrides per site, product class and device."""

    def __init__(self, default: Thresholds | None = None) -> None:
        self.default = default or Thresholds()
        self._over: dict[Scope, dict[str, dict[str, float | int]]] = {s: {} for s in SCOPES}
        self._cache: dict[tuple[str | None, str | None, str | None], Thresholds] = {}

    def set(self, scope: Scope, key: str, **values: Any) -> None:
        """Override fields for one site, product class or device (merged with earlier ones)."""
        if scope not in SCOPES:
            raise DomainError("invalid_scope", f"scope must be one of {', '.join(SCOPES)}")
        merged = {**self._over[scope].get(key, {}), **_checked(values)}
        dataclasses.replace(self.default, **merged)  # refuse an invalid combination now
        self._over[scope][key] = merged
        self._cache.clear()

    def replace_with(self, other: ThresholdConfig) -> None:
        """Take ``other``'s defaults and overrides in place (rules hold this object)."""
        self.default = other.default
        self._over = {s: {k: dict(v) for k, v in other._over[s].items()} for s in SCOPES}
        self._cache.clear()

    def unset(self, scope: Scope, key: str) -> None:
        self._over[scope].pop(key, None)
        self._cache.clear()

    def resolve(
        self,
        *,
        site: str | None = None,
        product_class: str | None = None,
        device: str | None = None,
    ) -> Thresholds:
        ck = (site, product_class, device)
        hit = self._cache.get(ck)
        if hit is not None:
            return hit
        merged: dict[str, float | int] = {}
        for scope, key in (("site", site), ("product_class", product_class), ("device", device)):
            if key is not None:
                merged.update(self._over[scope].get(key, {}))  # type: ignore[index]
        try:
            out = dataclasses.replace(self.default, **merged) if merged else self.default
        except DomainError as exc:
            raise DomainError(
                "invalid_threshold",
                f"{exc.message} (site {site}, class {product_class}, device {device})",
            ) from None
        self._cache[ck] = out
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "default": dataclasses.asdict(self.default),
            "overrides": {s: {k: dict(v) for k, v in self._over[s].items()} for s in SCOPES},
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ThresholdConfig:
        cfg = cls(Thresholds(**_checked(d["default"])))
        for scope in SCOPES:
            for key, values in d["overrides"].get(scope, {}).items():
                cfg._over[scope][key] = _checked(values)
        return cfg
