"""Shared fixtures. ``stack`` starts the project's real PostgreSQL and Mosquitto once per
session, on free ports, under var/test (never the data of a running `make run`)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import pytest

from wayhouse.config import PROJECT_ROOT, Settings
from wayhouse.platform.devices.model import AgentSpec

# One test stack per checkout; set WAYHOUSE_TEST_DATA_DIR to run two sessions side by side.
TEST_DATA_DIR = Path(os.environ.get("WAYHOUSE_TEST_DATA_DIR", PROJECT_ROOT / "var" / "test"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(predicate: Callable[[], bool], timeout: float, what: str, every: float = 0.1) -> None:
    """Poll until ``predicate`` holds; fail the test with ``what`` after ``timeout`` seconds.
    (A deadline for liveness only: no test asserts how fast anything is.)"""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(every)
    pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}")


@dataclass
class IngestProcess:
    proc: subprocess.Popen[bytes]
    log: Path

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=timeout)
        return self.proc.returncode

    def kill(self) -> None:
        self.stop(signal.SIGKILL)


@dataclass
class Stack:
    settings: Settings
    env: dict[str, str]
    workers: list[IngestProcess] = field(default_factory=list)

    def db(self) -> psycopg.Connection:
        return psycopg.connect(self.settings.database_url(), autocommit=True)

    def scalar(self, query: str, params: Sequence[object] = ()) -> object:
        with self.db() as conn:
            row = conn.execute(query, params).fetchone()
        return row[0] if row else None

    def provision(
        self, agents: Sequence[AgentSpec], password_for: Callable[[str], str] | None = None
    ) -> None:
        from wayhouse.platform.devices.service import ensure_agents

        ensure_agents(self.settings, agents, password_for or self.settings.sim_password)

    def restart_broker(self, down_for: float = 0.0) -> None:
        from wayhouse.platform.services import mosquitto

        mosquitto.stop(self.settings)
        time.sleep(down_for)
        mosquitto.start(self.settings)

    def restart_db(self, down_for: float = 0.0) -> None:
        from wayhouse.platform.services import postgres

        postgres.stop(self.settings, mode="fast")
        time.sleep(down_for)
        postgres.start(self.settings)

    def start_ingest(self, worker_id: str = "t1", ephemeral: bool = True) -> IngestProcess:
        """A real `wayhouse ingest` process (killable, restartable). Ephemeral workers end
        their broker session on a clean stop, so they leave no offline member in the shared
        group to hoard later tests' messages; a killed worker's session stays, as in production."""
        from wayhouse.platform.ingest.process import start_worker

        log = self.settings.data_dir / "log" / f"ingest-{worker_id}.log"
        try:
            proc = start_worker(self.settings, worker_id, log, ephemeral=ephemeral)
        except RuntimeError as exc:
            pytest.fail(f"{exc}\n{log.read_text()[-2000:] if log.exists() else ''}")
        worker = IngestProcess(proc, log)
        self.workers.append(worker)
        return worker


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    from wayhouse.platform.ingest.process import child_env
    from wayhouse.platform.services import stack as services

    # Stop whatever a previous, interrupted run left behind, then start clean.
    leftover = Settings(data_dir=TEST_DATA_DIR, db_url=None, mqtt_url=None)
    services.down(leftover)
    shutil.rmtree(TEST_DATA_DIR, ignore_errors=True)
    settings = Settings(
        data_dir=TEST_DATA_DIR,
        db_url=None,
        mqtt_url=None,
        pg_port=free_port(),
        mqtt_port=free_port(),
        ingest_flush_ms=10,
    )
    services.up(settings)
    s = Stack(settings, child_env(settings))
    try:
        yield s
    finally:
        for w in s.workers:
            if w.proc.poll() is None:
                w.kill()
        services.down(settings)
