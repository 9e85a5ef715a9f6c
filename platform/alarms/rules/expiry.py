"""Lots expiring within ``lot_expiry_days`` while stock is on hand, and dealer documents
expiring within ``document_expiry_days``.

Judged when the lot or document changes and on ``tick(now)``. A raise is stamped with the
moment it became due (not when a tick noticed), so replays raise the same alarm. A lot
that is past its date escalates to critical; selling out, renewing or withdrawing clears.
"""

from __future__ import annotations

import math
from typing import Any

from wayhouse.platform.alarms.inputs import DocumentState, LotStock
from wayhouse.platform.alarms.model import AlarmType, Condition, Severity
from wayhouse.platform.alarms.thresholds import ThresholdConfig

from .base import Changes

DAY = 86_400.0
SWEEP_S = 60.0  # expiry moves in days: judging every lot once a minute is plenty


class ExpiryRules:
    name = "expiry"

    def __init__(self, config: ThresholdConfig) -> None:
        self.config = config
        # lot -> LotStock fields + [raised, expired]; document -> DocumentState fields + [raised]
        self._lots: dict[str, dict[str, Any]] = {}
        self._docs: dict[str, dict[str, Any]] = {}
        self.now = -math.inf
        self._next_sweep = -math.inf

    def reconfigure(self) -> None:
        return None  # thresholds are resolved at every judgement (rare events)

    def feed(self, e: LotStock | DocumentState) -> Changes:
        if e.t > self.now:
            self.now = e.t
        if isinstance(e, LotStock):
            lot = self._lots.get(e.lot) or {"raised": False, "expired": False}
            lot.update(
                lot=e.lot,
                product=e.product,
                expires_at=e.expires_at,
                on_hand=e.on_hand,
                product_class=e.product_class,
                site=e.site,
            )
            self._lots[e.lot] = lot
            return self._judge_lot(lot, self.now, e.t)
        doc = self._docs.get(e.document) or {"raised": False}
        doc.update(
            document=e.document, dealer=e.dealer, kind=e.kind, expires_at=e.expires_at, site=e.site
        )
        self._docs[e.document] = doc
        return self._judge_doc(doc, self.now, e.t)

    def tick(self, now: float) -> Changes:
        if now > self.now:
            self.now = now
        if now < self._next_sweep:
            return None
        self._next_sweep = now + SWEEP_S
        out: list[Condition] = []
        for lot in list(self._lots.values()):
            out += self._judge_lot(lot, now, None) or ()
        for doc in list(self._docs.values()):
            out += self._judge_doc(doc, now, None) or ()
        return out or None

    def _judge_lot(self, lot: dict[str, Any], now: float, changed_t: float | None) -> Changes:
        exp = lot["expires_at"]
        watched = exp is not None and lot["on_hand"] > 0
        if watched:
            th = self.config.resolve(site=lot["site"], product_class=lot["product_class"])
            due_at = exp - th.lot_expiry_days * DAY
        else:
            due_at = math.inf
        due = now >= due_at
        expired = due and now >= exp
        if due == lot["raised"] and expired == lot["expired"]:
            return None  # the common case: nothing changed, nothing allocated
        if not watched:
            self._lots.pop(lot["lot"], None)
        subject = f"lot:{lot['lot']}"
        ev = {
            "lot": lot["lot"],
            "product": lot["product"],
            "expires_at": exp,
            "on_hand": lot["on_hand"],
            "days_left": round((exp - now) / DAY, 2) if exp is not None else None,
        }
        lot["raised"], lot["expired"] = due, expired
        if not due:
            t = changed_t if changed_t is not None else now
            return [Condition(AlarmType.LOT_EXPIRING, subject, False, t, "", ev, None, lot["site"])]
        # Stamped at the moment it became due (or when the lot arrived already due).
        t = max(exp if expired else due_at, -math.inf if changed_t is None else changed_t)
        msg = (
            f"lot {lot['lot']} of {lot['product']} expired with {lot['on_hand']} on hand"
            if expired
            else f"lot {lot['lot']} of {lot['product']} expires in {ev['days_left']} days "
            f"with {lot['on_hand']} on hand"
        )
        sev = Severity.CRITICAL if expired else None
        return [Condition(AlarmType.LOT_EXPIRING, subject, True, t, msg, ev, sev, lot["site"])]

    def _judge_doc(self, doc: dict[str, Any], now: float, changed_t: float | None) -> Changes:
        exp = doc["expires_at"]
        if exp is not None:
            th = self.config.resolve(site=doc["site"])
            due_at = exp - th.document_expiry_days * DAY
        else:
            due_at = math.inf
        due = now >= due_at
        if due == doc["raised"]:
            if exp is None:
                self._docs.pop(doc["document"], None)
            return None
        if exp is None:
            self._docs.pop(doc["document"], None)
        doc["raised"] = due
        subject = f"document:{doc['document']}"
        ev = {
            "document": doc["document"],
            "dealer": doc["dealer"],
            "kind": doc["kind"],
            "expires_at": exp,
            "days_left": round((exp - now) / DAY, 2) if exp is not None else None,
        }
        if not due:
            t = changed_t if changed_t is not None else now
            return [
                Condition(AlarmType.DOCUMENT_EXPIRING, subject, False, t, "", ev, None, doc["site"])
            ]
        t = max(due_at, -math.inf if changed_t is None else changed_t)
        msg = f"{doc['kind']} of dealer {doc['dealer']} expires in {ev['days_left']} days"
        return [
            Condition(AlarmType.DOCUMENT_EXPIRING, subject, True, t, msg, ev, None, doc["site"])
        ]

    def cleared(self, type_: AlarmType, subject: str) -> None:
        return None

    def to_dict(self) -> dict[str, Any]:
        return {
            "lots": {k: dict(v) for k, v in self._lots.items()},
            "docs": {k: dict(v) for k, v in self._docs.items()},
            "now": None if self.now == -math.inf else self.now,
            "next_sweep": None if self._next_sweep == -math.inf else self._next_sweep,
        }

    def load(self, d: dict[str, Any]) -> None:
        self._lots = {k: dict(v) for k, v in d["lots"].items()}
        self._docs = {k: dict(v) for k, v in d["docs"].items()}
        self.now = -math.inf if d["now"] is None else float(d["now"])
        self._next_sweep = -math.inf if d["next_sweep"] is None else float(d["next_sweep"])
