"""Dealers: profile, lifecycle applicant > active > suspended > closed, qualification documents.

Also home of ``TransitionEvent``, the audit record every lifecycle in this package appends
(customers, contracts and service tickets reuse it), so the audit trail has one shape.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import NoReturn

from wayhouse.platform.dms.domain.types import (
    DealerStatus,
    DealerTier,
    DomainError,
    IllegalTransition,
)

# --- the audit record shared by every lifecycle --------------------------------------------


@dataclass(frozen=True, slots=True)
class TransitionEvent:
    """One lifecycle step: who moved what from which state to which, when and why."""

    entity: str
    entity_id: str
    from_state: str | None  # None when the entity is created
    to_state: str
    at: datetime
    by: str
    reason: str = ""


def require_aware(at: datetime) -> datetime:
    # Naive datetimes compare wrongly against aware ones from the database; refuse them early.
    if at.tzinfo is None or at.utcoffset() is None:
        raise DomainError("naive_datetime", "times must carry a timezone")
    return at


def transition_event(
    entity: str,
    entity_id: str,
    history: Sequence[TransitionEvent],
    from_state: str | None,
    to_state: str,
    at: datetime,
    by: str,
    reason: str = "",
) -> TransitionEvent:
    """Build the next event of ``history``, refusing an anonymous actor or time going backwards."""
    require_aware(at)
    if not by.strip():
        raise DomainError("actor_required", f"{entity} transitions need the acting user")
    if history and at < history[-1].at:
        raise DomainError(
            "time_out_of_order",
            f"{entity} {entity_id}: {at.isoformat()} is before the last event "
            f"({history[-1].at.isoformat()})",
        )
    return TransitionEvent(entity, entity_id, from_state, to_state, at, by, reason.strip())


def require_reason(entity: str, current: str, target: str, reason: str) -> None:
    if not reason.strip():
        raise IllegalTransition(entity, current, target, "a reason is required")


# --- profile ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Contact:
    name: str
    phone: str = ""
    email: str = ""
    role: str = ""

    def __post_init__(self) -> None:
        if not self.name.strip():
            raise DomainError("invalid_contact", "a contact needs a name")
        if self.email and "@" not in self.email:
            raise DomainError("invalid_contact", f"not an e-mail address: {self.email!r}")


@dataclass(frozen=True, slots=True)
class Address:
    kind: str  # "registered", "warehouse", "billing", ...
    line: str
    city: str
    lat: float
    lon: float

    def __post_init__(self) -> None:
        if not self.line.strip():
            raise DomainError("invalid_address", "an address needs a street line")
        # Coordinates feed geofences and routing; a swapped lat/lon must fail here, not there.
        if not (-90.0 <= self.lat <= 90.0) or not (-180.0 <= self.lon <= 180.0):
            raise DomainError(
                "invalid_address", f"coordinates out of range: lat={self.lat}, lon={self.lon}"
            )


@dataclass(frozen=True, slots=True)
class DealerProfile:
    legal_name: str
    region_id: str
    tier: DealerTier = DealerTier.STANDARD
    business_scope: tuple[str, ...] = ()
    contacts: tuple[Contact, ...] = ()
    addresses: tuple[Address, ...] = ()

    def __post_init__(self) -> None:
        if not self.legal_name.strip():
            raise DomainError("invalid_profile", "a dealer needs a legal name")
        if not self.region_id.strip():
            raise DomainError("invalid_profile", "a dealer belongs to a region")


# --- lifecycle ----------------------------------------------------------------------------

_DEALER_MOVES: dict[DealerStatus, frozenset[DealerStatus]] = {
    DealerStatus.APPLICANT: frozenset({DealerStatus.ACTIVE, DealerStatus.CLOSED}),
    DealerStatus.ACTIVE: frozenset({DealerStatus.SUSPENDED, DealerStatus.CLOSED}),
    DealerStatus.SUSPENDED: frozenset({DealerStatus.ACTIVE, DealerStatus.CLOSED}),
    DealerStatus.CLOSED: frozenset(),
}


def dealer_moves(status: DealerStatus) -> frozenset[DealerStatus]:
    """The statuses reachable in one step (for the console's buttons)."""
    return _DEALER_MOVES[status]


@dataclass
class Dealer:
    dealer_id: str
    profile: DealerProfile
    status: DealerStatus = DealerStatus.APPLICANT
    history: list[TransitionEvent] = field(default_factory=list)

    @classmethod
    def apply(cls, dealer_id: str, profile: DealerProfile, at: datetime, by: str) -> Dealer:
        dealer = cls(dealer_id, profile)
        dealer.history.append(
            transition_event("dealer", dealer_id, [], None, DealerStatus.APPLICANT, at, by)
        )
        return dealer

    @property
    def status_reason(self) -> str:
        return self.history[-1].reason if self.history else ""

    def activate(
        self,
        at: datetime,
        by: str,
        reason: str = "",
        *,
        documents: Sequence[QualificationDocument] = (),
        policy: DocumentPolicy | None = None,
    ) -> TransitionEvent:
        """Approve an applicant. With a policy, its required documents must be valid then."""
        if self.status is not DealerStatus.APPLICANT:
            self._refuse(DealerStatus.ACTIVE, "only an applicant is activated; use reinstate")
        self._check_documents(DealerStatus.ACTIVE, at, documents, policy)
        return self._move(DealerStatus.ACTIVE, at, by, reason)

    def suspend(self, at: datetime, by: str, reason: str) -> TransitionEvent:
        require_reason("dealer", self.status, DealerStatus.SUSPENDED, reason)
        return self._move(DealerStatus.SUSPENDED, at, by, reason)

    def reinstate(
        self,
        at: datetime,
        by: str,
        reason: str,
        *,
        documents: Sequence[QualificationDocument] = (),
        policy: DocumentPolicy | None = None,
    ) -> TransitionEvent:
        if self.status is not DealerStatus.SUSPENDED:
            self._refuse(DealerStatus.ACTIVE, "only a suspended dealer is reinstated")
        require_reason("dealer", self.status, DealerStatus.ACTIVE, reason)
        self._check_documents(DealerStatus.ACTIVE, at, documents, policy)
        return self._move(DealerStatus.ACTIVE, at, by, reason)

    def close(self, at: datetime, by: str, reason: str) -> TransitionEvent:
        """Close for good (also how an applicant is rejected)."""
        require_reason("dealer", self.status, DealerStatus.CLOSED, reason)
        return self._move(DealerStatus.CLOSED, at, by, reason)

    def update_profile(self, profile: DealerProfile) -> None:
        if self.status is DealerStatus.CLOSED:
            raise DomainError("dealer_closed", f"dealer {self.dealer_id} is closed")
        self.profile = profile

    def _check_documents(
        self,
        target: DealerStatus,
        at: datetime,
        documents: Sequence[QualificationDocument],
        policy: DocumentPolicy | None,
    ) -> None:
        if policy is None or not policy.required_for_activation:
            return
        report = check_documents(documents, require_aware(at).date(), policy)
        if not report.ok:
            self._refuse(target, report.summary())

    def _refuse(self, target: DealerStatus, reason: str) -> NoReturn:
        raise IllegalTransition("dealer", self.status, target, reason)

    def _move(self, target: DealerStatus, at: datetime, by: str, reason: str) -> TransitionEvent:
        if target not in _DEALER_MOVES[self.status]:
            why = "closed is final" if self.status is DealerStatus.CLOSED else ""
            self._refuse(target, why)
        event = transition_event(
            "dealer", self.dealer_id, self.history, self.status, target, at, by, reason
        )
        self.status = target
        self.history.append(event)
        return event


# --- qualification documents --------------------------------------------------------------


class DocumentState(StrEnum):
    NOT_YET_VALID = "not_yet_valid"
    VALID = "valid"
    EXPIRING = "expiring"
    EXPIRED = "expired"


@dataclass(frozen=True, slots=True)
class QualificationDocument:
    """A licence or permit. ``valid_until`` is the last valid day (inclusive)."""

    doc_type: str
    number: str
    valid_from: date
    valid_until: date
    file_ref: str | None = None

    def __post_init__(self) -> None:
        if not self.doc_type.strip() or not self.number.strip():
            raise DomainError("invalid_document", "a document needs a type and a number")
        if self.valid_until < self.valid_from:
            raise DomainError(
                "invalid_document",
                f"{self.doc_type} {self.number}: valid until {self.valid_until} "
                f"is before valid from {self.valid_from}",
            )

    def covers(self, day: date) -> bool:
        return self.valid_from <= day <= self.valid_until

    def days_left(self, day: date) -> int:
        return (self.valid_until - day).days


@dataclass(frozen=True, slots=True)
class DocumentPolicy:
    """Editable configuration: which documents a dealer must hold and what a lapse blocks."""

    required_types: tuple[str, ...] = ("business_licence",)
    warning_days: int = 30
    block_orders_when_lapsed: bool = True
    required_for_activation: bool = True

    def __post_init__(self) -> None:
        if self.warning_days < 0:
            raise DomainError("invalid_policy", "warning days cannot be negative")


def document_state(doc: QualificationDocument, on: date, warning_days: int) -> DocumentState:
    if on < doc.valid_from:
        return DocumentState.NOT_YET_VALID
    if on > doc.valid_until:
        return DocumentState.EXPIRED
    if doc.days_left(on) <= warning_days:
        return DocumentState.EXPIRING
    return DocumentState.VALID


@dataclass(frozen=True, slots=True)
class ExpiryWarning:
    doc_type: str
    number: str
    valid_until: date
    days_left: int


def expiry_warnings(
    documents: Iterable[QualificationDocument], on: date, warning_days: int
) -> tuple[ExpiryWarning, ...]:
    """Documents valid today that end within ``warning_days``, unless a renewal already takes
    over the next day (then there is nothing to chase). Soonest first."""
    docs = list(documents)
    warnings = []
    for doc in docs:
        if document_state(doc, on, warning_days) is not DocumentState.EXPIRING:
            continue
        next_day = date.fromordinal(doc.valid_until.toordinal() + 1)
        renewed = any(o.doc_type == doc.doc_type and o.covers(next_day) for o in docs)
        if not renewed:
            warnings.append(
                ExpiryWarning(doc.doc_type, doc.number, doc.valid_until, doc.days_left(on))
            )
    return tuple(sorted(warnings, key=lambda w: (w.days_left, w.doc_type, w.number)))


@dataclass(frozen=True, slots=True)
class Compliance:
    on: date
    missing: tuple[str, ...]  # required types with no document at all
    expired: tuple[str, ...]  # required types whose documents all ended before ``on``
    not_yet_valid: tuple[str, ...]  # required types whose only documents start after ``on``
    expiring: tuple[ExpiryWarning, ...]

    @property
    def ok(self) -> bool:
        return not (self.missing or self.expired or self.not_yet_valid)

    def summary(self) -> str:
        parts = []
        for label, types in (
            ("missing", self.missing),
            ("expired", self.expired),
            ("not yet valid", self.not_yet_valid),
        ):
            if types:
                parts.append(f"{label}: {', '.join(types)}")
        return "; ".join(parts) if parts else "all required documents valid"


def check_documents(
    documents: Iterable[QualificationDocument], on: date, policy: DocumentPolicy
) -> Compliance:
    docs = list(documents)
    missing, expired, future = [], [], []
    for doc_type in sorted(set(policy.required_types)):
        of_type = [d for d in docs if d.doc_type == doc_type]
        if not of_type:
            missing.append(doc_type)
        elif not any(d.covers(on) for d in of_type):
            # A past document that ended counts as expired even if a future one is on file:
            # the dealer is uncovered today either way, and "expired" is what staff act on.
            if any(d.valid_until < on for d in of_type):
                expired.append(doc_type)
            else:
                future.append(doc_type)
    return Compliance(
        on,
        tuple(missing),
        tuple(expired),
        tuple(future),
        expiry_warnings(docs, on, policy.warning_days),
    )


@dataclass(frozen=True, slots=True)
class OrderBlock:
    code: str
    message: str


def order_blocks(
    dealer: Dealer, documents: Iterable[QualificationDocument], on: date, policy: DocumentPolicy
) -> tuple[OrderBlock, ...]:
    """Why this dealer may not place an order on ``on`` (empty: it may)."""
    blocks = []
    if dealer.status is not DealerStatus.ACTIVE:
        blocks.append(
            OrderBlock("dealer_not_active", f"dealer {dealer.dealer_id} is {dealer.status}")
        )
    if policy.block_orders_when_lapsed:
        report = check_documents(documents, on, policy)
        for code, label, types in (
            ("document_missing", "missing", report.missing),
            ("document_expired", "expired", report.expired),
            ("document_not_yet_valid", "not yet valid", report.not_yet_valid),
        ):
            blocks.extend(OrderBlock(code, f"required document {t} {label}") for t in types)
    return tuple(blocks)


def ensure_can_place_orders(
    dealer: Dealer, documents: Iterable[QualificationDocument], on: date, policy: DocumentPolicy
) -> None:
    blocks = order_blocks(dealer, documents, on, policy)
    if blocks:
        raise DomainError(blocks[0].code, "; ".join(b.message for b in blocks))


# --- uploaded files (document scans, ticket photos) ---------------------------------------


@dataclass(frozen=True, slots=True)
class UploadPolicy:
    max_bytes: int = 10 * 1024 * 1024
    allowed_types: tuple[str, ...] = ("application/pdf", "image/png", "image/jpeg")


_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"%PDF-", "application/pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
)


def sniff_content_type(head: bytes) -> str | None:
    """The type the bytes really are; the client's declared type is not trusted."""
    for magic, content_type in _MAGIC:
        if head.startswith(magic):
            return content_type
    return None


def check_upload(head: bytes, size: int, declared_type: str | None, policy: UploadPolicy) -> str:
    """Return the verified content type of an upload or refuse it with the reason."""
    if size <= 0:
        raise DomainError("empty_file", "the file is empty")
    if size > policy.max_bytes:
        raise DomainError("file_too_large", f"{size} bytes exceeds the limit of {policy.max_bytes}")
    actual = sniff_content_type(head)
    if actual is None or actual not in policy.allowed_types:
        raise DomainError(
            "file_type_not_allowed",
            f"content is {actual or 'unrecognised'}; allowed: {', '.join(policy.allowed_types)}",
        )
    if declared_type and declared_type.split(";")[0].strip().lower() != actual:
        raise DomainError(
            "file_type_mismatch", f"declared {declared_type} but the content is {actual}"
        )
    return actual
