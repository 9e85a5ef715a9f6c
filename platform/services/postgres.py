"""The project's own PostgreSQL cluster: initdb, configure, start, stop.

PostgreSQL refuses to run as root, so when we are root the cluster belongs to the system's
``postgres`` user (created by the Debian package). It listens on 127.0.0.1 only, on a port of
its own, with scram passwords; the superuser ``wayhouse`` owns the ``wayhouse`` database.
"""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg

from wayhouse.config import Settings
from wayhouse.platform.services.procs import (
    ServiceError,
    as_user,
    chown_tree,
    is_root,
    port_open,
    read_pid,
    service_dir,
    stop_pid,
    user_exists,
)

PG_USER = "postgres"

# Tuned for an ingest-heavy workload on a small machine; durability stays on
# (synchronous_commit on, fsync on): batching amortises the flush instead.
TUNING = """
listen_addresses = '127.0.0.1'
max_connections = 200
shared_buffers = '512MB'
work_mem = '16MB'
maintenance_work_mem = '256MB'
wal_level = 'replica'
max_wal_size = '4GB'
min_wal_size = '512MB'
checkpoint_timeout = '15min'
checkpoint_completion_target = 0.9
wal_compression = 'lz4'
wal_buffers = '16MB'
commit_delay = 0
random_page_cost = 1.1
effective_io_concurrency = 64
log_min_duration_statement = 2000
log_line_prefix = '%m [%p] %q%u@%d '
timezone = 'UTC'
"""


@dataclass(frozen=True)
class PgPaths:
    cluster: Path
    socket_dir: Path
    log: Path

    @property
    def pid_file(self) -> Path:
        return self.cluster / "postmaster.pid"


def find_bindir() -> Path | None:
    """Newest installed server binaries (Debian keeps them in /usr/lib/postgresql/N/bin)."""
    candidates = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/postgres"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    if candidates:
        return candidates[-1].parent
    for d in (Path("/usr/local/bin"), Path("/usr/bin")):
        if (d / "initdb").exists() and (d / "pg_ctl").exists():
            return d
    return None


def paths(settings: Settings) -> PgPaths:
    base = service_dir(settings.data_dir, PG_USER, "pg")
    # The log sits beside the cluster: it is opened by the postgres user.
    return PgPaths(cluster=base / "data", socket_dir=base / "run", log=base / "postgres.log")


def _bindir_or_fail() -> Path:
    bindir = find_bindir()
    if bindir is None:
        raise ServiceError(
            "PostgreSQL server binaries not found. Install them (`apt-get install postgresql`, "
            "which `make setup` does when run as root) or point Wayhouse at an existing "
            "database: WAYHOUSE_DB_URL=postgresql://user:pass@host:5432/db"
        )
    if is_root() and not user_exists(PG_USER):
        raise ServiceError("running as root but there is no 'postgres' user to own the cluster")
    return bindir


def _run(cmd: list[str], what: str) -> None:
    result = subprocess.run(
        as_user(cmd, PG_USER), capture_output=True, text=True, check=False, cwd="/"
    )
    if result.returncode != 0:
        raise ServiceError(
            f"{what} failed ({result.returncode}):\n{result.stderr or result.stdout}"
        )


def init_cluster(settings: Settings) -> PgPaths:
    bindir = _bindir_or_fail()
    p = paths(settings)
    if (p.cluster / "PG_VERSION").exists():
        return p
    p.cluster.mkdir(parents=True, exist_ok=True)
    p.socket_dir.mkdir(parents=True, exist_ok=True)
    p.log.parent.mkdir(parents=True, exist_ok=True)
    pwfile = p.cluster.parent / "initdb.pw"
    pwfile.write_text(settings.secret("db_password") + "\n")
    if is_root():
        chown_tree(p.cluster.parent, PG_USER)
    p.cluster.chmod(0o700)
    try:
        _run(
            [
                str(bindir / "initdb"),
                "-D",
                str(p.cluster),
                "-U",
                "wayhouse",
                f"--pwfile={pwfile}",
                "--auth-local=scram-sha-256",
                "--auth-host=scram-sha-256",
                "--encoding=UTF8",
                "--locale=C.UTF-8",
            ],
            "initdb",
        )
    finally:
        pwfile.unlink(missing_ok=True)
    conf = p.cluster / "postgresql.conf"
    conf.write_text(conf.read_text() + "\n# --- wayhouse ---\n" + TUNING)
    return p


def is_running(settings: Settings) -> bool:
    return read_pid(paths(settings).pid_file) is not None


def start(settings: Settings, timeout: float = 60.0) -> PgPaths:
    p = init_cluster(settings)
    bindir = _bindir_or_fail()
    if not is_running(settings):
        if port_open("127.0.0.1", settings.pg_port):
            raise ServiceError(
                f"port {settings.pg_port} is taken by another process; set WAYHOUSE_PG_PORT "
                "to a free port or WAYHOUSE_DB_URL to use that database"
            )
        _run(
            [
                str(bindir / "pg_ctl"),
                "-D",
                str(p.cluster),
                "-l",
                str(p.log),
                "-w",
                "-t",
                str(int(timeout)),
                "-o",
                f"-p {settings.pg_port} -k {p.socket_dir}",
                "start",
            ],
            "pg_ctl start",
        )
    _ensure_database(settings, timeout)
    return p


def _ensure_database(settings: Settings, timeout: float) -> None:
    admin = settings.database_url().rsplit("/", 1)[0] + "/postgres"
    deadline = time.monotonic() + timeout
    while True:
        try:
            with psycopg.connect(admin, autocommit=True, connect_timeout=3) as conn:
                if (
                    conn.execute("SELECT 1 FROM pg_database WHERE datname='wayhouse'").fetchone()
                    is None
                ):
                    conn.execute("CREATE DATABASE wayhouse")
                return
        except psycopg.OperationalError as exc:
            if time.monotonic() > deadline:
                raise ServiceError(f"PostgreSQL is not accepting connections: {exc}") from exc
            time.sleep(0.2)


def stop(settings: Settings, mode: str = "fast") -> None:
    p = paths(settings)
    bindir = find_bindir()
    if not is_running(settings):
        return
    if bindir is not None:
        result = subprocess.run(
            as_user(
                [str(bindir / "pg_ctl"), "-D", str(p.cluster), "-m", mode, "-w", "stop"], PG_USER
            ),
            capture_output=True,
            text=True,
            check=False,
            cwd="/",
        )
        if result.returncode == 0:
            return
    pid = read_pid(p.pid_file)
    if pid:
        stop_pid(pid, timeout=30)


def postmaster_pid(settings: Settings) -> int | None:
    return read_pid(paths(settings).pid_file)
