"""Who may decide on a contract version (a role above the author; a second HQ admin for HQ's
own; never the author), and the stored JSON shape of terms round-tripping through the domain."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wayhouse.platform.dms.contracts_service import parse_terms, terms_json
from wayhouse.platform.dms.domain.contracts import (
    DECISION_RANK,
    ContractTerms,
    PaymentStage,
    Quarter,
    RebateSchedule,
    RebateTier,
    SalesTarget,
    check_decider,
)
from wayhouse.platform.dms.domain.types import DomainError, Role


def test_a_regional_draft_goes_to_hq_and_an_hq_draft_to_a_second_hq_admin() -> None:
    check_decider("rm", Role.REGION_MANAGER, "hq", Role.HQ_ADMIN)
    check_decider("hq-a", Role.HQ_ADMIN, "hq-b", Role.HQ_ADMIN)
    for author, author_role, decider, decider_role in (
        ("rm-a", Role.REGION_MANAGER, "rm-b", Role.REGION_MANAGER),  # a peer, not above
        ("hq", Role.HQ_ADMIN, "rm", Role.REGION_MANAGER),  # below the author
        ("hq", Role.HQ_ADMIN, "hq", Role.HQ_ADMIN),  # the author
        ("rm", Role.REGION_MANAGER, "du", Role.DEALER_USER),  # not a manager at all
    ):
        with pytest.raises(DomainError) as err:
            check_decider(author, author_role, decider, decider_role)
        assert err.value.code == "not_authorised"


@given(
    st.sampled_from(list(Role)),
    st.sampled_from(list(Role)),
    st.sampled_from(["u1", "u2"]),
    st.sampled_from(["u1", "u2"]),
)
def test_decider_rule(author_role: Role, decider_role: Role, author: str, decider: str) -> None:
    rank = DECISION_RANK.get(decider_role, 0)
    below = DECISION_RANK.get(author_role, 0)
    top = max(DECISION_RANK.values())
    allowed = rank > 0 and author != decider and (rank > below or rank == below == top)
    try:
        check_decider(author, author_role, decider, decider_role)
    except DomainError as exc:
        assert exc.code == "not_authorised" and not allowed
    else:
        assert allowed


# -- stored terms --------------------------------------------------------------------------
cents = st.integers(1, 10**10).map(lambda c: Decimal(c).scaleb(-2))
ratios = st.integers(0, 10_000).map(lambda c: Decimal(c).scaleb(-4))


@st.composite
def contract_terms(draw: st.DrawFn) -> ContractTerms:
    start = draw(st.dates(date(2020, 1, 1), date(2030, 12, 31)))
    end = start + timedelta(days=draw(st.integers(0, 800)))
    quarters = sorted(
        {Quarter.of(start + timedelta(days=d)) for d in range((end - start).days + 1)}
    )
    lines = draw(st.lists(st.sampled_from(["pumps", "valves", "泵"]), min_size=1, unique=True))
    targets = tuple(
        SalesTarget(q, line, draw(cents))
        for q in draw(st.lists(st.sampled_from(quarters), min_size=1, unique=True))
        for line in lines
    )
    thresholds = sorted(draw(st.lists(ratios, max_size=4, unique=True)))
    rates = sorted(draw(st.lists(ratios, min_size=len(thresholds), max_size=len(thresholds))))
    tiers = tuple(RebateTier(a * 2, r) for a, r in zip(thresholds, rates, strict=True))
    shares = draw(st.lists(st.integers(1, 50), max_size=4))
    stages: tuple[PaymentStage, ...] = ()
    if shares:
        percents = [Decimal(x * 100) / sum(shares) for x in shares]
        percents = [p.quantize(Decimal("0.0001")) for p in percents]
        percents[-1] = Decimal(100) - sum(percents[:-1])
        if all(p > 0 for p in percents):
            stages = tuple(
                PaymentStage(f"s{i}", start + timedelta(days=i), p) for i, p in enumerate(percents)
            )
    return ContractTerms(start, end, targets, RebateSchedule(tiers), stages)


@given(contract_terms())
def test_stored_terms_round_trip_through_the_domain(terms: ContractTerms) -> None:
    data = {**terms_json(terms), "period_start": terms.period_start, "period_end": terms.period_end}
    assert parse_terms(data) == terms


def test_malformed_stored_terms_are_a_domain_error() -> None:
    with pytest.raises(DomainError) as err:
        parse_terms({"period_start": "2025-01-01", "period_end": "2025-12-31", "targets": [{}]})
    assert err.value.code == "invalid_contract"
