"""What a rule family is, and the debouncers they share.

A rule family is a small streaming evaluator: ``feed(event)`` (and ``tick(now)`` for what
depends on time passing) returns the condition changes it saw, or None when nothing changed
(the common case, so nothing is allocated for it). Its state goes to and from a
JSON-compatible dict; what it watches (bins, sensors) is registration, restored with it.
"""

from __future__ import annotations

from typing import Any, Protocol

from wayhouse.platform.alarms.model import AlarmType, Condition

Changes = list[Condition] | None

NONE = 0
RAISE = 1
CLEAR = 2


class Rule(Protocol):
    """One rule family."""

    name: str

    def feed(self, event: Any) -> Changes: ...

    def tick(self, now: float) -> Changes: ...

    def cleared(self, type_: AlarmType, subject: str) -> None:
        """A person cleared an alarm of this family (forget what it implied)."""

    def reconfigure(self) -> None:
        """Thresholds changed: resolve them again for every subject."""

    def to_dict(self) -> dict[str, Any]: ...

    def load(self, d: dict[str, Any]) -> None: ...


class Debounce:
    """Hysteresis plus a hold time: raise once ``bad`` has held for ``hold_s``; clear once
    ``good`` holds (callers make ``good`` stricter than ``not bad``: the hysteresis band in
    between changes nothing)."""

    __slots__ = ("active", "since")

    def __init__(self) -> None:
        self.active = False
        self.since: float | None = None  # when ``bad`` began while not active

    def update(self, t: float, bad: bool, good: bool, hold_s: float) -> int:
        if self.active:
            if good:
                self.active = False
                self.since = None
                return CLEAR
            return NONE
        if not bad:
            self.since = None
            return NONE
        if self.since is None:
            self.since = t
        if t - self.since >= hold_s:
            self.active = True
            return RAISE
        return NONE

    def to_list(self) -> list[Any]:
        return [self.active, self.since]

    @classmethod
    def from_list(cls, v: list[Any]) -> Debounce:
        d = cls()
        d.active, d.since = bool(v[0]), v[1]
        return d


class Consecutive:
    """Raise after ``n`` bad observations in a row, clear after ``n`` good ones in a row."""

    __slots__ = ("active", "run")

    def __init__(self) -> None:
        self.active = False
        self.run = 0  # length of the current run against the active state

    def update(self, bad: bool, n: int) -> int:
        if bad != self.active:
            self.run += 1
            if self.run >= n:
                self.active = bad
                self.run = 0
                return RAISE if bad else CLEAR
        else:
            self.run = 0
        return NONE

    def to_list(self) -> list[Any]:
        return [self.active, self.run]

    @classmethod
    def from_list(cls, v: list[Any]) -> Consecutive:
        c = cls()
        c.active, c.run = bool(v[0]), int(v[1])
        return c
