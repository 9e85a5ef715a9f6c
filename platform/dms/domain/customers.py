"""End customers of dealers: lifecycle lead > prospect > customer > repeat customer, the
interaction log, and region rules that assign new leads to a dealer."""

from __future__ import annotations

from bisect import insort
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import NoReturn

from wayhouse.platform.dms.domain.dealers import TransitionEvent, require_aware, transition_event
from wayhouse.platform.dms.domain.types import CustomerStage, DomainError, IllegalTransition

# --- lifecycle ----------------------------------------------------------------------------

_NEXT_STAGE: dict[CustomerStage, CustomerStage | None] = {
    CustomerStage.LEAD: CustomerStage.PROSPECT,
    CustomerStage.PROSPECT: CustomerStage.CUSTOMER,
    CustomerStage.CUSTOMER: CustomerStage.REPEAT_CUSTOMER,
    CustomerStage.REPEAT_CUSTOMER: None,
}


# Clocks of phones and laptops drift: an interaction a few minutes "ahead" is still now.
CLOCK_SKEW = timedelta(minutes=5)


class InteractionKind(StrEnum):
    CALL = "call"
    VISIT = "visit"
    EMAIL = "email"
    MESSAGE = "message"
    MEETING = "meeting"
    NOTE = "note"


@dataclass(frozen=True, slots=True)
class Interaction:
    at: datetime
    by: str
    kind: InteractionKind
    summary: str
    next_step: str = ""


@dataclass
class Customer:
    customer_id: str
    name: str
    region_code: str
    owner_dealer_id: str | None = None
    stage: CustomerStage = CustomerStage.LEAD
    purchases: int = 0
    source: str = ""
    history: list[TransitionEvent] = field(default_factory=list)
    interactions: list[Interaction] = field(default_factory=list)  # kept sorted by time

    @classmethod
    def new_lead(
        cls,
        customer_id: str,
        name: str,
        region_code: str,
        at: datetime,
        by: str,
        *,
        owner_dealer_id: str | None = None,
        source: str = "",
    ) -> Customer:
        if not name.strip():
            raise DomainError("invalid_customer", "a customer needs a name")
        customer = cls(customer_id, name, region_code, owner_dealer_id, source=source)
        customer.history.append(
            transition_event("customer", customer_id, [], None, CustomerStage.LEAD, at, by, source)
        )
        return customer

    def qualify(self, at: datetime, by: str, reason: str = "") -> TransitionEvent:
        """A lead showed real interest (budget, need, timing): it becomes a prospect."""
        return self._advance(CustomerStage.PROSPECT, at, by, reason)

    def record_purchase(self, order_ref: str, at: datetime, by: str) -> TransitionEvent | None:
        """Count a delivered order. The first makes a prospect a customer, the second a repeat
        customer; later ones change nothing. A lead must be qualified first, so the funnel
        report never skips a stage."""
        if self.stage is CustomerStage.LEAD:
            self._refuse(CustomerStage.CUSTOMER, "qualify the lead as a prospect first")
        reason = f"order {order_ref}"
        if self.stage is CustomerStage.PROSPECT:
            event = self._advance(CustomerStage.CUSTOMER, at, by, reason)
        elif self.stage is CustomerStage.CUSTOMER:
            event = self._advance(CustomerStage.REPEAT_CUSTOMER, at, by, reason)
        else:
            require_aware(at)
            event = None
        self.purchases += 1
        return event

    def advance(
        self, target: CustomerStage, at: datetime, by: str, reason: str = "", order_ref: str = ""
    ) -> TransitionEvent:
        """One step forward to ``target``, as a person asks for it: qualifying makes a
        prospect; a purchase (which needs the order's reference) makes a customer, then a
        repeat customer. Any other target is refused with the reason."""
        if target is CustomerStage.PROSPECT:
            return self.qualify(at, by, reason)
        if target is CustomerStage.LEAD or (
            self.stage is not CustomerStage.LEAD and _NEXT_STAGE[self.stage] is not target
        ):
            self._refuse(target, "stages move one step forward only")
        if not order_ref.strip():
            raise DomainError("order_ref_required", "a purchase needs the order's reference")
        event = self.record_purchase(order_ref.strip(), at, by)
        assert event is not None  # the target was the next stage, so the stage changed
        return event

    def assign_owner(self, dealer_id: str, at: datetime, by: str, reason: str) -> TransitionEvent:
        """Hand the customer to another dealer; recorded like a transition for the audit."""
        if not reason.strip():
            raise DomainError("reason_required", "reassigning a customer needs a reason")
        event = transition_event(
            "customer_owner",
            self.customer_id,
            self.history,
            self.owner_dealer_id,
            dealer_id,
            at,
            by,
            reason,
        )
        self.owner_dealer_id = dealer_id
        self.history.append(event)
        return event

    def log_interaction(
        self,
        at: datetime,
        by: str,
        kind: InteractionKind,
        summary: str,
        next_step: str = "",
        now: datetime | None = None,
    ) -> Interaction:
        # Calls are often logged after the fact, so the log is sorted rather than append-only
        # in time; nothing is ever removed from it. What is planned goes in ``next_step``: an
        # entry dated in the future (beyond clock skew) did not happen yet.
        require_aware(at)
        if now is not None and at > require_aware(now) + CLOCK_SKEW:
            raise DomainError("interaction_in_future", "an interaction cannot be in the future")
        if not summary.strip():
            raise DomainError("invalid_interaction", "an interaction needs a summary")
        entry = Interaction(at, by, kind, summary.strip(), next_step.strip())
        insort(self.interactions, entry, key=lambda i: i.at)
        return entry

    @property
    def last_interaction_at(self) -> datetime | None:
        return self.interactions[-1].at if self.interactions else None

    def _advance(
        self, target: CustomerStage, at: datetime, by: str, reason: str
    ) -> TransitionEvent:
        if _NEXT_STAGE[self.stage] is not target:
            self._refuse(target, "stages move one step forward only")
        event = transition_event(
            "customer", self.customer_id, self.history, self.stage, target, at, by, reason
        )
        self.stage = target
        self.history.append(event)
        return event

    def _refuse(self, target: CustomerStage, reason: str) -> NoReturn:
        raise IllegalTransition("customer", self.stage, target, reason)


