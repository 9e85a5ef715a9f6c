"""The evaluation worker on the real broker and database: every fresh message reaches the
evaluators exactly once, through replays and a database restart mid-stream, and what they
concluded survives a restart of the worker (state reloaded from the last commit)."""

from __future__ import annotations

import threading
import time
import uuid

import psycopg
import pytest
from conftest import Stack, wait_for
from wh_testkit import publish_all, shelf_agents, shelf_message

from wayhouse.platform.evaluate.worker import EvaluationWorker
from wayhouse.platform.ingest.batch import Accepted
from wayhouse.platform.ingest.worker import retire_session

pytestmark = pytest.mark.integration


class ReadingCounter:
    """Counts readings per agent; state in a table of its own, written at every flush."""

    name = "counter"

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.counts: dict[str, int] = {}
        self.dirty: set[str] = set()

    def load(self, conn: psycopg.Connection) -> None:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS eval_test_count (agent text PRIMARY KEY, n integer)"
        )
        rows = conn.execute(
            "SELECT agent, n FROM eval_test_count WHERE agent LIKE %s", (self.prefix + "%",)
        ).fetchall()
        self.counts = {a: n for a, n in rows}
        self.dirty.clear()

    def feed(self, message: Accepted, received_at: float) -> None:
        if message.agent_id.startswith(self.prefix):
            n = len(getattr(message.message, "r", ()))
            self.counts[message.agent_id] = self.counts.get(message.agent_id, 0) + n
            self.dirty.add(message.agent_id)

    def tick(self, now: float) -> None:
        pass

    def flush(self, conn: psycopg.Connection) -> None:
        for agent in self.dirty:
            conn.execute(
                "INSERT INTO eval_test_count VALUES (%s, %s) "
                "ON CONFLICT (agent) DO UPDATE SET n = EXCLUDED.n",
                (agent, self.counts[agent]),
            )
        self.dirty.clear()


def _start(stack: Stack, prefix: str) -> tuple[EvaluationWorker, threading.Thread]:
    worker = EvaluationWorker(stack.settings, [ReadingCounter(prefix)], f"t-{prefix}")
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    wait_for(worker._connected.is_set, timeout=30, what="the evaluation worker to connect")
    return worker, thread


def _stored(stack: Stack, prefix: str) -> int:
    with psycopg.connect(stack.settings.database_url()) as conn:
        row = conn.execute(
            "SELECT coalesce(sum(n), 0) FROM eval_test_count WHERE agent LIKE %s",
            (prefix + "%",),
        ).fetchone()
    return int(row[0]) if row else 0


def test_each_message_evaluated_once_through_replays_and_a_database_restart(
    stack: Stack,
) -> None:
    prefix = f"ev{uuid.uuid4().hex[:6]}"
    agents = shelf_agents(prefix, 4, 2)
    stack.provision(agents)
    worker, thread = _start(stack, prefix)
    try:
        now = time.time()
        first = [shelf_message(a, seq, now + seq, 1000.0) for a in agents for seq in range(50)]
        second = [
            shelf_message(a, seq, now + seq, 1000.0) for a in agents for seq in range(50, 100)
        ]
        for a in agents:
            mine = [m for m in first if f"/{a.agent_id}/" in m[0]]
            cred = stack.settings.mqtt(
                user=a.agent_id, password=stack.settings.sim_password(a.agent_id)
            )
            assert publish_all(cred, f"{a.agent_id}-p", mine * 2).ok == 100  # each twice
        wait_for(lambda: _stored(stack, prefix) == 4 * 50 * 2, timeout=60, what="first half")
        stack.restart_db(down_for=1.0)
        for a in agents:
            mine = [m for m in second if f"/{a.agent_id}/" in m[0]]
            cred = stack.settings.mqtt(
                user=a.agent_id, password=stack.settings.sim_password(a.agent_id)
            )
            assert publish_all(cred, f"{a.agent_id}-p", mine).ok == 50
        wait_for(lambda: _stored(stack, prefix) == 4 * 100 * 2, timeout=90, what="second half")
    finally:
        worker.stop_event.set()
        thread.join(timeout=30)
    assert worker.evaluated == 4 * 100

    # A new worker process starts from the committed counts; a replay adds nothing.
    worker, thread = _start(stack, prefix)
    try:
        a = agents[0]
        cred = stack.settings.mqtt(
            user=a.agent_id, password=stack.settings.sim_password(a.agent_id)
        )
        replay = [m for m in first if f"/{a.agent_id}/" in m[0]][:10]
        assert publish_all(cred, f"{a.agent_id}-p", replay).ok == 10
        fresh = [shelf_message(a, 100, time.time(), 1000.0)]
        assert publish_all(cred, f"{a.agent_id}-p", fresh).ok == 1
        wait_for(lambda: _stored(stack, prefix) == 4 * 100 * 2 + 2, timeout=30, what="one more")
        time.sleep(0.5)
        assert _stored(stack, prefix) == 4 * 100 * 2 + 2
    finally:
        worker.stop_event.set()
        thread.join(timeout=30)
        # Leave no offline member in the shared group to hoard later tests' messages.
        retire_session(stack.settings, worker.session_key)


class Fussy(ReadingCounter):
    """Fails on one message, as an evaluator with a bug would."""

    def feed(self, message: Accepted, received_at: float) -> None:
        if message.agent_id.startswith(self.prefix) and message.message.seq == 13:
            raise ValueError("cannot handle seq 13")
        super().feed(message, received_at)


def test_a_message_an_evaluator_fails_on_is_set_aside_and_the_stream_goes_on(
    stack: Stack,
) -> None:
    prefix = f"fz{uuid.uuid4().hex[:6]}"
    (agent,) = shelf_agents(prefix, 1, 2)
    stack.provision([agent])
    worker = EvaluationWorker(stack.settings, [Fussy(prefix)], f"t-{prefix}")
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    try:
        wait_for(worker._connected.is_set, timeout=30, what="the evaluation worker to connect")
        now = time.time()
        cred = stack.settings.mqtt(
            user=agent.agent_id, password=stack.settings.sim_password(agent.agent_id)
        )
        messages = [shelf_message(agent, seq, now + seq, 1000.0) for seq in range(30)]
        assert publish_all(cred, f"{agent.agent_id}-p", messages).ok == 30
        wait_for(lambda: _stored(stack, prefix) == 29 * 2, timeout=60, what="29 messages counted")
        assert thread.is_alive()
    finally:
        worker.stop_event.set()
        thread.join(timeout=30)
        retire_session(stack.settings, worker.session_key)
    reason = stack.scalar(
        "SELECT reason FROM dead_letter WHERE agent_id = %s AND reason LIKE 'evaluation failed%%'",
        (agent.agent_id,),
    )
    assert reason is not None and "seq 13" in str(reason)
