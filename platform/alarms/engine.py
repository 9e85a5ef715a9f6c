"""The alarm engine: routes each event to its rule family, turns the condition changes into
alarms, and returns the lifecycle transitions to record.

Lifecycle rules it applies:

- one open alarm per (type, subject): a condition that fires again while its alarm is open is
  a *repeat* (occurrences counted, evidence refreshed, severity only raised), recorded at most
  once per ``repeat_every_s``;
- flapping is suppressed twice over: rules debounce with hysteresis and hold times, and here
  an auto-clear waits until the condition has stayed ended for ``clear_hold_s`` (a re-raise
  in that time cancels it). So one subject yields at most one raise and one clear per
  ``clear_hold_s`` whatever the input does;
- a person acknowledges; clears momentary alarms (a theft, a fence crossing); clears a
  condition alarm only once its condition ended, or with ``force`` (then it stays quiet until
  the condition ends and comes back).

Time is the stream's: ``now`` is the newest event time seen; rules that judge time passing
(offline, expiry) run every ``tick_every_s`` of it, or on ``tick(t)``. Given the same
events (and the same acknowledgements and clears in between), the same transitions come out,
with the same ids: the state (``to_dict``) can be saved mid-stream and restored
(``from_dict``) without losing or duplicating an alarm. A store that saves after every batch
saves only what changed: ``core_dict`` (small), the lifecycle slots ``take_changed_slots``
names (``slot_dict``), and the items of the per-item families (``PER_ITEM``) it fed.
"""

from __future__ import annotations

import dataclasses
import heapq
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from wayhouse.edge.schema import ScanReading, ShelfReading
from wayhouse.platform.alarms.inputs import (
    AgentConfig,
    AgentStatus,
    BinConfig,
    BookLevel,
    DocumentState,
    EnvReading,
    EnvSensorConfig,
    EtaUpdate,
    LotStock,
    TruckSample,
)
from wayhouse.platform.alarms.model import (
    MOMENTARY,
    RULE_ACTOR,
    Alarm,
    AlarmType,
    Condition,
    Transition,
    alarm_id,
)
from wayhouse.platform.alarms.rules.base import Changes, Rule
from wayhouse.platform.alarms.rules.devices import DeviceRules
from wayhouse.platform.alarms.rules.environment import EnvironmentRules
from wayhouse.platform.alarms.rules.expiry import ExpiryRules
from wayhouse.platform.alarms.rules.shelf import ShelfRules
from wayhouse.platform.alarms.rules.trucks import TruckRules
from wayhouse.platform.alarms.thresholds import ThresholdConfig
from wayhouse.platform.dms.domain.types import DomainError, IllegalTransition

STATE_VERSION = 1
# Rule families whose state is a dict of independent items (bin, sensor, agent): a store may
# save them item by item (``item_dict``) instead of whole.
PER_ITEM = ("shelf", "environment", "devices")
_NOTHING: tuple[Transition, ...] = ()

Event = (
    ShelfReading
    | ScanReading
    | BookLevel
    | EnvReading
    | AgentStatus
    | LotStock
    | DocumentState
    | TruckSample
    | EtaUpdate
)


@dataclass(frozen=True, slots=True)
class Lifecycle:
    clear_hold_s: float = 30.0
    repeat_every_s: float = 60.0
    tick_every_s: float = 1.0

    def __post_init__(self) -> None:
        if self.clear_hold_s < 0 or self.repeat_every_s < 0 or self.tick_every_s <= 0:
            raise DomainError("invalid_lifecycle", "hold and repeat times >= 0, tick > 0")


