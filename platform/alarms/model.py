"""Alarms: types, severity, and the lifecycle active > acknowledged > cleared.

Rules report *conditions* (raise or clear, with evidence); the engine turns them into alarms,
one open alarm per (type, subject), and records every lifecycle step as a ``Transition``.
Times are the readings' own unix seconds: nothing here reads a clock.

An alarm's id is derived from what raised it (type, subject, time), so replaying the same
readings after a restart yields the same ids and a store can upsert instead of duplicating.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from wayhouse.platform.dms.domain.types import IllegalTransition

RULE_ACTOR = "rule"  # ``by`` of the steps the engine takes itself
# Steps an open alarm keeps in memory (and in the engine's saved state); the store keeps
# all of them. Bounded so an alarm nobody clears cannot grow without end.
HISTORY_KEPT = 8


class AlarmType(StrEnum):
    TEMPERATURE_OUT_OF_RANGE = "temperature_out_of_range"
    HUMIDITY_OUT_OF_RANGE = "humidity_out_of_range"
    WEIGHT_LOSS_UNEXPLAINED = "weight_loss_unexplained"  # lost without a matching pick scan
    WEIGHT_GAIN_UNEXPECTED = "weight_gain_unexpected"  # gained without a put-away scan
    STOCK_DISCREPANCY = "stock_discrepancy"  # sensed != book, confidently, past the settle time
    BELOW_REORDER_POINT = "below_reorder_point"
    LOT_EXPIRING = "lot_expiring"
    DOCUMENT_EXPIRING = "document_expiring"
    DEVICE_OFFLINE = "device_offline"
    SENSOR_STUCK = "sensor_stuck"
    SENSOR_JUMP = "sensor_jump"
    SENSOR_OUT_OF_RANGE = "sensor_out_of_range"
    GEOFENCE_ENTER = "geofence_enter"
    GEOFENCE_EXIT = "geofence_exit"
    OFF_ROUTE = "off_route"
    STOPPED_TOO_LONG = "stopped_too_long"
    PREDICTED_LATE = "predicted_late"


# Something that happened, not a state that can end: a rule may still clear one (weight put
# back), otherwise a person clears it. Everything else auto-clears when its condition ends.
MOMENTARY: frozenset[AlarmType] = frozenset(
    {
        AlarmType.WEIGHT_LOSS_UNEXPLAINED,
        AlarmType.WEIGHT_GAIN_UNEXPECTED,
        AlarmType.GEOFENCE_ENTER,
        AlarmType.GEOFENCE_EXIT,
    }
)


class Severity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"

    @property
    def rank(self) -> int:
        return _RANK[self]


_RANK = {Severity.INFO: 0, Severity.WARNING: 1, Severity.CRITICAL: 2}

DEFAULT_SEVERITY: dict[AlarmType, Severity] = {
    AlarmType.TEMPERATURE_OUT_OF_RANGE: Severity.WARNING,
    AlarmType.HUMIDITY_OUT_OF_RANGE: Severity.WARNING,
    AlarmType.WEIGHT_LOSS_UNEXPLAINED: Severity.CRITICAL,
    AlarmType.WEIGHT_GAIN_UNEXPECTED: Severity.WARNING,
    AlarmType.STOCK_DISCREPANCY: Severity.WARNING,
    AlarmType.BELOW_REORDER_POINT: Severity.INFO,
    AlarmType.LOT_EXPIRING: Severity.WARNING,
    AlarmType.DOCUMENT_EXPIRING: Severity.WARNING,
    AlarmType.DEVICE_OFFLINE: Severity.CRITICAL,
    AlarmType.SENSOR_STUCK: Severity.WARNING,
    AlarmType.SENSOR_JUMP: Severity.WARNING,
    AlarmType.SENSOR_OUT_OF_RANGE: Severity.WARNING,
    AlarmType.GEOFENCE_ENTER: Severity.INFO,
    AlarmType.GEOFENCE_EXIT: Severity.INFO,
    AlarmType.OFF_ROUTE: Severity.WARNING,
    AlarmType.STOPPED_TOO_LONG: Severity.WARNING,
    AlarmType.PREDICTED_LATE: Severity.WARNING,
}


class AlarmState(StrEnum):
    ACTIVE = "active"
    ACKNOWLEDGED = "acknowledged"
    CLEARED = "cleared"


class Action(StrEnum):
    RAISE = "raise"
    ACKNOWLEDGE = "acknowledge"
    CLEAR = "clear"
    REPEAT = "repeat"  # the condition fired again (or changed) while the alarm is open


@dataclass(frozen=True, slots=True)
class Condition:
    """What a rule reports: a condition of ``type`` on ``subject`` began (raised) or ended."""

    type: AlarmType
    subject: str
    raised: bool
    t: float
    message: str = ""
    evidence: dict[str, Any] = field(default_factory=dict)
    severity: Severity | None = None  # None: the type's default
    site: str | None = None

    @property
    def key(self) -> str:
        return alarm_key(self.type, self.subject)


def alarm_key(type_: AlarmType, subject: str) -> str:
    return f"{type_.value}|{subject}"


def alarm_id(type_: AlarmType, subject: str, raised_at: float, n: int = 0) -> str:
    """Derived from what raised it; ``n`` (the engine's count of raises) keeps two alarms of
    one subject raised at the same instant apart."""
    text = f"{type_.value}|{subject}|{raised_at!r}|{n}"
    return hashlib.blake2b(text.encode(), digest_size=10).hexdigest()


@dataclass(frozen=True, slots=True)
class Transition:
    """One recorded step of an alarm; ``(alarm_id, seq)`` identifies it for an idempotent store."""

    alarm_id: str
    seq: int
    type: AlarmType
    subject: str
    action: Action
    from_state: AlarmState | None  # None when raised
    to_state: AlarmState
    t: float
    by: str
    severity: Severity
    reason: str = ""
    message: str = ""
    evidence: dict[str, Any] | None = None  # with raise and repeat
    occurrences: int = 1
    site: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "alarm_id": self.alarm_id,
            "seq": self.seq,
            "type": self.type.value,
            "subject": self.subject,
            "action": self.action.value,
            "from_state": self.from_state.value if self.from_state else None,
            "to_state": self.to_state.value,
            "t": self.t,
            "by": self.by,
            "severity": self.severity.value,
            "reason": self.reason,
            "message": self.message,
            "evidence": self.evidence,
            "occurrences": self.occurrences,
            "site": self.site,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Transition:
        return cls(
            alarm_id=d["alarm_id"],
            seq=int(d["seq"]),
            type=AlarmType(d["type"]),
            subject=d["subject"],
            action=Action(d["action"]),
            from_state=AlarmState(d["from_state"]) if d["from_state"] else None,
            to_state=AlarmState(d["to_state"]),
            t=float(d["t"]),
            by=d["by"],
            severity=Severity(d["severity"]),
            reason=d["reason"],
            message=d["message"],
            evidence=d["evidence"],
            occurrences=int(d["occurrences"]),
            site=d["site"],
        )


@dataclass(slots=True)
class Alarm:
    """One alarm and its history. Mutated only through the lifecycle methods below."""

    id: str
    type: AlarmType
    subject: str
    severity: Severity
    raised_at: float
    message: str
    evidence: dict[str, Any]
    site: str | None = None
    state: AlarmState = AlarmState.ACTIVE
    occurrences: int = 1
    last_seen: float = 0.0
    acknowledged_at: float | None = None
    acknowledged_by: str | None = None
    cleared_at: float | None = None
    cleared_by: str | None = None
    steps: int = 0  # transitions recorded so far: the next one's seq
    history: list[Transition] = field(default_factory=list)  # the last HISTORY_KEPT

    @property
    def momentary(self) -> bool:
        return self.type in MOMENTARY

    @property
    def is_open(self) -> bool:
        return self.state is not AlarmState.CLEARED

    @classmethod
    def raise_(cls, c: Condition, id_: str | None = None) -> tuple[Alarm, Transition]:
        severity = c.severity or DEFAULT_SEVERITY[c.type]
        alarm = cls(
            id=id_ or alarm_id(c.type, c.subject, c.t),
            type=c.type,
            subject=c.subject,
            severity=severity,
            raised_at=c.t,
            message=c.message,
            evidence=c.evidence,
            site=c.site,
            last_seen=c.t,
        )
        return alarm, alarm._record(Action.RAISE, None, c.t, RULE_ACTOR, "", c.evidence)

    def _record(
        self,
        action: Action,
        from_state: AlarmState | None,
        t: float,
        by: str,
        reason: str,
        evidence: dict[str, Any] | None = None,
    ) -> Transition:
        tr = Transition(
            alarm_id=self.id,
            seq=self.steps,
            type=self.type,
            subject=self.subject,
            action=action,
            from_state=from_state,
            to_state=self.state,
            t=t,
            by=by,
            severity=self.severity,
            reason=reason,
            message=self.message,
            evidence=evidence,
            occurrences=self.occurrences,
            site=self.site,
        )
        self.steps += 1
        self.history.append(tr)
        if len(self.history) > HISTORY_KEPT:
            del self.history[0]
        return tr

    def _refuse(self, target: AlarmState, why: str) -> IllegalTransition:
        return IllegalTransition("alarm", self.state.value, target.value, why)

    def acknowledge(self, t: float, by: str, note: str = "") -> Transition:
        if self.state is not AlarmState.ACTIVE:
            raise self._refuse(AlarmState.ACKNOWLEDGED, "only an active alarm is acknowledged")
        if not by.strip():
            raise self._refuse(AlarmState.ACKNOWLEDGED, "who acknowledges it is required")
        before = self.state
        self.state = AlarmState.ACKNOWLEDGED
        self.acknowledged_at = t
        self.acknowledged_by = by
        return self._record(Action.ACKNOWLEDGE, before, t, by, note)

    def clear(self, t: float, by: str, reason: str) -> Transition:
        if self.state is AlarmState.CLEARED:
            raise self._refuse(AlarmState.CLEARED, "it is already cleared")
        if not by.strip() or not reason.strip():
            raise self._refuse(AlarmState.CLEARED, "who clears it and why are required")
        before = self.state
        self.state = AlarmState.CLEARED
        self.cleared_at = t
        self.cleared_by = by
        return self._record(Action.CLEAR, before, t, by, reason)

    def repeat(self, c: Condition, record: bool) -> Transition | None:
        """The condition fired again (or its evidence changed): count it, keep the newest
        evidence, never lower the severity; record a step only when ``record``."""
        self.occurrences += 1
        self.last_seen = c.t
        self.evidence = c.evidence
        if c.message:
            self.message = c.message
        if c.severity is not None and c.severity.rank > self.severity.rank:
            self.severity = c.severity
        if not record:
            return None
        return self._record(Action.REPEAT, self.state, c.t, RULE_ACTOR, "", c.evidence)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": self.type.value,
            "subject": self.subject,
            "severity": self.severity.value,
            "raised_at": self.raised_at,
            "message": self.message,
            "evidence": self.evidence,
            "site": self.site,
            "state": self.state.value,
            "occurrences": self.occurrences,
            "last_seen": self.last_seen,
            "acknowledged_at": self.acknowledged_at,
            "acknowledged_by": self.acknowledged_by,
            "cleared_at": self.cleared_at,
            "cleared_by": self.cleared_by,
            "steps": self.steps,
            "history": [tr.to_dict() for tr in self.history],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Alarm:
        return cls(
            id=d["id"],
            type=AlarmType(d["type"]),
            subject=d["subject"],
            severity=Severity(d["severity"]),
            raised_at=float(d["raised_at"]),
            message=d["message"],
            evidence=d["evidence"],
            site=d["site"],
            state=AlarmState(d["state"]),
            occurrences=int(d["occurrences"]),
            last_seen=float(d["last_seen"]),
            acknowledged_at=d["acknowledged_at"],
            acknowledged_by=d["acknowledged_by"],
            cleared_at=d["cleared_at"],
            cleared_by=d["cleared_by"],
            steps=int(d["steps"]),
            history=[Transition.from_dict(tr) for tr in d["history"]],
        )
