"""Tracking on the live stream (slot: filled by the tracking integration)."""

from __future__ import annotations

import psycopg

from wayhouse.config import Settings
from wayhouse.platform.ingest.batch import Accepted


class TrackingEvaluator:
    name = "tracking"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def load(self, conn: psycopg.Connection) -> None:
        pass

    def feed(self, message: Accepted, received_at: float) -> None:
        pass

    def tick(self, now: float) -> None:
        pass

    def flush(self, conn: psycopg.Connection) -> None:
        pass

    def drain_events(self) -> list[object]:
        """Tracking events since the last call (arrivals, late risk, off route...), for the
        alarm evaluator, which runs after this one on every batch."""
        return []
