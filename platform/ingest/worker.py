"""The ingest worker: one MQTT consumer in a shared subscription, writing batches to PostgreSQL.

Messages are acknowledged by hand, only after the batch holding them has committed, on a
persistent session (clean start off, session expiry set): a worker that dies mid-batch gets
the unacknowledged messages again when it returns, and dedupe on ``(agent, seq)`` makes that
harmless. paho acknowledges on return from ``on_message`` otherwise, which loses a batch.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
import time
from collections import deque
from collections.abc import Callable

import paho.mqtt.client as mqtt
import psycopg
from paho.mqtt.enums import CallbackAPIVersion

from wayhouse.config import Settings
from wayhouse.edge.schema import TOPIC_ROOT, Stream
from wayhouse.platform.db import timeseries
from wayhouse.platform.ingest.batch import LookupUnavailable, RawMessage, decode_batch
from wayhouse.platform.ingest.consumer import BufferedConsumer
from wayhouse.platform.ingest.directory import Directory, sql_loader
from wayhouse.platform.ingest.stats import IngestCounters
from wayhouse.platform.ingest.writer import write_batch

log = logging.getLogger("wayhouse.ingest")

SHARE_GROUP = "ingest"


def subscriptions(group: str) -> list[str]:
    """One shared subscription per agent stream: never wh/v1/+/+, which would also take the
    routes the platform publishes to trucks (wh/v1/<truck>/route)."""
    return [f"$share/{group}/{TOPIC_ROOT}/+/{s.value}" for s in Stream]


SUBSCRIPTIONS = subscriptions(SHARE_GROUP)


def session_identity(session_key: str) -> tuple[str, str]:
    """(share group, MQTT client id) of a durable session: ingest workers are listed by their
    id, other consumers of the stream (the evaluators) as ``group:id``."""
    group, _, worker_id = session_key.rpartition(":")
    group = group or SHARE_GROUP
    return group, f"wayhouse-{group}-{worker_id}"


DIRECTORY_RELOAD_S = 30.0
STATS_EVERY_S = 1.0
MAINTAIN_EVERY_S = 3600.0


# (mid, qos, topic, payload, monotonic arrival): a plain tuple, built on the network thread
# for every message, so as cheap as it can be.
_Pending = tuple[int, int, bytes, bytes, float]


class IngestWorker:
    GROUP = SHARE_GROUP

    def __init__(
        self,
        settings: Settings,
        worker_id: str | None = None,
        stop: threading.Event | None = None,
        ephemeral: bool = False,
    ):
        self.settings = settings
        # An ephemeral worker (benchmarks, tests) ends its session on a clean exit; otherwise
        # its offline session stays in the shared group and keeps receiving its share.
        self.ephemeral = ephemeral
        self.worker_id = worker_id or settings.ingest_worker_id
        self.stop_event = stop or threading.Event()
        self.counters = IngestCounters()
        self._inbox: deque[_Pending] = deque()
        self._wakeup = threading.Event()
        self._waiting = False
        self._conn: psycopg.Connection | None = None
        self._connected = threading.Event()
        self.storage: timeseries.StorageInfo | None = None
        self.started_at = time.time()
        self.session_key = (
            self.worker_id if self.GROUP == SHARE_GROUP else f"{self.GROUP}:{self.worker_id}"
        )
        self._client = self._make_client()

    # --- MQTT -------------------------------------------------------------------------
    def _make_client(self) -> BufferedConsumer:
        target = self.settings.mqtt()
        client = BufferedConsumer(
            CallbackAPIVersion.VERSION2,
            client_id=session_identity(self.session_key)[1],
            # MQTT 3.1.1: a persistent session (clean_session off, expired by the broker's
            # persistent_client_expiration) without v5 property parsing on every PUBLISH,
            # which cost ~10% of the worker's CPU. In-flight is capped by the broker's
            # max_inflight_messages.
            protocol=mqtt.MQTTv311,
            clean_session=False,
            manual_ack=True,
            raw_sink=self._on_raw,
        )
        client.username_pw_set(target.username, target.password)
        if target.tls:
            client.tls_set()
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.reconnect_delay_set(0.5, 5)
        self._target = target
        return client

    def _on_connect(self, client: mqtt.Client, userdata, flags, reason_code, properties) -> None:  # type: ignore[no-untyped-def]
        if reason_code.is_failure:
            log.error("broker refused the connection: %s", reason_code)
            return
        log.info(
            "connected to %s:%s (session present: %s)",
            self._target.host,
            self._target.port,
            flags.session_present,
        )
        client.subscribe([(topic_filter, 1) for topic_filter in subscriptions(self.GROUP)])
        self._connected.set()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:  # type: ignore[no-untyped-def]
        self._connected.clear()
        if not self.stop_event.is_set():
            log.warning("disconnected from broker (%s); reconnecting", reason_code)

    def _on_raw(self, mid: int, qos: int, topic: bytes, payload: bytes) -> None:
        self._inbox.append((mid, qos, topic, payload, time.monotonic()))
        # Event.set takes a lock and notifies: only when the main loop is actually waiting.
        if self._waiting:
            self._wakeup.set()

    def _connect_mqtt(self) -> None:
        self._client.connect_async(self._target.host, self._target.port, keepalive=30)
        self._client.loop_start()

    # --- database ---------------------------------------------------------------------
    def _db(self) -> psycopg.Connection:
        delay = 0.2
        while self._conn is None or self._conn.closed:
            try:
                self._conn = psycopg.connect(self.settings.database_url(), connect_timeout=5)
                self._conn.execute("SET synchronous_commit = on")
                self._conn.commit()
            except psycopg.OperationalError as exc:
                if self.stop_event.is_set():
                    raise
                log.warning("database unavailable (%s); retrying in %.1fs", str(exc).strip(), delay)
                time.sleep(delay)
                delay = min(delay * 2, 5.0)
        return self._conn

    def _drop_db(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()
        self._conn = None

    # --- main loop --------------------------------------------------------------------
    def _take(self) -> list[_Pending]:
        limit = self.settings.ingest_batch_max
        if len(self._inbox) < limit:
            # Let a small batch grow for at most flush_ms: fewer commits, bounded latency.
            if not self._inbox:
                self._wakeup.clear()
                self._waiting = True
                if not self._inbox:  # re-check: a message may have arrived before the flag
                    self._wakeup.wait(0.2)
                self._waiting = False
            if not self._inbox:
                return []
            first_wait = self.settings.ingest_flush_ms / 1000.0
            deadline = time.monotonic() + first_wait
            while len(self._inbox) < limit and time.monotonic() < deadline:
                time.sleep(0.002)
        batch = []
        inbox = self._inbox
        while inbox and len(batch) < limit:
            batch.append(inbox.popleft())
        return batch

    def process(self, pending: list[_Pending]) -> None:
        raws = [RawMessage(p[2].decode("utf-8", "replace"), p[3], p[4]) for p in pending]
        delay = 0.2
        while True:
            try:
                decoded = decode_batch(raws, self._directory)
                result = write_batch(self._db(), decoded, self.worker_id)
                break
            except (psycopg.OperationalError, LookupUnavailable) as exc:
                # Rolled back, nothing acknowledged: the same batch is decoded and written
                # again once the database is back (dedupe makes a repeat harmless).
                if self.stop_event.is_set():
                    # Stopping with the database down: leave the batch unacknowledged; the
                    # broker redelivers it to this session when the worker is back.
                    raise
                log.warning("batch not stored (%s); retrying in %.1fs", str(exc).strip(), delay)
                self._drop_db()
                time.sleep(delay)
                delay = min(delay * 2, 5.0)
        committed = time.time()
        # Acknowledge only now, after the commit, in the order received, in one write.
        self._client.ack_many([p[0] for p in pending if p[1] == 1])
        c = self.counters
        c.msgs_in += len(pending)
        c.readings_written += result.readings
        c.duplicates += result.duplicates
        c.dead_letters += result.dead_letters
        c.batches += 1
        c.latency.add_many(committed, result.reading_times)

    def _register_session(self) -> None:
        """Durable workers are listed so a restarted broker gets their subscriptions back."""
        conn = self._db()
        with conn.transaction():
            if self.ephemeral:
                conn.execute("DELETE FROM ingest_session WHERE worker_id = %s", (self.session_key,))
            else:
                conn.execute(
                    "INSERT INTO ingest_session (worker_id) VALUES (%s) ON CONFLICT (worker_id) "
                    "DO UPDATE SET last_start = now()",
                    (self.session_key,),
                )

    def _reload_directory(self) -> None:
        try:
            self._directory.load_all()
        except (psycopg.Error, LookupUnavailable) as exc:
            log.warning("could not reload the device directory: %s", exc)

    def lag_ms(self) -> float:
        try:
            oldest = self._inbox[0][4]
        except IndexError:
            return 0.0
        return max(0.0, (time.monotonic() - oldest) * 1000.0)

    def write_stats(self) -> None:
        c = self.counters
        conn = self._db()
        try:
            with conn.transaction():
                conn.execute(
                    "INSERT INTO ingest_worker_stats (worker_id, pid, storage_mode, started_at, "
                    "updated_at, msgs_in, readings_written, duplicates, dead_letters, batches, "
                    "lag_ms, latency_p50_ms, latency_p99_ms, latency_max_ms, latency_count) VALUES "
                    "(%s, %s, %s, to_timestamp(%s), now(), %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
                    "ON CONFLICT (worker_id) DO UPDATE SET pid = EXCLUDED.pid, "
                    "storage_mode = EXCLUDED.storage_mode, started_at = EXCLUDED.started_at, "
                    "updated_at = now(), msgs_in = EXCLUDED.msgs_in, "
                    "readings_written = EXCLUDED.readings_written, duplicates = EXCLUDED.duplicates, "
                    "dead_letters = EXCLUDED.dead_letters, batches = EXCLUDED.batches, "
                    "lag_ms = EXCLUDED.lag_ms, latency_p50_ms = EXCLUDED.latency_p50_ms, "
                    "latency_p99_ms = EXCLUDED.latency_p99_ms, latency_max_ms = EXCLUDED.latency_max_ms, "
                    "latency_count = EXCLUDED.latency_count",
                    (
                        self.worker_id,
                        os.getpid(),
                        self.storage.mode if self.storage else "unknown",
                        self.started_at,
                        c.msgs_in,
                        c.readings_written,
                        c.duplicates,
                        c.dead_letters,
                        c.batches,
                        self.lag_ms(),
                        c.latency.percentile(0.5),
                        c.latency.percentile(0.99),
                        c.latency.max_ms if c.latency.total else None,
                        c.latency.total,
                    ),
                )
        except psycopg.OperationalError as exc:
            log.warning("could not write stats: %s", exc)
            self._drop_db()

    def maintain(self) -> None:
        conn = self._db()
        try:
            with conn.transaction():
                self.storage = timeseries.maintain(conn, self.settings.retention_days)
        except psycopg.Error as exc:
            log.warning("partition maintenance failed: %s", exc)
            self._drop_db()

    def prepare(self) -> None:
        """Before the first batch: storage mode and partitions."""
        conn = self._db()
        self.storage = timeseries.detect(conn)
        conn.commit()
        if self.storage.mode == "timescaledb":
            log.info(
                "storage mode: timescaledb %s (hypertables, compression, retention)",
                self.storage.timescaledb_version,
            )
        else:
            log.info("storage mode: partitioned (native daily range partitions; no TimescaleDB)")
        self.maintain()

    def idle(self) -> None:
        """Called when a wait for messages ended empty."""

    def run(self) -> None:
        self.prepare()
        self._register_session()
        self._directory = Directory(sql_loader(self.settings.database_url()))
        self._directory.load_all()
        self._connect_mqtt()
        log.info(
            "%s worker %s subscribing to %s",
            self.GROUP,
            self.worker_id,
            ", ".join(subscriptions(self.GROUP)),
        )
        next_stats = time.monotonic()
        next_maintain = time.monotonic() + MAINTAIN_EVERY_S
        next_directory = time.monotonic() + DIRECTORY_RELOAD_S
        try:
            while not self.stop_event.is_set():
                batch = self._take()
                if batch:
                    self.process(batch)
                else:
                    self.idle()
                now = time.monotonic()
                if now >= next_stats:
                    self.write_stats()
                    next_stats = now + STATS_EVERY_S
                if now >= next_directory:
                    # Picks up revocations: a cached agent is otherwise only reloaded on a miss.
                    self._reload_directory()
                    next_directory = now + DIRECTORY_RELOAD_S
                if now >= next_maintain:
                    self.maintain()
                    next_maintain = now + MAINTAIN_EVERY_S
            # Drain what already arrived, so a clean stop acknowledges it.
            while self._inbox:
                self.process(self._take())
        finally:
            with contextlib.suppress(psycopg.Error):
                self.write_stats()
            self._disconnect()
            self._client.loop_stop()
            self._drop_db()
            log.info(
                "%s worker %s stopped: %s messages, %s readings, %s duplicates, %s dead letters",
                self.GROUP,
                self.worker_id,
                self.counters.msgs_in,
                self.counters.readings_written,
                self.counters.duplicates,
                self.counters.dead_letters,
            )

    def _disconnect(self) -> None:
        self._client.disconnect()
        if self.ephemeral:
            self._client.loop_stop()
            retire_session(self.settings, self.session_key)


def _session_client(settings: Settings, session_key: str, clean: bool) -> mqtt.Client:
    target = settings.mqtt()
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=session_identity(session_key)[1],
        protocol=mqtt.MQTTv311,
        clean_session=clean,
    )
    client.username_pw_set(target.username, target.password)
    if target.tls:
        client.tls_set()
    client.connect(target.host, target.port, keepalive=10)
    return client


def _wait(predicate: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def retire_session(settings: Settings, session_key: str) -> None:
    """End the broker session of a worker removed for good, so its share of the group is
    not queued for it until the session expires (Mosquitto counts offline members)."""
    client = _session_client(settings, session_key, clean=True)
    client.loop_start()
    _wait(client.is_connected, 10)
    client.disconnect()
    client.loop_stop()
    with (
        contextlib.suppress(psycopg.Error),
        psycopg.connect(settings.database_url(), connect_timeout=5) as conn,
    ):
        conn.execute("DELETE FROM ingest_session WHERE worker_id = %s", (session_key,))


def rearm_sessions(settings: Settings) -> list[str]:
    """Give every durable worker session its shared subscriptions back (see migration 0002).

    Run right after the broker starts, before the workers are back: from then on the broker
    queues the stream for them instead of dropping it for want of a subscriber."""
    with psycopg.connect(settings.database_url(), connect_timeout=5) as conn:
        ids = [
            r[0] for r in conn.execute("SELECT worker_id FROM ingest_session ORDER BY worker_id")
        ]
    for session_key in ids:
        client = _session_client(settings, session_key, clean=False)
        subscribed = threading.Event()
        client.on_subscribe = lambda *args, ev=subscribed: ev.set()
        client.loop_start()
        if _wait(client.is_connected, 10):
            client.subscribe([(f, 1) for f in subscriptions(session_identity(session_key)[0])])
            subscribed.wait(10)
        client.disconnect()
        client.loop_stop()
    return ids


def run_worker(settings: Settings, worker_id: str | None = None, ephemeral: bool = False) -> None:
    stop = threading.Event()

    def _stop(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    IngestWorker(settings, worker_id, stop, ephemeral=ephemeral).run()
