"""One truck on one planned route, advanced fix by fix.

``RouteTracker.step(state, fix)`` is a pure function of the route, the configuration, the
previous state and the fix: it never reads the clock, so the ingest evaluator, a replay and a
benchmark all get the same progress, ETAs and events from the same fixes.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Protocol

from .eta import Eta, PaceConfig, RouteEta, TravelModel, late_risk
from .events import EventKind, TrackingEvent
from .geofence import FenceConfig, FenceEvent, FenceEventKind, FencePhase, FenceState, step_fence
from .progress import OffRouteWatch, Phase, Progress, StopWatch, locate, remaining_on_polyline
from .route import PlannedRoute, RouteGeometry
from .state import TrackerState


class FixLike(Protocol):
    """A GPS fix: ``edge.schema.GpsReading`` and the simulator's ``GpsFix`` both fit."""

    @property
    def t(self) -> float: ...
    @property
    def lat(self) -> float: ...
    @property
    def lon(self) -> float: ...
    @property
    def spd(self) -> float | None: ...
    @property
    def acc(self) -> float | None: ...


@dataclass(frozen=True, slots=True)
class Fix:
    t: float
    lat: float
    lon: float
    spd: float | None = None
    acc: float | None = None


@dataclass(frozen=True, slots=True)
class TrackingConfig:
    fence: FenceConfig = field(default_factory=FenceConfig)
    pace: PaceConfig = field(default_factory=PaceConfig)
    calibrate: bool = True  # scale model times by the truck's observed pace
    max_fix_accuracy_m: float = 100.0  # coarser fixes update the position, not the fences
    off_route_m: float = 250.0  # from a road polyline
    off_route_chord_m: float = 3000.0  # from the straight chord: roads stray from it
    off_route_min_s: float = 60.0
    off_route_clear_ratio: float = 0.8
    still_speed_mps: float = 0.5
    still_radius_m: float = 30.0
    long_stop_s: float = 600.0
    pace_pause_s: float = 120.0  # standstills longer than this are a break, not slow driving


@dataclass(frozen=True)
class StepResult:
    state: TrackerState
    accepted: bool  # False: a fix not newer than the last one (replay, reorder): ignored
    progress: Progress | None = None
    etas: tuple[Eta, ...] = ()
    events: tuple[TrackingEvent, ...] = ()
    pace: float = 1.0


