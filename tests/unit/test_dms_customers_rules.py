"""What the customers' persistence adds to the pure rules: one-step ``advance`` as the API asks
for it, interactions not dated in the future, stored region codes, and the generated
customers' delivery positions near their dealer."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pyproj import Geod

from wayhouse.platform.dms.domain.customers import (
    CLOCK_SKEW,
    Customer,
    InteractionKind,
    RegionRule,
    normalise_region,
)
from wayhouse.platform.dms.domain.types import CustomerStage, DomainError, IllegalTransition
from wayhouse.platform.dms.loader import CUSTOMER_RADIUS_KM, customer_position
from wayhouse.simulators.dealer_network import GenDealer, small

T0 = datetime(2025, 5, 1, 8, 0, tzinfo=UTC)
STAGES = list(CustomerStage)


def lead() -> Customer:
    return Customer.new_lead("C1", "Wang Hardware", "CN-GD-SZ", T0, "web")


# --- advance ------------------------------------------------------------------------------


def test_advance_walks_the_funnel_with_order_references() -> None:
    c = lead()
    assert c.advance(CustomerStage.PROSPECT, T0, "u", "budget").reason == "budget"
    with pytest.raises(DomainError, match="order's reference") as missing:
        c.advance(CustomerStage.CUSTOMER, T0, "u")
    assert missing.value.code == "order_ref_required" and c.stage is CustomerStage.PROSPECT
    assert c.advance(CustomerStage.CUSTOMER, T0, "u", order_ref=" SO-1 ").reason == "order SO-1"
    c.advance(CustomerStage.REPEAT_CUSTOMER, T0, "u", order_ref="SO-2")
    assert (c.stage, c.purchases) == (CustomerStage.REPEAT_CUSTOMER, 2)
    # A further purchase is no step: asking for one is refused rather than silently counted.
    with pytest.raises(IllegalTransition):
        c.advance(CustomerStage.REPEAT_CUSTOMER, T0, "u", order_ref="SO-3")
    assert c.purchases == 2


def test_a_lead_cannot_skip_or_go_back() -> None:
    c = lead()
    with pytest.raises(IllegalTransition, match="qualify"):
        c.advance(CustomerStage.CUSTOMER, T0, "u", order_ref="SO-1")
    with pytest.raises(IllegalTransition):
        c.advance(CustomerStage.LEAD, T0, "u")
    c.advance(CustomerStage.PROSPECT, T0, "u")
    with pytest.raises(IllegalTransition, match="one step forward"):
        c.advance(CustomerStage.REPEAT_CUSTOMER, T0, "u", order_ref="SO-1")
    with pytest.raises(IllegalTransition):
        c.advance(CustomerStage.LEAD, T0, "u")


@given(st.lists(st.sampled_from(STAGES), max_size=12))
def test_advance_moves_exactly_one_stage_per_accepted_request(targets: list[CustomerStage]) -> None:
    c = lead()
    for i, target in enumerate(targets):
        before = c.stage
        try:
            event = c.advance(target, T0 + timedelta(hours=i), "u", order_ref=f"SO-{i}")
        except IllegalTransition:
            assert c.stage is before
            assert STAGES.index(target) != STAGES.index(before) + 1
            continue
        assert STAGES.index(target) == STAGES.index(before) + 1
        assert (event.from_state, event.to_state, c.stage) == (before, target, target)
    # Purchases count the purchase steps taken, nothing else.
    assert c.purchases == max(0, STAGES.index(c.stage) - 1)
    assert [e.to_state for e in c.history] == STAGES[: STAGES.index(c.stage) + 1]


# --- interactions -------------------------------------------------------------------------


def test_an_interaction_cannot_be_dated_in_the_future() -> None:
    c = lead()
    now = T0 + timedelta(days=1)
    c.log_interaction(now + CLOCK_SKEW, "u", InteractionKind.CALL, "clock a bit ahead", now=now)
    with pytest.raises(DomainError) as future:
        c.log_interaction(now + timedelta(hours=1), "u", InteractionKind.MEETING, "later", now=now)
    assert future.value.code == "interaction_in_future"
    c.log_interaction(T0, "u", InteractionKind.NOTE, "logged after the fact", now=now)
    assert [i.summary for i in c.interactions] == ["logged after the fact", "clock a bit ahead"]


# --- stored region codes ------------------------------------------------------------------

segment = st.text(alphabet="abcXYZ019", min_size=1, max_size=4)
codes = st.lists(segment, min_size=1, max_size=4).map("-".join)
messy = st.builds(
    lambda c, pad: f"{pad}{c.replace('-', '--')}{pad}", codes, st.sampled_from(["", " ", "  "])
)


def test_region_codes_are_stored_upper_case_in_whole_segments() -> None:
    assert normalise_region(" cn--gd-sz ") == "CN-GD-SZ"
    assert normalise_region(" * ") == "*"
    assert normalise_region("") == ""


@given(st.one_of(codes, messy), codes)
def test_normalising_a_prefix_never_changes_what_it_matches(prefix: str, region: str) -> None:
    stored = normalise_region(prefix)
    assert normalise_region(stored) == stored
    assert RegionRule(stored, ("D",)).matches(region) == RegionRule(prefix, ("D",)).matches(region)


# --- generated customers' positions -------------------------------------------------------

GEOD = Geod(ellps="WGS84")
BASE = small().dealers[0]


@given(
    st.floats(-60, 60),
    st.floats(-179, 179),
    st.from_regex(r"CU-[0-9]{5}", fullmatch=True),
)
def test_generated_customers_are_a_day_trip_from_their_dealer(
    lat: float, lon: float, code: str
) -> None:
    dealer: GenDealer = dataclasses.replace(BASE, lat=lat, lon=lon)
    got = customer_position(dealer, code)
    assert got == customer_position(dealer, code)  # the same place on every load
    km = GEOD.inv(lon, lat, got[1], got[0])[2] / 1000
    low, high = CUSTOMER_RADIUS_KM
    # The flat-earth offset is within 1% of the geodesic distance at these latitudes.
    assert low * 0.99 <= km <= high * 1.01
