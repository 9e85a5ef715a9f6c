"""Store-and-forward queue of an edge agent: a reading is written here before it is sent and
removed only once the broker has acknowledged it (QoS 1 PUBACK).

``seq`` is the outbox's own never-reused id, so it stays monotonic across restarts: the
platform dedupes on ``(agent_id, seq)``, and a seq handed out twice would make ingest drop a
real reading as a duplicate. Payloads are built *after* the seq is assigned (``build(seq)``)
so the seq is always inside the stored payload.

``SqliteOutbox`` is durable (WAL, batched commits); ``MemoryOutbox`` has the same interface for
load generators that play thousands of devices, where durability is not the point.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple, Protocol


class Pending(NamedTuple):
    seq: int
    topic: str
    payload: bytes


class Outbox(Protocol):
    """What the MQTT client needs from a queue; both implementations are thread-safe."""

    @property
    def last_seq(self) -> int:
        """The highest seq handed out so far (0 before the first)."""
        ...

    def put(self, topic: str, build: Callable[[int], bytes]) -> int:
        """Assign the next seq, store ``(topic, build(seq))``, return the seq."""
        ...

    def reserve(self) -> int:
        """Consume a seq without storing a row (the last will carries it), durably."""
        ...

    def pending(self, after_seq: int = 0, limit: int = 1000) -> list[Pending]:
        """Unacknowledged rows with seq > after_seq, in seq order. Commits first: a row is
        never sent before it is durable, or a crash could hand its seq out again."""
        ...

    def ack(self, seq: int) -> None:
        """The broker has it: forget the row (idempotent)."""
        ...

    def count(self) -> int:
        """Rows not yet acknowledged."""
        ...

    def flush(self) -> None:
        """Make every put and ack so far durable."""
        ...

    def close(self) -> None: ...


class SqliteOutbox:
    """Durable outbox in one SQLite file.

    Puts and acks go into an open transaction committed every ``commit_every`` operations or
    ``commit_interval`` seconds, and always before ``pending`` returns rows: queueing costs a
    few microseconds instead of an fsync. With ``synchronous=NORMAL`` in WAL mode a committed
    row survives a process crash (the case that matters on a device); a power cut may lose
    the last commits, which were not sent either.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        commit_every: int = 500,
        commit_interval: float = 0.05,
        synchronous: str = "NORMAL",
    ) -> None:
        if synchronous.upper() not in ("OFF", "NORMAL", "FULL", "EXTRA"):
            raise ValueError(f"synchronous must be OFF, NORMAL, FULL or EXTRA, not {synchronous!r}")
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._commit_every = commit_every
        self._commit_interval = commit_interval
        self._lock = threading.Lock()
        # isolation_level=None: we issue BEGIN/COMMIT ourselves to batch them.
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(f"PRAGMA synchronous={synchronous.upper()}")
        # AUTOINCREMENT keeps the high-water mark in sqlite_sequence even when every row has
        # been acknowledged and deleted, which is what makes seqs never reused.
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS outbox ("
            " seq INTEGER PRIMARY KEY AUTOINCREMENT,"
            " topic TEXT NOT NULL,"
            " payload BLOB NOT NULL,"
            " queued_at REAL NOT NULL)"
        )
        row = self._db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'outbox'").fetchone()
        self._last_seq: int = row[0] if row else 0
        self._dirty = 0
        self._txn_started = 0.0

    @property
    def last_seq(self) -> int:
        return self._last_seq

    def _begin(self) -> None:
        if not self._db.in_transaction:
            self._db.execute("BEGIN")
            self._txn_started = time.monotonic()

    def _maybe_commit(self) -> None:
        self._dirty += 1
        if (
            self._dirty >= self._commit_every
            or time.monotonic() - self._txn_started >= self._commit_interval
        ):
            self._commit()

    def _commit(self) -> None:
        if self._db.in_transaction:
            self._db.execute("COMMIT")
        self._dirty = 0

    def put(self, topic: str, build: Callable[[int], bytes]) -> int:
        with self._lock:
            seq = self._last_seq + 1
            payload = build(seq)
            self._begin()
            self._db.execute(
                "INSERT INTO outbox (seq, topic, payload, queued_at) VALUES (?, ?, ?, ?)",
                (seq, topic, payload, time.time()),
            )
            self._last_seq = seq
            self._maybe_commit()
            return seq

    def reserve(self) -> int:
        with self._lock:
            seq = self._last_seq + 1
            self._begin()
            cur = self._db.execute(
                "UPDATE sqlite_sequence SET seq = ? WHERE name = 'outbox'", (seq,)
            )
            if cur.rowcount == 0:
                self._db.execute(
                    "INSERT INTO sqlite_sequence (name, seq) VALUES ('outbox', ?)", (seq,)
                )
            self._last_seq = seq
            # A reserved seq may leave the device (in the will) at once: commit now.
            self._commit()
            return seq

    def pending(self, after_seq: int = 0, limit: int = 1000) -> list[Pending]:
        with self._lock:
            self._commit()
            rows = self._db.execute(
                "SELECT seq, topic, payload FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?",
                (after_seq, limit),
            ).fetchall()
        return [Pending(seq, topic, bytes(payload)) for seq, topic, payload in rows]

    def ack(self, seq: int) -> None:
        with self._lock:
            self._begin()
            self._db.execute("DELETE FROM outbox WHERE seq = ?", (seq,))
            self._maybe_commit()

    def count(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT count(*) FROM outbox").fetchone()[0])

    def flush(self) -> None:
        with self._lock:
            self._commit()

    def close(self) -> None:
        with self._lock:
            self._commit()
            self._db.close()


class MemoryOutbox:
    """Same interface, kept in a dict; nothing survives the process."""

    def __init__(self, first_seq: int = 1) -> None:
        self._rows: dict[int, tuple[str, bytes]] = {}
        self._last_seq = first_seq - 1
        # Lowest seq that may still be present; only moves up, as rows are only deleted.
        self._low = first_seq
        self._lock = threading.Lock()

    @property
    def last_seq(self) -> int:
        return self._last_seq

    def put(self, topic: str, build: Callable[[int], bytes]) -> int:
        with self._lock:
            seq = self._last_seq + 1
            self._rows[seq] = (topic, build(seq))
            self._last_seq = seq
            return seq

    def reserve(self) -> int:
        with self._lock:
            self._last_seq += 1
            return self._last_seq

    def pending(self, after_seq: int = 0, limit: int = 1000) -> list[Pending]:
        out: list[Pending] = []
        with self._lock:
            rows, last = self._rows, self._last_seq
            while self._low <= last and self._low not in rows:
                self._low += 1
            # Walk seqs, not the dict: a sender asks for the tail after its cursor, and
            # iterating a dict whose head was deleted is slow.
            seq = max(after_seq + 1, self._low)
            while seq <= last and len(out) < limit:
                row = rows.get(seq)
                if row is not None:
                    out.append(Pending(seq, row[0], row[1]))
                seq += 1
        return out

    def ack(self, seq: int) -> None:
        with self._lock:
            self._rows.pop(seq, None)

    def count(self) -> int:
        return len(self._rows)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass
