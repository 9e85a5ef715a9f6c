"""Per-truck tracker state: everything one fix needs from the ones before it.

Immutable and plain (numbers, strings, tuples), so it round-trips through a dict (JSON) for
the adapter to keep per truck; replaying fixes into a restored state continues exactly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .eta import Pace
from .geofence import FencePhase, FenceState
from .progress import OffRouteWatch, StopWatch

STATE_VERSION = 1


@dataclass(frozen=True)
class TrackerState:
    route_id: str
    truck_id: str
    arrived: tuple[float | None, ...]  # per waypoint; waypoint 0 is where the truck starts
    departed: tuple[float | None, ...]
    fence_at: int | None = 0  # waypoint whose fence the truck is in (starts at waypoint 0)
    fence: FenceState = field(default_factory=lambda: FenceState(FencePhase.INSIDE))
    fence_arrival: float | None = None  # estimated arrival at ``fence_at``
    last_t: float | None = None
    last_lon: float | None = None
    last_lat: float | None = None
    # The leg being driven: from the last waypoint left to the one due, with its evidence.
    leg_from: int = 0
    leg_to: int | None = None
    leg_t0: float | None = None
    leg_m0: float = 0.0  # road metres left to ``leg_to`` when the leg started
    leg_paused_s: float = 0.0  # long standstills on this leg, not counted as driving pace
    leg_actual_s: float = 0.0
    leg_model_s: float = 0.0
    pace: Pace = field(default_factory=Pace)
    off_route: OffRouteWatch = field(default_factory=OffRouteWatch)
    still: StopWatch = field(default_factory=StopWatch)
    at_risk: frozenset[int] = frozenset()
    finished: bool = False

    @classmethod
    def start(
        cls, route_id: str, truck_id: str, n_waypoints: int, pace_prior: float = 1.0
    ) -> TrackerState:
        none: tuple[float | None, ...] = (None,) * n_waypoints
        return cls(route_id, truck_id, none, none, pace=Pace(prior=pace_prior))

    def visited(self, j: int) -> bool:
        return j == 0 or self.arrived[j] is not None

    def to_dict(self) -> dict[str, Any]:
        return {
            "v": STATE_VERSION,
            "route_id": self.route_id,
            "truck_id": self.truck_id,
            "arrived": list(self.arrived),
            "departed": list(self.departed),
            "fence_at": self.fence_at,
            "fence": self.fence.to_dict(),
            "fence_arrival": self.fence_arrival,
            "last_t": self.last_t,
            "last_lon": self.last_lon,
            "last_lat": self.last_lat,
            "leg": {
                "from": self.leg_from,
                "to": self.leg_to,
                "t0": self.leg_t0,
                "m0": self.leg_m0,
                "paused_s": self.leg_paused_s,
                "actual_s": self.leg_actual_s,
                "model_s": self.leg_model_s,
            },
            "pace": {
                "actual_s": self.pace.actual_s,
                "model_s": self.pace.model_s,
                "prior": self.pace.prior,
            },
            "off_route": {"since": self.off_route.since, "active": self.off_route.active},
            "still": {
                "x": self.still.x,
                "y": self.still.y,
                "since": self.still.since,
                "active": self.still.active,
            },
            "at_risk": sorted(self.at_risk),
            "finished": self.finished,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrackerState:
        if d.get("v") != STATE_VERSION:
            raise ValueError(f"tracker state version {d.get('v')!r}, expected {STATE_VERSION}")
        leg, pace, off, still = d["leg"], d["pace"], d["off_route"], d["still"]
        return cls(
            route_id=str(d["route_id"]),
            truck_id=str(d["truck_id"]),
            arrived=tuple(_f(v) for v in d["arrived"]),
            departed=tuple(_f(v) for v in d["departed"]),
            fence_at=None if d["fence_at"] is None else int(d["fence_at"]),
            fence=FenceState.from_dict(d["fence"]),
            fence_arrival=_f(d["fence_arrival"]),
            last_t=_f(d["last_t"]),
            last_lon=_f(d["last_lon"]),
            last_lat=_f(d["last_lat"]),
            leg_from=int(leg["from"]),
            leg_to=None if leg["to"] is None else int(leg["to"]),
            leg_t0=_f(leg["t0"]),
            leg_m0=float(leg["m0"]),
            leg_paused_s=float(leg["paused_s"]),
            leg_actual_s=float(leg["actual_s"]),
            leg_model_s=float(leg["model_s"]),
            pace=Pace(float(pace["actual_s"]), float(pace["model_s"]), float(pace["prior"])),
            off_route=OffRouteWatch(_f(off["since"]), bool(off["active"])),
            still=StopWatch(
                _f(still["x"]), _f(still["y"]), _f(still["since"]), bool(still["active"])
            ),
            at_risk=frozenset(int(k) for k in d["at_risk"]),
            finished=bool(d["finished"]),
        )


def _f(v: object) -> float | None:
    return None if v is None else float(v)  # type: ignore[arg-type]
