"""Tracking's own events as alarm conditions.

Tracking (``platform/tracking``) already judges arrivals and departures at stop fences,
off-route, long stops and late risk with its geometry and ETA model, and emits them in
raise/clear pairs. The ingest evaluator may pass those through ``AlarmEngine.report`` with
this mapping instead of feeding ``TruckSample``/``EtaUpdate`` to the truck rules (then the
thresholds are tracking's). Duck-typed on the event's fields, so alarms need not import
tracking.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from wayhouse.platform.alarms.model import AlarmType, Condition

# tracking event kind -> (alarm type, raised)
KINDS: dict[str, tuple[AlarmType, bool]] = {
    "arrived": (AlarmType.GEOFENCE_ENTER, True),
    "departed": (AlarmType.GEOFENCE_EXIT, True),
    "late-risk": (AlarmType.PREDICTED_LATE, True),
    "late-risk-cleared": (AlarmType.PREDICTED_LATE, False),
    "off-route": (AlarmType.OFF_ROUTE, True),
    "off-route-cleared": (AlarmType.OFF_ROUTE, False),
    "long-stop": (AlarmType.STOPPED_TOO_LONG, True),
    "long-stop-cleared": (AlarmType.STOPPED_TOO_LONG, False),
}


class TrackingEventLike(Protocol):
    @property
    def kind(self) -> str: ...
    @property
    def at(self) -> float: ...
    @property
    def truck_id(self) -> str: ...
    @property
    def route_id(self) -> str: ...
    @property
    def stop_id(self) -> str | None: ...
    @property
    def value(self) -> float | None: ...
    @property
    def limit(self) -> float | None: ...
    @property
    def subject(self) -> str: ...


def conditions_from_tracking(
    events: Iterable[TrackingEventLike], site: str | None = None
) -> list[Condition]:
    out = []
    for e in events:
        mapped = KINDS.get(str(e.kind))
        if mapped is None:
            continue  # route-finished and the like: progress, not alarms
        type_, raised = mapped
        ev = {
            "truck": e.truck_id,
            "route": e.route_id,
            "stop": e.stop_id,
            "value": e.value,
            "limit": e.limit,
            "tracking": str(e.kind),
        }
        msg = (
            f"truck {e.truck_id}: {e.kind}" + (f" at {e.stop_id}" if e.stop_id else "")
            if raised
            else ""
        )
        out.append(Condition(type_, f"truck:{e.subject}", raised, e.at, msg, ev, None, site))
    return out
