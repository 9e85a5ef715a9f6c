"""Approval chains: rules as data, ordered steps, strict order, four eyes, rejection ends it."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wayhouse.platform.dms.domain.approval import (
    ApprovalChain,
    ApprovalRule,
    ApprovalStep,
    Approver,
    OrderSummary,
    build_chain,
)
from wayhouse.platform.dms.domain.types import (
    ApprovalStepStatus,
    DomainError,
    IllegalTransition,
    Role,
)

AT = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
RM, HQ = Role.REGION_MANAGER, Role.HQ_ADMIN
RULES = [
    ApprovalRule("regional over 10k", 1, RM, min_amount=Decimal(10_000)),
    ApprovalRule("hq over 100k", 2, HQ, min_amount=Decimal(100_000)),
    ApprovalRule("hazmat anywhere", 1, RM, product_classes=frozenset({"hazmat"})),
    ApprovalRule("north small", 1, HQ, max_amount=Decimal(500), regions=frozenset({"north"})),
]
ALICE = Approver("alice", RM, "south")
BOB = Approver("bob", HQ)


def summary(amount: int | str, region: str = "south", *classes: str) -> OrderSummary:
    return OrderSummary(Decimal(amount), region, frozenset(classes or {"general"}))


def test_no_matching_rule_means_an_approved_empty_chain() -> None:
    chain = build_chain(summary(9_999), RULES)
    assert chain.steps == ()
    assert chain.is_approved and not chain.is_rejected and chain.next_step is None


def test_amount_thresholds_are_min_inclusive_and_max_exclusive() -> None:
    assert [s.rules for s in build_chain(summary(10_000), RULES).steps] == [("regional over 10k",)]
    assert [s.level for s in build_chain(summary(100_000), RULES).steps] == [1, 2]
    assert build_chain(summary(499, "north"), RULES).steps[0].role is HQ
    assert build_chain(summary(500, "north"), RULES).steps == ()


def test_region_and_product_class_conditions() -> None:
    assert build_chain(summary(100, "south"), RULES).steps == ()
    assert build_chain(summary(100, "south", "general", "hazmat"), RULES).steps == (
        ApprovalStep(1, RM, "south", ("hazmat anywhere",)),
    )


def test_rules_asking_the_same_role_at_a_level_merge_and_steps_are_ordered() -> None:
    chain = build_chain(summary(250_000, "east", "hazmat"), list(reversed(RULES)))
    assert chain.steps == (
        ApprovalStep(1, RM, "east", ("hazmat anywhere", "regional over 10k")),
        ApprovalStep(2, HQ, None, ("hq over 100k",)),
    )


def test_inactive_rules_are_ignored() -> None:
    rule = ApprovalRule("off", 1, HQ, active=False)
    assert build_chain(summary(1), [rule]).steps == ()


def test_rules_are_plain_data_coerced_from_storage() -> None:
    rule = ApprovalRule(
        "x", 1, "region_manager", min_amount=5, regions=["a"], product_classes=["b"]
    )  # type: ignore[arg-type]
    assert rule.role is RM and rule.min_amount == Decimal("5.00")
    assert rule.regions == frozenset({"a"}) and rule.product_classes == frozenset({"b"})


@pytest.mark.parametrize(
    "kwargs",
    [
        {"name": " ", "level": 1},
        {"name": "x", "level": 0},
        {"name": "x", "level": 1, "min_amount": Decimal(-1)},
        {"name": "x", "level": 1, "min_amount": Decimal(10), "max_amount": Decimal(10)},
    ],
)
def test_invalid_rules_are_refused(kwargs: dict) -> None:
    with pytest.raises(DomainError) as exc:
        ApprovalRule(role=HQ, **kwargs)
    assert exc.value.code == "invalid_rule"


def _two_level() -> ApprovalChain:
    return build_chain(summary(150_000), RULES)


def test_steps_are_decided_in_order_by_the_right_person() -> None:
    chain = _two_level()
    with pytest.raises(DomainError, match="needs a region_manager") as exc:
        chain.approve(BOB, AT)  # level 2 cannot jump ahead of level 1
    assert exc.value.code == "not_authorised"
    with pytest.raises(DomainError, match="region south"):
        chain.approve(Approver("carol", RM, "north"), AT)
    assert not chain.can_decide(BOB) and chain.can_decide(ALICE)
    chain.approve(ALICE, AT, "ok")
    assert chain.status_of(0) is ApprovalStepStatus.APPROVED
    assert chain.status_of(1) is ApprovalStepStatus.PENDING
    assert not chain.is_approved and chain.next_step == chain.steps[1]
    chain.approve(BOB, AT)
    assert chain.is_approved and chain.next_step is None
    with pytest.raises(IllegalTransition, match="approved"):
        chain.approve(BOB, AT)


def test_one_person_cannot_approve_two_levels() -> None:
    chain = ApprovalChain((ApprovalStep(1, HQ, None, ("a",)), ApprovalStep(2, HQ, None, ("b",))))
    chain.approve(BOB, AT)
    with pytest.raises(DomainError) as exc:
        chain.approve(BOB, AT)
    assert exc.value.code == "same_approver"
    chain.approve(Approver("dora", HQ), AT)
    assert chain.is_approved


def test_a_rejection_ends_the_chain_and_needs_a_reason() -> None:
    chain = _two_level()
    with pytest.raises(DomainError) as exc:
        chain.reject(ALICE, AT, "  ")
    assert exc.value.code == "reason_required"
    decision = chain.reject(ALICE, AT, "margin too thin")
    assert (decision.approved, decision.note, decision.step) == (False, "margin too thin", 0)
    assert chain.is_rejected and not chain.is_approved
    assert chain.status_of(0) is ApprovalStepStatus.REJECTED
    with pytest.raises(IllegalTransition, match="rejected"):
        chain.approve(BOB, AT)


# -- properties ------------------------------------------------------------------------------
rules_st = st.lists(
    st.builds(
        ApprovalRule,
        name=st.text("abcdef", min_size=1, max_size=4),
        level=st.integers(1, 3),
        role=st.sampled_from([RM, HQ]),
        min_amount=st.integers(0, 50_000).map(Decimal),
        max_amount=st.one_of(st.none(), st.integers(50_001, 200_000).map(Decimal)),
        regions=st.frozensets(st.sampled_from(["north", "south"]), max_size=2),
        product_classes=st.frozensets(st.sampled_from(["hazmat", "general"]), max_size=2),
        active=st.booleans(),
    ),
    max_size=8,
)
summary_st = st.builds(
    OrderSummary,
    amount=st.integers(0, 250_000).map(Decimal),
    region_id=st.sampled_from(["north", "south"]),
    product_classes=st.frozensets(st.sampled_from(["hazmat", "general"]), min_size=1),
)


@settings(max_examples=300, deadline=None)
@given(rules_st, summary_st)
def test_the_chain_is_exactly_the_matching_rules_in_level_order(
    rules: list[ApprovalRule], order: OrderSummary
) -> None:
    def oracle(r: ApprovalRule) -> bool:  # the conditions restated, not r.applies_to
        in_band = r.min_amount <= order.amount and (
            r.max_amount is None or order.amount < r.max_amount
        )
        region = not r.regions or order.region_id in r.regions
        classes = not r.product_classes or any(
            c in order.product_classes for c in r.product_classes
        )
        return r.active and in_band and region and classes

    chain = build_chain(order, rules)
    matching = [r for r in rules if oracle(r)]
    demanded = {(r.level, r.role) for r in matching}
    assert [(s.level, s.role) for s in chain.steps] == sorted(demanded)
    for step in chain.steps:
        assert sorted(step.rules) == sorted(
            r.name for r in matching if (r.level, r.role) == (step.level, step.role)
        )
        assert step.region_scope == (order.region_id if step.role is RM else None)


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 4), st.lists(st.booleans(), max_size=6))
def test_approved_only_when_every_step_approved(n_steps: int, votes: list[bool]) -> None:
    chain = ApprovalChain(tuple(ApprovalStep(i + 1, HQ, None, ("r",)) for i in range(n_steps)))
    for i, yes in enumerate(votes):
        who = Approver(f"u{i}", HQ)
        try:
            chain.approve(who, AT) if yes else chain.reject(who, AT, "no")
        except IllegalTransition:
            assert chain.is_approved or chain.is_rejected
    decided = votes[:n_steps]
    first_no = decided.index(False) if False in decided else None
    assert chain.is_rejected == (first_no is not None)
    assert chain.is_approved == (first_no is None and len(decided) == n_steps)
    assert len(chain.decisions) == (first_no + 1 if first_no is not None else len(decided))
