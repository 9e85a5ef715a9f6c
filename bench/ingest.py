"""``wayhouse bench ingest``: simulators -> Mosquitto -> ingest worker -> PostgreSQL.

Starts the services if they are not running, a fresh ingest worker (so its latency histogram
holds only this run), and one or more load-generator processes playing ``agents`` agents.
Reports the achieved rate, reading-to-commit latency and CPU per message of each component,
and checks the result: every message the broker acknowledged is stored exactly once.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass

import psutil
import psycopg

from wayhouse.config import Settings
from wayhouse.platform.ingest.process import child_env, start_worker
from wayhouse.platform.services import mosquitto, postgres, stack

PREFIX = "bench"


@dataclass
class CpuSample:
    ingest: float
    broker: float
    database: float


def _cpu(proc: psutil.Process | None) -> float:
    if proc is None:
        return 0.0
    try:
        t = proc.cpu_times()
        return t.user + t.system
    except psutil.NoSuchProcess:
        return 0.0


def _pg_cpu(settings: Settings) -> float:
    pid = postgres.postmaster_pid(settings)
    if pid is None:
        return 0.0
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0.0
    total = 0.0
    for p in procs:
        total += _cpu(p)
    # Backends that exited since (finished connections) are counted by the postmaster.
    try:
        c = root.cpu_times()
        total += c.children_user + c.children_system
    except psutil.NoSuchProcess:
        pass
    return total


def _sample(settings: Settings, worker: psutil.Process) -> CpuSample:
    mq = mosquitto.pid(settings)
    return CpuSample(
        ingest=_cpu(worker),
        broker=_cpu(psutil.Process(mq)) if mq else 0.0,
        database=_pg_cpu(settings),
    )


def _stored(conn: psycopg.Connection, first_seq: int) -> tuple[int, int, int, object, object]:
    """(messages of any stream, readings, distinct readings, first commit, last commit) of this run."""
    msgs = conn.execute(
        "SELECT count(*) FROM ingest_seen s JOIN agent a USING (agent_key) "
        "WHERE a.agent_id LIKE %s AND s.seq >= %s",
        (PREFIX + "-%", first_seq),
    ).fetchone()
    row = conn.execute(
        "SELECT count(*), count(DISTINCT (r.agent_key, r.seq, r.sensor_key)), min(r.received_at), "
        "max(r.received_at) FROM shelf_reading r JOIN agent a USING (agent_key) "
        "WHERE a.agent_id LIKE %s AND r.seq >= %s",
        (PREFIX + "-%", first_seq),
    ).fetchone()
    assert msgs is not None and row is not None
    return int(msgs[0]), int(row[0]), int(row[1]), row[2], row[3]


def _msgs_in(conn: psycopg.Connection, worker_id: str) -> int:
    row = conn.execute(
        "SELECT msgs_in FROM ingest_worker_stats WHERE worker_id = %s", (worker_id,)
    ).fetchone()
    return int(row[0]) if row else 0


def run(
    settings: Settings,
    rate: int,
    duration: float,
    agents: int,
    readings_per_message: int = 1,
    producers: int = 1,
    window: int = 100,
    mode: str = "live",
) -> dict[str, object]:
    """``mode="live"``: producers and the worker run together (latency under load).
    ``mode="drain"``: the producers fill the broker while the worker is offline (its persistent
    session queues everything), then the worker is started and the drain is timed: the worker's
    own capacity, without the load generator competing for the same two cores."""
    if mode not in ("live", "drain"):
        raise ValueError("mode must be live or drain")
    from wayhouse.platform.db.timeseries import detect
    from wayhouse.platform.devices.service import ensure_agents
    from wayhouse.simulators.load import LoadConfig, load_agent_specs

    stack.up(settings)
    dsn = settings.database_url()
    with psycopg.connect(dsn, autocommit=True) as conn:
        storage_mode = detect(conn).mode
    print(f"bench: storage mode {storage_mode}", file=sys.stderr)

    sensors = max(10, readings_per_message)
    per_producer = [
        agents // producers + (1 if i < agents % producers else 0) for i in range(producers)
    ]
    specs = []
    for i, n in enumerate(per_producer):
        specs += load_agent_specs(
            LoadConfig(agents=n, sensors_per_agent=sensors, prefix=f"{PREFIX}-p{i}")
        )
    t = time.monotonic()
    ensure_agents(settings, specs, password_for=settings.sim_password)
    print(f"bench: provisioned {len(specs)} agents in {time.monotonic() - t:.1f}s", file=sys.stderr)

    worker_id = "bench"
    log_dir = settings.data_dir / "log"
    log_dir.mkdir(parents=True, exist_ok=True)
    worker_log = log_dir / f"ingest-{worker_id}.log"
    worker_proc = start_worker(settings, worker_id, worker_log, ephemeral=True)
    if mode == "drain":
        # SIGKILL: the broker keeps the session, and queues everything for it meanwhile.
        worker_proc.kill()
        worker_proc.wait()
    try:
        worker = psutil.Process(worker_proc.pid) if mode == "live" else None
        first_seq = time.time_ns() // 1000
        before = _sample(settings, worker) if worker else None
        loads = []
        for i, n in enumerate(per_producer):
            loads.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-P",
                        "-m",
                        "wayhouse.simulators.load",
                        "--agents",
                        str(n),
                        "--rate",
                        str(rate / producers),
                        "--duration",
                        str(duration),
                        "--readings-per-message",
                        str(readings_per_message),
                        "--sensors-per-agent",
                        str(sensors),
                        "--prefix",
                        f"{PREFIX}-p{i}",
                        "--no-provision",
                        "--json",
                        "--first-seq",
                        str(first_seq),
                        "--window",
                        str(window),
                    ],
                    env=child_env(settings),
                    stdout=subprocess.PIPE,
                    stderr=sys.stderr,
                    text=True,
                )
            )
        load_cpu = 0.0
        results = []
        for p in loads:
            assert p.stdout is not None
            out = p.stdout.read()
            # Reap it ourselves: wait4 hands back the child's CPU time.
            _, status, usage = os.wait4(p.pid, 0)
            p.returncode = os.waitstatus_to_exitcode(status)
            load_cpu += usage.ru_utime + usage.ru_stime
            results.append(json.loads(out.strip().splitlines()[-1]))
        sent = sum(r["produced"] for r in results)
        acked = sum(r["acked"] for r in results)
        if mode == "drain":
            worker_proc = start_worker(settings, worker_id, worker_log, ephemeral=True)
            worker = psutil.Process(worker_proc.pid)
            before = _sample(settings, worker)
        # Wait for ingest to catch up (its own cheap counter, so the polling costs the database
        # nothing): until it has taken in everything acknowledged, or makes no progress.
        with psycopg.connect(dsn, autocommit=True) as conn:
            last, last_change = -1, time.monotonic()
            while True:
                stored = _msgs_in(conn, worker_id)
                if stored >= acked:
                    break
                if stored != last:
                    last, last_change = stored, time.monotonic()
                elif time.monotonic() - last_change > 30:
                    break
                time.sleep(0.5)
            time.sleep(1.5)  # the last batch commits; the worker writes its stats every second
            assert worker is not None and before is not None
            after = _sample(settings, worker)
            stored, readings, distinct, first, last_commit = _stored(conn, first_seq)
            stats = conn.execute(
                "SELECT latency_p50_ms, latency_p99_ms, latency_max_ms, latency_count "
                "FROM ingest_worker_stats WHERE worker_id = %s",
                (worker_id,),
            ).fetchone()
    finally:
        worker_proc.terminate()
        worker_proc.wait(timeout=30)
    span = (last_commit - first).total_seconds() if first and last_commit else 0.0  # type: ignore[operator]
    per = max(stored, 1)
    return {
        "mode": mode,
        "storage_mode": storage_mode,
        "rate_target": rate,
        "duration_s": duration,
        "agents": agents,
        "producers": producers,
        "readings_per_message": readings_per_message,
        "sent": sent,
        "acked_by_broker": acked,
        "stored": stored,
        "lost": max(0, acked - stored),
        "duplicates": readings - distinct,
        "readings_stored": readings,
        "achieved_msgs_per_s": round(stored / span, 1) if span > 0 else None,
        "achieved_readings_per_s": round(readings / span, 1) if span > 0 else None,
        "producer_msgs_per_s": round(sum(r["produce_rate"] for r in results), 1),
        "latency_ms": {"p50": stats[0], "p99": stats[1], "max": stats[2], "samples": stats[3]}
        if stats
        else None,
        "cpu_us_per_msg": {
            "ingest": round((after.ingest - before.ingest) / per * 1e6, 2),
            "broker": round((after.broker - before.broker) / per * 1e6, 2),
            "database": round((after.database - before.database) / per * 1e6, 2),
            "load_generator": round(load_cpu / per * 1e6, 2),
        },
        "machine": {"cpus": psutil.cpu_count(), "python": sys.version.split()[0]},
    }
