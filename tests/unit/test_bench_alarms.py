"""The alarm benchmark's scoring (pure): alarms matched to the ground truth per type."""

from __future__ import annotations

from wayhouse.bench.alarms import (
    LATE_S,
    Raised,
    match,
    percentile,
    split_result,
    stock_exact_ratio,
)
from wayhouse.simulators.anomalies import Truth

T = 1_700_000_000.0


def test_hits_misses_and_false_alarms_give_precision_recall_and_latency() -> None:
    truths = [
        Truth("sensor_stuck", "sensor:a", T, T + 55),
        Truth("sensor_stuck", "sensor:b", T + 100, T + 155),
        Truth("sensor_stuck", "sensor:c", T + 200, T + 255),  # never raised: a miss
    ]
    alarms = [
        Raised("sensor_stuck", "sensor:a", T + 55, T + 56.5),
        Raised("sensor_stuck", "sensor:b", T + 155, T + 155.5),
        Raised("sensor_stuck", "sensor:d", T + 10, T + 11),  # nothing there: a false alarm
        Raised("sensor_jump", "sensor:a", T + 60, T + 61),  # wrong type: a false alarm of its own
    ]
    got = match(truths, alarms)
    stuck = got["sensor_stuck"]
    assert stuck["injected"] == 3 and stuck["raised"] == 3
    assert stuck["recall"] == round(2 / 3, 4) and stuck["precision"] == round(2 / 3, 4)
    assert stuck["latency_p50_s"] == 0.5 and stuck["latency_p99_s"] == 1.5
    assert got["sensor_jump"] == {
        "precision": 0.0,
        "recall": None,
        "latency_p50_s": None,
        "latency_p99_s": None,
        "injected": 0,
        "raised": 1,
        "_onset_p50_s": None,
        "_onset_p99_s": None,
    }


def test_an_alarm_too_late_or_before_the_onset_does_not_count() -> None:
    x = Truth("weight_loss_unexplained", "bin:W/A-1", T, T + 25)
    late = Raised(x.type, x.subject, T + 25, T + 25 + LATE_S + 1)
    early = Raised(x.type, x.subject, T - 60, T - 60)
    # Raised before the onset and cleared before it too: another episode, covers nothing.
    cleared_early = Raised(x.type, x.subject, T - 60, T - 60, cleared_at=T - 30)
    assert match([x], [late])[x.type]["recall"] == 0.0
    assert match([x], [cleared_early])[x.type]["recall"] == 0.0
    # Still open at the onset: the same condition, one alarm per subject (no latency).
    covered = match([x], [early])[x.type]
    assert covered["recall"] == 1.0 and covered["latency_p50_s"] is None


def test_one_alarm_may_cover_several_truths_of_its_subject() -> None:
    truths = [
        Truth("below_reorder_point", "bin:W/A-1", T, T + 10),
        Truth("below_reorder_point", "bin:W/A-1", T + 40, T + 50),  # re-crossed while open
    ]
    alarms = [Raised("below_reorder_point", "bin:W/A-1", T + 10, T + 11)]
    s = match(truths, alarms)["below_reorder_point"]
    assert (s["recall"], s["precision"], s["raised"], s["injected"]) == (1.0, 1.0, 1, 2)


def test_result_keys_and_stock_ratio() -> None:
    types, onset = split_result(match([Truth("x", "s", T, T + 1)], [Raised("x", "s", T, T + 3)]))
    assert set(types["x"]) == {
        "precision",
        "recall",
        "latency_p50_s",
        "latency_p99_s",
        "injected",
        "raised",
    }
    assert onset["x"] == {"p50_s": 3.0, "p99_s": 3.0}
    assert stock_exact_ratio({"a": 1, "b": 2}, {"a": 1, "b": 3, "c": 0}) == round(1 / 3, 4)
    assert stock_exact_ratio({}, {}) is None
    assert percentile([3.0, 1.0, 2.0], 50) == 2.0 and percentile([], 99) is None
