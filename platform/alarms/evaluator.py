"""Alarms on the live stream (slot: filled by the alarms integration)."""

from __future__ import annotations

import psycopg

from wayhouse.config import Settings
from wayhouse.platform.ingest.batch import Accepted
from wayhouse.platform.tracking.evaluator import TrackingEvaluator


class AlarmEvaluator:
    name = "alarms"

    def __init__(self, settings: Settings, tracking: TrackingEvaluator | None = None) -> None:
        self.settings = settings
        self.tracking = tracking

    def load(self, conn: psycopg.Connection) -> None:
        pass

    def feed(self, message: Accepted, received_at: float) -> None:
        pass

    def tick(self, now: float) -> None:
        pass

    def flush(self, conn: psycopg.Connection) -> None:
        pass
