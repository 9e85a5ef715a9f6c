"""Local projection: lon/lat round trip, metres agree with the WGS84 geodesic, caching."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import Geod

from wayhouse.platform.tracking.projection import LocalProjection, _transformers

GEOD = Geod(ellps="WGS84")
LYON = (4.9575, 45.7262)

# Points within ~0.45 degrees (~50 km) of the centre, at a few latitudes.
centres = st.sampled_from([LYON, (116.4, 39.9), (-70.6, -33.4), (18.0, 69.6)])
offsets = st.tuples(st.floats(-0.45, 0.45), st.floats(-0.45, 0.45))


def _near(centre: tuple[float, float], off: tuple[float, float]) -> tuple[float, float]:
    # Shrink the longitude step with latitude so every point stays within ~50 km.
    lon0, lat0 = centre
    return lon0 + off[0] / math.cos(math.radians(lat0)), lat0 + off[1]


@settings(max_examples=200, deadline=None)
@given(centres, offsets)
def test_round_trip_returns_the_same_point(
    centre: tuple[float, float], off: tuple[float, float]
) -> None:
    proj = LocalProjection(*centre)
    lon, lat = _near(centre, off)
    back = proj.to_lonlat(*proj.to_xy(lon, lat))
    # 1e-8 degree is ~1 mm (PROJ snaps points within ~0.1 mm of the centre onto it).
    assert back[0] == pytest.approx(lon, abs=1e-8)
    assert back[1] == pytest.approx(lat, abs=1e-8)


@settings(max_examples=200, deadline=None)
@given(centres, offsets, offsets)
def test_planar_distances_match_the_geodesic_to_the_metre(
    centre: tuple[float, float], a: tuple[float, float], b: tuple[float, float]
) -> None:
    proj = LocalProjection(*centre)
    (lon1, lat1), (lon2, lat2) = _near(centre, a), _near(centre, b)
    x1, y1 = proj.to_xy(lon1, lat1)
    x2, y2 = proj.to_xy(lon2, lat2)
    _, _, geodesic = GEOD.inv(lon1, lat1, lon2, lat2)
    # Under 100 km apart, within 50 km of the centre: better than 1e-4 (10 m per 100 km).
    assert math.hypot(x2 - x1, y2 - y1) == pytest.approx(geodesic, rel=1e-4, abs=0.01)


def test_axes_are_metres_east_and_north_of_the_centre() -> None:
    proj = LocalProjection(*LYON)
    lon0, lat0 = proj.lon0, proj.lat0
    assert proj.to_xy(lon0, lat0) == pytest.approx((0.0, 0.0), abs=1e-6)
    lon, lat, _ = GEOD.fwd(lon0, lat0, 0.0, 1000.0)  # 1 km due north
    assert proj.to_xy(lon, lat) == pytest.approx((0.0, 1000.0), abs=1e-3)
    lon, lat, _ = GEOD.fwd(lon0, lat0, 90.0, 250.0)  # 250 m due east
    assert proj.to_xy(lon, lat) == pytest.approx((250.0, 0.0), abs=1e-3)


def test_centre_of_points_and_shared_transformers() -> None:
    proj = LocalProjection.for_points([(4.90, 45.70), (5.00, 45.80)])
    assert (proj.lon0, proj.lat0) == (4.95, 45.75)
    before = _transformers.cache_info().hits
    again = LocalProjection(4.951, 45.749)  # the same area rounds to the same centre
    assert _transformers.cache_info().hits == before + 1
    assert again.to_xy(4.95, 45.75) == pytest.approx(proj.to_xy(4.95, 45.75))


def test_area_across_the_antimeridian_is_centred_inside_it() -> None:
    proj = LocalProjection.for_points([(179.9, -17.0), (-179.9, -17.0)])
    assert abs(proj.lon0) == pytest.approx(180.0)
    x1, _ = proj.to_xy(179.9, -17.0)
    x2, _ = proj.to_xy(-179.9, -17.0)
    assert abs(x2 - x1) == pytest.approx(GEOD.inv(179.9, -17.0, -179.9, -17.0)[2], rel=1e-4)


def test_bad_centre_is_refused() -> None:
    with pytest.raises(ValueError):
        LocalProjection(200.0, 10.0)
    with pytest.raises(ValueError):
        LocalProjection.for_points([])