class RouteTracker:
    def __init__(
        self,
        route: PlannedRoute,
        model: TravelModel | None = None,
        config: TrackingConfig | None = None,
    ) -> None:
        self.route = route
        self.model = model or TravelModel()
        self.cfg = config or TrackingConfig()
        self.geom = RouteGeometry(route, self.cfg.fence)
        self.eta = RouteEta(self.geom, self.model)
        self.n = len(route.waypoints)
        # The end depot may only be "arrived at" once every stop is done: passing by the
        # depot mid-route is not the end of the route.
        self._end_depot = self.n - 1 if route.waypoints[-1].depot else None

    def initial_state(self, pace_prior: float = 1.0) -> TrackerState:
        """The truck assumed at waypoint 0; ``pace_prior``: its pace on the previous trip."""
        return TrackerState.start(self.route.route_id, self.route.truck_id, self.n, pace_prior)

    def pace_of(self, state: TrackerState) -> float:
        """The pace to carry into the truck's next route."""
        if not self.cfg.calibrate:
            return 1.0
        return state.pace.ratio(self.cfg.pace, state.leg_actual_s, state.leg_model_s)

    def leg_pace_of(self, state: TrackerState) -> float:
        """The pace for the rest of the leg being driven."""
        if not self.cfg.calibrate:
            return 1.0
        return state.pace.leg_ratio(self.cfg.pace, state.leg_actual_s, state.leg_model_s)

    def at_stop(self, state: TrackerState) -> int | None:
        """The waypoint the truck is at: a confirmed arrival, or one being entered that is
        the stop due (tentatively, so ETAs need not wait for ``min_dwell_s``). Entering any
        other stop's fence may be driving past it, so that still counts as driving."""
        k = state.fence_at
        if k is None:
            return None
        if state.fence.phase is FencePhase.INSIDE or k == state.leg_to:
            return k
        return None

    def remaining(self, state: TrackerState) -> list[int]:
        """Waypoints still to reach, in planned order."""
        here = self.at_stop(state)
        return [j for j in range(1, self.n) if not state.visited(j) and j != here]

    def mark_arrived(self, state: TrackerState, index: int, at: float) -> TrackerState:
        """A visit confirmed by the driver (proof of delivery) when the fence missed it."""
        if not 1 <= index < self.n or state.arrived[index] is not None:
            return state
        arrived = _set(state.arrived, index, at)
        return replace(state, arrived=arrived, finished=all(a is not None for a in arrived[1:]))

    # ---- the step ----------------------------------------------------------------------

    def step(self, state: TrackerState, fix: FixLike) -> StepResult:
        t = float(fix.t)
        if state.last_t is not None and t <= state.last_t:
            return StepResult(state, accepted=False)
        x, y = self.geom.proj.to_xy(fix.lon, fix.lat)
        events: list[TrackingEvent] = []
        s = replace(state, last_t=t, last_lon=float(fix.lon), last_lat=float(fix.lat))
        if s.finished:
            return StepResult(s, True, Progress(Phase.FINISHED), pace=self.pace_of(s))

        if fix.acc is None or fix.acc <= self.cfg.max_fix_accuracy_m:
            s = self._fences(s, t, x, y, fix, events)

        if s.finished:
            s = self._reset_watches(s, t, events)
            events.append(self._event(EventKind.ROUTE_FINISHED, t))
            return StepResult(s, True, Progress(Phase.FINISHED), (), tuple(events), self.pace_of(s))

        remaining = self.remaining(s)
        k = self.at_stop(s)
        if k is not None:
            progress = Progress(Phase.AT_STOP, at=k)
            s = self._reset_watches(s, t, events)
            pace = leg_pace = self.pace_of(s)
            ready = self._ready_at(s, k)
            t0 = max(t, ready)
            first_m = 0.0
            if remaining and t < ready:  # still arriving or serving: the next leg starts here
                first_m = self.eta.leg_m(k, remaining[0])
            elif remaining:  # free to go and maybe pulling out already: count from the truck
                first_m = self._metres_to(k, remaining[0], fix, x, y)
        else:
            nxt = remaining[0]
            progress = locate(self.geom, x, y, s.leg_from, nxt)
            first_m = self._metres_to(s.leg_from, nxt, fix, x, y)
            s = self._watch_standstill(s, t, x, y, fix.spd, events)
            s = self._watch_off_route(s, t, progress, events)
            s = self._drive_evidence(s, t, nxt, first_m)
            pace = self.pace_of(s)
            leg_pace = self.leg_pace_of(s)
            t0 = t
        etas = tuple(self.eta.schedule(t0, first_m, remaining, pace, leg_pace)) if remaining else ()
        at_risk, risk_events = late_risk(etas, s.at_risk, t, self.route)
        events += risk_events
        s = replace(s, at_risk=at_risk)
        return StepResult(s, True, progress, etas, tuple(events), pace)

    # ---- parts of the step -------------------------------------------------------------

    def _fences(
        self,
        s: TrackerState,
        t: float,
        x: float,
        y: float,
        fix: FixLike,
        events: list[TrackingEvent],
    ) -> TrackerState:
        left: int | None = None
        if s.fence_at is not None:
            k = s.fence_at
            fs, ev = step_fence(self.geom.fences[k], s.fence, t, x, y, self.cfg.fence)
            s = replace(s, fence=fs)
            if ev is not None:
                s = self._on_fence_event(s, k, ev, t, fix, x, y, events)
            if fs.phase is FencePhase.OUTSIDE:
                left = k
                s = replace(s, fence_at=None, fence_arrival=None)
        if s.fence_at is None and not s.finished:
            candidates = [
                j
                for j in range(1, self.n)
                if not s.visited(j)
                and j != left
                and (j != self._end_depot or self._only_left(s, j))
            ]
            k2 = self.geom.nearest_fence(x, y, candidates)
            if k2 is not None:
                metres = self._metres_to(s.leg_from, k2, fix, x, y)
                if k2 == s.leg_to:
                    # Close the leg's evidence at the fence edge, where its clock stops.
                    s = self._drive_evidence(s, t, k2, metres)
                # The arrival itself is the few metres still to go from the first fix inside:
                # better than stamping the fence edge (up to enter_m early).
                arrival = t + self.model.drive_s(metres, t) * self.leg_pace_of(s)
                fs, ev = step_fence(self.geom.fences[k2], FenceState(), t, x, y, self.cfg.fence)
                s = replace(s, fence_at=k2, fence=fs, fence_arrival=arrival)
                if ev is not None:
                    s = self._on_fence_event(s, k2, ev, t, fix, x, y, events)
        return s

    def _only_left(self, s: TrackerState, j: int) -> bool:
        return all(s.visited(i) for i in range(1, self.n) if i != j)

    def _on_fence_event(
        self,
        s: TrackerState,
        k: int,
        ev: FenceEvent,
        t: float,
        fix: FixLike,
        x: float,
        y: float,
        events: list[TrackingEvent],
    ) -> TrackerState:
        w = self.route.waypoints[k]
        if ev.kind is FenceEventKind.ARRIVED:
            pace = s.pace
            if s.leg_t0 is not None and s.leg_to == k:
                # The leg's evidence up to its first fix inside the fence.
                pace = pace.fold(s.leg_actual_s, s.leg_model_s, self.cfg.pace)
            at = min(s.fence_arrival, t) if s.fence_arrival is not None else ev.at
            arrived = _set(s.arrived, k, at)
            close = None if w.close == float("inf") else w.close
            events.append(self._event(EventKind.ARRIVED, t, k, at, close))
            return replace(
                s,
                arrived=arrived,
                pace=pace,
                leg_t0=None,
                leg_to=None,
                leg_actual_s=0.0,
                leg_model_s=0.0,
                leg_paused_s=0.0,
                finished=all(a is not None for a in arrived[1:]),
            )
        # Departed: a new leg starts here, towards the next stop due.
        events.append(self._event(EventKind.DEPARTED, t, k, ev.at))
        s = replace(s, departed=_set(s.departed, k, ev.at), leg_from=k)
        remaining = [j for j in range(1, self.n) if not s.visited(j)]
        if not remaining:
            return s
        return self._start_leg(s, t, remaining[0], self._metres_to(k, remaining[0], fix, x, y))

    def _start_leg(self, s: TrackerState, t: float, to: int, metres: float) -> TrackerState:
        return replace(
            s,
            leg_to=to,
            leg_t0=t,
            leg_m0=metres,
            leg_paused_s=0.0,
            leg_actual_s=0.0,
            leg_model_s=0.0,
        )

    def _metres_to(self, leg_from: int, to: int, fix: FixLike, x: float, y: float) -> float:
        on_road = remaining_on_polyline(self.geom, x, y, leg_from, to)
        if on_road is not None:
            return on_road
        return self.model.road_m((fix.lon, fix.lat), self.route.waypoints[to].lonlat)

    def _drive_evidence(self, s: TrackerState, t: float, nxt: int, metres: float) -> TrackerState:
        """Actual vs modelled seconds for the distance covered on this leg so far."""
        if s.leg_t0 is None or s.leg_to != nxt:
            # Target changed (a stop taken out of order, a manual confirmation): new leg.
            return self._start_leg(s, t, nxt, metres)
        paused = s.leg_paused_s + self._pause_on_leg(s, s.still, t)
        covered = max(s.leg_m0 - metres, 0.0)
        return replace(
            s,
            leg_actual_s=max(t - s.leg_t0 - paused, 0.0),
            leg_model_s=self.model.drive_s(covered, s.leg_t0),
        )

    def _ready_at(self, s: TrackerState, k: int) -> float:
        """When the truck at waypoint k may leave: after service, or the planned start."""
        if k == 0 and s.arrived[0] is None:
            return self.route.depart_at
        a = s.arrived[k]
        if a is None:
            a = s.fence_arrival if s.fence_arrival is not None else s.fence.entered_at
        if a is None:
            return self.route.depart_at if k == 0 else 0.0
        w = self.route.waypoints[k]
        return w.service_start(a) + w.service_s

    def _watch_standstill(
        self,
        s: TrackerState,
        t: float,
        x: float,
        y: float,
        spd: float | None,
        events: list[TrackingEvent],
    ) -> TrackerState:
        cfg = self.cfg
        if self.geom.in_any_exit_zone(x, y):
            return self._reset_still(s, t, events)
        before = s.still
        still, ev = before.step(
            t, x, y, spd, cfg.still_speed_mps, cfg.still_radius_m, cfg.long_stop_s
        )
        s = replace(s, still=still)
        if still.since != before.since:
            s = self._bank_pause(s, before, t)
        if ev == "raised":
            events.append(
                self._event(EventKind.LONG_STOP, t, None, still.still_for(t), cfg.long_stop_s)
            )
        elif ev == "cleared":
            events.append(
                self._event(
                    EventKind.LONG_STOP_CLEARED, t, None, before.still_for(t), cfg.long_stop_s
                )
            )
        return s

    def _pause_on_leg(self, s: TrackerState, still: StopWatch, t: float) -> float:
        """Seconds of a long standstill (a break, not slow driving) within the current leg."""
        if still.since is None or s.leg_t0 is None or still.still_for(t) < self.cfg.pace_pause_s:
            return 0.0
        return t - max(still.since, s.leg_t0)

    def _bank_pause(self, s: TrackerState, ended: StopWatch, t: float) -> TrackerState:
        """A standstill that just ended: its time leaves the leg's pace evidence for good."""
        return replace(s, leg_paused_s=s.leg_paused_s + self._pause_on_leg(s, ended, t))

    def _reset_still(self, s: TrackerState, t: float, events: list[TrackingEvent]) -> TrackerState:
        before = s.still
        still, ev = before.reset()
        s = self._bank_pause(replace(s, still=still), before, t)
        if ev == "cleared":
            events.append(
                self._event(
                    EventKind.LONG_STOP_CLEARED, t, None, before.still_for(t), self.cfg.long_stop_s
                )
            )
        return s

    def _watch_off_route(
        self, s: TrackerState, t: float, progress: Progress, events: list[TrackingEvent]
    ) -> TrackerState:
        cfg = self.cfg
        limit = cfg.off_route_m if progress.on_polyline else cfg.off_route_chord_m
        watch, ev = s.off_route.step(
            t, progress.off_route_m, limit, cfg.off_route_min_s, cfg.off_route_clear_ratio
        )
        if ev == "raised":
            events.append(self._event(EventKind.OFF_ROUTE, t, None, progress.off_route_m, limit))
        elif ev == "cleared":
            events.append(
                self._event(EventKind.OFF_ROUTE_CLEARED, t, None, progress.off_route_m, limit)
            )
        return replace(s, off_route=watch)

    def _reset_watches(
        self, s: TrackerState, t: float, events: list[TrackingEvent]
    ) -> TrackerState:
        """At a stop (or done): neither off the route nor standing somewhere odd."""
        s = self._reset_still(s, t, events)
        if s.off_route.active:
            events.append(self._event(EventKind.OFF_ROUTE_CLEARED, t, None, 0.0, None))
        return replace(s, off_route=OffRouteWatch())

    def _event(
        self,
        kind: EventKind,
        t: float,
        index: int | None = None,
        value: float | None = None,
        limit: float | None = None,
    ) -> TrackingEvent:
        stop_id = None if index is None else self.route.waypoints[index].id
        return TrackingEvent(
            kind, t, self.route.truck_id, self.route.route_id, index, stop_id, value, limit
        )


def _set(values: tuple[float | None, ...], i: int, v: float) -> tuple[float | None, ...]:
    return (*values[:i], v, *values[i + 1 :])
