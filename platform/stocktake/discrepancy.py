"""Sensed vs book stock of one bin: a discrepancy is raised only when the scale's count is
confident, differs from the book, and has kept differing for ``settle_s``.

The settle time absorbs the ordinary lag between the ledger and the shelf: a pick is booked
when it is scanned, and the scale settles a few readings later. Readings that are not
confident (the weight is moving, or too few readings for a small unit) neither start nor
stop the clock; a confident agreement stops it and clears a raised discrepancy.

A scale weighs a bin, not a lot: the book is kept per lot, compared in total, and the
discrepancy names the lot when the bin holds one, else the lot whose book moved last (the
likeliest to be wrong).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

NO_CHANGE = 0
RAISE = 1
CLEAR = 2
UPDATE = 3  # still raised, but the difference changed


@dataclass(frozen=True, slots=True)
class Discrepancy:
    bin: str
    product: str
    lot: str | None
    book: int
    sensed: int
    difference: int  # sensed - book: negative = missing
    confidence: float
    since: float  # when the confident disagreement began
    at: float
    evidence: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "bin": self.bin,
            "product": self.product,
            "lot": self.lot,
            "book": self.book,
            "sensed": self.sensed,
            "difference": self.difference,
            "confidence": self.confidence,
            "since": self.since,
            "at": self.at,
            "evidence": self.evidence,
        }


class DiscrepancyWatch:
    """Book per lot and the disagreement clock of one bin."""

    __slots__ = ("book", "lot_t", "raised", "raised_diff", "since", "total")

    def __init__(self) -> None:
        self.book: dict[str, int] = {}  # lot ("" when untracked) -> units on the book
        self.lot_t: dict[str, float] = {}  # lot -> when its book last changed
        self.total: int | None = None  # None until the book is known
        self.since: float | None = None
        self.raised = False
        self.raised_diff = 0

    def set_book(self, lot: str | None, qty: int, t: float) -> bool:
        """The ledger's on-hand for one lot of this bin (absolute, so replays are harmless);
        True when the bin's total changed."""
        key = lot or ""
        if self.book.get(key, 0) == qty and self.total is not None:
            return False
        if qty:
            self.book[key] = qty
        else:
            self.book.pop(key, None)
        self.lot_t[key] = t
        before = self.total
        self.total = sum(self.book.values())
        return before is not None and before != self.total

    def lot(self) -> str | None:
        if len(self.book) == 1:
            return next(iter(self.book)) or None
        candidates = self.book or self.lot_t
        if not candidates:
            return None
        return max(candidates, key=lambda k: (self.lot_t.get(k, 0.0), k)) or None

    def observe(self, t: float, count: int, confident: bool, settle_s: float) -> int:
        """One sensed count: NO_CHANGE, RAISE, CLEAR or UPDATE."""
        total = self.total
        if total is None or not confident:
            return NO_CHANGE
        if count == total:
            self.since = None
            if self.raised:
                self.raised = False
                return CLEAR
            return NO_CHANGE
        if self.since is None:
            self.since = t
        diff = count - total
        if not self.raised:
            if t - self.since >= settle_s:
                self.raised = True
                self.raised_diff = diff
                return RAISE
            return NO_CHANGE
        if diff != self.raised_diff:
            self.raised_diff = diff
            return UPDATE
        return NO_CHANGE

    def discrepancy(
        self,
        bin_code: str,
        product: str,
        t: float,
        count: int,
        confidence: float,
        evidence: dict[str, Any],
    ) -> Discrepancy:
        book = self.total or 0
        return Discrepancy(
            bin=bin_code,
            product=product,
            lot=self.lot(),
            book=book,
            sensed=count,
            difference=count - book,
            confidence=confidence,
            since=self.since if self.since is not None else t,
            at=t,
            evidence=evidence,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "book": dict(self.book),
            "lot_t": dict(self.lot_t),
            "since": self.since,
            "raised": self.raised,
            "raised_diff": self.raised_diff,
            "known": self.total is not None,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DiscrepancyWatch:
        w = cls()
        w.book = {str(k): int(v) for k, v in d["book"].items()}
        w.lot_t = {str(k): float(v) for k, v in d["lot_t"].items()}
        w.total = sum(w.book.values()) if d["known"] else None
        w.since = d["since"]
        w.raised = bool(d["raised"])
        w.raised_diff = int(d["raised_diff"])
        return w
