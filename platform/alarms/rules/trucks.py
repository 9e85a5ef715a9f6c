"""Trucks: geofence entry and exit, off route, stopped too long, predicted late.

Tracking computes the geometry (inside which fences, metres from the planned route, ETA);
these rules only judge it:

- geofence: inside (or outside) a fence for ``geofence_dwell_s`` before it counts, so GPS
  jitter at the boundary does not enter and leave every fix; each crossing is an event;
- off route: farther than ``off_route_m`` for ``off_route_hold_s``; clears once back within
  ``off_route_m - off_route_hysteresis_m``;
- stopped too long: slower than ``stop_speed_mps`` away from a planned stop for
  ``stopped_max_s``; clears when it moves or reaches a stop;
- predicted late: the ETA is past the window end by more than ``late_tolerance_s``; clears
  when the ETA is back inside the window, or the delivery is done.
"""

from __future__ import annotations

import math
from typing import Any

from wayhouse.platform.alarms.inputs import EtaUpdate, TruckSample
from wayhouse.platform.alarms.model import AlarmType, Condition
from wayhouse.platform.alarms.thresholds import ThresholdConfig, Thresholds

from .base import RAISE, Changes, Debounce


class _Truck:
    __slots__ = ("inside", "last_t", "off", "pending", "stop", "th", "truck")

    def __init__(self, truck: str, th: Thresholds) -> None:
        self.truck = truck
        self.th = th
        self.last_t = -math.inf
        self.inside: set[str] = set()  # fences it is confirmed inside
        self.pending: dict[str, float] = {}  # fence -> since when its side looks changed
        self.off = Debounce()
        self.stop = Debounce()