# --- lead assignment by region ------------------------------------------------------------

WILDCARD = "*"


def _segments(region: str) -> tuple[str, ...]:
    return tuple(s for s in region.strip().upper().split("-") if s)


def normalise_region(code: str) -> str:
    """The form a region code or rule prefix is stored in: upper case, whole segments
    (``" cn--gd "`` is ``"CN-GD"``); ``*`` stays the wildcard."""
    return WILDCARD if code.strip() == WILDCARD else "-".join(_segments(code))


@dataclass(frozen=True, slots=True)
class RegionRule:
    """Leads whose region code starts with ``region_prefix`` (whole segments: ``CN-GD`` covers
    ``CN-GD-SZ`` but not ``CN-GDX``; ``*`` covers all) go to one of ``dealer_ids``."""

    region_prefix: str
    dealer_ids: tuple[str, ...]

    def __post_init__(self) -> None:
        if not self.region_prefix.strip():
            raise DomainError("invalid_rule", "a region rule needs a region prefix")
        if not self.dealer_ids or len(set(self.dealer_ids)) != len(self.dealer_ids):
            raise DomainError("invalid_rule", "a region rule needs distinct dealers")

    @property
    def specificity(self) -> int:
        return 0 if self.region_prefix == WILDCARD else len(_segments(self.region_prefix))

    def matches(self, region_code: str) -> bool:
        if self.region_prefix == WILDCARD:
            return True
        prefix = _segments(self.region_prefix)
        return _segments(region_code)[: len(prefix)] == prefix


@dataclass(frozen=True, slots=True)
class LeadAssignmentRules:
    rules: tuple[RegionRule, ...]
    fallback_dealer_id: str | None = None  # e.g. an HQ direct-sales desk


@dataclass(frozen=True, slots=True)
class LeadAssignment:
    region_code: str
    dealer_id: str | None  # None: no eligible dealer; the lead waits in the manual queue
    rule: RegionRule | None
    reason: str


def assign_lead(
    region_code: str,
    config: LeadAssignmentRules,
    eligible: Collection[str],
    open_leads: Mapping[str, int],
) -> LeadAssignment:
    """The most specific matching rule with an eligible (active) dealer wins; within a rule the
    dealer with the fewest open leads, ties by the rule's listed order. A rule whose dealers are
    all ineligible falls through to the next broader one, then to the fallback."""
    matching = [r for r in config.rules if r.matches(region_code)]
    # Stable sort keeps configuration order among rules of equal specificity.
    matching.sort(key=lambda r: -r.specificity)
    for rule in matching:
        candidates = [d for d in rule.dealer_ids if d in eligible]
        if candidates:
            order = {d: i for i, d in enumerate(rule.dealer_ids)}
            chosen = min(candidates, key=lambda d: (open_leads.get(d, 0), order[d]))
            return LeadAssignment(
                region_code, chosen, rule, f"region rule {rule.region_prefix}, least loaded"
            )
    fallback = config.fallback_dealer_id
    if fallback is not None and fallback in eligible:
        return LeadAssignment(region_code, fallback, None, "no region rule applies: fallback")
    return LeadAssignment(region_code, None, None, "no eligible dealer for this region")


def assign_leads(
    region_codes: Sequence[str],
    config: LeadAssignmentRules,
    eligible: Collection[str],
    open_leads: Mapping[str, int],
) -> list[LeadAssignment]:
    """Assign a batch in order, counting each assignment so the load spreads across dealers."""
    load = dict(open_leads)
    result = []
    for region in region_codes:
        assignment = assign_lead(region, config, eligible, load)
        if assignment.dealer_id is not None:
            load[assignment.dealer_id] = load.get(assignment.dealer_id, 0) + 1
        result.append(assignment)
    return result
