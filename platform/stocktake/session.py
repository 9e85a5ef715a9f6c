"""Stocktake sessions: snapshot a warehouse or zone (book, sensed, scanned per bin), review and
count by hand where the sensors cannot say, propose adjustments, approve them (four eyes),
and turn the approved ones into ledger adjustment requests the service layer posts.

Lifecycle: counting > review > approval > posted, or cancelled before posting; every step
is recorded. Plus inventory accuracy (bins exact, value of the differences) for a session or
for the live sensed-vs-book picture of a warehouse.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from wayhouse.platform.dms.domain.dealers import TransitionEvent, require_aware, transition_event
from wayhouse.platform.dms.domain.types import DomainError, IllegalTransition, money
from wayhouse.platform.stocktake.sensing import SensedCount

LineKey = tuple[str, str, str | None]  # bin, product, lot


class SessionStatus(StrEnum):
    COUNTING = "counting"
    REVIEW = "review"
    APPROVAL = "approval"
    POSTED = "posted"
    CANCELLED = "cancelled"


class CountSource(StrEnum):
    MANUAL = "manual"
    SCANNED = "scanned"
    SENSED = "sensed"


class AdjustmentStatus(StrEnum):
    PROPOSED = "proposed"
    APPROVED = "approved"
    REJECTED = "rejected"


@dataclass(slots=True)
class SnapshotLine:
    bin: str
    product: str
    lot: str | None
    book: int
    sensed: int | None  # confident scale count, when the bin has one scale-countable lot
    sensed_confidence: float
    scanned: int | None  # RFID/handheld count of the bin
    unit_value: Decimal
    manual: int | None = None
    counted_by: str | None = None

    @property
    def key(self) -> LineKey:
        return (self.bin, self.product, self.lot)

    @property
    def counted(self) -> tuple[int, CountSource] | None:
        """The count to adjust to: a hand count beats a scan, a scan beats the scale."""
        if self.manual is not None:
            return self.manual, CountSource.MANUAL
        if self.scanned is not None:
            return self.scanned, CountSource.SCANNED
        if self.sensed is not None:
            return self.sensed, CountSource.SENSED
        return None

    @property
    def difference(self) -> int | None:
        c = self.counted
        return None if c is None else c[0] - self.book


@dataclass(frozen=True, slots=True)
class LedgerAdjustmentRequest:
    """What the service layer posts: ``Movement.adjust`` / ``post_movement(kind=ADJUST)``."""

    bin: str
    product: str
    lot: str | None
    delta: int  # negative takes stock out
    reason: str
    ref: str  # the stocktake session
    requested_by: str
    approved_by: str
    at: datetime


@dataclass(slots=True)
class ProposedAdjustment:
    key: LineKey
    delta: int
    source: CountSource
    value: Decimal
    reason: str
    proposed_by: str
    status: AdjustmentStatus = AdjustmentStatus.PROPOSED
    decided_by: str | None = None
    note: str = ""


def snapshot_lines(
    book: Mapping[LineKey, int],
    sensed: Mapping[str, SensedCount],
    unit_value: Mapping[str, Decimal],
    scanned: Mapping[tuple[str, str], int] | None = None,
) -> list[SnapshotLine]:
    """Lines for a snapshot: one per (bin, product, lot) on the book. A scale weighs a bin,
    so its count goes to the line only when the bin holds one lot and the count is confident;
    a bin with several lots needs a scan or a hand count."""
    per_bin: dict[str, int] = {}
    for b, _, _ in book:
        per_bin[b] = per_bin.get(b, 0) + 1
    lines = []
    for (b, product, lot), qty in sorted(
        book.items(), key=lambda kv: (kv[0][0], kv[0][1], kv[0][2] or "")
    ):
        s = sensed.get(b)
        usable = s is not None and s.confident and per_bin[b] == 1
        lines.append(
            SnapshotLine(
                bin=b,
                product=product,
                lot=lot,
                book=qty,
                sensed=s.count if usable and s is not None else None,
                sensed_confidence=s.confidence if s is not None else 0.0,
                scanned=(scanned or {}).get((b, product)) if per_bin[b] == 1 else None,
                unit_value=money(unit_value.get(product, Decimal(0))),
            )
        )
    return lines


@dataclass
class StocktakeSession:
    id: str
    warehouse: str
    zone: str | None
    lines: dict[LineKey, SnapshotLine]
    created_by: str
    created_at: datetime
    status: SessionStatus = SessionStatus.COUNTING
    adjustments: dict[LineKey, ProposedAdjustment] = field(default_factory=dict)
    history: list[TransitionEvent] = field(default_factory=list)

    @classmethod
    def start(
        cls,
        id: str,
        warehouse: str,
        zone: str | None,
        lines: Iterable[SnapshotLine],
        by: str,
        at: datetime,
    ) -> StocktakeSession:
        by_key: dict[LineKey, SnapshotLine] = {}
        for line in lines:
            if line.key in by_key:
                raise DomainError("duplicate_line", f"line {line.key} appears twice")
            by_key[line.key] = line
        s = cls(id, warehouse, zone, by_key, by, require_aware(at))
        s._step(None, SessionStatus.COUNTING, at, by, "snapshot")
        return s

    def _step(
        self,
        from_: SessionStatus | None,
        to: SessionStatus,
        at: datetime,
        by: str,
        reason: str = "",
    ) -> None:
        ev = transition_event(
            "stocktake",
            self.id,
            self.history,
            from_.value if from_ else None,
            to.value,
            at,
            by,
            reason,
        )
        self.history.append(ev)
        self.status = to

    def _require(self, *allowed: SessionStatus, target: SessionStatus) -> None:
        if self.status not in allowed:
            raise IllegalTransition("stocktake", self.status.value, target.value)

    def _line(self, key: LineKey) -> SnapshotLine:
        try:
            return self.lines[key]
        except KeyError:
            raise DomainError("unknown_line", f"no line {key} in stocktake {self.id}") from None

    # ---- counting and review ------------------------------------------------------------

    def record_count(self, key: LineKey, qty: int, by: str, at: datetime) -> None:
        """A hand count of one line (while counting or in review)."""
        self._require(SessionStatus.COUNTING, SessionStatus.REVIEW, target=self.status)
        require_aware(at)
        if isinstance(qty, bool) or not isinstance(qty, int) or qty < 0:
            raise DomainError("invalid_quantity", "a count is a whole number >= 0")
        line = self._line(key)
        line.manual = qty
        line.counted_by = by

    def uncounted(self) -> list[LineKey]:
        return [k for k, line in self.lines.items() if line.counted is None]

    def submit(self, by: str, at: datetime) -> None:
        self._require(SessionStatus.COUNTING, target=SessionStatus.REVIEW)
        self._step(self.status, SessionStatus.REVIEW, at, by)

    def propose(
        self, by: str, at: datetime, reason: str, *, skip_uncounted: bool = False
    ) -> list[ProposedAdjustment]:
        """Propose an adjustment for every counted line that differs from the book."""
        self._require(SessionStatus.REVIEW, target=SessionStatus.APPROVAL)
        if not reason.strip():
            raise DomainError("reason_required", "adjustments need a reason")
        missing = self.uncounted()
        if missing and not skip_uncounted:
            raise DomainError(
                "uncounted_lines", f"{len(missing)} line(s) have no count, e.g. {missing[0]}"
            )
        self.adjustments = {}
        for key, line in self.lines.items():
            c = line.counted
            if c is None or c[0] == line.book:
                continue
            delta = c[0] - line.book
            self.adjustments[key] = ProposedAdjustment(
                key=key,
                delta=delta,
                source=c[1],
                value=money(line.unit_value * delta),
                reason=reason,
                proposed_by=by,
            )
        self._step(self.status, SessionStatus.APPROVAL, at, by, reason)
        return list(self.adjustments.values())

    def decide(self, key: LineKey, approve: bool, by: str, at: datetime, note: str = "") -> None:
        """Approve or reject one proposed adjustment; not by the person who proposed it."""
        self._require(SessionStatus.APPROVAL, target=self.status)
        require_aware(at)
        adj = self.adjustments.get(key)
        if adj is None:
            raise DomainError("unknown_adjustment", f"no adjustment proposed for {key}")
        if adj.status is not AdjustmentStatus.PROPOSED:
            raise IllegalTransition("adjustment", adj.status.value, "decided", "already decided")
        if by == adj.proposed_by:
            raise DomainError(
                "four_eyes", "an adjustment is approved by someone other than its proposer"
            )
        if not approve and not note.strip():
            raise DomainError("reason_required", "a rejection needs a note")
        adj.status = AdjustmentStatus.APPROVED if approve else AdjustmentStatus.REJECTED
        adj.decided_by = by
        adj.note = note

    def post(self, by: str, at: datetime) -> list[LedgerAdjustmentRequest]:
        """Every adjustment decided: the approved ones become ledger requests (once)."""
        self._require(SessionStatus.APPROVAL, target=SessionStatus.POSTED)
        open_ = [k for k, a in self.adjustments.items() if a.status is AdjustmentStatus.PROPOSED]
        if open_:
            raise DomainError("undecided", f"{len(open_)} adjustment(s) still await a decision")
        requests = [
            LedgerAdjustmentRequest(
                bin=a.key[0],
                product=a.key[1],
                lot=a.key[2],
                delta=a.delta,
                reason=f"stocktake {self.id}: {a.reason}",
                ref=self.id,
                requested_by=a.proposed_by,
                approved_by=a.decided_by or "",
                at=at,
            )
            for a in self.adjustments.values()
            if a.status is AdjustmentStatus.APPROVED
        ]
        self._step(self.status, SessionStatus.POSTED, at, by)
        return requests

    def cancel(self, by: str, at: datetime, reason: str) -> None:
        if self.status in (SessionStatus.POSTED, SessionStatus.CANCELLED):
            raise IllegalTransition("stocktake", self.status.value, SessionStatus.CANCELLED.value)
        if not reason.strip():
            raise IllegalTransition(
                "stocktake", self.status.value, "cancelled", "a reason is required"
            )
        self._step(self.status, SessionStatus.CANCELLED, at, by, reason)

    def accuracy(self) -> Accuracy:
        return accuracy(
            (line.bin, line.book, c[0] if (c := line.counted) else None, line.unit_value)
            for line in self.lines.values()
        )


@dataclass(frozen=True, slots=True)
class Accuracy:
    bins: int  # bins with a count for every line
    bins_exact: int  # ... where every line matches the book
    uncounted_bins: int
    units_over: int
    units_short: int
    value_of_differences: Decimal  # sum of |difference| x unit value
    net_value: Decimal  # signed: negative = stock missing

    @property
    def exact_ratio(self) -> float:
        return self.bins_exact / self.bins if self.bins else 1.0


def accuracy(rows: Iterable[tuple[str, int, int | None, Decimal]]) -> Accuracy:
    """Accuracy from (bin, book, counted or None, unit value) rows; a bin is exact when all of
    its rows are counted and match the book."""
    exact: dict[str, bool] = {}
    counted: dict[str, bool] = {}
    over = short = 0
    gross = net = Decimal(0)
    for b, book, count, value in rows:
        counted[b] = counted.get(b, True) and count is not None
        if count is None:
            exact[b] = False
            continue
        diff = count - book
        exact[b] = exact.get(b, True) and diff == 0
        over += max(diff, 0)
        short += max(-diff, 0)
        gross += abs(diff) * value
        net += diff * value
    full = [b for b, ok in counted.items() if ok]
    return Accuracy(
        bins=len(full),
        bins_exact=sum(1 for b in full if exact[b]),
        uncounted_bins=len(counted) - len(full),
        units_over=over,
        units_short=short,
        value_of_differences=money(gross),
        net_value=money(net),
    )


def accuracy_by_warehouse(
    rows: Iterable[tuple[str, str, int, int | None, Decimal]],
) -> dict[str, Accuracy]:
    """(warehouse, bin, book, counted, unit value) rows -> accuracy per warehouse."""
    per: dict[str, list[tuple[str, int, int | None, Decimal]]] = {}
    for wh, b, book, count, value in rows:
        per.setdefault(wh, []).append((b, book, count, value))
    return {wh: accuracy(r) for wh, r in sorted(per.items())}
