"""What tracking tells the alarm engine and the live views.

Conditions come in raise/clear pairs so the alarm engine can keep one open alarm per rule and
subject (``subject``) and clear it when the condition ends.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class EventKind(StrEnum):
    ARRIVED = "arrived"  # value: arrival time; limit: window close (value > limit: late)
    DEPARTED = "departed"  # value: departure time
    LATE_RISK = "late-risk"  # value: ETA; limit: the stop's window close
    LATE_RISK_CLEARED = "late-risk-cleared"
    OFF_ROUTE = "off-route"  # value: metres off the leg; limit: the threshold
    OFF_ROUTE_CLEARED = "off-route-cleared"
    LONG_STOP = "long-stop"  # value: seconds standing; limit: the threshold
    LONG_STOP_CLEARED = "long-stop-cleared"
    ROUTE_FINISHED = "route-finished"


@dataclass(frozen=True, slots=True)
class TrackingEvent:
    kind: EventKind
    at: float  # time of the fix that decided it
    truck_id: str
    route_id: str
    stop_index: int | None = None  # waypoint index in the route
    stop_id: str | None = None
    value: float | None = None
    limit: float | None = None

    @property
    def subject(self) -> str:
        """Alarm subject: per stop for stop conditions, per truck and route otherwise."""
        base = f"{self.truck_id}/{self.route_id}"
        return base if self.stop_index is None else f"{base}/{self.stop_index}"

    def to_dict(self) -> dict[str, object]:
        return {
            "kind": self.kind.value,
            "at": self.at,
            "truck_id": self.truck_id,
            "route_id": self.route_id,
            "stop_index": self.stop_index,
            "stop_id": self.stop_id,
            "value": self.value,
            "limit": self.limit,
        }
