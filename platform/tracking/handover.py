"""Handing a truck's tracking over to a changed route (a re-plan, a new plan, a restart).

A re-plan renumbers the stops, so a state cannot simply be reused: ``carry_over`` builds the
state on the new route from what is known for good (each stop's arrival and departure, by stop
id, from the old state and from the database), the truck's last fix, its fence if it is
standing at a stop that is still on the route, and its pace. The leg in progress restarts
from the next fix. ``closing_events`` clears the conditions open on the old route (late risk,
off route, long stop), whose subjects name the old stop numbers; the new route raises them
again on its next fix if they still hold.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from .events import EventKind, TrackingEvent
from .geofence import FencePhase, FenceState
from .state import TrackerState
from .tracker import RouteTracker


def _index_map(old_ids: Sequence[str], new_ids: Sequence[str]) -> dict[int, int]:
    """Old waypoint index -> new one: stops by id; the start and the end depot by position
    (the depot's id appears at both ends)."""
    out = {0: 0}
    new_inner = {w: j for j, w in enumerate(new_ids) if 0 < j < len(new_ids) - 1}
    for i, w in enumerate(old_ids):
        if 0 < i < len(old_ids) - 1 and w in new_inner:
            out[i] = new_inner[w]
    if old_ids[-1] == new_ids[-1]:
        out[len(old_ids) - 1] = len(new_ids) - 1
    return out


def carry_over(
    tracker: RouteTracker,
    *,
    old: TrackerState | None = None,
    old_ids: Sequence[str] | None = None,
    arrived: Mapping[int, float] | None = None,
    departed: Mapping[int, float] | None = None,
    pace_prior: float = 1.0,
) -> TrackerState:
    """The state for ``tracker``'s route. ``old``/``old_ids``: the state on the previous
    version of the route and its waypoint ids; ``arrived``/``departed``: times recorded in
    the database, by index on the new route (they fill what the old state lacks)."""
    n = tracker.n
    new_ids = [w.id for w in tracker.route.waypoints]
    arr: list[float | None] = [None] * n
    dep: list[float | None] = [None] * n
    mapping: dict[int, int] = {}
    if old is not None and old_ids is not None and len(old_ids) == len(old.arrived):
        mapping = _index_map(old_ids, new_ids)
        for i, j in mapping.items():
            arr[j] = old.arrived[i]
            dep[j] = old.departed[i]
    for j, t in (arrived or {}).items():
        if 0 < j < n and arr[j] is None:
            arr[j] = t
    for j, t in (departed or {}).items():
        if 0 < j < n and dep[j] is None:
            dep[j] = t
    s = tracker.initial_state(pace_prior)
    if old is not None and mapping:
        s = replace(
            s,
            pace=old.pace,
            last_t=old.last_t,
            last_lon=old.last_lon,
            last_lat=old.last_lat,
        )
    left = [j for j in range(n) if dep[j] is not None]
    leg_from = max(left, default=0)
    fence_at: int | None = s.fence_at
    fence = s.fence
    fence_arrival = None
    if old is not None and mapping:
        fence_at = mapping.get(old.fence_at) if old.fence_at is not None else None
        if fence_at is not None:
            fence, fence_arrival = old.fence, old.fence_arrival
        else:
            fence = FenceState()
        if old.leg_from in mapping:
            leg_from = max(leg_from, mapping[old.leg_from])
    elif any(arr[j] is not None or dep[j] is not None for j in range(1, n)):
        # No state to go by, but the truck is out: at the stop reached last if it has not
        # left it, else on the road.
        here = [j for j in range(1, n) if arr[j] is not None and dep[j] is None]
        if here:
            k = max(here, key=lambda j: arr[j] or 0.0)
            fence_at, fence = k, FenceState(FencePhase.INSIDE, entered_at=arr[k])
        else:
            fence_at, fence = None, FenceState()
    return replace(
        s,
        arrived=tuple(arr),
        departed=tuple(dep),
        fence_at=fence_at,
        fence=fence,
        fence_arrival=fence_arrival,
        leg_from=leg_from,
        finished=all(a is not None for a in arr[1:]),
    )


def closing_events(tracker: RouteTracker, state: TrackerState, at: float) -> list[TrackingEvent]:
    """Clear every condition open on this route (it is being replaced or dropped)."""
    route = tracker.route
    rid, tid = route.route_id, route.truck_id
    out = [
        TrackingEvent(
            EventKind.LATE_RISK_CLEARED,
            at,
            tid,
            rid,
            k,
            route.waypoints[k].id,
            None,
            route.waypoints[k].close,
        )
        for k in sorted(state.at_risk)
    ]
    if state.off_route.active:
        out.append(TrackingEvent(EventKind.OFF_ROUTE_CLEARED, at, tid, rid))
    if state.still.active:
        out.append(TrackingEvent(EventKind.LONG_STOP_CLEARED, at, tid, rid))
    return out
