"""Contract terms, rebate tiers, payment stages, versions with approval, and execution."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from wayhouse.platform.dms.domain.contracts import (
    Contract,
    ContractTerms,
    DeliveredSale,
    PaymentStage,
    Quarter,
    RebateSchedule,
    RebateTier,
    SalesTarget,
    TrailingAlertPolicy,
    evaluate_execution,
    expected_to_date,
    payment_schedule,
)
from wayhouse.platform.dms.domain.types import ContractStatus, DomainError, IllegalTransition

M = Decimal
T0 = datetime(2025, 1, 2, 9, 0, tzinfo=UTC)
Q1, Q2 = Quarter(2025, 1), Quarter(2025, 2)
TIERS = RebateSchedule(
    (
        RebateTier(M("0.9"), M("0.02")),
        RebateTier(M("1.0"), M("0.03")),
        RebateTier(M("1.2"), M("0.05")),
    )
)


def t(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def terms(**changes: object) -> ContractTerms:
    base: dict[str, object] = {
        "period_start": date(2025, 1, 1),
        "period_end": date(2025, 12, 31),
        "targets": (
            SalesTarget(Q1, "pumps", M("90000")),
            SalesTarget(Q1, "valves", M("10000")),
            SalesTarget(Q2, "pumps", M("120000")),
        ),
        "rebates": TIERS,
        "payment_stages": (
            PaymentStage("deposit", date(2025, 1, 15), M("30")),
            PaymentStage("mid-year", date(2025, 6, 30), M("30")),
            PaymentStage("final", date(2025, 12, 15), M("40")),
        ),
    }
    base.update(changes)
    return ContractTerms(**base)  # type: ignore[arg-type]


# --- quarters -----------------------------------------------------------------------------


def test_quarters() -> None:
    assert Quarter.of(date(2025, 5, 31)) == Q2
    assert (Q1.start, Q1.end) == (date(2025, 1, 1), date(2025, 3, 31))
    assert Quarter(2024, 4).end == date(2024, 12, 31)
    assert Quarter.parse("2025q3") == Quarter(2025, 3) and str(Quarter(2025, 3)) == "2025Q3"
    for bad in ("2025", "Q3", "2025Q5"):
        with pytest.raises(DomainError):
            Quarter.parse(bad)


@given(st.dates(date(1990, 1, 1), date(2100, 12, 31)))
def test_every_day_lies_in_its_quarter(day: date) -> None:
    q = Quarter.of(day)
    assert q.start <= day <= q.end


# --- rebates ------------------------------------------------------------------------------


def test_rebate_tiers_apply_retroactively_at_the_reached_tier() -> None:
    assert TIERS.rebate(M("890"), M("1000")) == 0
    assert TIERS.rebate(M("900"), M("1000")) == M("18.00")
    assert TIERS.rebate(M("1000"), M("1000")) == M("30.00")
    assert TIERS.rebate(M("1300"), M("1000")) == M("65.00")
    assert TIERS.rebate(M("-50"), M("1000")) == 0  # returns never make a negative rebate


def test_tier_tables_are_validated() -> None:
    with pytest.raises(DomainError, match="strictly increasing"):
        RebateSchedule((RebateTier(M("1"), M("0.02")), RebateTier(M("1"), M("0.03"))))
    with pytest.raises(DomainError, match="may not fall"):
        RebateSchedule((RebateTier(M("0.9"), M("0.03")), RebateTier(M("1"), M("0.02"))))
    with pytest.raises(DomainError):
        RebateSchedule((RebateTier(M("0.9"), M("1.5")),))


def _ratio(x: int) -> Decimal:
    return Decimal(x).scaleb(-2)


tier_tables = (
    st.lists(st.tuples(st.integers(0, 200), st.integers(0, 20)), max_size=5)
    .map(lambda xs: sorted({a: r for a, r in xs}.items()))
    .map(
        # Rates made non-decreasing by construction: running maximum.
        lambda xs: RebateSchedule(
            tuple(
                RebateTier(_ratio(a), _ratio(max(r for _, r in xs[: k + 1])))
                for k, (a, _) in enumerate(xs)
            )
        )
    )
)
amounts = st.integers(0, 10_000_000).map(lambda c: Decimal(c).scaleb(-2))
targets = st.integers(1, 10_000_000).map(lambda c: Decimal(c).scaleb(-2))


@given(tier_tables, targets, amounts, amounts)
def test_rebate_is_monotonic_in_achievement(
    table: RebateSchedule, target: Decimal, a: Decimal, b: Decimal
) -> None:
    low, high = min(a, b), max(a, b)
    assert table.rate_for(low / target) <= table.rate_for(high / target)
    assert table.rebate(low, target) <= table.rebate(high, target)


@given(tier_tables, targets, amounts)
def test_rebate_is_zero_below_the_first_tier_and_never_exceeds_the_top_rate(
    table: RebateSchedule, target: Decimal, actual: Decimal
) -> None:
    rebate = table.rebate(actual, target)
    if not table.tiers or actual / target < table.tiers[0].min_achievement:
        assert rebate == 0
    top = table.tiers[-1].rate if table.tiers else 0
    assert 0 <= rebate <= actual * top + M("0.005")


# --- terms and payment stages -------------------------------------------------------------


def test_terms_are_validated() -> None:
    with pytest.raises(DomainError, match="outside the period"):
        terms(targets=(SalesTarget(Quarter(2026, 1), "pumps", M("1")),))
    with pytest.raises(DomainError, match="two targets"):
        terms(targets=(SalesTarget(Q1, "pumps", M("1")), SalesTarget(Q1, "pumps", M("2"))))
    with pytest.raises(DomainError, match="100"):
        terms(payment_stages=(PaymentStage("all", date(2025, 1, 1), M("99")),))
    with pytest.raises(DomainError, match="due-date order"):
        terms(
            payment_stages=(
                PaymentStage("b", date(2025, 6, 1), M("50")),
                PaymentStage("a", date(2025, 1, 1), M("50")),
            )
        )
    with pytest.raises(DomainError):
        terms(period_end=date(2024, 12, 31))
    with pytest.raises(DomainError):
        SalesTarget(Q1, "pumps", M("0"))


def test_payment_schedule_splits_the_committed_value() -> None:
    schedule = payment_schedule(terms())
    assert [(s.name, s.amount) for s in schedule] == [
        ("deposit", M("66000.00")),
        ("mid-year", M("66000.00")),
        ("final", M("88000.00")),
    ]


@given(
    st.lists(st.integers(1, 10_000), min_size=1, max_size=6),
    st.integers(0, 10**9).map(lambda c: Decimal(c).scaleb(-2)),
)
def test_payment_stages_always_sum_to_the_total(weights: list[int], total: Decimal) -> None:
    # Percentages with up to 4 decimals that add up to exactly 100.
    scale = sum(weights)
    shares = [Decimal(w * 1_000_000 // scale).scaleb(-4) for w in weights]
    shares[-1] += M(100) - sum(shares)
    assume(all(s > 0 for s in shares))
    stages = tuple(PaymentStage(f"s{k}", date(2025, 1, 1), s) for k, s in enumerate(shares))
    schedule = payment_schedule(terms(payment_stages=stages), total)
    assert sum(s.amount for s in schedule) == total
    for stage, paid in zip(stages[:-1], schedule[:-1], strict=True):
        assert abs(paid.amount - total * stage.percent / 100) <= M("0.005")


# --- versions and approval ----------------------------------------------------------------


def approved_contract() -> Contract:
    c = Contract.draft("K1", "D1", terms(), t(0), "hq-anna")
    c.submit(t(1), "hq-anna")
    c.approve(t(2), "rm-bo", "fine")
    return c


def test_draft_submit_approve() -> None:
    c = approved_contract()
    assert c.active is c.latest and c.latest.status is ContractStatus.ACTIVE
    steps = [(e.entity_id, e.from_state, e.to_state, e.by) for e in c.history]
    assert steps == [
        ("K1/v1", None, "draft", "hq-anna"),
        ("K1/v1", "draft", "pending_approval", "hq-anna"),
        ("K1/v1", "pending_approval", "active", "rm-bo"),
    ]


def test_the_submitter_cannot_approve() -> None:
    c = Contract.draft("K1", "D1", terms(), t(0), "hq-anna")
    c.submit(t(1), "hq-anna")
    with pytest.raises(IllegalTransition, match="submitter"):
        c.approve(t(2), "hq-anna")
    assert c.latest.status is ContractStatus.PENDING_APPROVAL


def test_reject_needs_a_reason_and_a_rejected_version_can_be_revised() -> None:
    c = Contract.draft("K1", "D1", terms(), t(0), "a")
    c.submit(t(1), "a")
    with pytest.raises(IllegalTransition):
        c.reject(t(2), "b", "")
    c.reject(t(2), "b", "targets too low")
    v2 = c.revise(terms(), t(3), "a", "raised targets")
    assert (v2.number, v2.status, c.active) == (2, ContractStatus.DRAFT, None)


def test_revision_replaces_the_active_version_only_when_approved() -> None:
    c = approved_contract()
    new_terms = terms(rebates=RebateSchedule((RebateTier(M("1"), M("0.04")),)))
    c.revise(new_terms, t(3), "hq-anna", "better rebate")
    assert c.active is c.versions[0]  # v1 stays in force while v2 is drafted
    c.submit(t(4), "hq-anna")
    c.approve(t(5), "rm-bo")
    v1, v2 = c.versions
    assert (v1.status, v2.status) == (ContractStatus.SUPERSEDED, ContractStatus.ACTIVE)
    assert c.active is v2 and c.active.terms == new_terms
    assert (v1.history[-1].to_state, v1.history[-1].reason) == ("superseded", "replaced by v2")


def test_only_drafts_are_edited_and_moves_need_the_right_state() -> None:
    c = approved_contract()
    with pytest.raises(DomainError, match="revise"):
        c.edit_draft(terms())
    with pytest.raises(IllegalTransition):
        c.submit(t(3), "a")
    c.revise(terms(), t(3), "a", "update")
    c.edit_draft(terms(rebates=TIERS))
    c.submit(t(4), "a")
    with pytest.raises(IllegalTransition):
        c.revise(terms(), t(5), "a", "again")
    c.withdraw(t(5), "a", "forgot a line")
    assert c.latest.status is ContractStatus.DRAFT
    with pytest.raises(IllegalTransition):
        c.approve(t(6), "b")


# --- execution ----------------------------------------------------------------------------

POLICY = TrailingAlertPolicy(margin=M("0.10"))


def sale(day: date, line: str, amount: str) -> DeliveredSale:
    return DeliveredSale(day, line, M(amount))


def test_execution_mid_quarter_pro_rata_with_alert() -> None:
    as_of = date(2025, 2, 14)  # day 45 of 90 in Q1: half the target is expected
    sales = [
        sale(date(2025, 1, 10), "pumps", "30000"),
        sale(date(2025, 2, 1), "pumps", "9000"),
        sale(date(2025, 1, 20), "valves", "6000"),
        sale(date(2025, 2, 20), "pumps", "99999"),  # after as_of: not yet
        sale(date(2024, 12, 31), "pumps", "99999"),  # before the period
        sale(date(2025, 1, 5), "hoses", "99999"),  # no target for this line
    ]
    report = evaluate_execution(terms(), sales, as_of, POLICY)
    pumps, valves, q2 = report.lines
    assert (pumps.actual, pumps.expected_to_date) == (M("39000.00"), M("45000.00"))
    assert pumps.trailing  # 39000 < 45000 * 0.9 = 40500
    assert (valves.actual, valves.expected_to_date, valves.trailing) == (
        M("6000.00"),
        M("5000.00"),
        False,
    )
    assert (q2.expected_to_date, q2.trailing) == (0, False)
    assert [(a.product_line, a.shortfall) for a in report.alerts] == [("pumps", M("6000.00"))]
    # Achievement against the full quarter target: pumps 43 %, valves 60 %: no tier yet.
    assert report.accrued_rebate == 0


def test_finished_quarter_is_judged_in_full_and_accrues_rebate() -> None:
    sales = [sale(date(2025, 3, 1), "pumps", "95000"), sale(date(2025, 3, 2), "valves", "12500")]
    report = evaluate_execution(terms(), sales, date(2025, 4, 1), POLICY)  # Q2 in grace
    pumps, valves, _ = report.lines
    assert (pumps.rebate_rate, pumps.accrued_rebate) == (M("0.03"), M("2850.00"))
    assert (valves.rebate_rate, valves.accrued_rebate) == (M("0.05"), M("625.00"))
    assert report.accrued_rebate == M("3475.00") and report.alerts == ()
    assert (report.total_target, report.total_actual) == (M("220000.00"), M("107500.00"))


def test_alert_boundary_and_non_pro_rata_policy() -> None:
    at_margin = [sale(date(2025, 3, 1), "pumps", "81000"), sale(date(2025, 3, 1), "valves", "9000")]
    report = evaluate_execution(terms(), at_margin, date(2025, 3, 31), POLICY)
    assert report.alerts == ()  # exactly 10 % behind is not "more than" the margin
    quarter_end_only = TrailingAlertPolicy(margin=M("0.10"), pro_rata=False)
    assert evaluate_execution(terms(), [], date(2025, 3, 30), quarter_end_only).alerts == ()
    assert len(evaluate_execution(terms(), [], date(2025, 3, 31), quarter_end_only).alerts) == 2
    with pytest.raises(DomainError):
        TrailingAlertPolicy(margin=M("1"))


def test_a_contract_starting_mid_quarter_expects_only_its_share() -> None:
    late = terms(period_start=date(2025, 3, 2))  # 30 of Q1's days are left
    target = late.targets[0]
    assert expected_to_date(late, target, date(2025, 3, 16), True) == M("45000.00")
    assert expected_to_date(late, target, date(2025, 3, 1), True) == 0


def test_no_alert_in_the_grace_days_of_a_target() -> None:
    policy = TrailingAlertPolicy(margin=M("0.10"), grace_days=14)
    assert evaluate_execution(terms(), [], date(2025, 1, 14), policy).alerts == ()
    assert len(evaluate_execution(terms(), [], date(2025, 1, 15), policy).alerts) == 2
    no_grace = TrailingAlertPolicy(margin=M("0.10"), grace_days=0)
    assert len(evaluate_execution(terms(), [], date(2025, 1, 1), no_grace).alerts) == 2


days_2025 = st.integers(0, 364).map(lambda k: date(2025, 1, 1) + timedelta(days=k))
sales_strategy = st.lists(
    st.builds(DeliveredSale, days_2025, st.sampled_from(["pumps", "valves"]), amounts),
    max_size=15,
)


@given(
    sales_strategy,
    days_2025,
    st.integers(0, 99).map(lambda m: Decimal(m).scaleb(-2)),
    st.integers(0, 30),
)
def test_alert_iff_actual_trails_expected_by_more_than_the_margin(
    sales: list[DeliveredSale], as_of: date, margin: Decimal, grace: int
) -> None:
    policy = TrailingAlertPolicy(margin=margin, grace_days=grace)
    report = evaluate_execution(terms(), sales, as_of, policy)
    alerted = {(a.quarter, a.product_line) for a in report.alerts}
    for line in report.lines:
        actual = sum(
            (
                s.amount
                for s in sales
                if s.product_line == line.product_line
                and Quarter.of(s.delivered_on) == line.quarter
                and s.delivered_on <= as_of
            ),
            Decimal(0),
        )
        assert line.actual == actual
        assert 0 <= line.expected_to_date <= line.target
        behind = line.expected_to_date > 0 and actual < line.expected_to_date * (1 - margin)
        settled_in = as_of >= line.quarter.end or (as_of - line.quarter.start).days >= grace
        assert line.trailing is (behind and settled_in)
        assert ((line.quarter, line.product_line) in alerted) is line.trailing


@given(sales_strategy, days_2025, days_2025)
def test_expectation_and_accrual_never_fall_as_time_passes(
    sales: list[DeliveredSale], a: date, b: date
) -> None:
    early, late = min(a, b), max(a, b)
    r1 = evaluate_execution(terms(), sales, early, POLICY)
    r2 = evaluate_execution(terms(), sales, late, POLICY)
    for x, y in zip(r1.lines, r2.lines, strict=True):
        assert x.expected_to_date <= y.expected_to_date
        assert x.actual <= y.actual  # all sales positive here
        assert x.accrued_rebate <= y.accrued_rebate
