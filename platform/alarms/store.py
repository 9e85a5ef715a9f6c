"""The alarm evaluator's writes, all inside the evaluation worker's open transaction (with the
``eval_seen`` record of the batch): alarm rows, transitions, queued webhook deliveries, the
saved state parts, the latest sensed counts. Nothing here commits.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
import psycopg
from psycopg.types.json import Jsonb

from wayhouse.platform.alarms.model import Action, Alarm, Transition


def dumps(obj: Any) -> bytes:
    # orjson: several times cheaper than json, and a stray inf/nan becomes null, not an error.
    return orjson.dumps(obj, option=orjson.OPT_NON_STR_KEYS)


def jsonb(obj: Any) -> Jsonb:
    return Jsonb(obj, dumps=dumps)


def ts(t: float | None) -> dt.datetime | None:
    return None if t is None else dt.datetime.fromtimestamp(t, dt.UTC)


@dataclass(frozen=True, slots=True)
class AlarmMeta:
    """Where an alarm belongs: for filters (site, product class, device) and tenancy."""

    warehouse_id: int | None = None
    org_unit_id: int | None = None
    product_class: str | None = None
    device: str | None = None


MetaFn = Callable[[str, str | None], AlarmMeta]  # (subject, site) -> meta

# ---- state parts ------------------------------------------------------------------------------


def load_parts(conn: psycopg.Connection) -> dict[str, Any]:
    return {k: v for k, v in conn.execute("SELECT key, state FROM alarm_state")}


def save_parts(conn: psycopg.Connection, parts: dict[str, Any]) -> None:
    """Upsert the parts given; a part given as None is deleted."""
    keep = {k: v for k, v in parts.items() if v is not None}
    gone = [k for k, v in parts.items() if v is None]
    if keep:
        # One JSON document for all parts: no per-element array quoting on the client.
        conn.execute(
            "INSERT INTO alarm_state (key, state, updated_at) "
            "SELECT key, value, now() FROM jsonb_each(%s) "
            "ON CONFLICT (key) DO UPDATE SET state = EXCLUDED.state, updated_at = now()",
            (jsonb(keep),),
        )
    if gone:
        conn.execute("DELETE FROM alarm_state WHERE key = ANY(%s)", (gone,))


# ---- alarms and transitions --------------------------------------------------------------------

ALARM_COLUMNS = (
    "id, type, subject, severity, state, message, evidence, occurrences, steps, raised_at, "
    "last_seen, acknowledged_at, acknowledged_by, cleared_at, cleared_by, clear_reason, site, "
    "warehouse_id, org_unit_id, product_class, device"
)
UPSERT_ALARM = (
    f"INSERT INTO alarm ({ALARM_COLUMNS}, updated_at) VALUES "
    "(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, now()) "
    "ON CONFLICT (id) DO UPDATE SET severity = EXCLUDED.severity, state = EXCLUDED.state, "
    "message = EXCLUDED.message, evidence = EXCLUDED.evidence, "
    "occurrences = EXCLUDED.occurrences, steps = GREATEST(alarm.steps, EXCLUDED.steps), "
    "last_seen = EXCLUDED.last_seen, acknowledged_at = EXCLUDED.acknowledged_at, "
    "acknowledged_by = EXCLUDED.acknowledged_by, cleared_at = EXCLUDED.cleared_at, "
    "cleared_by = EXCLUDED.cleared_by, clear_reason = EXCLUDED.clear_reason, updated_at = now()"
)
# An alarm raised in an earlier batch and cleared in this one: only the clear is known here.
CLEAR_ALARM = (
    "UPDATE alarm SET state = 'cleared', cleared_at = %s, cleared_by = %s, clear_reason = %s, "
    "severity = %s, message = CASE WHEN %s = '' THEN message ELSE %s END, occurrences = %s, "
    "steps = GREATEST(steps, %s), evidence = coalesce(%s, evidence), updated_at = now() "
    "WHERE id = %s"
)
INSERT_TRANSITION = (
    "INSERT INTO alarm_transition (alarm_id, seq, action, from_state, to_state, at, by, "
    "severity, reason, message, evidence, occurrences) "
    "SELECT * FROM unnest(%s::text[], %s::int[], %s::text[], %s::text[], %s::text[], "
    "%s::timestamptz[], %s::text[], %s::text[], %s::text[], %s::text[], %s::jsonb[], %s::int[]) "
    "ON CONFLICT (alarm_id, seq) DO NOTHING RETURNING id"
)


def _alarm_params(a: Alarm, meta: AlarmMeta, clear_reason: str | None) -> tuple[Any, ...]:
    return (
        a.id,
        a.type.value,
        a.subject,
        a.severity.value,
        a.state.value,
        a.message,
        jsonb(a.evidence),
        a.occurrences,
        a.steps,
        ts(a.raised_at),
        ts(a.last_seen),
        ts(a.acknowledged_at),
        a.acknowledged_by,
        ts(a.cleared_at),
        a.cleared_by,
        clear_reason,
        a.site,
        meta.warehouse_id,
        meta.org_unit_id,
        meta.product_class,
        meta.device,
    )


def _replay(steps: Sequence[Transition]) -> tuple[Alarm, str | None]:
    """An alarm rebuilt from its transitions of this batch, the first being its raise."""
    first = steps[0]
    a = Alarm(
        id=first.alarm_id,
        type=first.type,
        subject=first.subject,
        severity=first.severity,
        raised_at=first.t,
        message=first.message,
        evidence=first.evidence or {},
        site=first.site,
        last_seen=first.t,
    )
    reason = None
    for tr in steps:
        a.state = tr.to_state
        a.severity = tr.severity
        a.occurrences = tr.occurrences
        a.steps = tr.seq + 1
        if tr.message:
            a.message = tr.message
        if tr.evidence is not None:
            a.evidence = tr.evidence
        if tr.action in (Action.RAISE, Action.REPEAT):
            a.last_seen = tr.t
        elif tr.action is Action.ACKNOWLEDGE:
            a.acknowledged_at, a.acknowledged_by = tr.t, tr.by
        elif tr.action is Action.CLEAR:
            a.cleared_at, a.cleared_by, reason = tr.t, tr.by, tr.reason
    return a, reason


def record(
    conn: psycopg.Connection,
    transitions: Sequence[Transition],
    open_alarm: Callable[[str], Alarm | None],
    meta: MetaFn,
) -> list[int]:
    """Write the alarms the transitions touched and the transitions themselves (idempotent
    on (alarm, seq)); returns the ids of the transition rows inserted."""
    if not transitions:
        return []
    per_alarm: dict[str, list[Transition]] = {}
    for tr in transitions:
        per_alarm.setdefault(tr.alarm_id, []).append(tr)
    closed: list[tuple[Any, ...]] = []  # full rows of alarms that end this batch cleared
    clears: list[tuple[Any, ...]] = []
    opened: list[tuple[Any, ...]] = []
    for aid, steps in per_alarm.items():
        live = open_alarm(aid)
        if live is not None:
            opened.append(_alarm_params(live, meta(live.subject, live.site), None))
            continue
        if steps[0].action is Action.RAISE:
            a, reason = _replay(steps)
            closed.append(_alarm_params(a, meta(a.subject, a.site), reason))
            continue
        last = steps[-1]
        ev = next((tr.evidence for tr in reversed(steps) if tr.evidence is not None), None)
        clears.append(
            (
                ts(last.t),
                last.by,
                last.reason,
                last.severity.value,
                last.message,
                last.message,
                last.occurrences,
                last.seq + 1,
                jsonb(ev) if ev is not None else None,
                aid,
            )
        )
    # Cleared first: the open alarm of a subject must be closed before its successor opens
    # (the database keeps one open alarm per rule and subject too).
    with conn.cursor() as cur:
        if clears:
            cur.executemany(CLEAR_ALARM, clears)
        if closed:
            cur.executemany(UPSERT_ALARM, closed)
        if opened:
            cur.executemany(UPSERT_ALARM, opened)
    rows = conn.execute(
        INSERT_TRANSITION,
        (
            [tr.alarm_id for tr in transitions],
            [tr.seq for tr in transitions],
            [tr.action.value for tr in transitions],
            [tr.from_state.value if tr.from_state else None for tr in transitions],
            [tr.to_state.value for tr in transitions],
            [ts(tr.t) for tr in transitions],
            [tr.by for tr in transitions],
            [tr.severity.value for tr in transitions],
            [tr.reason for tr in transitions],
            [tr.message for tr in transitions],
            [
                dumps(tr.evidence).decode() if tr.evidence is not None else None
                for tr in transitions
            ],
            [tr.occurrences for tr in transitions],
        ),
    ).fetchall()
    return [r[0] for r in rows]


# Webhook outbox: one delivery per matching active webhook, queued in the same transaction as
# the transition. A webhook hears the alarms of its owner's subtree (and those without one).
QUEUE_DELIVERIES = """
INSERT INTO webhook_delivery (webhook_id, transition_id, event, payload, status, attempts,
                              next_try_at)
SELECT w.id, t.id, 'alarm.' || t.action,
       jsonb_build_object(
           'event', 'alarm.' || t.action,
           'transition_id', t.id,
           'alarm', jsonb_build_object(
               'id', a.id, 'type', a.type, 'subject', a.subject, 'site', a.site,
               'severity', t.severity, 'state', t.to_state, 'message', t.message,
               'raised_at', a.raised_at, 'occurrences', t.occurrences,
               'warehouse_id', a.warehouse_id, 'device', a.device),
           'transition', jsonb_build_object(
               'seq', t.seq, 'action', t.action, 'from_state', t.from_state,
               'to_state', t.to_state, 'at', t.at, 'by', t.by, 'reason', t.reason,
               'evidence', t.evidence)),
       'pending', 0, now()
FROM alarm_transition t
JOIN alarm a ON a.id = t.alarm_id
JOIN webhook w ON w.active
JOIN org_unit wo ON wo.id = w.org_unit_id
LEFT JOIN org_unit ao ON ao.id = a.org_unit_id
WHERE t.id = ANY(%s)
  AND (ao.id IS NULL OR starts_with(ao.path, wo.path))
  AND {types} AND {severities} AND {actions}
ON CONFLICT (webhook_id, transition_id) DO NOTHING
""".format(
    # A filter list that is missing, empty or not a list lets everything through.
    **{
        name: f"(CASE WHEN coalesce(jsonb_typeof(w.event_filter->'{name}'), '') <> 'array' "
        f"THEN true WHEN jsonb_array_length(w.event_filter->'{name}') = 0 THEN true "
        f"ELSE w.event_filter->'{name}' ? {column} END)"
        for name, column in (
            ("types", "a.type"),
            ("severities", "t.severity"),
            ("actions", "t.action"),
        )
    }
)


def queue_deliveries(conn: psycopg.Connection, transition_ids: Iterable[int]) -> int:
    ids = list(transition_ids)
    if not ids:
        return 0
    return conn.execute(QUEUE_DELIVERIES, (ids,)).rowcount


# ---- latest sensed counts ------------------------------------------------------------------------

UPSERT_SENSED = """
INSERT INTO bin_sensed (bin_id, product_id, count, confidence, confident, settled, mean_g,
                        readings, book, scanned, updated_at)
