"""Sensed count from a shelf scale: settle detection, confidence, small shifts, spikes, state."""

from __future__ import annotations

import json
import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wayhouse.platform.stocktake.sensing import (
    IGNORED,
    MOVING,
    RETURNED,
    SETTLED,
    SPIKE,
    STEADY,
    BinSensor,
    ScaleParams,
    readings_to_confident,
    z_for,
)

# The simulator's product range (unit weights in grams) and its noise range: the cases the
# sensor must count exactly. Imported so the tests follow the simulator if it changes.
from wayhouse.simulators.scenario import _PRODUCTS

T0 = 1_700_000_000.0
DT = 5.0  # the simulator's shelf interval
Z = z_for(1e-6)


def _sensor(
    unit: float = 250.0, sigma: float = 4.0, tare: float = 1200.0, **kw: float
) -> BinSensor:
    return BinSensor(ScaleParams(tare_g=tare, unit_g=unit, sigma_g=sigma, confidence_z=Z, **kw))  # type: ignore[arg-type]


def _feed(s: BinSensor, weights: list[float], t0: float) -> list[int]:
    return [s.update(t0 + i * DT, w) for i, w in enumerate(weights)]


@st.composite
def sim_bins(draw: st.DrawFn) -> tuple[float, float, float, int, int]:
    """(unit, sigma, tare, count, seed) drawn like ``default_scenario`` draws its bins."""
    _, base = draw(st.sampled_from(_PRODUCTS))
    unit = round(base * draw(st.floats(0.9, 1.1)), 1)
    sigma = round(draw(st.floats(1.0, 6.0)), 2)
    tare = round(draw(st.floats(600.0, 2400.0)), 1)
    capacity = max(5, min(400, int(40_000 // unit)))
    return unit, sigma, tare, draw(st.integers(0, capacity)), draw(st.integers(0, 2**32))


def _readings_needed(unit: float, sigma: float) -> int:
    # Confidence needs (2 z sigma / unit)^2 readings for a centred level; the simulator rounds
    # to 0.1 g and the level may sit off-centre, so allow three times that and a floor.
    return 3 * readings_to_confident(unit, sigma, Z) + 20


def test_a_steady_bin_settles_at_its_count_with_high_confidence() -> None:
    s = _sensor(unit=250.0, sigma=4.0, tare=1200.0)
    rng = random.Random(1)
    codes = _feed(s, [1200.0 + 12 * 250.0 + rng.gauss(0, 4.0) for _ in range(10)], T0)
    assert codes[:3] == [MOVING, MOVING, SETTLED]  # three readings that agree: settled
    assert set(codes[3:]) == {STEADY}
    got = s.sensed()
    assert (got.count, got.settled, got.confident) == (12, True, True)
    assert got.confidence > 0.999999
    assert got.mean_g == pytest.approx(4200.0, abs=4.0)


def test_transient_readings_while_picking_are_ignored_until_the_weight_settles() -> None:
    s = _sensor(unit=250.0, sigma=2.0)
    _feed(s, [1200.0 + 10 * 250.0] * 5, T0)
    assert s.count == 10 and s.confident
    # Hand on the shelf: the weight swings, then settles 3 units lighter.
    swings = [4100.0, 2900.0, 3450.0, 3730.0, 1200.0 + 7 * 250.0, 2951.0]
    assert _feed(s, swings, T0 + 100) == [MOVING] * 6
    assert not s.sensed().confident and s.sensed().confidence == 0.0  # never a count mid-pick
    assert s.update(T0 + 200, 2949.0) == SETTLED  # the third reading that agrees
    assert (s.count, s.confident) == (7, True)


def test_a_bump_that_comes_back_keeps_the_level_and_a_short_large_one_is_a_spike() -> None:
    s = _sensor(unit=250.0, sigma=2.0)
    _feed(s, [3700.0] * 20, T0)
    n_before = s.n
    codes = _feed(s, [3790.0, 3700.5, 3699.5, 3700.0], T0 + 200)  # 45 sigma for one reading
    assert codes == [MOVING, MOVING, MOVING, SPIKE]
    assert s.spikes == 1 and s.last_spike_t == T0 + 200 + 3 * DT
    assert s.n > n_before and s.count == 10  # the old level's readings are kept
    codes = _feed(s, [3712.0, 3714.0, 3700.0, 3701.0, 3700.0], T0 + 400)  # small: 6 sigma
    assert codes[-1] == RETURNED and s.spikes == 1


def test_out_of_order_and_duplicate_readings_are_ignored() -> None:
    s = _sensor()
    assert s.update(T0 + 10, 3700.0) == MOVING
    assert s.update(T0 + 10, 9999.0) == IGNORED
    assert s.update(T0 + 5, 9999.0) == IGNORED
    assert s.recent() == [(T0 + 10, 3700.0)]


def test_a_single_unit_shift_below_the_noise_is_found_by_the_cusum() -> None:
    # 4.5 g fuses on a 6 g-noise cell: no single reading shows a one-unit change.
    s = _sensor(unit=4.5, sigma=6.0, tare=900.0)
    rng = random.Random(7)
    true = 900.0 + 80 * 4.5
    _feed(s, [round(true + rng.gauss(0, 6.0), 1) for _ in range(600)], T0)
    assert (s.count, s.confident) == (80, True)
    t = T0 + 600 * DT
    lag = None
    for i in range(2000):
        s.update(t + i * DT, round(true - 4.5 + rng.gauss(0, 6.0), 1))
        assert not (s.confident and s.count not in (79, 80))
        if s.confident and s.count == 79:
            lag = i
            break
    assert lag is not None and lag <= 4 * readings_to_confident(4.5, 6.0, Z)


def test_an_expected_change_makes_a_small_unit_count_earn_its_confidence_again() -> None:
    small, big = _sensor(unit=4.5, sigma=6.0), _sensor(unit=350.0, sigma=6.0)
    rng = random.Random(3)
    for s, unit in ((small, 4.5), (big, 350.0)):
        _feed(s, [round(1200.0 + 50 * unit + rng.gauss(0, 6.0), 1) for _ in range(900)], T0)
        assert s.confident
        s.expect_change()
        assert s.n == 3 and s.count == 50
    assert not small.confident  # three readings cannot tell a 4.5 g unit in 6 g noise
    assert big.confident  # 350 g units are told apart by any three readings


def test_params_are_validated() -> None:
    with pytest.raises(ValueError):
        ScaleParams(tare_g=0.0, unit_g=0.0, sigma_g=1.0)
    with pytest.raises(ValueError):
        ScaleParams(tare_g=0.0, unit_g=10.0, sigma_g=0.0)
    with pytest.raises(ValueError):
        ScaleParams(tare_g=math.nan, unit_g=10.0, sigma_g=1.0)
    with pytest.raises(ValueError):
        ScaleParams(tare_g=0.0, unit_g=10.0, sigma_g=1.0, settle_readings=0)
    with pytest.raises(ValueError):
        z_for(0.7)
    # The level window grows so that even the smallest unit can get confident.
    assert ScaleParams(tare_g=0, unit_g=4.5, sigma_g=6.0, confidence_z=Z).n_max > 256
    assert ScaleParams(tare_g=0, unit_g=350.0, sigma_g=6.0).n_max == 256


@settings(max_examples=60, deadline=None)
@given(sim_bins())
def test_sensed_count_equals_the_true_count_once_settled(
    b: tuple[float, float, float, int, int],
) -> None:
    unit, sigma, tare, count, seed = b
    rng = random.Random(seed)
    s = _sensor(unit=unit, sigma=sigma, tare=tare)
    true = tare + count * unit
    for i in range(_readings_needed(unit, sigma)):
        s.update(T0 + i * DT, round(true + rng.gauss(0, sigma), 1))
        if s.confident:
            assert s.count == count  # confident means right
    got = s.sensed()
    assert got.settled and got.confident and got.count == count
    assert got.confidence >= 1 - 1e-6


@settings(max_examples=40, deadline=None)
@given(sim_bins(), st.integers(-5, 5).filter(bool), st.integers(0, 3))
def test_after_a_pick_or_put_away_the_count_settles_at_the_new_true_count(
    b: tuple[float, float, float, int, int], delta: int, transients: int
) -> None:
    unit, sigma, tare, count, seed = b
    count = max(count, 5)
    rng = random.Random(seed)
    s = _sensor(unit=unit, sigma=sigma, tare=tare)
    t = T0
    for _ in range(_readings_needed(unit, sigma)):
        t += DT
        s.update(t, round(tare + count * unit + rng.gauss(0, sigma), 1))
    for _ in range(transients):  # a hand on the shelf
        t += DT
        s.update(t, tare + count * unit + rng.uniform(-3, 3) * max(unit, 50.0))
    s.expect_change()  # the pick/put-away scan
    new = count + delta
    for _ in range(_readings_needed(unit, sigma)):
        t += DT
        s.update(t, round(tare + new * unit + rng.gauss(0, sigma), 1))
        if s.confident:
            assert s.count in (count, new)
    assert (s.count, s.confident) == (new, True)


@settings(max_examples=40, deadline=None)
@given(sim_bins(), st.floats(0.0, 1.0))
def test_noise_and_slow_drift_never_give_a_confident_wrong_count(
    b: tuple[float, float, float, int, int], drift_share: float
) -> None:
    """Gaussian noise at the configured sigma plus a bounded random walk of the reading (a
    load cell's slow drift, up to a fifth of a unit and one sigma) around a constant weight."""
    unit, sigma, tare, count, seed = b
    rng = random.Random(seed)
    s = _sensor(unit=unit, sigma=sigma, tare=tare)
    amp = drift_share * min(0.2 * unit, sigma)
    drift = 0.0
    for i in range(3000):
        drift = max(-amp, min(amp, drift + rng.gauss(0, amp / 10 + 1e-9)))
        s.update(T0 + i * DT, round(tare + count * unit + drift + rng.gauss(0, sigma), 1))
        assert not (s.confident and s.count != count)


@settings(max_examples=25, deadline=None)
@given(sim_bins(), st.integers(1, 400), st.integers(-3, 3))
def test_state_round_trips_through_json_mid_stream(
    b: tuple[float, float, float, int, int], cut: int, delta: int
) -> None:
    unit, sigma, tare, count, seed = b
    rng = random.Random(seed)
    n = 500
    weights = [
        round(tare + (count if i < 250 else max(count + delta, 0)) * unit + rng.gauss(0, sigma), 1)
        for i in range(n)
    ]
    whole = _sensor(unit=unit, sigma=sigma, tare=tare)
    expected = [
        (whole.update(T0 + i * DT, w), whole.count, whole.confident) for i, w in enumerate(weights)
    ]
    first = _sensor(unit=unit, sigma=sigma, tare=tare)
    got = [
        (first.update(T0 + i * DT, w), first.count, first.confident)
        for i, w in enumerate(weights[:cut])
    ]
    resumed = BinSensor.from_dict(first.p, json.loads(json.dumps(first.to_dict())))
    got += [
        (resumed.update(T0 + i * DT, w), resumed.count, resumed.confident)
        for i, w in enumerate(weights[cut:], start=cut)
    ]
    assert got == expected
    assert resumed.recent() == whole.recent()
