"""The stock ledger: immutable movements and reservations; quantities are derived, never edited.

Every movement carries a positive ``qty`` and moves it from ``from_bin`` to ``to_bin``; a side
that is ``None`` is outside the warehouse (supplier, customer, write-off). Like a double-entry
book this keeps one row shape for every kind and makes transfers balance by construction.

Invariants the ledger enforces on every accepted operation, per (sku, lot, bin):
``on_hand >= 0`` and ``0 <= reserved <= on_hand`` (so ``available >= 0``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TypedDict, Unpack

from .types import DomainError, MovementKind

# Which sides each kind must have: (needs from_bin, needs to_bin). ADJUST takes exactly one.
_SHAPE: dict[MovementKind, tuple[bool, bool]] = {
    MovementKind.RECEIVE: (False, True),
    MovementKind.PUTAWAY: (True, True),
    MovementKind.PICK: (True, True),  # storage bin -> outbound staging bin
    MovementKind.SHIP: (True, False),
    MovementKind.TRANSFER: (True, True),
    MovementKind.RETURN: (False, True),
}


class Stamp(TypedDict, total=False):
    ref: str
    at: datetime | None
    by: str


class MovementMeta(Stamp, total=False):
    reason: str


@dataclass(frozen=True, slots=True, order=True)
class StockKey:
    sku: str
    lot: str
    bin: str


@dataclass(frozen=True, slots=True)
class StockPosition:
    on_hand: int
    reserved: int

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved


@dataclass(frozen=True, slots=True)
class Movement:
    """One immutable ledger row. Build it with the per-kind constructors below."""

    kind: MovementKind
    sku: str
    lot: str
    qty: int
    from_bin: str | None = None
    to_bin: str | None = None
    reason: str = ""
    ref: str = ""  # the document behind it: receipt, order, scan, stocktake
    at: datetime | None = None
    by: str = ""

    def __post_init__(self) -> None:
        def bad(why: str) -> DomainError:
            return DomainError("invalid_movement", f"{self.kind} of {self.sku}/{self.lot}: {why}")

        if not self.sku or not self.lot:
            raise bad("sku and lot are required")
        if isinstance(self.qty, bool) or not isinstance(self.qty, int) or self.qty <= 0:
            raise bad(f"qty must be a positive whole number, got {self.qty!r}")
        has_from, has_to = self.from_bin is not None, self.to_bin is not None
        if self.kind is MovementKind.ADJUST:
            if has_from == has_to:
                raise bad("an adjustment names exactly one bin (from_bin = loss, to_bin = gain)")
            if not self.reason.strip():
                raise bad("an adjustment needs a reason")
        elif (has_from, has_to) != _SHAPE[self.kind]:
            need = " and ".join(
                n for n, w in zip(("from_bin", "to_bin"), _SHAPE[self.kind], strict=True) if w
            )
            raise bad(f"needs exactly {need}")
        if has_from and has_to and self.from_bin == self.to_bin:
            raise bad("from_bin and to_bin are the same bin")

    def deltas(self) -> tuple[tuple[StockKey, int], ...]:
        """Signed quantity change per stock key (negative = out of that bin)."""
        out: list[tuple[StockKey, int]] = []
        if self.from_bin is not None:
            out.append((StockKey(self.sku, self.lot, self.from_bin), -self.qty))
        if self.to_bin is not None:
            out.append((StockKey(self.sku, self.lot, self.to_bin), self.qty))
        return tuple(out)

    # Constructors per kind; ``meta`` is reason/ref/at/by.
    @classmethod
    def receive(
        cls, sku: str, lot: str, bin: str, qty: int, **meta: Unpack[MovementMeta]
    ) -> Movement:
        return cls(MovementKind.RECEIVE, sku, lot, qty, to_bin=bin, **meta)

    @classmethod
    def putaway(
        cls, sku: str, lot: str, from_bin: str, to_bin: str, qty: int, **meta: Unpack[MovementMeta]
    ) -> Movement:
        return cls(MovementKind.PUTAWAY, sku, lot, qty, from_bin, to_bin, **meta)

    @classmethod
    def pick(
        cls, sku: str, lot: str, from_bin: str, to_bin: str, qty: int, **meta: Unpack[MovementMeta]
    ) -> Movement:
        return cls(MovementKind.PICK, sku, lot, qty, from_bin, to_bin, **meta)

    @classmethod
    def ship(cls, sku: str, lot: str, bin: str, qty: int, **meta: Unpack[MovementMeta]) -> Movement:
        return cls(MovementKind.SHIP, sku, lot, qty, from_bin=bin, **meta)

    @classmethod
    def transfer(
        cls, sku: str, lot: str, from_bin: str, to_bin: str, qty: int, **meta: Unpack[MovementMeta]
    ) -> Movement:
        return cls(MovementKind.TRANSFER, sku, lot, qty, from_bin, to_bin, **meta)

    @classmethod
    def returned(
        cls, sku: str, lot: str, bin: str, qty: int, **meta: Unpack[MovementMeta]
    ) -> Movement:
        return cls(MovementKind.RETURN, sku, lot, qty, to_bin=bin, **meta)

    @classmethod
    def adjust(
        cls,
        sku: str,
        lot: str,
        bin: str,
        delta: int,
        reason: str,
        **meta: Unpack[Stamp],
    ) -> Movement:
        """A signed correction (stocktake, damage): negative ``delta`` takes stock out."""
        if isinstance(delta, bool) or not isinstance(delta, int) or delta == 0:
            raise DomainError("invalid_movement", f"adjust {sku}/{lot}: delta must be non-zero")
        from_bin, to_bin = (None, bin) if delta > 0 else (bin, None)
        return cls(MovementKind.ADJUST, sku, lot, abs(delta), from_bin, to_bin, reason, **meta)


@dataclass(frozen=True, slots=True)
class Reservation:
    """Units of one (sku, lot, bin) promised to ``ref`` (an order) until picked or released."""

    id: str
    sku: str
    lot: str
    bin: str
    qty: int
    ref: str = ""

    @property
    def key(self) -> StockKey:
        return StockKey(self.sku, self.lot, self.bin)


class StockLedger:
    """In-memory ledger: append-only movements plus open reservations.

    Every method either applies completely or raises ``DomainError`` and changes nothing.
    """

    def __init__(self) -> None:
        self._movements: list[Movement] = []
        self._on_hand: dict[StockKey, int] = defaultdict(int)
        self._reserved: dict[StockKey, int] = defaultdict(int)
        self._reservations: dict[str, Reservation] = {}

    @classmethod
    def replay(
        cls, movements: Iterable[Movement], reservations: Iterable[Reservation] = ()
    ) -> StockLedger:
        """Rebuild from stored rows; a history that breaks the invariants is refused."""
        ledger = cls()
        for m in movements:
            ledger.post(m)
        for r in reservations:
            ledger.reserve(r)
        return ledger

    # -- writes ---------------------------------------------------------------------------
    def post(self, movement: Movement, *, fulfils: str | None = None) -> Movement:
        """Append ``movement``. ``fulfils`` names the reservation this outflow consumes
        (a pick for an order), so reserved units may leave only for their own order."""
        deltas = movement.deltas()
        consumed: Reservation | None = None
        if fulfils is not None:
            consumed = self._get_reservation(fulfils)
            source = deltas[0][0] if movement.from_bin is not None else None
            if source != consumed.key:
                raise DomainError(
                    "reservation_mismatch",
                    f"reservation {fulfils} is for {consumed.key}, not the source of this {movement.kind}",
                )
        new_res_qty = 0
        for key, delta in deltas:
            on_hand = self.on_hand(key) + delta  # .get: a refusal must not add keys
            reserved = self.reserved(key)
            if consumed is not None and key == consumed.key:
                new_res_qty = max(consumed.qty + delta, 0)  # delta < 0 on the source side
                reserved -= consumed.qty - new_res_qty
            if on_hand < 0:
                raise DomainError(
                    "negative_stock",
                    f"{movement.kind} of {-delta} from {key.bin} ({key.sku}/{key.lot}) "
                    f"exceeds on-hand {self.on_hand(key)}",
                )
            if reserved > on_hand:
                raise DomainError(
                    "reserved_stock",
                    f"{movement.kind} would leave {on_hand} on hand in {key.bin} "
                    f"({key.sku}/{key.lot}) but {reserved} are reserved",
                )
        for key, delta in deltas:
            self._on_hand[key] += delta
        if consumed is not None:
            self._reserved[consumed.key] -= consumed.qty - new_res_qty
            if new_res_qty:
                self._reservations[consumed.id] = replace(consumed, qty=new_res_qty)
            else:
                del self._reservations[consumed.id]
        self._movements.append(movement)
        return movement

    def reserve(self, reservation: Reservation) -> Reservation:
        if isinstance(reservation.qty, bool) or reservation.qty <= 0:
            raise DomainError("invalid_reservation", "a reservation needs a positive qty")
        if reservation.id in self._reservations:
            raise DomainError("duplicate_reservation", f"reservation {reservation.id} exists")
        available = self.available(reservation.key)
        if reservation.qty > available:
            raise DomainError(
                "insufficient_available",
                f"cannot reserve {reservation.qty} of {reservation.sku}/{reservation.lot} "
                f"in {reservation.bin}: {available} available",
            )
        self._reservations[reservation.id] = reservation
        self._reserved[reservation.key] += reservation.qty
        return reservation

    def release(self, reservation_id: str) -> Reservation:
        r = self._get_reservation(reservation_id)
        del self._reservations[reservation_id]
        self._reserved[r.key] -= r.qty
        return r

    def release_for(self, ref: str) -> list[Reservation]:
        """Release every open reservation of one order (cancellation)."""
        return [self.release(r.id) for r in list(self._reservations.values()) if r.ref == ref]

    # -- reads ----------------------------------------------------------------------------
    @property
    def movements(self) -> tuple[Movement, ...]:
        return tuple(self._movements)

    @property
    def reservations(self) -> tuple[Reservation, ...]:
        return tuple(self._reservations.values())

    def on_hand(self, key: StockKey) -> int:
        return self._on_hand.get(key, 0)

    def reserved(self, key: StockKey) -> int:
        return self._reserved.get(key, 0)

    def available(self, key: StockKey) -> int:
        return self.on_hand(key) - self.reserved(key)

    def position(self, key: StockKey) -> StockPosition:
        return StockPosition(self.on_hand(key), self.reserved(key))

    def positions(self, sku: str | None = None) -> dict[StockKey, StockPosition]:
        """Every key that holds or has held stock, optionally for one sku, sorted."""
        keys = sorted(k for k in self._on_hand if sku is None or k.sku == sku)
        return {k: self.position(k) for k in keys}

    def _get_reservation(self, reservation_id: str) -> Reservation:
        try:
            return self._reservations[reservation_id]
        except KeyError:
            raise DomainError(
                "unknown_reservation", f"no open reservation {reservation_id}"
            ) from None
