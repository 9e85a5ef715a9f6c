"""Temperature and humidity out of range, plus the environment sensors' own health.

A value outside [min, max] for ``env_hold_s`` raises; it clears only once back inside by
``env_hysteresis`` (a value hovering at the limit raises once, not on every crossing).
Readings outside the sensor's physical range are a sensor fault, never a climate alarm.
"""

from __future__ import annotations

import math
from typing import Any

from wayhouse.platform.alarms.inputs import EnvReading, EnvSensorConfig
from wayhouse.platform.alarms.model import AlarmType, Condition
from wayhouse.platform.alarms.thresholds import ThresholdConfig, Thresholds

from .base import RAISE, Changes, Debounce
from .sensor_health import (
    JUMP_CLEAR,
    JUMP_RAISE,
    RANGE_CLEAR,
    RANGE_RAISE,
    STUCK_CLEAR,
    STUCK_RAISE,
    SensorHealth,
)

_TYPE = {
    "temperature": AlarmType.TEMPERATURE_OUT_OF_RANGE,
    "humidity": AlarmType.HUMIDITY_OUT_OF_RANGE,
}
_UNIT = {"temperature": "degC", "humidity": "%RH"}


class _Env:
    __slots__ = ("cfg", "climate", "health", "last_t", "subject", "th")

    def __init__(self, cfg: EnvSensorConfig, th: Thresholds) -> None:
        self.cfg = cfg
        self.th = th
        self.subject = f"sensor:{cfg.sensor}"
        self.climate = Debounce()
        self.health = SensorHealth()
        self.last_t = -math.inf


class EnvironmentRules:
    name = "environment"

    def __init__(self, config: ThresholdConfig) -> None:
        self.config = config
        self._sensors: dict[str, _Env] = {}

    def register(self, cfg: EnvSensorConfig) -> None:
        old = self._sensors.get(cfg.sensor)
        s = _Env(cfg, self._resolve(cfg))
        if old is not None:
            s.climate, s.health, s.last_t = old.climate, old.health, old.last_t
        self._sensors[cfg.sensor] = s

    def _resolve(self, cfg: EnvSensorConfig) -> Thresholds:
        return self.config.resolve(site=cfg.site, device=cfg.sensor)

    def reconfigure(self) -> None:
        for s in self._sensors.values():
            s.th = self._resolve(s.cfg)

    def feed(self, e: EnvReading) -> Changes:
        s = self._sensors.get(e.sensor)
        if s is None:  # unregistered: judged with the default thresholds
            self.register(EnvSensorConfig(e.sensor, e.kind))
            s = self._sensors[e.sensor]
        t, v = e.t, e.value
        if t <= s.last_t:
            return None
        s.last_t = t
        th = s.th
        h = s.health
        prev = h.last_v
        bits = h.value(
            v, th.env_sensor_min, th.env_sensor_max, th.range_readings, th.env_stuck_readings
        )
        if th.env_jump > 0 and prev is not None and abs(v - prev) > th.env_jump:
            bits |= h.spike(t, th.jump_count, th.jump_window_s)
        elif h.jumping:
            bits |= h.expire(t, th.jump_window_s)
        out: Changes = self._health(s, bits, t, v) if bits else None
        if not h.in_range:
            return out
        kind = s.cfg.kind
        lo, hi = (
            (th.temperature_min, th.temperature_max)
            if kind == "temperature"
            else (th.humidity_min, th.humidity_max)
        )
        hy = th.env_hysteresis
        r = s.climate.update(t, v < lo or v > hi, lo + hy <= v <= hi - hy, th.env_hold_s)
        if r:
            ev = {"sensor": s.cfg.sensor, "kind": kind, "value": v, "min": lo, "max": hi}
            msg = ""
            if r == RAISE:
                msg = f"{kind} {v:g} {_UNIT[kind]} at {s.cfg.sensor} is outside {lo:g}..{hi:g}"
            cond = Condition(_TYPE[kind], s.subject, r == RAISE, t, msg, ev, None, s.cfg.site)
            out = [*(out or ()), cond]
        return out

    def _health(self, s: _Env, bits: int, t: float, v: float) -> list[Condition]:
        out: list[Condition] = []
        ev: dict[str, Any] = {"sensor": s.cfg.sensor, "kind": s.cfg.kind, "value": v}
        site = s.cfg.site
        for raise_bit, clear_bit, type_, what in (
            (RANGE_RAISE, RANGE_CLEAR, AlarmType.SENSOR_OUT_OF_RANGE, "reads outside its range"),
            (STUCK_RAISE, STUCK_CLEAR, AlarmType.SENSOR_STUCK, "repeats the same value"),
            (JUMP_RAISE, JUMP_CLEAR, AlarmType.SENSOR_JUMP, "jumps"),
        ):
            if bits & raise_bit:
                msg = f"{s.cfg.kind} sensor {s.cfg.sensor} {what}: {v:g}"
                out.append(Condition(type_, s.subject, True, t, msg, dict(ev), None, site))
            if bits & clear_bit:
                out.append(Condition(type_, s.subject, False, t, "", dict(ev), None, site))
        return out

    def tick(self, now: float) -> Changes:
        return None

    def cleared(self, type_: AlarmType, subject: str) -> None:
        return None

    def to_dict(self) -> dict[str, Any]:
        return {sensor: self._item(s) for sensor, s in self._sensors.items()}

    def item_dict(self, sensor: str) -> dict[str, Any] | None:
        """One sensor's entry of ``to_dict`` (for a store that saves sensor by sensor)."""
        s = self._sensors.get(sensor)
        return self._item(s) if s is not None else None

    @staticmethod
    def _item(s: _Env) -> dict[str, Any]:
        return {
            "cfg": s.cfg.to_dict(),
            "climate": s.climate.to_list(),
            "health": s.health.to_dict(),
            "last_t": None if s.last_t == -math.inf else s.last_t,
        }

    def load(self, d: dict[str, Any]) -> None:
        self._sensors.clear()
        for sensor, sd in d.items():
            self.register(EnvSensorConfig.from_dict(sd["cfg"]))
            s = self._sensors[sensor]
            s.climate = Debounce.from_list(sd["climate"])
            s.health = SensorHealth.from_dict(sd["health"])
            s.last_t = -math.inf if sd["last_t"] is None else float(sd["last_t"])
