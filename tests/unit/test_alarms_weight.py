"""The shelf family through the engine: unexplained weight loss and gain against scans, the
reorder point, and the load cell's health, on readings shaped like the simulator's."""

from __future__ import annotations

import math
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from wayhouse.edge.schema import ScanReading, ShelfReading
from wayhouse.platform.alarms.engine import AlarmEngine
from wayhouse.platform.alarms.inputs import BinConfig, BookLevel
from wayhouse.platform.alarms.model import Action, AlarmType, Transition
from wayhouse.platform.alarms.thresholds import ThresholdConfig, Thresholds
from wayhouse.platform.stocktake.sensing import readings_to_confident
from wayhouse.simulators.scenario import _PRODUCTS

T0 = 1_700_000_000.0
DT = 5.0
TH = Thresholds()
Z = TH.confidence_z


class Bay:
    """One instrumented bin, its scale readings and an operator's scans."""

    def __init__(
        self,
        unit: float = 350.0,
        sigma: float = 3.0,
        count: int = 20,
        seed: int = 0,
        *,
        tare: float = 1000.0,
        capacity: int = 0,
        reorder_point: int | None = None,
        drift: float = 0.0,
        **thresholds: float,
    ) -> None:
        cfg = ThresholdConfig()
        if thresholds:
            cfg.set("device", "lc-1", **thresholds)
        self.eng = AlarmEngine(cfg)
        self.eng.register_bin(
            BinConfig(
                "A-01-1", "lc-1", "P1", unit, tare, sigma, capacity, reorder_point, site="WH1"
            )
        )
        self.unit, self.sigma, self.tare, self.count = unit, sigma, tare, count
        self.rng = random.Random(seed)
        self.drift_amp = drift
        self.drift = 0.0
        self.t = T0
        self.n = 0
        self.out: list[Transition] = []
        self.at: list[int] = []  # reading index of each transition

    def weight(self) -> float:
        if self.drift_amp:
            step = self.rng.gauss(0, self.drift_amp / 10)
            self.drift = max(-self.drift_amp, min(self.drift_amp, self.drift + step))
        return round(
            self.tare + self.count * self.unit + self.drift + self.rng.gauss(0, self.sigma), 1
        )

    def read(self, n: int = 1, w: float | None = None) -> None:
        for _ in range(n):
            self.t += DT
            self.n += 1
            got = self.eng.feed(
                ShelfReading(s="lc-1", t=self.t, w=self.weight() if w is None else w)
            )
            self.out += got
            self.at += [self.n] * len(got)

    def scan(self, action: str, qty: int, dt: float = 1.0) -> None:
        r = ScanReading(
            s="hh-1.bc", t=self.t + dt, k="barcode", c="P1", a=action, q=qty, b="A-01-1"
        )  # type: ignore[arg-type]
        self.out += self.eng.feed(r)

    def settle(self) -> None:
        self.read(3 * readings_to_confident(self.unit, self.sigma, Z) + 20)

    def of(self, type_: AlarmType) -> list[Transition]:
        return [tr for tr in self.out if tr.type is type_]


