"""After-sales tickets: lifecycle, work orders and parts, rating, SLA timers and breaches."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wayhouse.platform.dms.domain.ledger import Movement
from wayhouse.platform.dms.domain.service import (
    SlaClock,
    SlaPolicy,
    SlaTarget,
    Ticket,
    TicketPriority,
    sla_breaches,
    sla_timers,
    ticket_moves,
)
from wayhouse.platform.dms.domain.types import (
    DomainError,
    IllegalTransition,
    MovementKind,
    TicketStatus,
)

T0 = datetime(2025, 6, 2, 8, 0, tzinfo=UTC)
POLICY = SlaPolicy()  # NORMAL: respond in 8 h, resolve in 72 h


def t(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def ticket(priority: TicketPriority = TicketPriority.NORMAL) -> Ticket:
    return Ticket.open(
        "TK1",
        "D1",
        "C1",
        "PUMP-200",
        "leaks at the seal",
        t(0),
        "dealer-li",
        priority=priority,
        lot="L2405",
        serial="SN123",
        photo_refs=["s3://photos/tk1/1.jpg"],
    )


def working() -> Ticket:
    tk = ticket()
    tk.dispatch("tech-wu", t(1), "dispatcher")
    tk.start_work(t(2), "tech-wu")
    return tk


# --- lifecycle ----------------------------------------------------------------------------


def test_ticket_from_open_to_rated_and_closed() -> None:
    tk = working()
    tk.log_labour(90, "replaced seal")
    tk.resolve("seal replaced, pressure test ok", t(5), "tech-wu")
    rating = tk.rate(5, t(6), "customer", "fast")
    tk.close(t(7), "dealer-li")
    assert tk.status is TicketStatus.CLOSED and rating.score == 5
    assert [e.to_state for e in tk.history] == [
        "open",
        "dispatched",
        "in_progress",
        "resolved",
        "closed",
    ]
    assert tk.work_order is not None and tk.work_order.labour_minutes == 90


def test_ticket_needs_product_and_problem() -> None:
    with pytest.raises(DomainError):
        Ticket.open("TK2", "D1", "C1", "PUMP-200", " ", t(0), "d")
    with pytest.raises(DomainError):
        Ticket.open("TK2", "D1", "C1", "PUMP-200", "x", t(0), "d", photo_refs=[""])


def test_reassigning_needs_a_reason_and_only_the_assignee_starts() -> None:
    tk = ticket()
    tk.dispatch("tech-wu", t(1), "dispatcher")
    with pytest.raises(IllegalTransition):
        tk.dispatch("tech-ma", t(2), "dispatcher")
    tk.dispatch("tech-ma", t(2), "dispatcher", "wu is sick")
    with pytest.raises(IllegalTransition, match="dispatched to tech-ma"):
        tk.start_work(t(3), "tech-wu")
    tk.start_work(t(3), "tech-ma")
    assert tk.technician == "tech-ma"


def test_work_does_not_restart_on_a_resolved_ticket() -> None:
    tk = working()
    tk.use_part("SEAL-9", "L77", 1, "A-01-1", t(3), "tech-wu")
    tk.resolve("fixed", t(4), "tech-wu")
    with pytest.raises(IllegalTransition, match="dispatched ticket"):
        tk.start_work(t(5), "tech-wu")
    assert tk.work_order is not None and len(tk.work_order.parts) == 1


def test_resolution_must_be_described() -> None:
    tk = working()
    with pytest.raises(IllegalTransition, match="describe"):
        tk.resolve("  ", t(3), "tech-wu")


def test_close_without_resolution_needs_a_reason_and_closed_is_final() -> None:
    tk = ticket()
    with pytest.raises(IllegalTransition):
        tk.close(t(1), "dealer-li")
    tk.close(t(1), "dealer-li", "duplicate of TK0")
    with pytest.raises(IllegalTransition, match="closed is final"):
        tk.dispatch("tech-wu", t(2), "dispatcher")
    with pytest.raises(DomainError):
        tk.add_photo("s3://x")


def test_reopen_only_a_resolved_unrated_ticket() -> None:
    tk = working()
    tk.resolve("fixed", t(3), "tech-wu")
    tk.reopen(t(4), "dealer-li", "leaks again")
    assert tk.status is TicketStatus.IN_PROGRESS
    tk.resolve("fixed for real", t(5), "tech-wu")
    tk.rate(2, t(6), "customer")
    with pytest.raises(IllegalTransition, match="already rated"):
        tk.reopen(t(7), "dealer-li", "again")


def test_rating_rules() -> None:
    tk = working()
    with pytest.raises(DomainError, match="resolved"):
        tk.rate(4, t(3), "customer")
    tk.resolve("fixed", t(3), "tech-wu")
    for bad in (0, 6, True, 4.5):
        with pytest.raises(DomainError):
            tk.rate(bad, t(4), "customer")  # type: ignore[arg-type]
    tk.rate(1, t(4), "customer")
    with pytest.raises(DomainError, match="already rated"):
        tk.rate(5, t(5), "customer")


# Ticket lifecycle restated independently: action -> (allowed from, target).
MODEL = {
    "dispatch": ({"open", "dispatched"}, "dispatched"),
    "start": ({"dispatched"}, "in_progress"),
    "resolve": ({"in_progress"}, "resolved"),
    "reopen": ({"resolved"}, "in_progress"),
    "close": ({"open", "dispatched", "resolved"}, "closed"),
}


@given(st.lists(st.sampled_from(sorted(MODEL)), max_size=12))
def test_ticket_follows_the_model_and_refusals_change_nothing(actions: list[str]) -> None:
    tk = ticket()
    state = "open"
    for i, action in enumerate(actions):
        at = t(i + 1)
        calls = {
            "dispatch": lambda at=at: tk.dispatch("tech-wu", at, "disp", "re-plan"),
            "start": lambda at=at: tk.start_work(at, "tech-wu"),
            "resolve": lambda at=at: tk.resolve("done", at, "tech-wu"),
            "reopen": lambda at=at: tk.reopen(at, "dealer", "not fixed"),
            "close": lambda at=at: tk.close(at, "dealer", "no fault found"),
        }
        allowed, target = MODEL[action]
        before = len(tk.history)
        if state in allowed:
            calls[action]()
            state = target
        else:
            with pytest.raises(IllegalTransition):
                calls[action]()
            assert len(tk.history) == before
        assert tk.status == state
    for a, b in pairwise(tk.history):
        assert b.from_state == a.to_state
        assert b.to_state in ticket_moves(TicketStatus(a.to_state))


# --- work order and parts -----------------------------------------------------------------


def test_parts_used_become_stock_movement_requests() -> None:
    tk = working()
    used = tk.use_part("SEAL-9", "L77", 2, "A-01-1", t(3), "tech-wu")
    assert (used.kind, used.qty, used.from_bin, used.to_bin) == (
        MovementKind.SHIP,
        2,
        "A-01-1",
        None,
    )
    assert used.ref == "ticket:TK1"
    back = tk.return_part("SEAL-9", "L77", 1, "A-01-1", t(4), "tech-wu")
    assert (back.kind, back.qty, back.to_bin) == (MovementKind.RETURN, 1, "A-01-1")
    assert tk.work_order is not None and tk.work_order.net_parts() == {("SEAL-9", "L77"): 1}
    # The request carries exactly what the stock ledger's movement row needs.
    assert [q for _, q in Movement(**asdict(used)).deltas()] == [-2]
    assert Movement(**asdict(back)).kind is MovementKind.RETURN


def test_parts_only_on_an_open_work_order_and_never_returned_beyond_use() -> None:
    tk = ticket()
    with pytest.raises(DomainError, match="open"):
        tk.use_part("SEAL-9", "L77", 1, "A-01-1", t(1), "tech-wu")
    tk = working()
    with pytest.raises(DomainError):
        tk.use_part("SEAL-9", "L77", 0, "A-01-1", t(3), "tech-wu")
    with pytest.raises(DomainError, match="only 0 used"):
        tk.return_part("SEAL-9", "L77", 1, "A-01-1", t(3), "tech-wu")


@given(st.lists(st.tuples(st.booleans(), st.integers(1, 5)), max_size=20))
def test_net_parts_never_go_negative(ops: list[tuple[bool, int]]) -> None:
    tk = working()
    net = 0
    for k, (use, qty) in enumerate(ops):
        at = t(3 + k)
        if use:
            tk.use_part("P", "L", qty, "B", at, "tech-wu")
            net += qty
        elif qty <= net:
            tk.return_part("P", "L", qty, "B", at, "tech-wu")
            net -= qty
        else:
            with pytest.raises(DomainError):
                tk.return_part("P", "L", qty, "B", at, "tech-wu")
    assert tk.work_order is not None
    assert tk.work_order.net_parts().get(("P", "L"), 0) == net >= 0


# --- SLA ----------------------------------------------------------------------------------


def test_policy_validation() -> None:
    with pytest.raises(DomainError):
        SlaTarget(0, 10)
    with pytest.raises(DomainError, match="no SLA"):
        SlaPolicy(targets={TicketPriority.URGENT: SlaTarget(1, 2)})
    with pytest.raises(DomainError):
        SlaPolicy(warn_ratio=0)


def test_response_stops_at_dispatch_and_resolution_at_resolve() -> None:
    tk = ticket()
    response, resolution = sla_timers(tk, POLICY, t(9))
    assert response.running and response.breached  # 9 h > 8 h, nobody dispatched
    assert response.deadline == t(8)
    tk.dispatch("tech-wu", t(7), "dispatcher")
    tk.start_work(t(8), "tech-wu")
    tk.resolve("fixed", t(70), "tech-wu")
    tk.close(t(80), "dealer")  # closing later does not move the resolution clock
    response, resolution = sla_timers(tk, POLICY, t(500))
    assert (response.stopped_at, response.breached) == (t(7), False)
    assert (resolution.stopped_at, resolution.breached) == (t(70), False)


def test_exactly_at_the_limit_is_not_a_breach() -> None:
    tk = ticket()
    response, _ = sla_timers(tk, POLICY, t(8))
    assert not response.breached and response.at_risk
    response, _ = sla_timers(tk, POLICY, t(8) + timedelta(microseconds=1))
    assert response.breached and not response.at_risk


def test_at_risk_after_the_warning_share() -> None:
    tk = ticket()
    assert not sla_timers(tk, POLICY, t(6.3))[0].at_risk  # 6.3 of 8 h < 80 %
    assert sla_timers(tk, POLICY, t(6.4))[0].at_risk


def test_reopening_restarts_the_resolution_clock_from_the_opening() -> None:
    tk = working()
    tk.resolve("fixed", t(10), "tech-wu")
    tk.reopen(t(60), "dealer", "leaks again")
    _, resolution = sla_timers(tk, POLICY, t(73))
    assert resolution.running and resolution.breached
    assert resolution.elapsed == timedelta(hours=73)


def test_closed_without_resolution_stops_both_clocks() -> None:
    tk = ticket()
    tk.close(t(3), "dealer", "duplicate")
    response, resolution = sla_timers(tk, POLICY, t(1000))
    assert response.stopped_at == resolution.stopped_at == t(3)
    assert not response.breached and not resolution.breached


def test_breach_feed_lists_running_breaches_by_deadline() -> None:
    late_urgent = ticket(TicketPriority.URGENT)  # respond 2 h, resolve 24 h
    normal = Ticket.open("TK2", "D2", "C2", "VALVE", "stuck", t(0), "d")
    normal.dispatch("tech-wu", t(9), "disp")  # responded late: a stopped breach
    breaches = sla_breaches([late_urgent, normal], POLICY, t(30))
    assert [(b.ticket_id, b.clock, b.overdue_by) for b in breaches] == [
        ("TK1", SlaClock.RESPONSE, timedelta(hours=28)),
        ("TK1", SlaClock.RESOLUTION, timedelta(hours=6)),
    ]
    with_history = sla_breaches([late_urgent, normal], POLICY, t(30), include_stopped=True)
    assert ("TK2", SlaClock.RESPONSE, False) in {
        (b.ticket_id, b.clock, b.running) for b in with_history
    }
    with pytest.raises(DomainError):
        sla_timers(late_urgent, POLICY, t(-1))


@given(
    st.sampled_from(list(TicketPriority)),
    st.integers(0, 400 * 60),
    st.one_of(st.none(), st.integers(0, 400 * 60)),
)
def test_breach_iff_elapsed_exceeds_the_sla(
    priority: TicketPriority, now_minutes: int, dispatch_minutes: int | None
) -> None:
    tk = ticket(priority)
    now = T0 + timedelta(minutes=now_minutes)
    if dispatch_minutes is not None and dispatch_minutes <= now_minutes:
        tk.dispatch("tech-wu", T0 + timedelta(minutes=dispatch_minutes), "disp")
        stop_minutes = dispatch_minutes
    else:
        stop_minutes = now_minutes
    response, resolution = sla_timers(tk, POLICY, now)
    target = POLICY.targets[priority]
    assert response.breached is (stop_minutes > target.response_hours * 60)
    assert resolution.breached is (now_minutes > target.resolution_hours * 60)
    assert response.elapsed == timedelta(minutes=stop_minutes)
    breached_ids = {(b.clock, b.running) for b in sla_breaches([tk], POLICY, now)}
    assert ((SlaClock.RESOLUTION, True) in breached_ids) is resolution.breached
