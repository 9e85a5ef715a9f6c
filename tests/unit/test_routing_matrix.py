import json
import math

import httpx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wayhouse.routing.matrix import (
    MatrixBuilder,
    OsrmTableRouter,
    SpeedProfile,
    euclidean_matrix,
    geodesic_distances,
)
from wayhouse.routing.model import Point

PARIS, LONDON = Point(2.3522, 48.8566), Point(-0.1276, 51.5072)
RUSH = SpeedProfile(((0.0, 60.0), (7 * 3600.0, 20.0), (9 * 3600.0, 60.0)))


def test_euclidean_truncation_is_exact() -> None:
    # 10 * sqrt(2) = 14.142..., 10 * sqrt(0.49 + 0.49) must not become 9.8999...
    m = euclidean_matrix([Point(0, 0), Point(1, 1), Point(3, 4)], decimals=1)
    assert m.distance[0, 1] == 1.4 and m.distance[0, 2] == 5.0
    m = euclidean_matrix([Point(0, 0), Point(0.7, 0.7)], decimals=1)
    assert m.distance[0, 1] == 0.9  # floor(9.899...) / 10
    exact = euclidean_matrix([Point(0, 0), Point(1, 1)])
    assert exact.distance[0, 1] == pytest.approx(math.sqrt(2))


def test_geodesic_distance_paris_london() -> None:
    d = geodesic_distances([PARIS, LONDON])
    assert d[0, 1] == pytest.approx(343_900, rel=0.005)
    assert d[0, 0] == 0 and d[0, 1] == pytest.approx(d[1, 0])


def test_builder_applies_road_factor_and_speed() -> None:
    b = MatrixBuilder(road_factor=1.5, profile=SpeedProfile.constant(36.0))  # 10 m/s
    m = b.build([PARIS, LONDON])
    assert m.distance[0, 1] == pytest.approx(1.5 * geodesic_distances([PARIS, LONDON])[0, 1])
    assert m.duration[0, 1] == pytest.approx(m.distance[0, 1] / 10.0)


def test_builder_caches() -> None:
    b = MatrixBuilder()
    first = b.build([PARIS, LONDON])
    assert b.build([PARIS, LONDON]) is first
    assert (b.hits, b.misses) == (1, 1)
    b.build([LONDON, PARIS])
    assert b.misses == 2


def test_speed_profile_crosses_breakpoints() -> None:
    # 6:50 at 60 km/h for 10 min covers 10 km, the rest of 20 km at 20 km/h takes 30 min.
    assert RUSH.travel_time(20_000, 6 * 3600 + 50 * 60) == pytest.approx(40 * 60)
    assert RUSH.travel_time(20_000, 12 * 3600) == pytest.approx(20 * 60)
    assert RUSH.min_speed(6 * 3600, 8 * 3600) == 20.0
    assert RUSH.min_speed(10 * 3600, 16 * 3600) == 60.0


@settings(max_examples=200, deadline=None)
@given(st.floats(0, 200_000), st.floats(0, 86_400), st.floats(0, 3_600))
def test_profile_is_fifo_and_window_matrix_is_an_upper_bound(
    metres: float, depart: float, later: float
) -> None:
    arrive = depart + RUSH.travel_time(metres, depart)
    assert depart + later + RUSH.travel_time(metres, depart + later) >= arrive - 1e-6
    if arrive <= 86_400:  # a trip inside the planning window [0, 24h]
        bound = metres / (RUSH.min_speed(0, 86_400) / 3.6)
        assert RUSH.travel_time(metres, depart) <= bound + 1e-6


def test_window_matrix_is_conservative() -> None:
    b = MatrixBuilder(profile=RUSH)
    pts = [Point(4.35, 50.85), Point(4.40, 50.80), Point(4.45, 50.88)]
    slow = b.build(pts, window=(6 * 3600, 10 * 3600))
    midday = b.build(pts, depart=12 * 3600)
    assert (slow.duration >= midday.duration).all()
    assert slow.duration[0, 1] == pytest.approx(3 * midday.duration[0, 1])


def _fake_osrm(calls: list[dict[str, str]]) -> httpx.MockTransport:
    """An OSRM table endpoint computing 'roads' as 2x the coordinate index distance."""

    def handler(request: httpx.Request) -> httpx.Response:
        coords = request.url.path.split("/")[-1].split(";")
        params = dict(request.url.params)
        calls.append(params)
        src = [int(i) for i in params["sources"].split(";")]
        dst = [int(i) for i in params["destinations"].split(";")]
        ids = [round(float(c.split(",")[0])) for c in coords]
        dist = [
            [None if {ids[i], ids[j]} == {0, 3} else 2.0 * abs(ids[i] - ids[j]) for j in dst]
            for i in src
        ]
        dur = [[None if d is None else d / 10 for d in row] for row in dist]
        body = {"code": "Ok", "distances": dist, "durations": dur}
        return httpx.Response(200, content=json.dumps(body))

    return httpx.MockTransport(handler)


def test_osrm_client_blocks_and_falls_back() -> None:
    calls: list[dict[str, str]] = []
    router = OsrmTableRouter(
        "http://osrm.test", block=2, client=httpx.Client(transport=_fake_osrm(calls))
    )
    pts = [Point(float(i), 0.0) for i in range(5)]
    dist, dur = router.table(pts)
    assert len(calls) == 9  # 3 x 3 blocks of at most 2 points
    assert dist[1, 4] == 6.0 and dur[4, 1] == 0.6
    assert np.isnan(dist[0, 3])
    m = MatrixBuilder(router=router, profile=SpeedProfile.constant(36.0)).build(pts)
    assert m.distance[1, 4] == 6.0
    geo = geodesic_distances([pts[0], pts[3]])[0, 1] * 1.3  # unroutable pair: geodesic
    assert m.distance[0, 3] == pytest.approx(geo)
