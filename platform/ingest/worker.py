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
from dataclasses import dataclass

import paho.mqtt.client as mqtt
import psycopg
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from wayhouse.config import Settings
from wayhouse.edge.schema import TOPIC_ROOT
from wayhouse.platform.db import timeseries
from wayhouse.platform.ingest.batch import RawMessage, decode_batch
from wayhouse.platform.ingest.directory import Directory, sql_loader
from wayhouse.platform.ingest.stats import IngestCounters
from wayhouse.platform.ingest.writer import write_batch

log = logging.getLogger("wayhouse.ingest")

SHARE_GROUP = "ingest"
SUBSCRIPTION = f"$share/{SHARE_GROUP}/{TOPIC_ROOT}/+/+"
SESSION_EXPIRY_S = 7 * 24 * 3600
# Unacknowledged messages the broker may have in flight to us; bounds our memory.
RECEIVE_MAXIMUM = 20_000
STATS_EVERY_S = 1.0
MAINTAIN_EVERY_S = 3600.0


@dataclass
class _Pending:
    mid: int
    qos: int
    raw: RawMessage


class IngestWorker:
    def __init__(
        self, settings: Settings, worker_id: str | None = None, stop: threading.Event | None = None
    ):
        self.settings = settings
        self.worker_id = worker_id or settings.ingest_worker_id
        self.stop_event = stop or threading.Event()
        self.counters = IngestCounters()
        self._inbox: deque[_Pending] = deque()
        self._wakeup = threading.Event()
        self._conn: psycopg.Connection | None = None
        self._connected = threading.Event()
        self.storage: timeseries.StorageInfo | None = None
        self.started_at = time.time()
        self._client = self._make_client()

    # --- MQTT -------------------------------------------------------------------------
    def _make_client(self) -> mqtt.Client:
        target = self.settings.mqtt()
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"wayhouse-ingest-{self.worker_id}",
            protocol=mqtt.MQTTv5,
            manual_ack=True,
        )
        client.username_pw_set(target.username, target.password)
        if target.tls:
            client.tls_set()
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.reconnect_delay_set(1, 10)
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
        client.subscribe(SUBSCRIPTION, qos=1)
        self._connected.set()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:  # type: ignore[no-untyped-def]
        self._connected.clear()
        if not self.stop_event.is_set():
            log.warning("disconnected from broker (%s); reconnecting", reason_code)

    def _on_message(self, client: mqtt.Client, userdata, msg: mqtt.MQTTMessage) -> None:  # type: ignore[no-untyped-def]
        try:
            topic = msg.topic
        except UnicodeDecodeError:
            topic = repr(msg._topic)
        self._inbox.append(
            _Pending(msg.mid, msg.qos, RawMessage(topic, msg.payload, time.monotonic()))
        )
        self._wakeup.set()

    def _connect_mqtt(self) -> None:
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = SESSION_EXPIRY_S
        props.ReceiveMaximum = RECEIVE_MAXIMUM
        self._client.connect_async(
            self._target.host, self._target.port, keepalive=30, clean_start=False, properties=props
        )
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
            self._wakeup.wait(0.2)
            self._wakeup.clear()
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
        directory = self._directory
        decoded = decode_batch([p.raw for p in pending], directory)
        delay = 0.2
        while True:
            conn = self._db()
            try:
                result = write_batch(conn, decoded, self.worker_id)
                break
            except psycopg.OperationalError as exc:
                # The transaction rolled back; nothing was acknowledged. Retry the same batch.
                log.warning("batch write failed (%s); retrying", str(exc).strip())
                self._drop_db()
                time.sleep(delay)
                delay = min(delay * 2, 5.0)
        committed = time.time()
        for p in pending:
            self._client.ack(p.mid, p.qos)
        c = self.counters
        c.msgs_in += len(pending)
        c.readings_written += result.readings
        c.duplicates += result.duplicates
        c.dead_letters += result.dead_letters
        c.batches += 1
        c.latency.add_many(committed, result.reading_times)

    def lag_ms(self) -> float:
        try:
            oldest = self._inbox[0].raw.arrived
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

    def run(self) -> None:
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
        self._directory = Directory(sql_loader(self.settings.database_url()))
        self._directory.load_all()
        self._connect_mqtt()
        log.info("ingest worker %s subscribed to %s", self.worker_id, SUBSCRIPTION)
        next_stats = time.monotonic()
        next_maintain = time.monotonic() + MAINTAIN_EVERY_S
        try:
            while not self.stop_event.is_set():
                batch = self._take()
                if batch:
                    self.process(batch)
                now = time.monotonic()
                if now >= next_stats:
                    self.write_stats()
                    next_stats = now + STATS_EVERY_S
                if now >= next_maintain:
                    self.maintain()
                    next_maintain = now + MAINTAIN_EVERY_S
            # Drain what already arrived, so a clean stop acknowledges it.
            while self._inbox:
                self.process(self._take())
        finally:
            self.write_stats()
            self._client.disconnect()
            self._client.loop_stop()
            self._drop_db()
            log.info(
                "ingest worker %s stopped: %s messages, %s readings, %s duplicates, %s dead letters",
                self.worker_id,
                self.counters.msgs_in,
                self.counters.readings_written,
                self.counters.duplicates,
                self.counters.dead_letters,
            )


def run_worker(settings: Settings, worker_id: str | None = None) -> None:
    stop = threading.Event()

    def _stop(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    IngestWorker(settings, worker_id, stop).run()