SELECT * FROM unnest(%s::int[], %s::int[], %s::int[], %s::float8[], %s::bool[], %s::bool[],
                     %s::float8[], %s::int[], %s::int[], %s::int[], %s::timestamptz[])
ON CONFLICT (bin_id) DO UPDATE SET product_id = EXCLUDED.product_id, count = EXCLUDED.count,
    confidence = EXCLUDED.confidence, confident = EXCLUDED.confident,
    settled = EXCLUDED.settled, mean_g = EXCLUDED.mean_g, readings = EXCLUDED.readings,
    book = EXCLUDED.book, scanned = EXCLUDED.scanned, updated_at = EXCLUDED.updated_at
"""


@dataclass(frozen=True, slots=True)
class SensedRow:
    bin_id: int
    product_id: int
    count: int
    confidence: float
    confident: bool
    settled: bool
    mean_g: float
    readings: int
    book: int | None
    scanned: int | None
    at: float


def save_sensed(conn: psycopg.Connection, rows: Sequence[SensedRow]) -> None:
    if not rows:
        return
    conn.execute(
        UPSERT_SENSED,
        (
            [r.bin_id for r in rows],
            [r.product_id for r in rows],
            [r.count for r in rows],
            [r.confidence for r in rows],
            [r.confident for r in rows],
            [r.settled for r in rows],
            [r.mean_g for r in rows],
            [r.readings for r in rows],
            [r.book for r in rows],
            [r.scanned for r in rows],
            [ts(r.at) for r in rows],
        ),
    )
