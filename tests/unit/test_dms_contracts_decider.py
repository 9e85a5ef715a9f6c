"""Who may decide on a contract version (an HQ admin or a regional manager, whoever wrote it,
never the author), and the stored JSON shape of terms round-tripping through the domain."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wayhouse.platform.dms.contracts_service import parse_terms, terms_json
from wayhouse.platform.dms.domain.contracts import (
    ContractTerms,
    PaymentStage,
    Quarter,
    RebateSchedule,
    RebateTier,
    SalesTarget,
    check_decider,
)
from wayhouse.platform.dms.domain.types import DomainError, Role


def test_hq_and_regional_managers_decide_on_each_others_drafts_but_not_their_own() -> None:
    check_decider("rm", "hq", Role.HQ_ADMIN)
    check_decider("hq", "rm", Role.REGION_MANAGER)  # HQ sets it, the region approves it
    check_decider("hq-a", "hq-b", Role.HQ_ADMIN)
    for author, decider, decider_role in (
        ("hq", "hq", Role.HQ_ADMIN),  # the author
        ("rm", "rm", Role.REGION_MANAGER),  # the author
        ("rm", "du", Role.DEALER_USER),  # not a manager at all
    ):
        with pytest.raises(DomainError) as err:
            check_decider(author, decider, decider_role)
        assert err.value.code == "not_authorised"


@given(
    st.sampled_from(list(Role)),
    st.sampled_from(["u1", "u2"]),
    st.sampled_from(["u1", "u2"]),
)
def test_decider_rule(decider_role: Role, author: str, decider: str) -> None:
    allowed = decider_role in {Role.HQ_ADMIN, Role.REGION_MANAGER} and decider != author
    try:
        check_decider(author, decider, decider_role)
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
