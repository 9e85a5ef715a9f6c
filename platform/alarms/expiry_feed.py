"""Lots and dealer documents as the expiry rules see them, read every few minutes.

Expiry moves in days, so a periodic read is plenty (the rules themselves judge time passing
on every tick). Only changes are handed on: a lot whose expiry or on-hand changed, a lot
that sold out (on hand 0, which clears its alarm), a document renewed or withdrawn.

A lot is watched per warehouse (``<sku>/<lot>@<warehouse>``), so its alarm belongs to that
warehouse. A dealer's documents are judged per type: the latest end date of its current
(not superseded) documents of that type, so a renewal on file clears the alarm.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import psycopg

from wayhouse.platform.alarms.inputs import DocumentState, LotStock

LOTS_SQL = """
SELECT p.sku, l.code, p.product_class, w.code, l.expires_on, sum(m.qty)::int
FROM stock_movement m
JOIN lot l ON l.id = m.lot_id
JOIN product p ON p.id = l.product_id
JOIN bin b ON b.id = m.bin_id
JOIN warehouse w ON w.id = b.warehouse_id
WHERE l.expires_on IS NOT NULL
GROUP BY p.sku, l.code, p.product_class, w.code, l.expires_on
HAVING sum(m.qty) <> 0
"""
DOCS_SQL = """
SELECT d.dealer_id, d.doc_type, max(d.valid_until), ou.code, ou.id
FROM dealer_document d
JOIN dealer dl ON dl.id = d.dealer_id
JOIN org_unit ou ON ou.id = dl.org_unit_id
WHERE d.superseded_at IS NULL AND dl.status <> 'closed'
GROUP BY d.dealer_id, d.doc_type, ou.code, ou.id
"""


def day_start(d: dt.date) -> float:
    return dt.datetime(d.year, d.month, d.day, tzinfo=dt.UTC).timestamp()


@dataclass
class ExpiryFeed:
    # lot key -> [expires_at, on_hand, product_class, site]
    lots: dict[str, list[Any]] = field(default_factory=dict)
    # document key -> [expires_at, dealer code, kind, org unit id]
    docs: dict[str, list[Any]] = field(default_factory=dict)

    def poll(self, conn: psycopg.Connection, now: float) -> list[LotStock | DocumentState]:
        events: list[LotStock | DocumentState] = []
        seen = set()
        for sku, code, pclass, site, expires_on, on_hand in conn.execute(LOTS_SQL):
            key = f"{sku}/{code}@{site}"
            seen.add(key)
            exp = day_start(expires_on)
            if self.lots.get(key, [None, None])[:2] == [exp, on_hand]:
                continue
            self.lots[key] = [exp, on_hand, pclass, site]
            events.append(LotStock(key, sku, now, exp, max(on_hand, 0), pclass, site))
        for key in [k for k in self.lots if k not in seen]:
            exp, _, pclass, site = self.lots.pop(key)
            sku = key.split("/", 1)[0]
            events.append(LotStock(key, sku, now, exp, 0, pclass, site))
        seen = set()
        for dealer_id, kind, valid_until, dealer_code, org in conn.execute(DOCS_SQL):
            key = f"{dealer_id}:{kind}"
            seen.add(key)
            exp = day_start(valid_until + dt.timedelta(days=1))  # valid through its last day
            if self.docs.get(key, [None])[0] == exp:
                continue
            self.docs[key] = [exp, dealer_code, kind, org]
            events.append(DocumentState(key, dealer_code, kind, now, exp))
        for key in [k for k in self.docs if k not in seen]:
            _, dealer_code, kind, _ = self.docs.pop(key)
            events.append(DocumentState(key, dealer_code, kind, now, None))
        return events

    def lot_class(self, key: str) -> str | None:
        lot = self.lots.get(key)
        return lot[2] if lot else None

    def document_org(self, key: str) -> int | None:
        doc = self.docs.get(key)
        return doc[3] if doc else None

    def to_dict(self) -> dict[str, Any]:
        return {"lots": self.lots, "docs": self.docs}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ExpiryFeed:
        return cls(
            {k: list(v) for k, v in d["lots"].items()}, {k: list(v) for k, v in d["docs"].items()}
        )
