"""First-expiry-first-out allocation by lot.

Given what is available per (bin, lot) of one sku, take the lots that expire first so stock
does not age out on the shelf. A lot that has expired, or would expire before the customer's
minimum shelf life, is never picked; it is reported as excluded so the console can say why an
order is short. A shortfall is part of the result, never an exception: the order waits for stock.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import date

from .ledger import Reservation, StockLedger
from .types import DomainError


@dataclass(frozen=True, slots=True)
class StockSlot:
    """Available units of one lot in one bin. ``expiry`` None = the product does not expire."""

    bin: str
    lot: str
    expiry: date | None
    available: int


@dataclass(frozen=True, slots=True)
class Pick:
    bin: str
    lot: str
    expiry: date | None
    qty: int


@dataclass(frozen=True, slots=True)
class Exclusion:
    """A slot that had stock but could not be used, and why (``expired`` / ``short_shelf_life``)."""

    slot: StockSlot
    reason: str


@dataclass(frozen=True, slots=True)
class AllocationResult:
    sku: str
    requested: int
    picks: tuple[Pick, ...]
    excluded: tuple[Exclusion, ...] = ()

    @property
    def allocated(self) -> int:
        return sum(p.qty for p in self.picks)

    @property
    def shortfall(self) -> int:
        return self.requested - self.allocated

    @property
    def complete(self) -> bool:
        return self.shortfall == 0


def _fefo_key(slot: StockSlot) -> tuple[bool, date, str, str]:
    # Non-expiring stock goes last; lot then bin makes ties deterministic (same answer on replay).
    return (slot.expiry is None, slot.expiry or date.max, slot.lot, slot.bin)


def _merged(stock: Iterable[StockSlot]) -> list[StockSlot]:
    """One slot per (bin, lot): one pick per place keeps reservation ids unique."""
    merged: dict[tuple[str, str], StockSlot] = {}
    expiry_of: dict[str, date | None] = {}
    for slot in stock:
        if expiry_of.setdefault(slot.lot, slot.expiry) != slot.expiry:
            raise DomainError("conflicting_expiry", f"lot {slot.lot} has two expiry dates")
        seen = merged.get((slot.bin, slot.lot))
        total = slot.available + (seen.available if seen else 0)
        merged[(slot.bin, slot.lot)] = StockSlot(slot.bin, slot.lot, slot.expiry, total)
    return list(merged.values())


def allocate_fefo(
    sku: str,
    qty: int,
    stock: Iterable[StockSlot],
    *,
    today: date,
    min_expiry: date | None = None,
) -> AllocationResult:
    """Pick ``qty`` units of ``sku`` from ``stock``, earliest expiry first.

    A lot is expired on its expiry date (it must not leave the warehouse that day), so usable
    lots expire after ``today``; with ``min_expiry`` they must also expire on or after it.
    """
    if isinstance(qty, bool) or not isinstance(qty, int) or qty <= 0:
        raise DomainError("invalid_quantity", f"allocation of {sku} needs a positive qty")
    usable: list[StockSlot] = []
    excluded: list[Exclusion] = []
    for slot in _merged(stock):
        if slot.available <= 0:
            continue
        if slot.expiry is not None and slot.expiry <= today:
            excluded.append(Exclusion(slot, "expired"))
        elif slot.expiry is not None and min_expiry is not None and slot.expiry < min_expiry:
            excluded.append(Exclusion(slot, "short_shelf_life"))
        else:
            usable.append(slot)
    picks: list[Pick] = []
    remaining = qty
    for slot in sorted(usable, key=_fefo_key):
        if remaining == 0:
            break
        take = min(slot.available, remaining)
        picks.append(Pick(slot.bin, slot.lot, slot.expiry, take))
        remaining -= take
    return AllocationResult(sku, qty, tuple(picks), tuple(excluded))


def slots_from_ledger(
    ledger: StockLedger,
    sku: str,
    expiries: Mapping[str, date | None],
    *,
    bins: Collection[str] | None = None,
) -> list[StockSlot]:
    """Available stock of ``sku`` per bin and lot, with each lot's expiry from the catalogue.

    ``bins`` limits it to pickable storage bins (not dock or staging). A lot missing from
    ``expiries`` is an error: guessing "never expires" could ship expired goods.
    """
    slots = []
    for key, pos in ledger.positions(sku).items():
        if pos.available <= 0 or (bins is not None and key.bin not in bins):
            continue
        if key.lot not in expiries:
            raise DomainError("unknown_lot", f"no expiry known for lot {key.lot} of {sku}")
        slots.append(StockSlot(key.bin, key.lot, expiries[key.lot], pos.available))
    return slots


def reservations_for(
    result: AllocationResult, order_id: str, *, attempt: int = 1
) -> list[Reservation]:
    """Turn picks into ledger reservations. Ids are deterministic so a retried request cannot
    reserve twice; ``attempt`` distinguishes a later top-up allocation of the same order."""
    suffix = "" if attempt == 1 else f"#{attempt}"
    return [
        Reservation(
            f"{order_id}:{result.sku}:{p.lot}:{p.bin}{suffix}",
            result.sku,
            p.lot,
            p.bin,
            p.qty,
            order_id,
        )
        for p in result.picks
    ]