class _Slot:
    """Engine-side state of one (type, subject)."""

    __slots__ = (
        "alarm",
        "clear_due",
        "clear_evidence",
        "clear_reason",
        "condition",
        "last_record",
        "latched",
    )

    def __init__(self) -> None:
        self.alarm: Alarm | None = None
        self.condition = False  # the rule's last word: the condition holds
        self.clear_due: float | None = None  # pending auto-clear
        self.clear_reason = ""
        self.clear_evidence: dict[str, Any] | None = None
        self.latched = False  # force-cleared while the condition held: quiet until it ends
        self.last_record = -math.inf  # time of the alarm's last recorded transition

    def to_dict(self) -> dict[str, Any]:
        return {
            "alarm": self.alarm.to_dict() if self.alarm else None,
            "condition": self.condition,
            "clear_due": self.clear_due,
            "clear_reason": self.clear_reason,
            "clear_evidence": self.clear_evidence,
            "latched": self.latched,
            "last_record": None if self.last_record == -math.inf else self.last_record,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> _Slot:
        s = cls()
        s.alarm = Alarm.from_dict(d["alarm"]) if d["alarm"] else None
        s.condition = bool(d["condition"])
        s.clear_due = d["clear_due"]
        s.clear_reason = d["clear_reason"]
        s.clear_evidence = d["clear_evidence"]
        s.latched = bool(d["latched"])
        s.last_record = -math.inf if d["last_record"] is None else float(d["last_record"])
        return s


class AlarmEngine:
    def __init__(
        self, config: ThresholdConfig | None = None, lifecycle: Lifecycle | None = None
    ) -> None:
        self.config = config or ThresholdConfig()
        self.lifecycle = lifecycle or Lifecycle()
        self.shelf = ShelfRules(self.config)
        self.environment = EnvironmentRules(self.config)
        self.devices = DeviceRules(self.config)
        self.expiry = ExpiryRules(self.config)
        self.trucks = TruckRules(self.config)
        self.rules: tuple[Rule, ...] = (
            self.shelf,
            self.environment,
            self.devices,
            self.expiry,
            self.trucks,
        )
        self._timed: tuple[Rule, ...] = (self.devices, self.expiry)
        self._route: dict[type, Callable[[Any], Changes]] = {
            ShelfReading: self.shelf.reading,
            ScanReading: self.shelf.scan,
            BookLevel: self.shelf.book,
            EnvReading: self.environment.feed,
            AgentStatus: self.devices.feed,
            LotStock: self.expiry.feed,
            DocumentState: self.expiry.feed,
            TruckSample: self.trucks.feed,
            EtaUpdate: self.trucks.feed,
        }
        self._slots: dict[str, _Slot] = {}
        self._by_id: dict[str, str] = {}
        self._due: list[tuple[float, str]] = []  # heap of (clear_due, key)
        self.now = -math.inf
        self._next_tick = -math.inf
        self._raised = 0  # alarms raised so far: part of the id, so ids never collide
        self._changed: set[str] = set()  # slot keys changed since take_changed_slots()

    # ---- registration -------------------------------------------------------------------

    def register_bin(self, cfg: BinConfig) -> None:
        self.shelf.register(cfg)

    def register_env_sensor(self, cfg: EnvSensorConfig) -> None:
        self.environment.register(cfg)

    def register_agent(self, cfg: AgentConfig) -> None:
        self.devices.register(cfg)

    def register_truck(self, truck: str, site: str | None = None) -> None:
        self.trucks.register(truck, site)

    def thresholds_changed(self) -> None:
        """Call after editing ``config``: every subject re-resolves its thresholds."""
        for rule in self.rules:
            rule.reconfigure()

    # ---- the stream ---------------------------------------------------------------------

    def feed(self, event: Event) -> Sequence[Transition]:
        """One event, in stream order; the transitions it caused (usually none)."""
        handler = self._route.get(type(event))
        if handler is None:
            raise TypeError(f"the alarm engine does not take {type(event).__name__}")
        t = event.t
        if t > self.now:
            self.now = t
        conds = handler(event)
        if conds is None and self.now < self._next_tick:
            due = self._due
            if not due or due[0][0] > self.now:
                return _NOTHING
        return self._settle(conds)

    def feed_all(self, events: Iterable[Event]) -> list[Transition]:
        out: list[Transition] = []
        for e in events:
            tr = self.feed(e)
            if tr:
                out += tr
        return out

    def report(self, conditions: Iterable[Condition]) -> list[Transition]:
        """Conditions judged elsewhere (another evaluator) through the same lifecycle."""
        conds = list(conditions)
        for c in conds:
            if c.t > self.now:
                self.now = c.t
        return self._settle(conds)

    def tick(self, t: float) -> Sequence[Transition]:
        """Time passed without events (a quiet stream): judge offline and expiry now."""
        if t > self.now:
            self.now = t
        self.devices.advance(t)
        self._next_tick = -math.inf
        return self._settle(None)

    def _settle(self, conds: Changes) -> list[Transition]:
        out: list[Transition] = []
        now = self.now
        self._clear_due(now, out)
        if now >= self._next_tick:
            self._next_tick = now + self.lifecycle.tick_every_s
            for rule in self._timed:
                timed = rule.tick(now)
                if timed:
                    for c in timed:
                        self._apply(c, out)
        if conds:
            for c in conds:
                self._apply(c, out)
        self._clear_due(now, out)
        return out

    def _apply(self, c: Condition, out: list[Transition]) -> None:
        key = c.key
        slot = self._slots.get(key)
        if slot is not None or c.raised:
            self._changed.add(key)
        if c.raised:
            if slot is None:
                slot = self._slots[key] = _Slot()
            momentary = c.type in MOMENTARY
            slot.condition = not momentary
            slot.clear_due = None
            if slot.latched:
                return
            a = slot.alarm
            if a is not None:
                # Each momentary event is its own occurrence (a second theft): always
                # recorded; a condition that changes is recorded at most once per period.
                record = (
                    momentary
                    or c.t - slot.last_record >= self.lifecycle.repeat_every_s
                    or (c.severity is not None and c.severity.rank > a.severity.rank)
                )
                tr = a.repeat(c, record)
                if tr is not None:
                    slot.last_record = c.t
                    out.append(tr)
                return
            self._raised += 1
            a, tr = Alarm.raise_(c, alarm_id(c.type, c.subject, c.t, self._raised))
            slot.alarm = a
            slot.last_record = c.t
            self._by_id[a.id] = key
            out.append(tr)
            return
        if slot is None:
            return
        slot.condition = False
        slot.latched = False
        if slot.alarm is None:
            del self._slots[key]
            return
        if slot.clear_due is None:
            slot.clear_due = max(c.t, slot.alarm.raised_at) + self.lifecycle.clear_hold_s
            slot.clear_reason = c.message or "condition ended"
            slot.clear_evidence = c.evidence
            heapq.heappush(self._due, (slot.clear_due, key))

    def _clear_due(self, now: float, out: list[Transition]) -> None:
        due = self._due
        while due and due[0][0] <= now:
            when, key = heapq.heappop(due)
            slot = self._slots.get(key)
            if slot is None or slot.clear_due != when or slot.alarm is None:
                continue  # cancelled by a re-raise, or cleared by a person meanwhile
            self._changed.add(key)
            a = slot.alarm
            if slot.clear_evidence is not None:
                a.evidence = slot.clear_evidence
            out.append(a.clear(when, RULE_ACTOR, slot.clear_reason))
            self._close(key, slot)

    def _close(self, key: str, slot: _Slot) -> None:
        a = slot.alarm
        assert a is not None
        del self._by_id[a.id]
        slot.alarm = None
        slot.clear_due = None
        slot.clear_evidence = None
        if not slot.condition and not slot.latched:
            del self._slots[key]

    # ---- people -------------------------------------------------------------------------

    def _open(self, alarm_id_: str) -> tuple[str, _Slot, Alarm]:
        key = self._by_id.get(alarm_id_)
        if key is None:
            raise DomainError("alarm_not_open", f"no open alarm {alarm_id_}")
        self._changed.add(key)
        slot = self._slots[key]
        assert slot.alarm is not None
        return key, slot, slot.alarm

    def acknowledge(self, alarm_id_: str, by: str, t: float, note: str = "") -> Transition:
        _, slot, a = self._open(alarm_id_)
        tr = a.acknowledge(t, by, note)
        slot.last_record = t
        return tr

    def clear(
        self, alarm_id_: str, by: str, t: float, reason: str, *, force: bool = False
    ) -> Transition:
        key, slot, a = self._open(alarm_id_)
        if slot.condition and not force:
            raise IllegalTransition(
                "alarm",
                a.state.value,
                "cleared",
                "its condition still holds (it clears itself when that ends); acknowledge it, "
                "or force the clear",
            )
        tr = a.clear(t, by, reason)
        if slot.condition:
            slot.latched = True
        self._close(key, slot)
        self._family_of(a.type).cleared(a.type, a.subject)
        return tr

    def _family_of(self, type_: AlarmType) -> Rule:
        return _FAMILY_ATTR[type_](self)

    # ---- queries ------------------------------------------------------------------------

    def open_alarms(self) -> list[Alarm]:
        return [s.alarm for s in self._slots.values() if s.alarm is not None]

    def alarm(self, alarm_id_: str) -> Alarm | None:
        key = self._by_id.get(alarm_id_)
        return self._slots[key].alarm if key is not None else None

    def open_alarm(self, type_: AlarmType, subject: str) -> Alarm | None:
        slot = self._slots.get(f"{type_.value}|{subject}")
        return slot.alarm if slot is not None else None

    # ---- state --------------------------------------------------------------------------

    def take_changed_slots(self) -> set[str]:
        """Lifecycle slot keys changed since the last call (created, updated or dropped)."""
        changed, self._changed = self._changed, set()
        return changed

    def slot_dict(self, key: str) -> dict[str, Any] | None:
        """One slot's state, None when the slot no longer exists."""
        slot = self._slots.get(key)
        return slot.to_dict() if slot is not None else None

    def core_dict(self) -> dict[str, Any]:
        """``to_dict`` without the per-item families and the slots (saved item by item);
        ``to_dict`` = ``core_dict`` + ``rules[f] = {item: item_dict}`` + ``slots``."""
        return {
            "version": STATE_VERSION,
            "now": None if self.now == -math.inf else self.now,
            "next_tick": None if self._next_tick == -math.inf else self._next_tick,
            "raised": self._raised,
            "config": self.config.to_dict(),
            "lifecycle": dataclasses.asdict(self.lifecycle),
            "rules": {r.name: r.to_dict() for r in self.rules if r.name not in PER_ITEM},
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": STATE_VERSION,
            "now": None if self.now == -math.inf else self.now,
            "next_tick": None if self._next_tick == -math.inf else self._next_tick,
            "raised": self._raised,
            "config": self.config.to_dict(),
            "lifecycle": dataclasses.asdict(self.lifecycle),
            "rules": {r.name: r.to_dict() for r in self.rules},
            "slots": {k: s.to_dict() for k, s in self._slots.items()},
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> AlarmEngine:
        if d.get("version") != STATE_VERSION:
            raise DomainError("state_version", f"alarm engine state version {d.get('version')}")
        eng = cls(ThresholdConfig.from_dict(d["config"]), Lifecycle(**d["lifecycle"]))
        eng.now = -math.inf if d["now"] is None else float(d["now"])
        eng._next_tick = -math.inf if d["next_tick"] is None else float(d["next_tick"])
        eng._raised = int(d["raised"])
        for r in eng.rules:
            r.load(d["rules"][r.name])
        for key, sd in d["slots"].items():
            slot = eng._slots[key] = _Slot.from_dict(sd)
            if slot.alarm is not None:
                eng._by_id[slot.alarm.id] = key
            if slot.clear_due is not None:
                eng._due.append((slot.clear_due, key))
        heapq.heapify(eng._due)
        return eng


_FAMILY_ATTR: dict[AlarmType, Callable[[AlarmEngine], Rule]] = {
    **dict.fromkeys(
        (
            AlarmType.WEIGHT_LOSS_UNEXPLAINED,
            AlarmType.WEIGHT_GAIN_UNEXPECTED,
            AlarmType.STOCK_DISCREPANCY,
            AlarmType.BELOW_REORDER_POINT,
        ),
        lambda e: e.shelf,
    ),
    **dict.fromkeys(
        (AlarmType.TEMPERATURE_OUT_OF_RANGE, AlarmType.HUMIDITY_OUT_OF_RANGE),
        lambda e: e.environment,
    ),
    AlarmType.DEVICE_OFFLINE: lambda e: e.devices,
    **dict.fromkeys((AlarmType.LOT_EXPIRING, AlarmType.DOCUMENT_EXPIRING), lambda e: e.expiry),
    **dict.fromkeys(
        (
            AlarmType.GEOFENCE_ENTER,
            AlarmType.GEOFENCE_EXIT,
            AlarmType.OFF_ROUTE,
            AlarmType.STOPPED_TOO_LONG,
            AlarmType.PREDICTED_LATE,
        ),
        lambda e: e.trucks,
    ),
    # Sensor health comes from the shelf or the environment family; neither keeps state
    # that a person's clear must reset, so either answers.
    **dict.fromkeys(
        (AlarmType.SENSOR_STUCK, AlarmType.SENSOR_JUMP, AlarmType.SENSOR_OUT_OF_RANGE),
        lambda e: e.shelf,
    ),
}
