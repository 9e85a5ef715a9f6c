"""Distance and duration matrices.

Geographic problems: geodesic distance (WGS84) times a road factor, or a road router's table;
travel times from a time-of-day speed profile. Benchmarks: Euclidean distances, optionally
truncated to one decimal as in the DIMACS/CVRPLIB convention.
"""

from __future__ import annotations

import bisect
import hashlib
import logging
import math
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import httpx
import numpy as np
from pyproj import Geod

from .model import FloatMatrix, Point, TravelMatrix

log = logging.getLogger(__name__)

DAY_S = 86_400.0
_GEOD = Geod(ellps="WGS84")


def euclidean_matrix(points: Sequence[Point], decimals: int | None = None) -> TravelMatrix:
    """Euclidean distance, duration equal to distance (Solomon's benchmark definition).

    With `decimals`, every arc is truncated (floored) to that many decimals: the DIMACS rule
    `floor(10 d) / 10` for decimals=1. Integer coordinates are truncated in exact integer
    arithmetic so that no arc lands one unit low through a rounding error of sqrt.
    """
    xy = np.array([(p.x, p.y) for p in points], dtype=np.float64)
    diff = xy[:, None, :] - xy[None, :, :]
    if decimals is None:
        d = np.sqrt((diff**2).sum(axis=2))
    elif np.all(xy == np.round(xy)) and np.abs(xy).max(initial=0) < 1e6:
        scale = 10**decimals
        sq = (diff.astype(np.int64) ** 2).sum(axis=2) * scale * scale
        d = (
            np.array([math.isqrt(int(v)) for v in sq.ravel()], dtype=np.float64).reshape(sq.shape)
            / scale
        )
    else:
        scale = 10.0**decimals
        d = np.floor(np.sqrt((diff**2).sum(axis=2)) * scale + 1e-9) / scale
    return TravelMatrix(d, d.copy())


