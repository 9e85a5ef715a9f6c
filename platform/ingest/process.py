"""Starting an ingest worker as its own process (the benchmark and the test suite do), and the
environment that hands a child process exactly the caller's settings."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import psycopg

from wayhouse.config import Settings
from wayhouse.platform.services.procs import wayhouse_command


def child_env(settings: Settings) -> dict[str, str]:
    """The current environment with every WAYHOUSE_* variable replaced by ``settings``, so the
    child reads the same configuration even when ``settings`` was built in code."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WAYHOUSE_")}
    for name, value in settings.model_dump().items():
        if value is not None:
            env[f"WAYHOUSE_{name.upper()}"] = str(value)
    return env


def start_worker(
    settings: Settings, worker_id: str, log: Path, *, ephemeral: bool, timeout: float = 60.0
) -> subprocess.Popen[bytes]:
    """Run `wayhouse ingest` and return once it has registered its stats row for this start
    (it has subscribed by then). A worker that exits or does not register is killed and
    reported with its log."""
    log.parent.mkdir(parents=True, exist_ok=True)
    started = time.time()
    proc = subprocess.Popen(
        [
            *wayhouse_command(),
            "ingest",
            "--worker-id",
            worker_id,
            *(["--ephemeral"] if ephemeral else []),
        ],
        env=child_env(settings),
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        cwd=settings.data_dir,
    )
    deadline = time.monotonic() + timeout
    with psycopg.connect(settings.database_url(), autocommit=True) as conn:
        while not conn.execute(
            "SELECT 1 FROM ingest_worker_stats WHERE worker_id = %s AND pid = %s "
            "AND updated_at >= to_timestamp(%s)",
            (worker_id, proc.pid, started - 1),
        ).fetchone():
            if proc.poll() is not None or time.monotonic() > deadline:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
                raise RuntimeError(f"ingest worker {worker_id} did not start; see {log}")
            time.sleep(0.05)
    return proc
