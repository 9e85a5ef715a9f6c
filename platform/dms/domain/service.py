"""After-sales service: tickets, dispatch to a technician, work orders with parts, resolution,
customer rating, and SLA timers evaluated against a given ``now``.

Parts used on a work order do not touch stock here: each one yields a ``StockMovementRequest``
(the same fields as ``ledger.Movement``) that the application posts to the stock ledger.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import NoReturn

from wayhouse.platform.dms.domain.dealers import (
    TransitionEvent,
    require_aware,
    require_reason,
    transition_event,
)
from wayhouse.platform.dms.domain.types import (
    DomainError,
    IllegalTransition,
    MovementKind,
    TicketStatus,
)


class TicketPriority(StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


# --- SLA configuration --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SlaTarget:
    response_hours: float  # opened -> dispatched to a technician
    resolution_hours: float  # opened -> resolved

    def __post_init__(self) -> None:
        if self.response_hours <= 0 or self.resolution_hours <= 0:
            raise DomainError("invalid_policy", "SLA hours must be positive")


def _default_targets() -> dict[TicketPriority, SlaTarget]:
    return {
        TicketPriority.URGENT: SlaTarget(2, 24),
        TicketPriority.HIGH: SlaTarget(4, 48),
        TicketPriority.NORMAL: SlaTarget(8, 72),
        TicketPriority.LOW: SlaTarget(24, 168),
    }


@dataclass(frozen=True, slots=True)
class SlaPolicy:
    """Editable: SLA per priority, in wall-clock hours. ``warn_ratio``: a running timer is
    "at risk" once that share of its limit has elapsed, so someone acts before the breach."""

    targets: Mapping[TicketPriority, SlaTarget] = field(default_factory=_default_targets)
    warn_ratio: float = 0.8

    def __post_init__(self) -> None:
        missing = set(TicketPriority) - set(self.targets)
        if missing:
            raise DomainError("invalid_policy", f"no SLA for priority {', '.join(sorted(missing))}")
        if not 0 < self.warn_ratio <= 1:
            raise DomainError("invalid_policy", "warn ratio is a fraction in (0, 1]")


# --- work orders --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StockMovementRequest:
    """A movement for the stock ledger to post; field names match ``ledger.Movement``."""

    kind: MovementKind
    sku: str
    lot: str
    qty: int
    from_bin: str | None = None
    to_bin: str | None = None
    reason: str = ""
    ref: str = ""
    at: datetime | None = None
    by: str = ""


@dataclass(frozen=True, slots=True)
class PartUsage:
    sku: str
    lot: str
    qty: int  # negative: returned unused
    bin: str
    at: datetime
    by: str


@dataclass
class WorkOrder:
    technician: str
    started_at: datetime
    parts: list[PartUsage] = field(default_factory=list)
    labour_minutes: int = 0
    notes: list[str] = field(default_factory=list)

    def net_parts(self) -> dict[tuple[str, str], int]:
        """Quantity consumed per (sku, lot), returns netted."""
        totals: Counter[tuple[str, str]] = Counter()
        for p in self.parts:
            totals[(p.sku, p.lot)] += p.qty
        return {k: v for k, v in totals.items() if v}


@dataclass(frozen=True, slots=True)
class Rating:
    score: int
    at: datetime
    by: str
    comment: str = ""


# --- tickets ------------------------------------------------------------------------------

_MOVES: dict[TicketStatus, frozenset[TicketStatus]] = {
    TicketStatus.OPEN: frozenset({TicketStatus.DISPATCHED, TicketStatus.CLOSED}),
    TicketStatus.DISPATCHED: frozenset(
        {TicketStatus.DISPATCHED, TicketStatus.IN_PROGRESS, TicketStatus.CLOSED}
    ),
    TicketStatus.IN_PROGRESS: frozenset({TicketStatus.RESOLVED}),
    TicketStatus.RESOLVED: frozenset({TicketStatus.IN_PROGRESS, TicketStatus.CLOSED}),
    TicketStatus.CLOSED: frozenset(),
}


def ticket_moves(status: TicketStatus) -> frozenset[TicketStatus]:
    return _MOVES[status]


@dataclass
class Ticket:
    ticket_id: str
    dealer_id: str
    customer_id: str
    product_sku: str
    problem: str
    opened_at: datetime
    priority: TicketPriority = TicketPriority.NORMAL
    lot: str = ""
    serial: str = ""
    photo_refs: tuple[str, ...] = ()
    status: TicketStatus = TicketStatus.OPEN
    technician: str | None = None
    work_order: WorkOrder | None = None
    resolution: str = ""
    rating: Rating | None = None
    history: list[TransitionEvent] = field(default_factory=list)

    @classmethod
    def open(
        cls,
        ticket_id: str,
        dealer_id: str,
        customer_id: str,
        product_sku: str,
        problem: str,
        at: datetime,
        by: str,
        *,
        priority: TicketPriority = TicketPriority.NORMAL,
        lot: str = "",
        serial: str = "",
        photo_refs: Iterable[str] = (),
    ) -> Ticket:
        """Opened by a dealer on behalf of a customer; the lot or serial traces the unit."""
        if not product_sku.strip() or not problem.strip():
            raise DomainError("invalid_ticket", "a ticket needs the product and the problem")
        refs = tuple(photo_refs)
        if any(not r.strip() for r in refs):
            raise DomainError("invalid_ticket", "empty photo reference")
        ticket = cls(
            ticket_id,
            dealer_id,
            customer_id,
            product_sku,
            problem.strip(),
            require_aware(at),
            priority,
            lot,
            serial,
            refs,
        )
        ticket.history.append(
            transition_event("ticket", ticket_id, [], None, TicketStatus.OPEN, at, by)
        )
        return ticket

    def add_photo(self, ref: str) -> None:
        if self.status is TicketStatus.CLOSED:
            raise DomainError("ticket_closed", f"ticket {self.ticket_id} is closed")
        if not ref.strip():
            raise DomainError("invalid_ticket", "empty photo reference")
        self.photo_refs = (*self.photo_refs, ref)

    def dispatch(self, technician: str, at: datetime, by: str, reason: str = "") -> TransitionEvent:
        """Assign a technician; dispatching again reassigns and needs a reason."""
        if not technician.strip():
            raise DomainError("invalid_ticket", "dispatch names a technician")
        if self.status is TicketStatus.DISPATCHED:
            require_reason("ticket", self.status, TicketStatus.DISPATCHED, reason)
        event = self._move(TicketStatus.DISPATCHED, at, by, reason or f"to {technician}")
        self.technician = technician
        return event

    def start_work(self, at: datetime, by: str) -> TransitionEvent:
        """The assigned technician opens the work order on site."""
        # RESOLVED -> IN_PROGRESS is legal, but only through reopen: a fresh work order here
        # would drop the parts already recorded.
        if self.status is not TicketStatus.DISPATCHED:
            self._refuse(TicketStatus.IN_PROGRESS, "work starts on a dispatched ticket")
        if by != self.technician:
            self._refuse(TicketStatus.IN_PROGRESS, f"dispatched to {self.technician}, not {by}")
        event = self._move(TicketStatus.IN_PROGRESS, at, by, "")
        self.work_order = WorkOrder(by, at)
        return event

    def use_part(
        self, sku: str, lot: str, qty: int, from_bin: str, at: datetime, by: str
    ) -> StockMovementRequest:
        """Record a part fitted; returns the SHIP movement (the part leaves stock for good)."""
        order = self._open_work_order()
        self._check_qty(qty)
        order.parts.append(PartUsage(sku, lot, qty, from_bin, require_aware(at), by))
        return StockMovementRequest(
            MovementKind.SHIP,
            sku,
            lot,
            qty,
            from_bin=from_bin,
            reason="service part",
            ref=f"ticket:{self.ticket_id}",
            at=at,
            by=by,
        )

    def return_part(
        self, sku: str, lot: str, qty: int, to_bin: str, at: datetime, by: str
    ) -> StockMovementRequest:
        """Bring back an unused part; never more than was taken for this ticket."""
        order = self._open_work_order()
        self._check_qty(qty)
        used = order.net_parts().get((sku, lot), 0)
        if qty > used:
            raise DomainError(
                "return_exceeds_use", f"{sku}/{lot}: returning {qty} but only {used} used"
            )
        order.parts.append(PartUsage(sku, lot, -qty, to_bin, require_aware(at), by))
        return StockMovementRequest(
            MovementKind.RETURN,
            sku,
            lot,
            qty,
            to_bin=to_bin,
            reason="unused service part",
            ref=f"ticket:{self.ticket_id}",
            at=at,
            by=by,
        )

    def log_labour(self, minutes: int, note: str = "") -> None:
        order = self._open_work_order()
        if minutes <= 0:
            raise DomainError("invalid_work_order", "labour minutes must be positive")
        order.labour_minutes += minutes
        if note.strip():
            order.notes.append(note.strip())

    def resolve(self, resolution: str, at: datetime, by: str) -> TransitionEvent:
        if not resolution.strip():
            raise IllegalTransition(
                "ticket", self.status, TicketStatus.RESOLVED, "describe the resolution"
            )
        event = self._move(TicketStatus.RESOLVED, at, by, resolution)
        self.resolution = resolution.strip()
        return event

    def reopen(self, at: datetime, by: str, reason: str) -> TransitionEvent:
        """The fix did not hold: back to work, before the ticket is rated or closed."""
        if self.status is not TicketStatus.RESOLVED:
            self._refuse(TicketStatus.IN_PROGRESS, "only a resolved ticket is reopened")
        if self.rating is not None:
            self._refuse(TicketStatus.IN_PROGRESS, "already rated; open a new ticket")
        require_reason("ticket", self.status, TicketStatus.IN_PROGRESS, reason)
        return self._move(TicketStatus.IN_PROGRESS, at, by, reason)

    def close(self, at: datetime, by: str, reason: str = "") -> TransitionEvent:
        """Close after resolution, or without one (duplicate, no fault found) with a reason."""
        if self.status is not TicketStatus.RESOLVED:
            require_reason("ticket", self.status, TicketStatus.CLOSED, reason)
        return self._move(TicketStatus.CLOSED, at, by, reason)

    def rate(self, score: int, at: datetime, by: str, comment: str = "") -> Rating:
        if self.status not in (TicketStatus.RESOLVED, TicketStatus.CLOSED) or not self.resolution:
            raise DomainError("not_resolved", "only a resolved ticket can be rated")
        if self.rating is not None:
            raise DomainError("already_rated", f"ticket {self.ticket_id} is already rated")
        if isinstance(score, bool) or not isinstance(score, int) or not 1 <= score <= 5:
            raise DomainError("invalid_rating", f"rating is a whole number 1-5, got {score!r}")
        self.rating = Rating(score, require_aware(at), by, comment.strip())
        return self.rating

    def _open_work_order(self) -> WorkOrder:
        if self.status is not TicketStatus.IN_PROGRESS or self.work_order is None:
            raise DomainError("work_order_not_open", f"ticket {self.ticket_id} is {self.status}")
        return self.work_order

    @staticmethod
    def _check_qty(qty: int) -> None:
        if isinstance(qty, bool) or not isinstance(qty, int) or qty <= 0:
            raise DomainError("invalid_work_order", f"quantity must be a positive integer: {qty!r}")

    def _refuse(self, target: TicketStatus, reason: str) -> NoReturn:
        raise IllegalTransition("ticket", self.status, target, reason)

    def _move(self, target: TicketStatus, at: datetime, by: str, reason: str) -> TransitionEvent:
        if target not in _MOVES[self.status]:
            self._refuse(target, "closed is final" if self.status is TicketStatus.CLOSED else "")
        event = transition_event(
            "ticket", self.ticket_id, self.history, self.status, target, at, by, reason
        )
        self.status = target
        self.history.append(event)
        return event


# --- SLA timers ---------------------------------------------------------------------------


class SlaClock(StrEnum):
    RESPONSE = "response"
    RESOLUTION = "resolution"


@dataclass(frozen=True, slots=True)
class SlaTimer:
    clock: SlaClock
    started_at: datetime
    limit: timedelta
    stopped_at: datetime | None  # None: still running
    elapsed: timedelta
    breached: bool  # elapsed > limit
    at_risk: bool  # running, not breached, past the warning share of the limit

    @property
    def deadline(self) -> datetime:
        return self.started_at + self.limit

    @property
    def running(self) -> bool:
        return self.stopped_at is None


def _response_stop(ticket: Ticket) -> datetime | None:
    # The first dispatch answers the customer; a close without dispatch also ends the wait.
    for e in ticket.history:
        if e.to_state in (TicketStatus.DISPATCHED, TicketStatus.CLOSED):
            return e.at
    return None


def _resolution_stop(ticket: Ticket) -> datetime | None:
    # Stops at the latest resolution (a reopen sets the clock running again, still counted
    # from the opening), or at a close without resolution; closing a resolved ticket later
    # does not move it.
    if ticket.status not in (TicketStatus.RESOLVED, TicketStatus.CLOSED):
        return None
    for e in reversed(ticket.history):
        closed_unresolved = (
            e.to_state == TicketStatus.CLOSED and e.from_state != TicketStatus.RESOLVED
        )
        if e.to_state == TicketStatus.RESOLVED or closed_unresolved:
            return e.at
    return None


def _timer(
    clock: SlaClock,
    opened: datetime,
    hours: float,
    stop: datetime | None,
    now: datetime,
    warn_ratio: float,
) -> SlaTimer:
    limit = timedelta(hours=hours)
    elapsed = (stop if stop is not None else now) - opened
    breached = elapsed > limit
    at_risk = stop is None and not breached and elapsed >= limit * warn_ratio
    return SlaTimer(clock, opened, limit, stop, elapsed, breached, at_risk)


@dataclass(frozen=True, slots=True)
class SlaClocks:
    """All the SLA timers need of a ticket. Stored beside the ticket row, so a list can filter
    breached tickets in SQL with the same rule, and recomputed from history on every change."""

    priority: TicketPriority
    opened_at: datetime
    response_stop: datetime | None
    resolution_stop: datetime | None


def sla_clocks(ticket: Ticket) -> SlaClocks:
    return SlaClocks(
        ticket.priority, ticket.opened_at, _response_stop(ticket), _resolution_stop(ticket)
    )


def clock_timers(clocks: SlaClocks, policy: SlaPolicy, now: datetime) -> tuple[SlaTimer, SlaTimer]:
    """Response and resolution timers of stored ``clocks`` as seen at ``now``."""
    require_aware(now)
    if now < clocks.opened_at:
        raise DomainError("time_out_of_order", "now is before the ticket was opened")
    target = policy.targets[clocks.priority]
    return (
        _timer(
            SlaClock.RESPONSE,
            clocks.opened_at,
            target.response_hours,
            clocks.response_stop,
            now,
            policy.warn_ratio,
        ),
        _timer(
            SlaClock.RESOLUTION,
            clocks.opened_at,
            target.resolution_hours,
            clocks.resolution_stop,
            now,
            policy.warn_ratio,
        ),
    )


def sla_timers(ticket: Ticket, policy: SlaPolicy, now: datetime) -> tuple[SlaTimer, SlaTimer]:
    """Response and resolution timers of ``ticket`` as seen at ``now``."""
    return clock_timers(sla_clocks(ticket), policy, now)


@dataclass(frozen=True, slots=True)
class SlaBreach:
    ticket_id: str
    dealer_id: str
    clock: SlaClock
    deadline: datetime
    overdue_by: timedelta
    running: bool


def timer_breaches(
    ticket_id: str,
    dealer_id: str,
    timers: Iterable[SlaTimer],
    *,
    include_stopped: bool = False,
) -> list[SlaBreach]:
    """The breaches among one ticket's ``timers`` (running ones only unless ``include_stopped``)."""
    return [
        SlaBreach(
            ticket_id,
            dealer_id,
            timer.clock,
            timer.deadline,
            timer.elapsed - timer.limit,
            timer.running,
        )
        for timer in timers
        if timer.breached and (timer.running or include_stopped)
    ]


def sla_breaches(
    tickets: Iterable[Ticket], policy: SlaPolicy, now: datetime, *, include_stopped: bool = False
) -> tuple[SlaBreach, ...]:
    """Breached timers (the alert feed): by default only those still running, i.e. the ones
    someone can still act on; with ``include_stopped`` also tickets that finished late."""
    out = []
    for ticket in tickets:
        timers = sla_timers(ticket, policy, now)
        out += timer_breaches(
            ticket.ticket_id, ticket.dealer_id, timers, include_stopped=include_stopped
        )
    return tuple(sorted(out, key=breach_order))


def breach_order(b: SlaBreach) -> tuple[datetime, str, str]:
    """The feed's order: the longest-overdue deadline first."""
    return (b.deadline, b.ticket_id, b.clock)
