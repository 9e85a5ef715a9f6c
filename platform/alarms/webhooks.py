"""Webhook delivery: signed POSTs of queued alarm transitions, retried with exponential
backoff, every attempt logged on its ``webhook_delivery`` row.

The evaluator queues a delivery per matching webhook in the transaction that records the
transition (an outbox), so nothing is queued twice or lost. The dispatcher claims due
deliveries with ``FOR UPDATE SKIP LOCKED`` and a lease (several dispatchers never send the
same one at once; a dispatcher that dies mid-send lets the lease run out and it is retried),
sends them, and records the outcome.

Signature (the receiver recomputes it with the shared secret)::

    X-Wayhouse-Timestamp: <unix seconds>
    X-Wayhouse-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." + body)>

Receivers should reject timestamps older than a few minutes (replay) and de-duplicate on
``X-Wayhouse-Delivery`` (a retry after a lost response sends the same delivery again).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import threading
import time
from dataclasses import dataclass

import httpx
import psycopg

from wayhouse.config import Settings
from wayhouse.platform.alarms.store import dumps

log = logging.getLogger("wayhouse.webhooks")

SIGNATURE_HEADER = "X-Wayhouse-Signature"
TIMESTAMP_HEADER = "X-Wayhouse-Timestamp"
DELIVERY_HEADER = "X-Wayhouse-Delivery"
EVENT_HEADER = "X-Wayhouse-Event"
TOLERANCE_S = 300


@dataclass(frozen=True)
class RetryPolicy:
    base_s: float = 2.0
    factor: float = 2.0
    max_delay_s: float = 3600.0
    max_attempts: int = 10
    timeout_s: float = 5.0
    lease_s: float = 60.0  # a claimed delivery is retried after this if its sender vanished

    def delay(self, attempts: int) -> float:
        """Wait after the ``attempts``-th failed attempt (1, 2, ...)."""
        return min(self.base_s * self.factor ** (attempts - 1), self.max_delay_s)


def sign(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify(
    secret: str, header: str, body: bytes, now: float | None = None, tolerance_s: int = TOLERANCE_S
) -> bool:
    """Receiver side (and tests): a signature of this body, with a fresh timestamp."""
    try:
        fields = dict(part.split("=", 1) for part in header.split(","))
        timestamp = int(fields["t"])
        given = fields["v1"]
    except (KeyError, ValueError):
        return False
    if abs((now if now is not None else time.time()) - timestamp) > tolerance_s:
        return False
    expected = sign(secret, timestamp, body).split("v1=", 1)[1]
    return hmac.compare_digest(expected, given)


CLAIM_SQL = """
UPDATE webhook_delivery d SET next_try_at = now() + make_interval(secs => %s)
FROM (
    SELECT dd.id FROM webhook_delivery dd
    WHERE dd.status = 'pending' AND dd.next_try_at <= now()
      AND (CAST(%s AS integer[]) IS NULL OR dd.webhook_id = ANY(%s))
    ORDER BY dd.next_try_at, dd.id LIMIT %s FOR UPDATE SKIP LOCKED
) due, webhook w
WHERE d.id = due.id AND w.id = d.webhook_id
RETURNING d.id, d.event, d.payload, d.attempts, w.url, w.secret, w.active
"""
DONE_SQL = """
UPDATE webhook_delivery SET status = %s, attempts = %s, last_attempt_at = now(),
    response_code = %s, last_error = %s, next_try_at = now() + make_interval(secs => %s),
    delivered_at = CASE WHEN %s = 'delivered' THEN now() ELSE delivered_at END
WHERE id = %s
"""


class WebhookDispatcher:
    """Sends due deliveries; ``run_once`` for tests and scripts, ``run`` as a service."""

    def __init__(
        self,
        settings: Settings,
        policy: RetryPolicy | None = None,
        webhook_ids: list[int] | None = None,  # only these (tests); None: all
        batch: int = 50,
    ) -> None:
        self.settings = settings
        self.policy = policy or RetryPolicy()
        self.webhook_ids = webhook_ids
        self.batch = batch
        self.sent = 0
        self.failed = 0
        self._client = httpx.Client(timeout=self.policy.timeout_s, follow_redirects=False)
        self._conn: psycopg.Connection | None = None

    def close(self) -> None:
        self._client.close()
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _db(self) -> psycopg.Connection:
        if self._conn is None or self._conn.closed:
            self._conn = psycopg.connect(self.settings.database_url(), autocommit=True)
        return self._conn

    def run_once(self) -> int:
        """Claim and send what is due; returns how many were attempted."""
        try:
            conn = self._db()
            with conn.transaction():
                claimed = conn.execute(
                    CLAIM_SQL,
                    (self.policy.lease_s, self.webhook_ids, self.webhook_ids, self.batch),
                ).fetchall()
            # Sent outside any transaction: a slow receiver holds no lock. A crash here
            # leaves the claim's lease to run out, and the delivery is tried again.
            results = [self._send(*row) for row in claimed]
            with conn.transaction(), conn.cursor() as cur:
                cur.executemany(DONE_SQL, results)
        except psycopg.OperationalError:
            if self._conn is not None:
                self._conn.close()
            self._conn = None
            raise
        return len(claimed)

    def _send(
        self,
        delivery_id: int,
        event: str,
        payload: dict[str, object],
        attempts: int,
        url: str,
        secret: str,
        active: bool,
    ) -> tuple[object, ...]:
        attempts += 1
        if not active:
            return ("failed", attempts, None, "webhook deactivated", 0, "failed", delivery_id)
        body = dumps({**payload, "delivery_id": delivery_id})
        now = int(time.time())
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign(secret, now, body),
            TIMESTAMP_HEADER: str(now),
            DELIVERY_HEADER: str(delivery_id),
            EVENT_HEADER: event,
            "User-Agent": "wayhouse-webhooks/1",
        }
        code: int | None = None
        try:
            response = self._client.post(url, content=body, headers=headers)
            code = response.status_code
            if 200 <= code < 300:
                self.sent += 1
                return ("delivered", attempts, code, None, 0, "delivered", delivery_id)
            error = f"HTTP {code}"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"[:500]
        self.failed += 1
        status = "failed" if attempts >= self.policy.max_attempts else "pending"
        delay = self.policy.delay(attempts)
        log.info("delivery %s attempt %s failed (%s); %s", delivery_id, attempts, error, status)
        return (status, attempts, code, error, delay, status, delivery_id)

    def run(self, stop: threading.Event, idle_s: float = 0.5) -> None:
        log.info("webhook dispatcher running")
        while not stop.is_set():
            try:
                busy = self.run_once()
            except psycopg.OperationalError as exc:
                log.warning("database unavailable (%s); retrying", exc)
                busy = 0
                stop.wait(2.0)
            if not busy:
                stop.wait(idle_s)
        self.close()


def run_dispatcher(settings: Settings) -> None:
    import signal

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    WebhookDispatcher(settings).run(stop)