class TruckRules:
    name = "trucks"

    def __init__(self, config: ThresholdConfig) -> None:
        self.config = config
        self._trucks: dict[str, _Truck] = {}
        self._sites: dict[str, str | None] = {}
        self._late: dict[str, list[Any]] = {}  # delivery -> [truck, Debounce]

    def register(self, truck: str, site: str | None = None) -> None:
        self._sites[truck] = site
        t = self._trucks.get(truck)
        if t is not None:
            t.th = self._resolve(truck)

    def _resolve(self, truck: str) -> Thresholds:
        return self.config.resolve(site=self._sites.get(truck), device=truck)

    def reconfigure(self) -> None:
        for t in self._trucks.values():
            t.th = self._resolve(t.truck)

    def _truck(self, truck: str) -> _Truck:
        tr = self._trucks.get(truck)
        if tr is None:
            tr = self._trucks[truck] = _Truck(truck, self._resolve(truck))
        return tr

    def feed(self, e: TruckSample | EtaUpdate) -> Changes:
        if isinstance(e, EtaUpdate):
            return self._eta(e)
        tr = self._truck(e.truck)
        t = e.t
        if t <= tr.last_t:
            return None
        if tr.last_t == -math.inf:
            tr.inside = set(e.fences)  # where it is when first seen is no crossing
        tr.last_t = t
        th = tr.th
        site = self._sites.get(e.truck)
        out: list[Condition] = []
        where = {"truck": e.truck, "lat": e.lat, "lon": e.lon, "speed_mps": e.speed_mps}
        # Geofences: a fence whose side differs from the confirmed one is pending until the
        # difference has lasted the dwell time; flipping back cancels it.
        now_in = set(e.fences)
        for fence in now_in ^ tr.inside:
            since = tr.pending.setdefault(fence, t)
            if t - since >= th.geofence_dwell_s:
                del tr.pending[fence]
                entered = fence in now_in
                if entered:
                    tr.inside.add(fence)
                else:
                    tr.inside.discard(fence)
                type_ = AlarmType.GEOFENCE_ENTER if entered else AlarmType.GEOFENCE_EXIT
                verb = "entered" if entered else "left"
                ev = {**where, "fence": fence, "since": since}
                subj = f"truck:{e.truck}/fence:{fence}"
                msg = f"truck {e.truck} {verb} {fence}"
                out.append(Condition(type_, subj, True, since, msg, ev, None, site))
        for fence in [f for f in tr.pending if (f in now_in) == (f in tr.inside)]:
            del tr.pending[fence]
        subj = f"truck:{e.truck}"
        d = e.route_distance_m
        if d is None:
            r = tr.off.update(t, False, True, 0.0)
        else:
            r = tr.off.update(
                t,
                d > th.off_route_m,
                d <= th.off_route_m - th.off_route_hysteresis_m,
                th.off_route_hold_s,
            )
        if r:
            ev = {**where, "route_distance_m": d, "limit_m": th.off_route_m}
            msg = (
                f"truck {e.truck} is {d:.0f} m off its route"
                if r == RAISE and d is not None
                else ""
            )
            out.append(Condition(AlarmType.OFF_ROUTE, subj, r == RAISE, t, msg, ev, None, site))
        slow = e.speed_mps < th.stop_speed_mps
        r = tr.stop.update(t, slow and not e.at_stop, not slow or e.at_stop, th.stopped_max_s)
        if r:
            ev = {**where, "at_stop": e.at_stop, "limit_s": th.stopped_max_s}
            msg = ""
            if r == RAISE:
                ev["stopped_since"] = tr.stop.since
                msg = f"truck {e.truck} stopped away from a stop for {th.stopped_max_s:g} s"
            out.append(
                Condition(AlarmType.STOPPED_TOO_LONG, subj, r == RAISE, t, msg, ev, None, site)
            )
        return out or None

    def _eta(self, e: EtaUpdate) -> Changes:
        entry = self._late.get(e.delivery)
        if entry is None:
            if e.window_end is None:
                return None
            entry = self._late[e.delivery] = [e.truck, Debounce()]
        entry[0] = e.truck
        deb: Debounce = entry[1]
        th = self._truck(e.truck).th
        site = self._sites.get(e.truck)
        subj = f"delivery:{e.delivery}"
        if e.window_end is None:
            del self._late[e.delivery]
            r = deb.update(e.t, False, True, 0.0)
        else:
            late = e.eta - e.window_end
            r = deb.update(e.t, late > th.late_tolerance_s, late <= 0.0, 0.0)
        if not r:
            return None
        ev = {"delivery": e.delivery, "truck": e.truck, "eta": e.eta, "window_end": e.window_end}
        msg = ""
        if r == RAISE and e.window_end is not None:
            msg = f"delivery {e.delivery} predicted {e.eta - e.window_end:.0f} s after its window"
        return [Condition(AlarmType.PREDICTED_LATE, subj, r == RAISE, e.t, msg, ev, None, site)]

    def tick(self, now: float) -> Changes:
        return None

    def cleared(self, type_: AlarmType, subject: str) -> None:
        return None

    def to_dict(self) -> dict[str, Any]:
        return {
            "sites": dict(self._sites),
            "trucks": {
                k: {
                    "last_t": None if tr.last_t == -math.inf else tr.last_t,
                    "inside": sorted(tr.inside),
                    "pending": dict(tr.pending),
                    "off": tr.off.to_list(),
                    "stop": tr.stop.to_list(),
                }
                for k, tr in self._trucks.items()
            },
            "late": {k: [v[0], v[1].to_list()] for k, v in self._late.items()},
        }

    def load(self, d: dict[str, Any]) -> None:
        self._sites = dict(d["sites"])
        self._trucks.clear()
        for k, td in d["trucks"].items():
            tr = self._truck(k)
            tr.last_t = -math.inf if td["last_t"] is None else float(td["last_t"])
            tr.inside = set(td["inside"])
            tr.pending = {f: float(s) for f, s in td["pending"].items()}
            tr.off = Debounce.from_list(td["off"])
            tr.stop = Debounce.from_list(td["stop"])
        self._late = {k: [v[0], Debounce.from_list(v[1])] for k, v in d["late"].items()}