@st.composite
def sim_bins(draw: st.DrawFn) -> tuple[float, float, int, int]:
    """(unit, sigma, count, seed) drawn like ``default_scenario`` draws its bins."""
    _, base = draw(st.sampled_from(_PRODUCTS))
    unit = round(base * draw(st.floats(0.9, 1.1)), 1)
    capacity = max(5, min(400, int(40_000 // unit)))
    return (
        unit,
        round(draw(st.floats(1.0, 6.0)), 2),
        draw(st.integers(5, capacity)),
        draw(st.integers(0, 2**32)),
    )


def latency_bound(unit: float, sigma: float) -> int:
    """Readings from a loss to its alarm, at most: settle, the scan grace, the CUSUM's delay
    for a one-unit shift, and the readings a count needs to be confident (four times the
    centred figure: the level may sit off-centre)."""
    cusum = math.ceil((TH.cusum_h + 1.2) / (0.5 * unit / sigma))
    grace = math.ceil(TH.scan_grace_s / DT)
    return TH.settle_readings + grace + cusum + 4 * readings_to_confident(unit, sigma, Z) + 5


# ---- noise alone ------------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(sim_bins(), st.floats(0.0, 1.0))
def test_noise_alone_raises_nothing(b: tuple[float, float, int, int], drift_share: float) -> None:
    """Gaussian noise at the configured sigma, plus a bounded random walk of the reading,
    around a constant true weight that matches the book: within the false-alarm budget
    (1e-6 per decision, so none expected in these few thousand readings) nothing is raised:
    no weight alarm, no discrepancy, no sensor fault."""
    unit, sigma, count, seed = b
    bay = Bay(unit, sigma, count, seed, drift=drift_share * min(0.2 * unit, sigma))
    bay.eng.feed(BookLevel("A-01-1", None, count, T0))
    bay.read(2500)
    assert bay.out == []


# ---- losses -----------------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(sim_bins(), st.integers(1, 5))
def test_a_loss_without_a_pick_scan_always_raises_within_bounded_readings(
    b: tuple[float, float, int, int], lost: int
) -> None:
    unit, sigma, count, seed = b
    bay = Bay(unit, sigma, count, seed)
    bay.settle()
    assert bay.out == []
    lost = min(lost, count)
    start = bay.n
    bay.count -= lost
    bound = latency_bound(unit, sigma)
    bay.read(bound)
    [raised] = bay.of(AlarmType.WEIGHT_LOSS_UNEXPLAINED)
    assert raised.action is Action.RAISE and raised.subject == "bin:A-01-1"
    assert bay.at[bay.out.index(raised)] - start <= bound
    ev = raised.evidence or {}
    assert (ev["units"], ev["product"], ev["bin"], ev["count_after"]) == (
        lost,
        "P1",
        "A-01-1",
        bay.count,
    )
    assert ev["grams"] == round(lost * unit, 3) and len(ev["readings"]) == 12
    assert bay.of(AlarmType.WEIGHT_GAIN_UNEXPECTED) == []


@settings(max_examples=40, deadline=None)
@given(sim_bins(), st.integers(1, 5), st.sampled_from(["before", "after", "late"]))
def test_a_pick_scan_matching_the_loss_suppresses_the_alarm(
    b: tuple[float, float, int, int], picked: int, when: str
) -> None:
    """Scanned before the pick, right after it, or late (after the weight settled, within
    the grace): all explain it."""
    unit, sigma, count, seed = b
    bay = Bay(unit, sigma, count, seed)
    bay.settle()
    picked = min(picked, count)
    if when == "before":
        bay.scan("pick", picked, -30.0)
    bay.count -= picked
    bay.read(1 if when == "after" else TH.settle_readings + 1)
    if when != "before":
        bay.scan("pick", picked)
    bay.read(latency_bound(unit, sigma))
    assert bay.out == []


def test_a_pick_scanned_short_raises_the_difference() -> None:
    bay = Bay(unit=350.0, sigma=3.0, count=20)
    bay.settle()
    bay.scan("pick", 3)
    bay.count -= 4
    bay.read(10)
    [raised] = bay.of(AlarmType.WEIGHT_LOSS_UNEXPLAINED)
    assert (raised.evidence or {})["units"] == 1


def test_a_put_away_scan_does_not_explain_a_loss_just_before_it() -> None:
    bay = Bay(unit=350.0, sigma=3.0, count=20)
    bay.settle()
    bay.count -= 1  # stolen
    bay.read(3)
    bay.scan("putaway", 5)
    bay.count += 5
    bay.read(10)
    assert [
        (tr.action, (tr.evidence or {})["units"])
        for tr in bay.of(AlarmType.WEIGHT_LOSS_UNEXPLAINED)
    ] == [(Action.RAISE, 1)]
    assert bay.of(AlarmType.WEIGHT_GAIN_UNEXPECTED) == []


def test_taken_out_and_put_back_within_the_grace_is_nothing() -> None:
    bay = Bay(unit=350.0, sigma=3.0, count=20, scan_grace_s=30)
    bay.settle()
    bay.count -= 2
    bay.read(3)
    bay.count += 2
    bay.read(20)
    assert bay.out == []


def test_a_higher_loss_threshold_ignores_smaller_losses() -> None:
    bay = Bay(unit=350.0, sigma=3.0, count=20, loss_min_units=2)
    bay.settle()
    bay.count -= 1
    bay.read(20)
    assert bay.out == []
    bay.count -= 2
    bay.read(20)
    assert [(tr.evidence or {})["units"] for tr in bay.of(AlarmType.WEIGHT_LOSS_UNEXPLAINED)] == [2]


def test_lost_units_coming_back_clear_the_loss_and_a_second_loss_is_recorded() -> None:
    bay = Bay(unit=350.0, sigma=3.0, count=20)
    bay.settle()
    bay.count -= 1
    bay.read(10)
    bay.count -= 1
    bay.read(10)
    loss = bay.of(AlarmType.WEIGHT_LOSS_UNEXPLAINED)
    assert [tr.action for tr in loss] == [Action.RAISE, Action.REPEAT]  # one open alarm
    assert loss[1].occurrences == 2
    bay.count += 2  # found and put back
    bay.read(20)
    loss = bay.of(AlarmType.WEIGHT_LOSS_UNEXPLAINED)
    assert [tr.action for tr in loss] == [Action.RAISE, Action.REPEAT, Action.CLEAR]
    assert "came back" in loss[-1].reason
    assert bay.of(AlarmType.WEIGHT_GAIN_UNEXPECTED) == []


def test_a_gain_without_a_put_away_scan_raises_and_with_one_does_not() -> None:
    bay = Bay(unit=350.0, sigma=3.0, count=20)
    bay.settle()
    bay.scan("putaway", 4)
    bay.count += 4
    bay.read(10)
    assert bay.out == []
    bay.count += 3
    bay.read(10)
    [gain] = bay.of(AlarmType.WEIGHT_GAIN_UNEXPECTED)
    assert (gain.action, (gain.evidence or {})["units"]) == (Action.RAISE, 3)


def test_a_scan_the_scale_never_sees_expires_and_explains_nothing_later() -> None:
    bay = Bay(unit=350.0, sigma=3.0, count=20)
    bay.settle()
    bay.scan("pick", 2)  # scanned, never taken
    bay.read(int(TH.scan_window_s / DT) + 5)
    assert bay.out == []
    bay.count -= 2  # taken much later, unscanned
    bay.read(10)
    assert [(tr.evidence or {})["units"] for tr in bay.of(AlarmType.WEIGHT_LOSS_UNEXPLAINED)] == [2]


# ---- reorder point ----------------------------------------------------------------------


def test_below_the_reorder_point_suggests_filling_up_and_clears_when_replenished() -> None:
    bay = Bay(unit=350.0, sigma=3.0, count=30, capacity=100)  # reorder point 20 (20 %)
    bay.settle()
    for _ in range(3):
        bay.scan("pick", 4)
        bay.count -= 4
        bay.read(8)
    low = bay.of(AlarmType.BELOW_REORDER_POINT)
    assert [(tr.action, (tr.evidence or {})["count"]) for tr in low] == [(Action.RAISE, 18)]
    ev = low[0].evidence or {}
    assert (ev["reorder_point"], ev["suggested_qty"], ev["max_level"]) == (20, 82, 100)
    bay.scan("putaway", 70)
    bay.count += 70
    bay.read(20)
    assert [tr.action for tr in bay.of(AlarmType.BELOW_REORDER_POINT)] == [
        Action.RAISE,
        Action.CLEAR,
    ]
    assert bay.of(AlarmType.WEIGHT_LOSS_UNEXPLAINED) == []


# ---- load cell health -------------------------------------------------------------------


def test_out_of_range_readings_raise_and_never_reach_the_count() -> None:
    bay = Bay(unit=350.0, sigma=3.0, count=20)
    bay.settle()
    bay.read(1, w=-5000.0)  # one glitch: nothing
    bay.read(1)
    assert bay.out == []
    bay.read(5, w=250_000.0)
    [oor] = bay.of(AlarmType.SENSOR_OUT_OF_RANGE)
    assert oor.subject == "sensor:lc-1" and (oor.evidence or {})["value_g"] == 250_000.0
    sensed = bay.eng.shelf.sensed("A-01-1")
    assert sensed is not None and sensed.count == 20
    bay.read(20)
    assert [tr.action for tr in bay.of(AlarmType.SENSOR_OUT_OF_RANGE)] == [
        Action.RAISE,
        Action.CLEAR,
    ]
    assert (
        bay.of(AlarmType.WEIGHT_LOSS_UNEXPLAINED) == bay.of(AlarmType.WEIGHT_GAIN_UNEXPECTED) == []
    )


def test_a_frozen_value_is_stuck_and_clears_when_it_moves() -> None:
    bay = Bay(unit=350.0, sigma=3.0, count=20)
    bay.settle()
    bay.read(TH.stuck_readings - 1, w=8000.0)
    assert bay.of(AlarmType.SENSOR_STUCK) == []
    bay.read(1, w=8000.0)
    [stuck] = bay.of(AlarmType.SENSOR_STUCK)
    assert (stuck.evidence or {})["repeats"] == TH.stuck_readings
    bay.read(20)
    assert [tr.action for tr in bay.of(AlarmType.SENSOR_STUCK)] == [Action.RAISE, Action.CLEAR]


def test_repeated_spikes_raise_a_jump_that_clears_once_they_stop() -> None:
    bay = Bay(unit=350.0, sigma=3.0, count=20)
    bay.settle()
    for _ in range(TH.jump_count):
        bay.read(1, w=bay.tare + 20 * 350.0 + 900.0)  # 300 sigma for one reading
        bay.read(6)
    [jump] = bay.of(AlarmType.SENSOR_JUMP)
    assert len((jump.evidence or {})["spikes"]) == TH.jump_count
    bay.read(int(TH.jump_window_s / DT) + 10)
    assert [tr.action for tr in bay.of(AlarmType.SENSOR_JUMP)] == [Action.RAISE, Action.CLEAR]
    assert [tr.type for tr in bay.out] == [AlarmType.SENSOR_JUMP] * 2


def test_recalibrating_a_bin_is_not_a_loss_or_gain() -> None:
    bay = Bay(unit=350.0, sigma=3.0, count=20)
    bay.settle()
    # Same shelf, the unit weight corrected from 350 g to 175 g: 40 units, nothing moved.
    bay.eng.register_bin(BinConfig("A-01-1", "lc-1", "P1", 175.0, 1000.0, 3.0))
    bay.read(30)
    assert bay.out == []
    assert {k: (v.count, v.confident) for k, v in bay.eng.shelf.sensed_all().items()} == {
        "A-01-1": (40, True)
    }
