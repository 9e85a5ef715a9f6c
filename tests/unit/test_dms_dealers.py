"""Dealer lifecycle, qualification documents and the order block, upload checks."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wayhouse.platform.dms.domain.dealers import (
    Address,
    Compliance,
    Contact,
    Dealer,
    DealerProfile,
    DocumentPolicy,
    DocumentState,
    QualificationDocument,
    UploadPolicy,
    check_documents,
    check_upload,
    dealer_moves,
    document_state,
    ensure_can_place_orders,
    expiry_warnings,
    order_blocks,
    sniff_content_type,
)
from wayhouse.platform.dms.domain.types import DealerStatus, DomainError, IllegalTransition

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
D0 = T0.date()
PROFILE = DealerProfile("Huanan Trading Co.", "south")
LICENCE = "business_licence"
PERMIT = "operating_permit"


def t(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def d(days: int) -> date:
    return D0 + timedelta(days=days)


def doc(doc_type: str, start: int, end: int, number: str = "N1") -> QualificationDocument:
    return QualificationDocument(doc_type, number, d(start), d(end))


def new_dealer() -> Dealer:
    return Dealer.apply("D1", PROFILE, t(0), "hq")


def active_dealer() -> Dealer:
    dealer = new_dealer()
    dealer.activate(t(1), "hq")
    return dealer


# --- lifecycle ----------------------------------------------------------------------------


def test_apply_records_the_creation_event() -> None:
    dealer = new_dealer()
    assert dealer.status is DealerStatus.APPLICANT
    [event] = dealer.history
    assert (event.from_state, event.to_state, event.at, event.by) == (None, "applicant", t(0), "hq")


def test_full_lifecycle_records_every_transition() -> None:
    dealer = new_dealer()
    dealer.activate(t(1), "hq", "documents checked")
    dealer.suspend(t(2), "rm", "overdue invoices")
    dealer.reinstate(t(3), "rm", "paid up")
    dealer.close(t(4), "hq", "contract ended")
    assert dealer.status is DealerStatus.CLOSED
    steps = [(e.from_state, e.to_state, e.by, e.reason) for e in dealer.history[1:]]
    assert steps == [
        ("applicant", "active", "hq", "documents checked"),
        ("active", "suspended", "rm", "overdue invoices"),
        ("suspended", "active", "rm", "paid up"),
        ("active", "closed", "hq", "contract ended"),
    ]
    assert dealer.status_reason == "contract ended"


def test_applicant_can_be_rejected_by_closing() -> None:
    dealer = new_dealer()
    dealer.close(t(1), "hq", "incomplete application")
    assert dealer.status is DealerStatus.CLOSED


@pytest.mark.parametrize("action", ["suspend", "close"])
def test_suspend_and_close_need_a_reason(action: str) -> None:
    dealer = active_dealer()
    with pytest.raises(IllegalTransition, match="reason is required"):
        getattr(dealer, action)(t(2), "hq", "  ")
    assert dealer.status is DealerStatus.ACTIVE


def test_reinstate_needs_a_reason() -> None:
    dealer = active_dealer()
    dealer.suspend(t(2), "rm", "audit")
    with pytest.raises(IllegalTransition):
        dealer.reinstate(t(3), "rm", "")


def test_applicant_cannot_be_suspended() -> None:
    with pytest.raises(IllegalTransition, match="applicant to suspended"):
        new_dealer().suspend(t(1), "hq", "why not")


def test_active_dealer_is_not_activated_again() -> None:
    dealer = active_dealer()
    with pytest.raises(IllegalTransition, match="use reinstate"):
        dealer.activate(t(2), "hq")


def test_closed_is_final() -> None:
    dealer = active_dealer()
    dealer.close(t(2), "hq", "gone")
    for action in (
        lambda: dealer.activate(t(3), "hq"),
        lambda: dealer.suspend(t(3), "hq", "x"),
        lambda: dealer.reinstate(t(3), "hq", "x"),
        lambda: dealer.close(t(3), "hq", "x"),
    ):
        with pytest.raises(IllegalTransition):
            action()
    assert len(dealer.history) == 3
    with pytest.raises(DomainError, match="closed"):
        dealer.update_profile(PROFILE)


def test_time_may_not_run_backwards_or_be_naive_and_actor_is_required() -> None:
    dealer = active_dealer()
    with pytest.raises(DomainError) as err:
        dealer.suspend(t(0.5), "hq", "late")
    assert err.value.code == "time_out_of_order"
    with pytest.raises(DomainError) as err:
        dealer.suspend(datetime(2025, 3, 2), "hq", "naive")
    assert err.value.code == "naive_datetime"
    with pytest.raises(DomainError) as err:
        dealer.suspend(t(2), " ", "nobody")
    assert err.value.code == "actor_required"
    assert dealer.status is DealerStatus.ACTIVE


def test_activation_checks_required_documents_when_given_a_policy() -> None:
    policy = DocumentPolicy(required_types=(LICENCE, PERMIT))
    dealer = new_dealer()
    with pytest.raises(IllegalTransition, match="missing: business_licence, operating_permit"):
        dealer.activate(t(1), "hq", documents=[], policy=policy)
    docs = [doc(LICENCE, -10, 300), doc(PERMIT, -10, 300)]
    dealer.activate(t(1), "hq", documents=docs, policy=policy)
    assert dealer.status is DealerStatus.ACTIVE


def test_reinstatement_checks_documents_too() -> None:
    policy = DocumentPolicy(required_types=(LICENCE,))
    dealer = active_dealer()
    dealer.suspend(t(2), "rm", "licence lapsed")
    with pytest.raises(IllegalTransition, match="expired: business_licence"):
        dealer.reinstate(t(3), "rm", "ok", documents=[doc(LICENCE, -400, -1)], policy=policy)


def test_activation_ignores_documents_when_policy_says_so() -> None:
    policy = DocumentPolicy(required_for_activation=False)
    dealer = new_dealer()
    dealer.activate(t(1), "hq", documents=[], policy=policy)
    assert dealer.status is DealerStatus.ACTIVE


ACTIONS = ["activate", "suspend", "reinstate", "close"]
# The lifecycle, restated independently of the module: action -> (allowed from, target).
MODEL = {
    "activate": ({"applicant"}, "active"),
    "suspend": ({"active"}, "suspended"),
    "reinstate": ({"suspended"}, "active"),
    "close": ({"applicant", "active", "suspended"}, "closed"),
}


@given(st.lists(st.sampled_from(ACTIONS), max_size=12))
def test_lifecycle_follows_the_model_and_history_chains(actions: list[str]) -> None:
    dealer = new_dealer()
    state = "applicant"
    for i, action in enumerate(actions):
        allowed, target = MODEL[action]
        args = (t(i + 1), "u") if action == "activate" else (t(i + 1), "u", "because")
        if state in allowed:
            getattr(dealer, action)(*args)
            state = target
        else:
            with pytest.raises(IllegalTransition):
                getattr(dealer, action)(*args)
        assert dealer.status == state
    events = dealer.history
    assert events[-1].to_state == dealer.status
    for before, after in pairwise(events):
        assert after.from_state == before.to_state
        assert after.at >= before.at
        assert after.to_state in dealer_moves(DealerStatus(before.to_state))


# --- profile ------------------------------------------------------------------------------


def test_profile_validation() -> None:
    with pytest.raises(DomainError):
        DealerProfile(" ", "south")
    with pytest.raises(DomainError):
        Address("warehouse", "1 Harbour Rd", "Shenzhen", lat=113.9, lon=22.5)  # swapped
    with pytest.raises(DomainError):
        Contact("Li", email="not-an-email")
    ok = Address("warehouse", "1 Harbour Rd", "Shenzhen", lat=22.5, lon=113.9)
    assert DealerProfile("X", "south", addresses=(ok,)).addresses == (ok,)


# --- documents ----------------------------------------------------------------------------


def test_document_dates_are_checked() -> None:
    with pytest.raises(DomainError):
        QualificationDocument(LICENCE, "N", d(10), d(9))
    with pytest.raises(DomainError):
        QualificationDocument(LICENCE, " ", d(0), d(9))


def test_document_state_boundaries() -> None:
    licence = doc(LICENCE, 0, 100)
    assert document_state(licence, d(-1), 30) is DocumentState.NOT_YET_VALID
    assert document_state(licence, d(0), 30) is DocumentState.VALID
    assert document_state(licence, d(69), 30) is DocumentState.VALID  # 31 days left
    assert document_state(licence, d(70), 30) is DocumentState.EXPIRING  # 30 days left
    assert document_state(licence, d(100), 30) is DocumentState.EXPIRING  # last valid day
    assert document_state(licence, d(101), 30) is DocumentState.EXPIRED


@given(st.integers(-50, 50), st.integers(0, 400), st.integers(-100, 500), st.integers(0, 90))
def test_document_state_matches_its_definition(
    start: int, length: int, day: int, warn: int
) -> None:
    licence = doc(LICENCE, start, start + length)
    state = document_state(licence, d(day), warn)
    end = start + length
    if day < start:
        assert state is DocumentState.NOT_YET_VALID
    elif day > end:
        assert state is DocumentState.EXPIRED
    elif end - day <= warn:
        assert state is DocumentState.EXPIRING
    else:
        assert state is DocumentState.VALID


def test_expiry_warning_n_days_ahead_and_renewal_silences_it() -> None:
    old = doc(LICENCE, -300, 20, "OLD")
    permit = doc(PERMIT, -300, 5, "P")
    [w1, w2] = expiry_warnings([old, permit], d(0), 30)
    assert (w1.number, w1.days_left) == ("P", 5)  # soonest first
    assert (w2.number, w2.days_left) == ("OLD", 20)
    renewed = doc(LICENCE, 21, 400, "NEW")
    assert [w.number for w in expiry_warnings([old, permit, renewed], d(0), 30)] == ["P"]
    assert expiry_warnings([old], d(0), 19) == ()


@given(
    st.lists(
        st.tuples(st.sampled_from([LICENCE, PERMIT]), st.integers(-60, 60), st.integers(0, 90)),
        max_size=5,
    ),
    st.integers(0, 45),
)
def test_warnings_are_exactly_unrenewed_documents_ending_within_n_days(
    specs: list[tuple[str, int, int]], warn: int
) -> None:
    docs = [doc(k, s, s + n, f"N{i}") for i, (k, s, n) in enumerate(specs)]
    got = {w.number for w in expiry_warnings(docs, d(0), warn)}
    expected = set()
    for x in docs:
        live = x.valid_from <= d(0) <= x.valid_until
        soon = (x.valid_until - d(0)).days <= warn
        nxt = x.valid_until + timedelta(days=1)
        renewed = any(o.doc_type == x.doc_type and o.covers(nxt) for o in docs)
        if live and soon and not renewed:
            expected.add(x.number)
    assert got == expected


def test_compliance_distinguishes_missing_expired_and_future() -> None:
    policy = DocumentPolicy(required_types=(LICENCE, PERMIT, "tax_registration"))
    report = check_documents([doc(LICENCE, -400, -1), doc(PERMIT, 5, 400)], d(0), policy)
    assert report == Compliance(d(0), ("tax_registration",), (LICENCE,), (PERMIT,), ())
    assert not report.ok
    assert "missing: tax_registration" in report.summary()


@given(
    st.lists(
        st.tuples(st.sampled_from([LICENCE, PERMIT]), st.integers(-60, 60), st.integers(0, 90)),
        max_size=5,
    ),
    st.sets(st.sampled_from([LICENCE, PERMIT])),
)
def test_compliance_ok_iff_every_required_type_is_covered_today(
    specs: list[tuple[str, int, int]], required: set[str]
) -> None:
    docs = [doc(k, s, s + n) for k, s, n in specs]
    policy = DocumentPolicy(required_types=tuple(required))
    covered = all(any(x.doc_type == r and x.covers(d(0)) for x in docs) for r in required)
    assert check_documents(docs, d(0), policy).ok is covered


def test_expired_required_document_blocks_orders_until_renewed() -> None:
    policy = DocumentPolicy(required_types=(LICENCE,))
    dealer = active_dealer()
    docs = [doc(LICENCE, -365, -1)]
    with pytest.raises(DomainError) as err:
        ensure_can_place_orders(dealer, docs, d(0), policy)
    assert err.value.code == "document_expired"
    docs.append(doc(LICENCE, 0, 365, "RENEWED"))
    ensure_can_place_orders(dealer, docs, d(0), policy)


def test_order_block_is_configurable() -> None:
    lenient = DocumentPolicy(required_types=(LICENCE,), block_orders_when_lapsed=False)
    dealer = active_dealer()
    assert order_blocks(dealer, [doc(LICENCE, -365, -1)], d(0), lenient) == ()


def test_inactive_dealer_cannot_order_whatever_its_documents() -> None:
    dealer = active_dealer()
    dealer.suspend(t(2), "rm", "audit")
    blocks = order_blocks(dealer, [doc(LICENCE, -1, 300)], d(0), DocumentPolicy())
    assert [b.code for b in blocks] == ["dealer_not_active"]


@given(
    st.lists(st.tuples(st.integers(-60, 60), st.integers(0, 90)), max_size=3),
    st.booleans(),
    st.sampled_from(list(DealerStatus)),
)
def test_may_order_iff_active_and_covered_or_lenient(
    specs: list[tuple[int, int]], block: bool, status: DealerStatus
) -> None:
    docs = [doc(LICENCE, s, s + n) for s, n in specs]
    policy = DocumentPolicy(required_types=(LICENCE,), block_orders_when_lapsed=block)
    dealer = Dealer("D9", PROFILE, status)
    covered = any(x.covers(d(0)) for x in docs)
    allowed = status is DealerStatus.ACTIVE and (covered or not block)
    assert (order_blocks(dealer, docs, d(0), policy) == ()) is allowed


# --- uploads ------------------------------------------------------------------------------

PDF = b"%PDF-1.7\n..."
PNG = b"\x89PNG\r\n\x1a\n...."


def test_upload_type_is_sniffed_not_trusted() -> None:
    policy = UploadPolicy(max_bytes=1000)
    assert sniff_content_type(PDF) == "application/pdf"
    assert sniff_content_type(b"MZ\x90\x00") is None
    assert check_upload(PDF, 500, "application/pdf", policy) == "application/pdf"
    assert check_upload(PNG, 500, None, policy) == "image/png"
    cases = [
        (PDF, 0, None, "empty_file"),
        (PDF, 1001, None, "file_too_large"),
        (b"MZ\x90\x00", 10, "application/pdf", "file_type_not_allowed"),
        (PNG, 10, "application/pdf", "file_type_mismatch"),
    ]
    for head, size, declared, code in cases:
        with pytest.raises(DomainError) as err:
            check_upload(head, size, declared, policy)
        assert err.value.code == code


@given(st.integers(1, 10_000), st.integers(1, 10_000))
def test_upload_size_limit(size: int, limit: int) -> None:
    policy = UploadPolicy(max_bytes=limit)
    if size > limit:
        with pytest.raises(DomainError):
            check_upload(PDF, size, None, policy)
    else:
        assert check_upload(PDF, size, None, policy) == "application/pdf"
