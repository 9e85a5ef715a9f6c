"""``wayhouse bench eta``: ETA accuracy on the simulator's own drives against its true arrivals.

Every truck of the default scenario (for each seed) drives its routes for ``hours``; its GPS
fixes go through the live tracker (``platform/tracking``) with the travel model the planner
uses, and every ETA given while the stop was at most ``horizon_s`` away is compared with the
simulator's true arrival. The trucks' speeds are unknown to the tracker (10-14 m/s against a
45 km/h model on roads 1.3 x the chord), and with ``leg_speed_jitter`` each leg is driven at
its own speed (+-jitter), so one learnt pace does not fit the next leg. The issue's target:
p90 of |error| at most 3 minutes once a truck is under an hour from the stop. Reported, not
asserted: the JSON holds p50/p90 per jitter, by lead time, and without pace calibration.
"""

from __future__ import annotations

import dataclasses
import platform
import sys
import time
from collections.abc import Sequence
from typing import Any

from wayhouse.platform.tracking.eta_eval import (
    EtaError,
    eta_errors,
    routes_from_schedule,
    summarise,
    track_drive,
)
from wayhouse.platform.tracking.plans import travel_model
from wayhouse.platform.tracking.tracker import TrackingConfig
from wayhouse.simulators.scenario import default_scenario
from wayhouse.simulators.trucks import TruckSim

TARGET_P90_S = 180.0
# 2026-01-05 06:00 UTC, a Monday morning: the start of the simulated day.
START = 1_767_592_800.0
LEADS = ((0.0, 900.0), (900.0, 1800.0), (1800.0, 3600.0))


def _log(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _trucks(seed: int, jitter: float) -> list[TruckSim]:
    sc = default_scenario(seed)
    return [
        TruckSim(
            dataclasses.replace(spec, leg_speed_jitter=jitter),
            sc.depot,
            list(route),
            start_time=START,
            seed=seed,
            customers=list(sc.customers),
        )
        for spec, route in zip(sc.trucks, sc.first_routes, strict=True)
    ]


def _by_lead(errors: Sequence[EtaError]) -> dict[str, dict[str, float | int]]:
    out = {}
    for lo, hi in LEADS:
        part = [e for e in errors if lo < e.lead_s <= hi]
        out[f"{int(lo // 60)}-{int(hi // 60)}min"] = summarise(part).to_dict()
    return out


def measure(jitter: float, seeds: Sequence[int], hours: float, horizon_s: float) -> dict[str, Any]:
    model = travel_model()
    calibrated: list[EtaError] = []
    raw: list[EtaError] = []
    trucks = routes_n = 0
    for seed in seeds:
        for truck in _trucks(seed, jitter):
            until = START + hours * 3600.0
            truck.visits_until(until)
            fixes = truck.fixes_until(until)
            routes, truth = routes_from_schedule(
                truck.spec.agent_id, truck.depot, START, truck.visits
            )
            calibrated += eta_errors(track_drive(routes, fixes, model), truth, horizon_s)
            raw += eta_errors(
                track_drive(routes, fixes, model, TrackingConfig(calibrate=False)),
                truth,
                horizon_s,
            )
            trucks += 1
            routes_n += len(routes)
    stats = summarise(calibrated)
    return {
        "leg_speed_jitter": jitter,
        "trucks": trucks,
        "routes": routes_n,
        **stats.to_dict(),
        "meets_target": stats.p90_s <= TARGET_P90_S,
        "by_lead": _by_lead(calibrated),
        "uncalibrated": summarise(raw).to_dict(),
    }


def run(
    jitters: Sequence[float] = (0.15, 0.0),
    seeds: Sequence[int] = (0, 1, 2),
    hours: float = 10.0,
    horizon_s: float = 3600.0,
) -> dict[str, Any]:
    t0, c0 = time.perf_counter(), time.process_time()
    results = []
    for jitter in jitters:
        _log(f"eta: jitter {jitter:.2f}, seeds {list(seeds)}, {hours:g} h per truck ...")
        r = measure(jitter, seeds, hours, horizon_s)
        _log(f"eta: jitter {jitter:.2f}: n={r['n']} p50={r['p50_s']:.0f}s p90={r['p90_s']:.0f}s")
        results.append(r)
    return {
        "benchmark": "eta",
        "target": f"p90 of |ETA error| <= {TARGET_P90_S:.0f} s within {horizon_s:.0f} s of arrival",
        "target_p90_s": TARGET_P90_S,
        "horizon_s": horizon_s,
        "hours_per_truck": hours,
        "seeds": list(seeds),
        "gps_interval_s": 5.0,
        "results": results,
        "wall_s": round(time.perf_counter() - t0, 1),
        "cpu_s": round(time.process_time() - c0, 1),
        "python": platform.python_version(),
    }
