"""What an evaluator is: a consumer of the decoded ingest stream that keeps its own state
(alarm rules, route trackers, bin counters) and writes what it concludes.

The evaluation worker (``platform/evaluate/worker.py``) hands every batch of fresh messages,
in arrival order, to each evaluator, then asks each to ``flush`` into one open transaction
together with the record of which messages were evaluated; only after that commit are the
messages acknowledged to the broker. So a crash between the two repeats the batch from the
last committed state, and a redelivered message is skipped: nothing is lost or counted twice.
An evaluator whose flush fails has its in-memory state thrown away and reloaded (``load``).
"""

from __future__ import annotations

from typing import Protocol

import psycopg

from wayhouse.platform.ingest.batch import Accepted


class Evaluator(Protocol):
    name: str

    def load(self, conn: psycopg.Connection) -> None:
        """(Re)load the state last committed."""

    def feed(self, message: Accepted, received_at: float) -> None:
        """One fresh message (its readings carry their own times); no I/O here."""

    def tick(self, now: float) -> None:
        """Time passing without messages (missed heartbeats, a truck standing still)."""

    def flush(self, conn: psycopg.Connection) -> None:
        """Write conclusions and changed state inside the caller's open transaction."""
