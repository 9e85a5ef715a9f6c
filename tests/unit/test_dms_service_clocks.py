"""Stored SLA clocks: the snapshot of a ticket the database keeps so lists can filter breaches
in SQL. Taken after any change, it must give the ticket's own timers at every later moment."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wayhouse.platform.dms.domain.service import (
    SlaClock,
    SlaClocks,
    SlaPolicy,
    Ticket,
    TicketPriority,
    clock_timers,
    sla_clocks,
    sla_timers,
    timer_breaches,
)
from wayhouse.platform.dms.domain.types import DomainError, IllegalTransition, TicketStatus

T0 = datetime(2025, 6, 2, 8, 0, tzinfo=UTC)
POLICY = SlaPolicy()


def t(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def ticket(priority: TicketPriority = TicketPriority.NORMAL) -> Ticket:
    return Ticket.open("7", "3", "", "PUMP", "hums", t(0), "11", priority=priority)


def test_clocks_of_a_new_ticket_run_from_the_opening() -> None:
    assert sla_clocks(ticket(TicketPriority.HIGH)) == SlaClocks(
        TicketPriority.HIGH, t(0), None, None
    )


def test_resolution_clock_stops_at_resolve_and_runs_again_after_a_reopen() -> None:
    tk = ticket()
    tk.dispatch("5", t(1), "2")
    tk.start_work(t(2), "5")
    tk.resolve("fixed", t(3), "5")
    assert sla_clocks(tk) == SlaClocks(TicketPriority.NORMAL, t(0), t(1), t(3))
    tk.reopen(t(4), "11", "still hums")
    assert sla_clocks(tk).resolution_stop is None
    assert sla_clocks(tk).response_stop == t(1)  # the first answer stays the answer


def test_clock_timers_refuse_a_moment_before_the_opening() -> None:
    with pytest.raises(DomainError, match="before the ticket was opened"):
        clock_timers(sla_clocks(ticket()), POLICY, t(-0.5))


def test_timer_breaches_keep_stopped_ones_only_on_request() -> None:
    tk = ticket(TicketPriority.URGENT)  # respond in 2 h
    tk.dispatch("5", t(3), "2")  # answered an hour late
    timers = sla_timers(tk, POLICY, t(4))
    assert timer_breaches("7", "3", timers) == []
    (late,) = timer_breaches("7", "3", timers, include_stopped=True)
    assert (late.clock, late.overdue_by, late.running) == (
        SlaClock.RESPONSE,
        timedelta(hours=1),
        False,
    )


ACTIONS = ("dispatch", "start", "resolve", "reopen", "close")


@given(
    st.sampled_from(list(TicketPriority)),
    st.lists(st.tuples(st.sampled_from(ACTIONS), st.integers(1, 3000)), max_size=10),
    st.integers(0, 20_000),
)
def test_the_snapshot_stops_exactly_the_clocks_the_status_has_answered(
    priority: TicketPriority, steps: list[tuple[str, int]], later_minutes: int
) -> None:
    tk = ticket(priority)
    at = t(0)
    for action, gap in steps:
        at += timedelta(minutes=gap)
        try:
            if action == "dispatch":
                tk.dispatch("5", at, "2", "re-plan")
            elif action == "start":
                tk.start_work(at, "5")
            elif action == "resolve":
                tk.resolve("done", at, "5")
            elif action == "reopen":
                tk.reopen(at, "11", "not fixed")
            else:
                tk.close(at, "11", "no fault found")
        except IllegalTransition:
            pass
    snapshot = sla_clocks(tk)
    # Someone answered unless the ticket is still open; it is solved once resolved or closed.
    assert (snapshot.response_stop is None) is (tk.status is TicketStatus.OPEN)
    done = tk.status in (TicketStatus.RESOLVED, TicketStatus.CLOSED)
    assert (snapshot.resolution_stop is None) is not done
    for stop in (snapshot.response_stop, snapshot.resolution_stop):
        assert stop is None or t(0) <= stop <= at  # never in the future, never before opening
    # A stopped clock no longer moves: later it reads the same.
    later = clock_timers(snapshot, POLICY, at + timedelta(minutes=later_minutes))
    for early, late in zip(clock_timers(snapshot, POLICY, at), later, strict=True):
        assert (early.elapsed == late.elapsed) is (
            early.stopped_at is not None or later_minutes == 0
        )
