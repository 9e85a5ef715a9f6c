"""Ingest counters and a reading-to-commit latency histogram (1 ms buckets up to 60 s)."""

from __future__ import annotations

from dataclasses import dataclass, field

BUCKETS = 60_001


@dataclass
class LatencyHistogram:
    counts: list[int] = field(default_factory=lambda: [0] * BUCKETS)
    total: int = 0
    max_ms: float = 0.0

    def add_many(self, commit_time: float, reading_times: list[float]) -> None:
        counts = self.counts
        top = BUCKETS - 1
        for t in reading_times:
            ms = (commit_time - t) * 1000.0
            if ms > self.max_ms:
                self.max_ms = ms
            i = int(ms)
            counts[0 if i < 0 else (i if i < top else top)] += 1
        self.total += len(reading_times)

    def percentile(self, q: float) -> float | None:
        """Upper edge of the bucket holding the q-quantile, in ms."""
        if self.total == 0:
            return None
        rank = q * self.total
        running = 0
        for i, c in enumerate(self.counts):
            running += c
            if running >= rank:
                return float(i + 1)
        return float(BUCKETS)


@dataclass
class IngestCounters:
    msgs_in: int = 0
    readings_written: int = 0
    duplicates: int = 0
    dead_letters: int = 0
    batches: int = 0
    latency: LatencyHistogram = field(default_factory=LatencyHistogram)
