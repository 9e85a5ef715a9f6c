"""Following the stock ledger from another process: the book levels of the bins that moved.

Movements are written by the API and by the scan poster. Their ids come from a sequence and
are drawn before commit, so a row with a lower id can become visible after a higher one was
read. The follower keeps a watermark (the highest id read) and the ids it skipped below it
(gaps), re-asking for the gaps until they show up or ``GAP_TTL_S`` passes (a rolled-back
insert never shows up). What it hands on is absolute (the on-hand of a bin and lot), so
reading a movement twice is harmless.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import psycopg

GAP_TTL_S = 300.0
MAX_GAPS = 100_000
BATCH = 5_000

NEW_SQL = """
SELECT id, product_id, bin_id, lot_id, extract(epoch FROM at)::float8
FROM stock_movement WHERE id > %s OR id = ANY(%s) ORDER BY id LIMIT %s
"""
# On-hand of (product, bin, lot) positions: ``product_id`` leads the ledger's index.
LEVELS_SQL = """
SELECT m.bin_id, m.product_id, l.code, sum(m.qty)::int
FROM stock_movement m LEFT JOIN lot l ON l.id = m.lot_id
WHERE m.product_id = ANY(%s) AND m.bin_id = ANY(%s)
GROUP BY m.bin_id, m.product_id, m.lot_id, l.code
"""
ALL_LEVELS_SQL = """
SELECT m.bin_id, m.product_id, l.code, sum(m.qty)::int
FROM stock_movement m LEFT JOIN lot l ON l.id = m.lot_id
WHERE m.bin_id = ANY(%s)
GROUP BY m.bin_id, m.product_id, m.lot_id, l.code
"""


@dataclass(frozen=True, slots=True)
class Level:
    bin_id: int
    product_id: int
    lot: str | None  # lot code
    qty: int
    t: float  # the newest movement behind it (its ``at``)


@dataclass
class LedgerFollower:
    watermark: int = -1  # -1: not started (the first poll starts at the end of the ledger)
    gaps: dict[int, float] = field(default_factory=dict)  # skipped id -> first noticed

    def start(self, conn: psycopg.Connection) -> None:
        row = conn.execute("SELECT coalesce(max(id), 0) FROM stock_movement").fetchone()
        self.watermark = int(row[0]) if row else 0
        self.gaps.clear()

    def poll(self, conn: psycopg.Connection, now: float, bins: set[int]) -> list[Level]:
        """Levels of the watched ``bins`` whose ledger changed since the last poll."""
        if self.watermark < 0:
            self.start(conn)
            return []
        expired = [i for i, seen in self.gaps.items() if now - seen > GAP_TTL_S]
        for i in expired:
            del self.gaps[i]
        rows = conn.execute(NEW_SQL, (self.watermark, list(self.gaps), BATCH)).fetchall()
        if not rows:
            return []
        top = self.watermark
        fresh_ids = set()
        touched: dict[tuple[int, int], float] = {}  # (product, bin) -> newest at
        for mid, product_id, bin_id, _lot, at in rows:
            fresh_ids.add(mid)
            self.gaps.pop(mid, None)
            if mid > top:
                top = mid
            if bin_id in bins:
                k = (product_id, bin_id)
                touched[k] = max(touched.get(k, at), at)
        if top - self.watermark <= MAX_GAPS:
            for i in range(self.watermark + 1, top):
                if i not in fresh_ids:
                    self.gaps.setdefault(i, now)
        self.watermark = top
        if len(self.gaps) > MAX_GAPS:  # a storm of rollbacks: forget the oldest
            for i in sorted(self.gaps)[: len(self.gaps) - MAX_GAPS]:
                del self.gaps[i]
        if not touched:
            return []
        products = sorted({p for p, _ in touched})
        bin_ids = sorted({b for _, b in touched})
        newest = {b: t for (_, b), t in touched.items()}
        out = []
        for bin_id, product_id, lot_code, qty in conn.execute(LEVELS_SQL, (products, bin_ids)):
            if (product_id, bin_id) in touched:
                out.append(Level(bin_id, product_id, lot_code, qty, newest[bin_id]))
        return out

    @staticmethod
    def levels_of(conn: psycopg.Connection, bins: list[int], t: float) -> list[Level]:
        """Every lot's on-hand in ``bins`` now (a bin with nothing gives no row)."""
        if not bins:
            return []
        return [
            Level(bin_id, product_id, lot_code, qty, t)
            for bin_id, product_id, lot_code, qty in conn.execute(ALL_LEVELS_SQL, (bins,))
        ]

    def to_dict(self) -> dict[str, Any]:
        return {"watermark": self.watermark, "gaps": [[i, t] for i, t in self.gaps.items()]}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> LedgerFollower:
        return cls(int(d["watermark"]), {int(i): float(t) for i, t in d["gaps"]})
