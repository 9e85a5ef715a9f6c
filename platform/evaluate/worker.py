"""The evaluation worker: a second consumer of the agents' streams (shared group ``eval``,
durable session, re-armed after a broker restart like the ingest workers), feeding every
fresh message to the evaluators and committing what they conclude before acknowledging.

Run one per deployment: evaluators keep per-subject state (a bin's weight history, a truck's
route progress), so one subject's messages must all reach the same process. Dedupe is its
own (``eval_seen``), independent of ingest, so either can restart without the other.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Sequence

import psycopg

from wayhouse.config import Settings
from wayhouse.edge.schema import TOPIC_ROOT, encode
from wayhouse.platform.evaluate.framework import Evaluator
from wayhouse.platform.ingest.batch import Accepted, LookupUnavailable, RawMessage, decode_batch
from wayhouse.platform.ingest.worker import IngestWorker, _Pending

log = logging.getLogger("wayhouse.evaluate")
TICK_EVERY_S = 1.0
EVAL_SEEN_DAYS = 3


def fresh_messages(conn: psycopg.Connection, accepted: list[Accepted]) -> list[Accepted]:
    """The messages not evaluated before, recorded as evaluated in the open transaction."""
    if not accepted:
        return []
    rows = conn.execute(
        "INSERT INTO eval_seen (agent_key, seq) SELECT * FROM unnest(%b::int4[], %b::int8[]) "
        "ON CONFLICT DO NOTHING RETURNING agent_key, seq",
        ([a.agent_key for a in accepted], [a.message.seq for a in accepted]),
    ).fetchall()
    fresh = set(rows)
    return [a for a in accepted if (a.agent_key, a.message.seq) in fresh]


class EvaluationWorker(IngestWorker):
    GROUP = "eval"

    def __init__(
        self,
        settings: Settings,
        evaluators: Sequence[Evaluator],
        worker_id: str = "e1",
        stop: threading.Event | None = None,
        ephemeral: bool = False,
    ) -> None:
        super().__init__(settings, worker_id, stop, ephemeral=ephemeral)
        self.evaluators = list(evaluators)
        self.evaluated = 0
        self._next_tick = time.monotonic() + TICK_EVERY_S

    def prepare(self) -> None:
        self._load()

    def _load(self) -> None:
        conn = self._db()
        with conn.transaction():
            for ev in self.evaluators:
                ev.load(conn)

    def maintain(self) -> None:
        try:
            conn = self._db()
            with conn.transaction():
                conn.execute(
                    "DELETE FROM eval_seen WHERE received_at < now() - make_interval(days => %s)",
                    (EVAL_SEEN_DAYS,),
                )
        except psycopg.Error as exc:
            log.warning("eval_seen pruning failed: %s", exc)
            self._drop_db()

    def _evaluate(self, accepted: list[Accepted], isolate: bool = False) -> int:
        """One transaction: record, feed, tick, flush. On a database error the evaluators'
        memory is reloaded from the last commit and the caller retries the same batch. An
        evaluator failing on input (a bug met by one message) must not stop the stream: the
        batch is redone message by message and the one that fails is set aside in the dead
        letters with the reason, evaluated by nobody."""
        delay = 0.2
        while True:
            try:
                conn = self._db()
                with conn.transaction():
                    fresh = fresh_messages(conn, accepted)
                    now = time.time()
                    for message in fresh:
                        if isolate:
                            self._feed_isolated(conn, message, now)
                        else:
                            for ev in self.evaluators:
                                ev.feed(message, now)
                    for ev in self.evaluators:
                        ev.tick(now)
                        ev.flush(conn)
                return len(fresh)
            except psycopg.OperationalError as exc:
                if self.stop_event.is_set():
                    raise
                log.warning("evaluation not committed (%s); retrying in %.1fs", exc, delay)
                self._drop_db()
                time.sleep(delay)
                delay = min(delay * 2, 5.0)
                self._reload_after_failure()
            except Exception:
                if isolate:
                    raise  # tick or flush itself fails: nothing to set aside, stop loudly
                log.exception("an evaluator failed on this batch; redoing it message by message")
                self._reload_after_failure()
                isolate = True

    def _feed_isolated(self, conn: psycopg.Connection, message: Accepted, now: float) -> None:
        # Each message flushed in its own savepoint, so a failure rolls back exactly that
        # message and the reload (inside the open transaction) sees all the ones before it.
        try:
            with conn.transaction():
                for ev in self.evaluators:
                    ev.feed(message, now)
                for ev in self.evaluators:
                    ev.flush(conn)
        except Exception as exc:
            log.exception("evaluation failed on %s seq %s", message.agent_id, message.message.seq)
            self._reload_after_failure(keep=conn)
            conn.execute(
                "INSERT INTO dead_letter (worker_id, topic, agent_id, reason, payload) "
                "VALUES (%s, %s, %s, %s, %s)",
                (
                    self.session_key,
                    f"{TOPIC_ROOT}/{message.agent_id}/{message.stream.value}",
                    message.agent_id,
                    f"evaluation failed: {type(exc).__name__}: {exc}"[:500],
                    encode(message.message),
                ),
            )

    def _reload_after_failure(self, keep: psycopg.Connection | None = None) -> None:
        """Throw the evaluators' memory away and load the last committed state (on ``keep``,
        inside its open transaction, when given)."""
        while True:
            try:
                if keep is not None:
                    for ev in self.evaluators:
                        ev.load(keep)
                else:
                    self._load()
                return
            except psycopg.OperationalError:
                if self.stop_event.is_set():
                    raise
                self._drop_db()
                time.sleep(1.0)

    def process(self, pending: list[_Pending]) -> None:
        raws = [RawMessage(p[2].decode("utf-8", "replace"), p[3], p[4]) for p in pending]
        while True:
            try:
                decoded = decode_batch(raws, self._directory)
                break
            except LookupUnavailable as exc:
                log.warning("device directory unavailable (%s); retrying", exc)
                self._drop_db()
                time.sleep(0.5)
        self.evaluated += self._evaluate(decoded.accepted)
        # Dead letters are ingest's to record; here they are simply not evaluated.
        self._client.ack_many([p[0] for p in pending if p[1] == 1])
        self.counters.msgs_in += len(pending)
        self.counters.batches += 1
        self._next_tick = time.monotonic() + TICK_EVERY_S

    def write_stats(self) -> None:
        """The ingest counters table is ingest's own (the operations page sums it); the
        evaluation worker reports in its log instead."""
        now = time.monotonic()
        if now >= getattr(self, "_next_log", 0.0):
            log.info("evaluated %s messages (%s received)", self.evaluated, self.counters.msgs_in)
            self._next_log = now + 60.0

    def idle(self) -> None:
        if time.monotonic() >= self._next_tick:
            self._evaluate([])  # time-driven rules: missed heartbeats, long stops
            self._next_tick = time.monotonic() + TICK_EVERY_S


def default_evaluators(settings: Settings) -> list[Evaluator]:
    """Tracking first (its events feed the truck alarms), then the alarm rules."""
    from wayhouse.platform.alarms.evaluator import AlarmEvaluator
    from wayhouse.platform.tracking.evaluator import TrackingEvaluator

    tracking = TrackingEvaluator(settings)
    return [tracking, AlarmEvaluator(settings, tracking=tracking)]


def run_evaluator(
    settings: Settings,
    worker_id: str = "e1",
    ephemeral: bool = False,
    evaluators: Sequence[Evaluator] | None = None,
) -> None:
    stop = threading.Event()

    def _stop(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    chosen = list(evaluators) if evaluators is not None else default_evaluators(settings)
    log.info("evaluators: %s", ", ".join(ev.name for ev in chosen) or "none")
    EvaluationWorker(settings, chosen, worker_id, stop, ephemeral=ephemeral).run()
