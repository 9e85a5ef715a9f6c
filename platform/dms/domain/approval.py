"""Approval chains: which people must approve an order, in what order, decided by rules.

Rules are plain data (stored and edited by HQ). Every active rule that matches an order adds a
step at its level; rules that ask the same role at the same level merge into one step, so a
manager is not asked twice. Steps are decided strictly in order, one person per step (a
second level exists to get a second pair of eyes), and one rejection ends the chain.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from .types import ApprovalStepStatus, DomainError, IllegalTransition, Role, money


@dataclass(frozen=True, slots=True)
class OrderSummary:
    """What the rules look at. Built by ``Order.summary()``."""

    amount: Decimal
    region_id: str
    product_classes: frozenset[str]


@dataclass(frozen=True, slots=True)
class ApprovalRule:
    """Demand an approval by ``role`` at ``level`` when an order matches every condition.

    ``min_amount <= amount < max_amount``; empty ``regions`` / ``product_classes`` match any;
    ``product_classes`` matches when the order contains at least one of them.
    """

    name: str
    level: int
    role: Role
    min_amount: Decimal = Decimal(0)
    max_amount: Decimal | None = None
    regions: frozenset[str] = frozenset()
    product_classes: frozenset[str] = frozenset()
    active: bool = True

    def __post_init__(self) -> None:
        # Accept lists and plain numbers as they come from storage/JSON, keep them canonical.
        object.__setattr__(self, "role", Role(self.role))
        object.__setattr__(self, "min_amount", money(self.min_amount))
        if self.max_amount is not None:
            object.__setattr__(self, "max_amount", money(self.max_amount))
        object.__setattr__(self, "regions", frozenset(self.regions))
        object.__setattr__(self, "product_classes", frozenset(self.product_classes))
        if not self.name.strip():
            raise DomainError("invalid_rule", "an approval rule needs a name")
        if self.level < 1:
            raise DomainError("invalid_rule", f"rule {self.name}: level must be >= 1")
        if self.min_amount < 0:
            raise DomainError("invalid_rule", f"rule {self.name}: min_amount must be >= 0")
        if self.max_amount is not None and self.max_amount <= self.min_amount:
            raise DomainError("invalid_rule", f"rule {self.name}: max_amount must exceed min")

    def applies_to(self, order: OrderSummary) -> bool:
        return (
            self.active
            and order.amount >= self.min_amount
            and (self.max_amount is None or order.amount < self.max_amount)
            and (not self.regions or order.region_id in self.regions)
            and (not self.product_classes or bool(self.product_classes & order.product_classes))
        )


@dataclass(frozen=True, slots=True)
class ApprovalStep:
    level: int
    role: Role
    region_scope: str | None  # only approvers of this region may decide; None = any
    rules: tuple[str, ...]  # the rule names that demanded it, shown to the approver


@dataclass(frozen=True, slots=True)
class Approver:
    user_id: str
    role: Role
    region_id: str | None = None


@dataclass(frozen=True, slots=True)
class ApprovalDecision:
    step: int  # index into ``ApprovalChain.steps``
    user_id: str
    role: Role
    approved: bool
    at: datetime
    note: str = ""


def build_chain(order: OrderSummary, rules: Iterable[ApprovalRule]) -> ApprovalChain:
    """The ordered steps for ``order``. No matching rule = an empty, already approved chain."""
    merged: dict[tuple[int, Role], list[str]] = {}
    for rule in rules:
        if rule.applies_to(order):
            merged.setdefault((rule.level, rule.role), []).append(rule.name)
    steps = tuple(
        ApprovalStep(
            level,
            role,
            # A region manager only sees its own region, so its step is scoped to it.
            order.region_id if role is Role.REGION_MANAGER else None,
            tuple(sorted(names)),
        )
        for (level, role), names in sorted(merged.items(), key=lambda kv: (kv[0][0], kv[0][1]))
    )
    return ApprovalChain(steps)


@dataclass
class ApprovalChain:
    steps: tuple[ApprovalStep, ...]
    decisions: list[ApprovalDecision] = field(default_factory=list)

    def status_of(self, index: int) -> ApprovalStepStatus:
        for d in self.decisions:
            if d.step == index:
                return ApprovalStepStatus.APPROVED if d.approved else ApprovalStepStatus.REJECTED
        return ApprovalStepStatus.PENDING

    @property
    def is_rejected(self) -> bool:
        return any(not d.approved for d in self.decisions)

    @property
    def is_approved(self) -> bool:
        return not self.is_rejected and len(self.decisions) == len(self.steps)

    @property
    def next_index(self) -> int | None:
        """The step waiting for a decision; None once approved or rejected."""
        if self.is_rejected or self.is_approved:
            return None
        return len(self.decisions)  # steps are decided strictly in order

    @property
    def next_step(self) -> ApprovalStep | None:
        i = self.next_index
        return None if i is None else self.steps[i]

    def can_decide(self, who: Approver) -> bool:
        try:
            self._check(who)
        except DomainError:
            return False
        return True

    def approve(self, who: Approver, at: datetime, note: str = "") -> ApprovalDecision:
        return self._decide(who, True, at, note)

    def reject(self, who: Approver, at: datetime, reason: str) -> ApprovalDecision:
        if not reason.strip():
            raise DomainError("reason_required", "a rejection needs a reason")
        return self._decide(who, False, at, reason)

    def _check(self, who: Approver) -> int:
        index = self.next_index
        if index is None:
            state = "rejected" if self.is_rejected else "approved"
            raise IllegalTransition("approval chain", state, "decided", "the chain is closed")
        step = self.steps[index]
        if who.role is not step.role:
            raise DomainError(
                "not_authorised", f"step {index + 1} needs a {step.role}, not a {who.role}"
            )
        if step.region_scope is not None and who.region_id != step.region_scope:
            raise DomainError(
                "not_authorised", f"step {index + 1} is for region {step.region_scope}"
            )
        if any(d.user_id == who.user_id for d in self.decisions):
            raise DomainError(
                "same_approver", f"{who.user_id} already decided an earlier step of this chain"
            )
        return index

    def _decide(self, who: Approver, approved: bool, at: datetime, note: str) -> ApprovalDecision:
        index = self._check(who)
        decision = ApprovalDecision(index, who.user_id, who.role, approved, at, note)
        self.decisions.append(decision)
        return decision
