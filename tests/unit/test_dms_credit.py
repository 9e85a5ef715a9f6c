"""Dealer credit: exposure, overdue past grace, holds that keep their place, overrides."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wayhouse.platform.dms.domain.credit import CreditAccount
from wayhouse.platform.dms.domain.types import CreditHoldStatus, DomainError, Role

DAY0 = date(2025, 3, 1)
T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


def at(days: int) -> datetime:
    return T0 + timedelta(days=days)


def account(limit: int = 10_000, terms: int = 30, grace: int = 5) -> CreditAccount:
    return CreditAccount("D-1", Decimal(limit), terms, grace)


def test_available_credit_is_limit_minus_open_invoices_minus_commitments() -> None:
    acc = account()
    acc.add_invoice("INV-1", Decimal("2500.50"), DAY0)
    assert acc.invoices["INV-1"].due_on == date(2025, 3, 31)
    assert acc.check("SO-1", Decimal(3000), at(0)).approved
    assert (acc.balance, acc.committed) == (Decimal("2500.50"), Decimal("3000.00"))
    assert acc.available_credit == Decimal("4499.50")


def test_an_order_over_the_available_credit_is_held_with_the_excess() -> None:
    acc = account()
    acc.check("SO-1", Decimal(8000), at(0))
    decision = acc.check("SO-2", Decimal(2500), at(0))
    assert not decision.approved and decision.available == Decimal(2000)
    (reason,) = decision.reasons
    assert reason.code == "over_credit_limit" and reason.amount == Decimal(500)
    assert "exceeds available credit 2000.00 by 500.00" in reason.message
    (hold,) = acc.open_holds
    assert (hold.order_id, hold.amount, hold.held_at) == ("SO-2", Decimal("2500.00"), at(0))
    assert "SO-2" not in acc.commitments
    with pytest.raises(DomainError) as exc:
        acc.check("SO-2", Decimal(1), at(1))
    assert exc.value.code == "already_checked"


def test_an_order_of_exactly_the_available_credit_passes_one_cent_more_is_held() -> None:
    acc = account(limit=1000)
    assert acc.check("SO-1", Decimal("600.00"), at(0)).approved
    decision = acc.check("SO-2", Decimal("400.01"), at(0))
    assert [r.amount for r in decision.reasons] == [Decimal("0.01")]
    assert acc.check("SO-3", Decimal("400.00"), at(0)).approved
    assert acc.available_credit == 0


def test_overdue_within_grace_passes_past_grace_holds() -> None:
    acc = account(grace=5)
    acc.add_invoice("INV-1", Decimal(100), DAY0)  # due 31 March
    due = datetime(2025, 3, 31, 12, tzinfo=UTC)
    assert acc.overdue(due.date()) == 0
    assert acc.overdue((due + timedelta(days=1)).date()) == Decimal(100)
    assert acc.check("SO-1", Decimal(10), due + timedelta(days=5)).approved  # 5 days: in grace
    decision = acc.check("SO-2", Decimal(10), due + timedelta(days=6))
    assert [r.code for r in decision.reasons] == ["overdue_past_grace"]
    assert "invoices INV-1" in decision.reasons[0].message
    assert acc.overdue((due + timedelta(days=6)).date(), past_grace=True) == Decimal(100)


def test_both_reasons_are_reported_together() -> None:
    acc = account(limit=100, terms=0, grace=0)
    acc.add_invoice("INV-1", Decimal(90), DAY0)
    decision = acc.check("SO-1", Decimal(50), at(3))
    assert [r.code for r in decision.reasons] == ["over_credit_limit", "overdue_past_grace"]


def test_a_payment_releases_held_orders_oldest_first_and_none_overtakes() -> None:
    acc = account(limit=1000)
    acc.add_invoice("INV-1", Decimal(1000), DAY0)
    acc.check("SO-big", Decimal(800), at(1))
    acc.check("SO-small", Decimal(100), at(2))
    assert [h.order_id for h in acc.open_holds] == ["SO-big", "SO-small"]
    # 500 paid: SO-small would fit, but SO-big came first and still does not
    assert acc.record_payment("INV-1", Decimal(500), at(3), by="cashier") == []
    assert [h.order_id for h in acc.open_holds] == ["SO-big", "SO-small"]
    assert "by 300.00" in acc.open_holds[0].reasons[0].message  # reasons are refreshed
    released = acc.record_payment("INV-1", Decimal(500), at(4), by="cashier")
    assert [(r.order_id, r.override, r.by) for r in released] == [
        ("SO-big", False, "cashier"),
        ("SO-small", False, "cashier"),
    ]
    assert acc.committed == Decimal(900) and acc.open_holds == []
    assert [h.status for h in acc.holds] == [CreditHoldStatus.RELEASED] * 2  # kept, not deleted


def test_a_manager_override_is_recorded_and_still_counts_as_exposure() -> None:
    acc = account(limit=100)
    acc.check("SO-1", Decimal(500), at(0))
    with pytest.raises(DomainError) as exc:
        acc.override("SO-1", by="dan", role=Role.DEALER_USER, reason="pls", at=at(1))
    assert exc.value.code == "not_authorised"
    with pytest.raises(DomainError) as exc:
        acc.override("SO-1", by="rm", role=Role.REGION_MANAGER, reason=" ", at=at(1))
    assert exc.value.code == "reason_required"
    release = acc.override("SO-1", by="rm", role=Role.REGION_MANAGER, reason="seasonal", at=at(1))
    assert (release.override, release.by, release.reason) == (True, "rm", "seasonal")
    (hold,) = acc.holds
    assert (hold.status, hold.ended_by, hold.end_reason, hold.ended_at) == (
        CreditHoldStatus.OVERRIDDEN,
        "rm",
        "seasonal",
        at(1),
    )
    assert acc.available_credit == Decimal(-400)
    with pytest.raises(DomainError) as exc:
        acc.override("SO-1", by="rm", role=Role.REGION_MANAGER, reason="again", at=at(2))
    assert exc.value.code == "no_open_hold"


def test_withdraw_frees_a_commitment_or_closes_a_hold() -> None:
    acc = account(limit=100)
    acc.check("SO-1", Decimal(60), at(0))
    acc.check("SO-2", Decimal(60), at(0))
    acc.withdraw("SO-1", at(1), "dealer", "cancelled")
    assert acc.committed == 0
    acc.withdraw("SO-2", at(1), "dealer", "cancelled")
    assert acc.holds[0].status is CreditHoldStatus.WITHDRAWN
    with pytest.raises(DomainError):
        acc.withdraw("SO-3", at(1), "dealer", "never existed")


def test_invoicing_an_order_replaces_its_commitment() -> None:
    acc = account()
    acc.check("SO-1", Decimal(700), at(0))
    acc.add_invoice("INV-1", Decimal(650), DAY0, order_id="SO-1")  # partly shipped
    assert (acc.committed, acc.balance) == (0, Decimal(650))


def test_payments_and_invoices_are_validated() -> None:
    acc = account()
    acc.add_invoice("INV-1", Decimal(100), DAY0)
    for bad in [lambda: acc.add_invoice("INV-1", Decimal(1), DAY0),
                lambda: acc.add_invoice("INV-2", Decimal(0), DAY0),
                lambda: acc.record_payment("INV-1", Decimal("100.01"), at(1)),
                lambda: acc.record_payment("INV-1", Decimal(0), at(1)),
                lambda: acc.record_payment("INV-9", Decimal(1), at(1)),
                lambda: acc.check("SO-1", Decimal(-1), at(1))]:  # fmt: skip
        with pytest.raises(DomainError):
            bad()
    assert acc.balance == Decimal(100)
    with pytest.raises(DomainError):
        CreditAccount("D-2", Decimal(-1), 30, 0)


def test_raising_the_limit_releases_holds() -> None:
    acc = account(limit=100)
    acc.check("SO-1", Decimal(150), at(0))
    released = acc.change_limit(Decimal(200), at(1), by="hq")
    assert [r.order_id for r in released] == ["SO-1"]
    assert acc.committed == Decimal(150)


# -- properties ------------------------------------------------------------------------------
ops = st.lists(
    st.one_of(
        st.tuples(st.just("order"), st.integers(0, 4000)),
        st.tuples(st.just("invoice"), st.integers(0, 30)),  # invoice the n-th open commitment
        st.tuples(st.just("pay"), st.integers(0, 30), st.integers(1, 3000)),
        st.tuples(st.just("cancel"), st.integers(0, 30)),
        st.tuples(st.just("days"), st.integers(1, 20)),
    ),
    max_size=40,
)


@settings(max_examples=250, deadline=None)
@given(st.integers(0, 10_000), st.integers(0, 30), st.integers(0, 10), ops)
def test_credit_rules_hold_through_any_history(limit: int, terms: int, grace: int, steps) -> None:
    acc = account(limit, terms, grace)
    now, n, held_ever = T0, 0, []
    for op in steps:
        kind = op[0]
        if kind == "order":
            n += 1
            amount = Decimal(op[1])
            before = (acc.available_credit, acc.overdue(now.date(), past_grace=True))
            decision = acc.check(f"SO-{n}", amount, now)
            # approve exactly when it fits and nothing is overdue past grace
            assert decision.approved == (amount <= before[0] and before[1] == 0)
            if not decision.approved:
                held_ever.append(f"SO-{n}")
        elif kind == "invoice" and acc.commitments:
            order_id = sorted(acc.commitments)[op[1] % len(acc.commitments)]
            amount = acc.commitments[order_id]
            if amount > 0:
                acc.add_invoice(f"INV-{order_id}", amount, now.date(), order_id=order_id)
        elif kind == "pay":
            open_ = [i for i in sorted(acc.invoices) if acc.invoices[i].open_amount > 0]
            if open_:
                inv = acc.invoices[open_[op[1] % len(open_)]]
                queue = [h.order_id for h in acc.open_holds]
                released = acc.record_payment(inv.id, min(Decimal(op[2]), inv.open_amount), now)
                # released holds are the head of the queue, in order: nobody overtakes
                assert [r.order_id for r in released] == queue[: len(released)]
                if acc.open_holds:  # and the pass stopped only at a hold that does not fit
                    head = acc.open_holds[0]
                    assert not acc.assess(head.order_id, head.amount, now.date()).approved
        elif kind == "cancel" and acc.open_holds:
            hold = acc.open_holds[op[1] % len(acc.open_holds)]
            acc.withdraw(hold.order_id, now, "dealer", "cancelled")
        elif kind == "days":
            now += timedelta(days=op[1])
        # without overrides or limit cuts, exposure never exceeds the limit
        assert acc.balance + acc.committed <= acc.credit_limit
        assert acc.balance >= 0
        # nothing is lost: every hold ever placed is still on record
        assert [h.order_id for h in acc.holds] == held_ever
    open_ids = [h.order_id for h in acc.open_holds]
    assert open_ids == [o for o in held_ever if o in open_ids]  # queue order is kept
