"""Dealer contracts: terms (period, quarterly targets per product line, rebate tiers, payment
stages), versions with approval, and execution against delivered sales.

A contract is a list of versions. Only a draft is edited; changing an approved contract means
a new version, which replaces the active one only when it is approved itself, so there is
always exactly one set of terms in force and every earlier one stays readable.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from itertools import pairwise
from typing import NoReturn

from wayhouse.platform.dms.domain.dealers import TransitionEvent, require_reason, transition_event
from wayhouse.platform.dms.domain.types import (
    ContractStatus,
    DomainError,
    IllegalTransition,
    Role,
    money,
)

ZERO = money(0)
HUNDRED = Decimal(100)


def _invalid(message: str) -> DomainError:
    return DomainError("invalid_contract", message)


# --- terms --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, order=True)
class Quarter:
    year: int
    q: int

    def __post_init__(self) -> None:
        if not 1 <= self.q <= 4:
            raise _invalid(f"quarter must be 1-4, got {self.q}")

    @classmethod
    def of(cls, day: date) -> Quarter:
        return cls(day.year, (day.month - 1) // 3 + 1)

    @classmethod
    def parse(cls, text: str) -> Quarter:
        """``2025Q3`` (the form the API and the database use)."""
        year, sep, q = text.strip().upper().partition("Q")
        if not sep or not year.isdigit() or not q.isdigit():
            raise _invalid(f"not a quarter: {text!r} (expected like 2025Q3)")
        return cls(int(year), int(q))

    @property
    def start(self) -> date:
        return date(self.year, 3 * self.q - 2, 1)

    @property
    def end(self) -> date:
        """Last day, inclusive."""
        nxt = date(self.year + 1, 1, 1) if self.q == 4 else date(self.year, 3 * self.q + 1, 1)
        return nxt - timedelta(days=1)

    def __str__(self) -> str:
        return f"{self.year}Q{self.q}"


@dataclass(frozen=True, slots=True)
class SalesTarget:
    quarter: Quarter
    product_line: str
    amount: Decimal

    def __post_init__(self) -> None:
        object.__setattr__(self, "amount", money(self.amount))
        if self.amount <= 0:
            raise _invalid(f"target {self.quarter} {self.product_line}: amount must be > 0")
        if not self.product_line.strip():
            raise _invalid("a target names its product line")


@dataclass(frozen=True, slots=True)
class RebateTier:
    """From ``min_achievement`` (actual / target, 1 = 100 %) on, ``rate`` of actual sales."""

    min_achievement: Decimal
    rate: Decimal


@dataclass(frozen=True, slots=True)
class RebateSchedule:
    """Editable tier table. The reached tier's rate applies to all sales of the target
    (retroactive tiers, the usual dealer deal). Rates may not fall as achievement rises:
    selling more must never earn a dealer less."""

    tiers: tuple[RebateTier, ...]

    def __post_init__(self) -> None:
        for tier in self.tiers:
            if tier.min_achievement < 0 or not 0 <= tier.rate <= 1:
                raise _invalid(f"rebate tier out of range: {tier}")
        for lower, upper in pairwise(self.tiers):
            if upper.min_achievement <= lower.min_achievement:
                raise _invalid("rebate tiers must have strictly increasing thresholds")
            if upper.rate < lower.rate:
                raise _invalid("rebate rates may not fall as achievement rises")

    def rate_for(self, achievement: Decimal) -> Decimal:
        rate = Decimal(0)
        for tier in self.tiers:
            if achievement >= tier.min_achievement:
                rate = tier.rate
        return rate

    def rebate(self, actual: Decimal, target: Decimal) -> Decimal:
        """Rebate earned by ``actual`` sales against ``target`` (returns netted below zero earn
        nothing rather than a negative rebate)."""
        sales = max(actual, ZERO)
        return money(sales * self.rate_for(sales / target))


@dataclass(frozen=True, slots=True)
class PaymentStage:
    name: str
    due_on: date
    percent: Decimal  # of the contract value; all stages add up to 100


@dataclass(frozen=True, slots=True)
class ScheduledPayment:
    name: str
    due_on: date
    amount: Decimal


@dataclass(frozen=True, slots=True)
class ContractTerms:
    period_start: date
    period_end: date  # inclusive
    targets: tuple[SalesTarget, ...]
    rebates: RebateSchedule
    payment_stages: tuple[PaymentStage, ...] = ()

    def __post_init__(self) -> None:
        if self.period_end < self.period_start:
            raise _invalid("the contract period ends before it starts")
        seen = set()
        for t in self.targets:
            if t.quarter.end < self.period_start or t.quarter.start > self.period_end:
                raise _invalid(f"target {t.quarter} {t.product_line} lies outside the period")
            if (t.quarter, t.product_line) in seen:
                raise _invalid(f"two targets for {t.quarter} {t.product_line}")
            seen.add((t.quarter, t.product_line))
        if self.payment_stages:
            if any(s.percent <= 0 for s in self.payment_stages):
                raise _invalid("every payment stage needs a positive share")
            if sum(s.percent for s in self.payment_stages) != HUNDRED:
                raise _invalid("payment stages must add up to 100 %")
            dues = [s.due_on for s in self.payment_stages]
            if dues != sorted(dues):
                raise _invalid("payment stages must be in due-date order")

    @property
    def committed_value(self) -> Decimal:
        return sum((t.amount for t in self.targets), ZERO)

    def window(self, target: SalesTarget) -> tuple[date, date]:
        """The days a target covers: its quarter clipped to the contract period."""
        return (
            max(target.quarter.start, self.period_start),
            min(target.quarter.end, self.period_end),
        )


def payment_schedule(
    terms: ContractTerms, total: Decimal | None = None
) -> tuple[ScheduledPayment, ...]:
    """Split ``total`` (default: the committed value) over the stages. Each stage is rounded
    to cents and the last takes the remainder, so the stages always sum to the total."""
    total = money(terms.committed_value if total is None else total)
    out = []
    allotted = ZERO
    for i, stage in enumerate(terms.payment_stages):
        last = i == len(terms.payment_stages) - 1
        amount = total - allotted if last else money(total * stage.percent / HUNDRED)
        allotted += amount
        out.append(ScheduledPayment(stage.name, stage.due_on, amount))
    return tuple(out)


# --- versions and approval ----------------------------------------------------------------


@dataclass
class ContractVersion:
    number: int
    terms: ContractTerms
    author: str
    status: ContractStatus = ContractStatus.DRAFT
    history: list[TransitionEvent] = field(default_factory=list)

    def submitted_by(self) -> str | None:
        for event in reversed(self.history):
            if event.to_state == ContractStatus.PENDING_APPROVAL:
                return event.by
        return None


@dataclass
class Contract:
    contract_id: str
    dealer_id: str
    versions: list[ContractVersion] = field(default_factory=list)

    @classmethod
    def draft(
        cls, contract_id: str, dealer_id: str, terms: ContractTerms, at: datetime, by: str
    ) -> Contract:
        contract = cls(contract_id, dealer_id)
        contract._new_version(terms, at, by, "first draft")
        return contract

    @property
    def latest(self) -> ContractVersion:
        return self.versions[-1]

    @property
    def active(self) -> ContractVersion | None:
        return next((v for v in self.versions if v.status is ContractStatus.ACTIVE), None)

    @property
    def history(self) -> list[TransitionEvent]:
        return sorted((e for v in self.versions for e in v.history), key=lambda e: e.at)

    def edit_draft(self, terms: ContractTerms) -> None:
        if self.latest.status is not ContractStatus.DRAFT:
            raise DomainError(
                "contract_not_draft",
                f"contract {self.contract_id} v{self.latest.number} is {self.latest.status}; "
                "revise it to change terms",
            )
        self.latest.terms = terms

    def revise(self, terms: ContractTerms, at: datetime, by: str, reason: str) -> ContractVersion:
        """Start the next version from an active or rejected one; the active one stays in force
        until the new one is approved."""
        if self.latest.status not in (ContractStatus.ACTIVE, ContractStatus.REJECTED):
            self._refuse(
                ContractStatus.DRAFT, f"v{self.latest.number} is {self.latest.status}, not final"
            )
        require_reason("contract", self.latest.status, ContractStatus.DRAFT, reason)
        return self._new_version(terms, at, by, reason)

    def submit(self, at: datetime, by: str) -> TransitionEvent:
        return self._move(ContractStatus.DRAFT, ContractStatus.PENDING_APPROVAL, at, by, "")

    def withdraw(self, at: datetime, by: str, reason: str) -> TransitionEvent:
        require_reason("contract", self.latest.status, ContractStatus.DRAFT, reason)
        return self._move(ContractStatus.PENDING_APPROVAL, ContractStatus.DRAFT, at, by, reason)

    def approve(self, at: datetime, by: str, reason: str = "") -> TransitionEvent:
        """Four eyes: whoever submitted a version may not approve it."""
        if (
            self.latest.status is ContractStatus.PENDING_APPROVAL
            and by == self.latest.submitted_by()
        ):
            self._refuse(ContractStatus.ACTIVE, "the submitter cannot approve their own contract")
        previous = self.active
        event = self._move(ContractStatus.PENDING_APPROVAL, ContractStatus.ACTIVE, at, by, reason)
        if previous is not None:
            previous.history.append(
                transition_event(
                    "contract",
                    self._entity_id(previous),
                    previous.history,
                    previous.status,
                    ContractStatus.SUPERSEDED,
                    at,
                    by,
                    f"replaced by v{self.latest.number}",
                )
            )
            previous.status = ContractStatus.SUPERSEDED
        return event

    def reject(self, at: datetime, by: str, reason: str) -> TransitionEvent:
        require_reason("contract", self.latest.status, ContractStatus.REJECTED, reason)
        return self._move(ContractStatus.PENDING_APPROVAL, ContractStatus.REJECTED, at, by, reason)

    def _entity_id(self, version: ContractVersion) -> str:
        return f"{self.contract_id}/v{version.number}"

    def _new_version(
        self, terms: ContractTerms, at: datetime, by: str, reason: str
    ) -> ContractVersion:
        version = ContractVersion(len(self.versions) + 1, terms, by)
        history = self.latest.history if self.versions else []
        version.history.append(
            transition_event(
                "contract",
                self._entity_id(version),
                history,
                None,
                ContractStatus.DRAFT,
                at,
                by,
                reason,
            )
        )
        self.versions.append(version)
        return version

    def _move(
        self,
        source: ContractStatus,
        target: ContractStatus,
        at: datetime,
        by: str,
        reason: str,
    ) -> TransitionEvent:
        version = self.latest
        if version.status is not source:
            self._refuse(target, f"v{version.number} is {version.status}, not {source}")
        event = transition_event(
            "contract", self._entity_id(version), version.history, source, target, at, by, reason
        )
        version.status = target
        version.history.append(event)
        return event

    def _refuse(self, target: ContractStatus, reason: str) -> NoReturn:
        raise IllegalTransition("contract", self.latest.status, target, reason)


# --- who decides --------------------------------------------------------------------------

# HQ sets contracts and a regional manager approves those of the region's dealers, so either
# role decides on a version whoever wrote it, HQ on another HQ admin's draft too. Which
# contracts a regional manager reaches (their region's) is the caller's scope, enforced where
# the contract is looked up, not here.
DECIDERS = frozenset({Role.HQ_ADMIN, Role.REGION_MANAGER})


def check_decider(author: str, decider: str, decider_role: Role) -> None:
    """Raise unless ``decider`` may approve or reject a version written by ``author``: an HQ
    admin or a regional manager other than the author. (``Contract.approve`` separately keeps
    the submitter out: four eyes on both.)"""
    if decider_role not in DECIDERS:
        raise DomainError("not_authorised", f"a {decider_role} does not decide on contracts")
    if decider == author:
        raise DomainError("not_authorised", "the author cannot decide on their own contract")


# --- execution ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DeliveredSale:
    """Delivered value of one order line (negative for a return)."""

    delivered_on: date
    product_line: str
    amount: Decimal


@dataclass(frozen=True, slots=True)
class TrailingAlertPolicy:
    """Editable: alert when actual sales are more than ``margin`` (0.10 = 10 %) below what the
    target expects by now. ``pro_rata``: expect the target evenly over its days; otherwise
    only a finished quarter is judged. ``grace_days``: no alert in a target's first days,
    when a single order decides the ratio and every quarter would open with an alarm."""

    margin: Decimal = Decimal("0.10")
    pro_rata: bool = True
    grace_days: int = 14

    def __post_init__(self) -> None:
        if not 0 <= self.margin < 1:
            raise DomainError("invalid_policy", "the trailing margin is a fraction in [0, 1)")
        if self.grace_days < 0:
            raise DomainError("invalid_policy", "grace days cannot be negative")


@dataclass(frozen=True, slots=True)
class TargetProgress:
    quarter: Quarter
    product_line: str
    target: Decimal
    actual: Decimal
    expected_to_date: Decimal
    achievement: Decimal  # actual / target
    rebate_rate: Decimal
    accrued_rebate: Decimal
    trailing: bool


@dataclass(frozen=True, slots=True)
class TrailingAlert:
    quarter: Quarter
    product_line: str
    expected: Decimal
    actual: Decimal
    shortfall: Decimal
    margin: Decimal


@dataclass(frozen=True, slots=True)
class ExecutionReport:
    as_of: date
    lines: tuple[TargetProgress, ...]
    alerts: tuple[TrailingAlert, ...]

    @property
    def total_target(self) -> Decimal:
        return sum((line.target for line in self.lines), ZERO)

    @property
    def total_actual(self) -> Decimal:
        return sum((line.actual for line in self.lines), ZERO)

    @property
    def accrued_rebate(self) -> Decimal:
        return sum((line.accrued_rebate for line in self.lines), ZERO)


def expected_to_date(
    terms: ContractTerms, target: SalesTarget, as_of: date, pro_rata: bool
) -> Decimal:
    start, end = terms.window(target)
    if as_of < start:
        return ZERO
    if as_of >= end:
        return target.amount
    if not pro_rata:
        return ZERO
    elapsed = (as_of - start).days + 1  # as_of counts as a sales day
    return money(target.amount * elapsed / ((end - start).days + 1))


def is_trailing(actual: Decimal, expected: Decimal, margin: Decimal) -> bool:
    return expected > 0 and actual < expected * (1 - margin)


def evaluate_execution(
    terms: ContractTerms,
    sales: Iterable[DeliveredSale],
    as_of: date,
    policy: TrailingAlertPolicy,
) -> ExecutionReport:
    """Actual delivered sales against each target up to ``as_of``, accrued rebate and alerts.
    A sale counts toward the target of its quarter and product line if it falls inside the
    contract period; sales of lines without a target earn nothing here."""
    actuals: dict[tuple[Quarter, str], Decimal] = defaultdict(lambda: ZERO)
    for sale in sales:
        if terms.period_start <= sale.delivered_on <= min(terms.period_end, as_of):
            actuals[(Quarter.of(sale.delivered_on), sale.product_line)] += money(sale.amount)

    lines, alerts = [], []
    for t in sorted(terms.targets, key=lambda t: (t.quarter, t.product_line)):
        actual = actuals.get((t.quarter, t.product_line), ZERO)
        expected = expected_to_date(terms, t, as_of, policy.pro_rata)
        start, end = terms.window(t)
        in_grace = as_of < end and (as_of - start).days < policy.grace_days
        trailing = not in_grace and is_trailing(actual, expected, policy.margin)
        achievement = actual / t.amount
        lines.append(
            TargetProgress(
                t.quarter,
                t.product_line,
                t.amount,
                actual,
                expected,
                achievement,
                terms.rebates.rate_for(max(achievement, Decimal(0))),
                terms.rebates.rebate(actual, t.amount),
                trailing,
            )
        )
        if trailing:
            alerts.append(
                TrailingAlert(
                    t.quarter, t.product_line, expected, actual, expected - actual, policy.margin
                )
            )
    return ExecutionReport(as_of, tuple(lines), tuple(alerts))
