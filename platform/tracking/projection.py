"""A local metric plane for one route area: lon/lat <-> metres through pyproj.

An azimuthal equidistant projection centred on the area keeps distances within ~1e-5 of the
geodesic out to 50 km from the centre, which is what geofences and off-route distances need;
a UTM zone would be off by up to 4e-4 and breaks at zone edges. Transformers are costly to
build and (pyproj >= 3.1) safe to share between threads, so they are cached per centre.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from functools import lru_cache

from pyproj import CRS, Transformer

LonLat = tuple[float, float]

# Centres are rounded so that routes of the same area share one cached transformer pair;
# 0.01 degree moves the centre by ~1 km, which changes distortion by nothing measurable.
_CENTRE_DECIMALS = 2


@lru_cache(maxsize=256)
def _transformers(lon0: float, lat0: float) -> tuple[Transformer, Transformer]:
    crs = CRS.from_proj4(
        f"+proj=aeqd +lat_0={lat0} +lon_0={lon0} +x_0=0 +y_0=0 +datum=WGS84 +units=m +no_defs"
    )
    forward = Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    inverse = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
    return forward, inverse


class LocalProjection:
    """Metres east (x) and north (y) of a centre; ``always_xy``: lon first, like GeoJSON."""

    __slots__ = ("_fwd", "_inv", "lat0", "lon0")

    def __init__(self, lon0: float, lat0: float) -> None:
        if not (-180.0 <= lon0 <= 180.0 and -90.0 < lat0 < 90.0):
            raise ValueError(f"projection centre out of range: lon {lon0}, lat {lat0}")
        self.lon0 = round(lon0, _CENTRE_DECIMALS)
        self.lat0 = round(lat0, _CENTRE_DECIMALS)
        self._fwd, self._inv = _transformers(self.lon0, self.lat0)

    @classmethod
    def for_points(cls, points: Iterable[LonLat]) -> LocalProjection:
        """Centred on the points' mean; longitudes are averaged as unit vectors so that an
        area straddling the antimeridian gets a centre inside it."""
        pts = list(points)
        if not pts:
            raise ValueError("a projection needs at least one point")
        sx = math.fsum(math.cos(math.radians(lon)) for lon, _ in pts)
        sy = math.fsum(math.sin(math.radians(lon)) for lon, _ in pts)
        lon0 = math.degrees(math.atan2(sy, sx)) if (sx or sy) else 0.0
        lat0 = math.fsum(lat for _, lat in pts) / len(pts)
        return cls(lon0, lat0)

    def to_xy(self, lon: float, lat: float) -> tuple[float, float]:
        x, y = self._fwd.transform(lon, lat)
        return float(x), float(y)

    def to_lonlat(self, x: float, y: float) -> LonLat:
        lon, lat = self._inv.transform(x, y)
        return float(lon), float(lat)

    def many_to_xy(self, points: Iterable[LonLat]) -> list[tuple[float, float]]:
        pts = list(points)
        if not pts:
            return []
        xs, ys = self._fwd.transform([p[0] for p in pts], [p[1] for p in pts])
        return [(float(x), float(y)) for x, y in zip(xs, ys, strict=True)]

    def __repr__(self) -> str:
        return f"LocalProjection(lon0={self.lon0}, lat0={self.lat0})"