@dataclass(frozen=True, slots=True)
class SpeedProfile:
    """Piecewise-constant speed (km/h) by time of day (seconds since midnight), daily cycle."""

    breakpoints: tuple[tuple[float, float], ...] = ((0.0, 50.0),)

    def __post_init__(self) -> None:
        times = [t for t, _ in self.breakpoints]
        if not times or times[0] != 0.0 or times != sorted(times) or times[-1] >= DAY_S:
            raise ValueError("breakpoints must start at 0 s and increase within one day")
        if any(v <= 0 for _, v in self.breakpoints):
            raise ValueError("speeds must be positive")

    @classmethod
    def constant(cls, kmh: float) -> SpeedProfile:
        return cls(((0.0, kmh),))

    def speed_at(self, t: float) -> float:
        day_t = t % DAY_S
        i = bisect.bisect_right([b for b, _ in self.breakpoints], day_t) - 1
        return self.breakpoints[i][1]

    def travel_time(self, metres: float, depart: float) -> float:
        """Seconds to drive `metres` leaving at `depart`, switching speed at breakpoints.

        Integrating over the periods keeps FIFO: leaving later never arrives earlier.
        """
        t, left = float(depart), float(metres)
        while left > 1e-9:
            day_t = t % DAY_S
            times = [b for b, _ in self.breakpoints]
            i = bisect.bisect_right(times, day_t) - 1
            period_end = times[i + 1] if i + 1 < len(times) else DAY_S
            mps = self.breakpoints[i][1] / 3.6
            span = period_end - day_t
            if left <= span * mps:
                return t + left / mps - depart
            left -= span * mps
            t += span
        return t - depart

    def min_speed(self, start: float, end: float) -> float:
        """Slowest speed in force at any time in [start, end]."""
        if end - start >= DAY_S:
            return min(v for _, v in self.breakpoints)
        speeds = [self.speed_at(start)]
        for day in range(int(start // DAY_S), int(end // DAY_S) + 1):
            for b, v in self.breakpoints:
                if start <= day * DAY_S + b <= end:
                    speeds.append(v)
        return min(speeds)


class RoadRouter(Protocol):
    """A road network router: metres and seconds between all pairs of points (lon/lat)."""

    @property
    def name(self) -> str: ...

    def table(self, points: Sequence[Point]) -> tuple[FloatMatrix, FloatMatrix]: ...


class OsrmTableRouter:
    """OSRM `table` service client; requests are split in blocks under the server's size cap.

    Pairs the server cannot route come back as NaN and the caller falls back to geodesic.
    """

    def __init__(
        self,
        url: str,
        profile: str = "driving",
        block: int = 100,
        timeout_s: float = 30.0,
        client: httpx.Client | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.profile = profile
        self.block = block
        self._client = client or httpx.Client(timeout=timeout_s)

    @property
    def name(self) -> str:
        return f"osrm:{self.url}:{self.profile}"

    def table(self, points: Sequence[Point]) -> tuple[FloatMatrix, FloatMatrix]:
        n = len(points)
        dist = np.full((n, n), np.nan)
        dur = np.full((n, n), np.nan)
        blocks = [list(range(i, min(i + self.block, n))) for i in range(0, n, self.block)]
        for src in blocks:
            for dst in blocks:
                idx = src + [j for j in dst if j not in src]
                coords = ";".join(f"{points[k].x:.6f},{points[k].y:.6f}" for k in idx)
                pos = {k: p for p, k in enumerate(idx)}
                resp = self._client.get(
                    f"{self.url}/table/v1/{self.profile}/{coords}",
                    params={
                        "sources": ";".join(str(pos[k]) for k in src),
                        "destinations": ";".join(str(pos[k]) for k in dst),
                        "annotations": "distance,duration",
                    },
                )
                resp.raise_for_status()
                body = resp.json()
                if body.get("code") != "Ok":
                    raise RuntimeError(
                        f"OSRM table failed: {body.get('code')} {body.get('message', '')}"
                    )
                d = np.array(body["distances"], dtype=np.float64)  # None -> nan
                t = np.array(body["durations"], dtype=np.float64)
                dist[np.ix_(src, dst)] = d
                dur[np.ix_(src, dst)] = t
        return dist, dur


def geodesic_distances(points: Sequence[Point]) -> FloatMatrix:
    """Pairwise WGS84 geodesic distances in metres (points are lon/lat)."""
    lon = np.array([p.x for p in points], dtype=np.float64)
    lat = np.array([p.y for p in points], dtype=np.float64)
    n = len(points)
    lon1, lon2 = np.repeat(lon, n), np.tile(lon, n)
    lat1, lat2 = np.repeat(lat, n), np.tile(lat, n)
    _, _, d = _GEOD.inv(lon1, lat1, lon2, lat2)
    out = np.asarray(d, dtype=np.float64).reshape(n, n)
    np.fill_diagonal(out, 0.0)
    return out


class MatrixBuilder:
    """Builds geographic matrices and caches them (an OSRM table is slow; geodesics are not).

    Durations: with `window=(start, end)` (seconds of the planning day) every arc takes the
    time at the slowest speed in force during that window. That static matrix is an upper
    bound of the time-dependent travel time, so a plan feasible on it stays feasible under the
    profile; without a window the profile's speed at `depart` is used.
    """

    def __init__(
        self,
        road_factor: float = 1.3,
        profile: SpeedProfile | None = None,
        router: RoadRouter | None = None,
        cache_size: int = 32,
    ) -> None:
        if road_factor < 1.0:
            raise ValueError("road factor below 1 would make roads shorter than geodesics")
        self.road_factor = road_factor
        self.profile = profile or SpeedProfile.constant(50.0)
        self.router = router
        self.cache_size = cache_size
        self._cache: OrderedDict[str, TravelMatrix] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def _key(
        self, points: Sequence[Point], window: tuple[float, float] | None, depart: float
    ) -> str:
        h = hashlib.blake2b(digest_size=16)
        h.update(np.array([(p.x, p.y) for p in points], dtype=np.float64).round(7).tobytes())
        h.update(
            repr(
                (
                    self.road_factor,
                    self.profile,
                    window,
                    depart,
                    self.router.name if self.router else None,
                )
            ).encode()
        )
        return h.hexdigest()

    def build(
        self,
        points: Sequence[Point],
        window: tuple[float, float] | None = None,
        depart: float = 0.0,
    ) -> TravelMatrix:
        key = self._key(points, window, depart)
        if key in self._cache:
            self.hits += 1
            self._cache.move_to_end(key)
            return self._cache[key]
        self.misses += 1
        matrix = self._compute(points, window, depart)
        self._cache[key] = matrix
        if len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
        return matrix

    def _compute(
        self, points: Sequence[Point], window: tuple[float, float] | None, depart: float
    ) -> TravelMatrix:
        dist = geodesic_distances(points) * self.road_factor
        road_time: FloatMatrix | None = None
        if self.router is not None:
            r_dist, r_time = self.router.table(points)
            missing = np.isnan(r_dist) | np.isnan(r_time)
            if missing.any():
                log.warning(
                    "router %s: %d unroutable pairs, using geodesic for them",
                    self.router.name,
                    int(missing.sum()),
                )
            dist = np.where(missing, dist, r_dist)
            road_time = np.where(missing, np.nan, r_time)
        if window is not None:
            mps = self.profile.min_speed(*window) / 3.6
            dur = dist / mps
        else:
            travel = np.vectorize(
                lambda m: self.profile.travel_time(float(m), float(depart)), otypes=[np.float64]
            )
            dur = travel(dist)
        if road_time is not None:
            # The router's free-flow time scaled by how much slower the profile is right now.
            ref = dist / (max(v for _, v in self.profile.breakpoints) / 3.6)
            with np.errstate(invalid="ignore", divide="ignore"):
                ratio = np.where(ref > 0, dur / ref, 1.0)
            dur = np.where(np.isnan(road_time), dur, road_time * ratio)
        np.fill_diagonal(dist, 0.0)
        np.fill_diagonal(dur, 0.0)
        return TravelMatrix(np.ascontiguousarray(dist), np.ascontiguousarray(dur))
