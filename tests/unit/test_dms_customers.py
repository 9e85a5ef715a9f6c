"""Customer lifecycle, interaction log and lead assignment by region rules."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wayhouse.platform.dms.domain.customers import (
    Customer,
    InteractionKind,
    LeadAssignmentRules,
    RegionRule,
    assign_lead,
    assign_leads,
)
from wayhouse.platform.dms.domain.types import CustomerStage, DomainError, IllegalTransition

T0 = datetime(2025, 5, 1, 8, 0, tzinfo=UTC)


def t(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def lead() -> Customer:
    return Customer.new_lead("C1", "Wang Hardware", "CN-GD-SZ", t(0), "web", source="expo")


# --- lifecycle ----------------------------------------------------------------------------


def test_lead_to_repeat_customer() -> None:
    c = lead()
    assert c.stage is CustomerStage.LEAD
    c.qualify(t(1), "sales", "budget confirmed")
    assert c.record_purchase("O-1", t(2), "system").to_state == "customer"
    assert c.record_purchase("O-2", t(3), "system").to_state == "repeat_customer"
    assert c.record_purchase("O-3", t(4), "system") is None
    assert (c.stage, c.purchases) == (CustomerStage.REPEAT_CUSTOMER, 3)
    steps = [(e.from_state, e.to_state, e.reason) for e in c.history]
    assert steps == [
        (None, "lead", "expo"),
        ("lead", "prospect", "budget confirmed"),
        ("prospect", "customer", "order O-1"),
        ("customer", "repeat_customer", "order O-2"),
    ]


def test_a_lead_must_be_qualified_before_it_buys() -> None:
    c = lead()
    with pytest.raises(IllegalTransition, match="qualify"):
        c.record_purchase("O-1", t(1), "system")
    assert (c.stage, c.purchases, len(c.history)) == (CustomerStage.LEAD, 0, 1)


def test_qualify_only_once() -> None:
    c = lead()
    c.qualify(t(1), "sales")
    with pytest.raises(IllegalTransition, match="prospect to prospect"):
        c.qualify(t(2), "sales")


def test_lead_needs_a_name() -> None:
    with pytest.raises(DomainError):
        Customer.new_lead("C2", " ", "CN", t(0), "web")


@given(st.lists(st.sampled_from(["qualify", "purchase"]), max_size=10))
def test_stage_is_a_function_of_qualification_and_purchases(actions: list[str]) -> None:
    c = lead()
    qualified, purchases = False, 0
    for i, action in enumerate(actions):
        at = t(i + 1)
        if action == "qualify":
            if qualified:
                with pytest.raises(IllegalTransition):
                    c.qualify(at, "u")
            else:
                c.qualify(at, "u")
                qualified = True
        elif qualified:
            c.record_purchase(f"O{i}", at, "u")
            purchases += 1
        else:
            with pytest.raises(IllegalTransition):
                c.record_purchase(f"O{i}", at, "u")
    if not qualified:
        expected = CustomerStage.LEAD
    elif purchases == 0:
        expected = CustomerStage.PROSPECT
    elif purchases == 1:
        expected = CustomerStage.CUSTOMER
    else:
        expected = CustomerStage.REPEAT_CUSTOMER
    assert (c.stage, c.purchases) == (expected, purchases)
    # One event per stage reached, in order.
    order = list(CustomerStage)
    assert [e.to_state for e in c.history] == order[: order.index(expected) + 1]


def test_reassigning_the_owner_is_audited() -> None:
    c = lead()
    event = c.assign_owner("D7", t(1), "rm", "region rule")
    assert (event.entity, event.from_state, event.to_state) == ("customer_owner", None, "D7")
    assert c.owner_dealer_id == "D7"
    with pytest.raises(DomainError):
        c.assign_owner("D8", t(2), "rm", "")


# --- interaction log ----------------------------------------------------------------------


def test_interactions_are_kept_in_time_order() -> None:
    c = lead()
    c.log_interaction(t(5), "li", InteractionKind.VISIT, "showroom visit", "send quote")
    c.log_interaction(t(2), "li", InteractionKind.CALL, "first call")
    assert [i.summary for i in c.interactions] == ["first call", "showroom visit"]
    assert c.last_interaction_at == t(5)
    with pytest.raises(DomainError):
        c.log_interaction(t(6), "li", InteractionKind.NOTE, "  ")
    with pytest.raises(DomainError):
        c.log_interaction(datetime(2025, 5, 2), "li", InteractionKind.NOTE, "naive")


@given(st.lists(st.integers(0, 1000), max_size=20))
def test_interaction_log_is_sorted_and_loses_nothing(hours: list[int]) -> None:
    c = lead()
    for i, h in enumerate(hours):
        c.log_interaction(t(h), "u", InteractionKind.NOTE, f"note {i}")
    assert [i.at for i in c.interactions] == sorted(t(h) for h in hours)
    assert sorted(i.summary for i in c.interactions) == sorted(
        f"note {i}" for i in range(len(hours))
    )


# --- lead assignment ----------------------------------------------------------------------

RULES = LeadAssignmentRules(
    rules=(
        RegionRule("CN-GD", ("D-GZ", "D-FS")),
        RegionRule("CN-GD-SZ", ("D-SZ1", "D-SZ2")),
        RegionRule("*", ("D-HQ",)),
    ),
)
ALL = {"D-GZ", "D-FS", "D-SZ1", "D-SZ2", "D-HQ"}


def test_most_specific_rule_wins() -> None:
    assert assign_lead("CN-GD-SZ-NS", RULES, ALL, {}).dealer_id == "D-SZ1"
    assert assign_lead("cn-gd-gz", RULES, ALL, {}).dealer_id == "D-GZ"
    assert assign_lead("CN-BJ", RULES, ALL, {}).dealer_id == "D-HQ"


def test_prefix_matches_whole_segments_only() -> None:
    rule = RegionRule("CN-GD", ("D",))
    assert rule.matches("CN-GD") and rule.matches("CN-GD-SZ")
    assert not rule.matches("CN-GDX") and not rule.matches("CN")


def test_least_loaded_dealer_then_listed_order() -> None:
    assert assign_lead("CN-GD-SZ", RULES, ALL, {"D-SZ1": 3, "D-SZ2": 1}).dealer_id == "D-SZ2"
    assert assign_lead("CN-GD-SZ", RULES, ALL, {"D-SZ1": 2, "D-SZ2": 2}).dealer_id == "D-SZ1"


def test_falls_through_to_broader_rule_then_fallback_then_manual_queue() -> None:
    only_gd = {"D-FS"}
    a = assign_lead("CN-GD-SZ", RULES, only_gd, {})
    assert (a.dealer_id, a.rule) == ("D-FS", RULES.rules[0])
    with_fallback = LeadAssignmentRules(RULES.rules[:2], fallback_dealer_id="D-DIRECT")
    assert assign_lead("CN-BJ", with_fallback, {"D-DIRECT"}, {}).dealer_id == "D-DIRECT"
    queued = assign_lead("CN-BJ", with_fallback, set(), {})
    assert queued.dealer_id is None and "no eligible dealer" in queued.reason


def test_rules_are_validated() -> None:
    with pytest.raises(DomainError):
        RegionRule("CN", ())
    with pytest.raises(DomainError):
        RegionRule("CN", ("D1", "D1"))
    with pytest.raises(DomainError):
        RegionRule(" ", ("D1",))


regions = st.lists(st.sampled_from(["CN", "GD", "SZ", "BJ"]), min_size=1, max_size=3).map("-".join)
dealers = st.sampled_from([f"D{i}" for i in range(6)])
rules_strategy = st.lists(
    st.builds(
        RegionRule,
        st.one_of(st.just("*"), regions),
        st.lists(dealers, min_size=1, max_size=3, unique=True).map(tuple),
    ),
    max_size=5,
)


@given(
    regions,
    rules_strategy,
    st.sets(dealers),
    st.dictionaries(dealers, st.integers(0, 5)),
    st.none() | dealers,
)
def test_assignment_picks_an_eligible_dealer_of_the_most_specific_usable_rule(
    region: str,
    rules: list[RegionRule],
    eligible: set[str],
    load: dict[str, int],
    fallback: str | None,
) -> None:
    config = LeadAssignmentRules(tuple(rules), fallback)
    got = assign_lead(region, config, eligible, load)

    def covers(rule: RegionRule) -> bool:
        if rule.region_prefix == "*":
            return True
        want = rule.region_prefix.split("-")
        return region.split("-")[: len(want)] == want

    usable = [r for r in rules if covers(r) and set(r.dealer_ids) & eligible]
    if usable:
        best = max(r.specificity for r in usable)
        assert got.rule is not None and got.rule.specificity == best
        assert got.dealer_id in set(got.rule.dealer_ids) & eligible
        least = min(load.get(x, 0) for x in set(got.rule.dealer_ids) & eligible)
        assert load.get(got.dealer_id, 0) == least
    elif fallback in eligible:
        assert (got.dealer_id, got.rule) == (fallback, None)
    else:
        assert got.dealer_id is None


@given(st.integers(0, 60), st.lists(dealers, min_size=1, max_size=5, unique=True))
def test_a_batch_spreads_evenly_over_a_rules_dealers(n: int, pool: list[str]) -> None:
    config = LeadAssignmentRules((RegionRule("CN", tuple(pool)),))
    result = assign_leads(["CN-GD"] * n, config, set(pool), {})
    counts = Counter(a.dealer_id for a in result)
    assert sum(counts.values()) == n
    per_dealer = [counts.get(x, 0) for x in pool]
    assert max(per_dealer) - min(per_dealer) <= 1
