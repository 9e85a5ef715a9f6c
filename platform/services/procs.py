"""Small process helpers shared by the service managers: pid files, ports, privilege drop."""

from __future__ import annotations

import hashlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path


class ServiceError(RuntimeError):
    """A service could not be installed, started or reached; the message says what to do."""


def is_root() -> bool:
    return os.geteuid() == 0


def user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def chown_tree(path: Path, user: str) -> None:
    pw = pwd.getpwnam(user)
    for root, dirs, files in os.walk(path):
        os.chown(root, pw.pw_uid, pw.pw_gid)
        for name in dirs + files:
            os.lchown(os.path.join(root, name), pw.pw_uid, pw.pw_gid)


def can_traverse(user: str, path: Path) -> bool:
    """Whether ``user`` can reach ``path`` (every parent needs the x bit for it)."""
    if not is_root():
        return True
    result = subprocess.run(
        ["runuser", "-u", user, "--", "test", "-x", str(path)], capture_output=True, check=False
    )
    return result.returncode == 0


def service_dir(data_dir: Path, user: str | None, name: str) -> Path:
    """Where a service that runs as ``user`` keeps its files: under the data folder when that
    user can reach it, else in a private folder of ours under /var/lib/wayhouse (rather than
    loosening permissions on the user's tree, as some embedded-server wheels do)."""
    if not is_root() or user is None or user == "root" or can_traverse(user, data_dir):
        return data_dir / name
    digest = hashlib.sha256(str(data_dir.resolve()).encode()).hexdigest()[:12]
    return Path("/var/lib/wayhouse") / digest / name


def as_user(cmd: list[str], user: str | None) -> list[str]:
    """Prefix ``cmd`` to run as ``user`` when we are root (initdb and postgres refuse root)."""
    if user and is_root():
        return ["runuser", "-u", user, "--", *cmd]
    return cmd


def read_pid(pid_file: Path) -> int | None:
    try:
        pid = int(pid_file.read_text().split()[0])
    except (FileNotFoundError, ValueError, IndexError):
        return None
    return pid if pid_alive(pid) else None


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child still answers kill(0); treat it as gone.
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(") ", 1)[1][0] != "Z"
    except (FileNotFoundError, IndexError):
        return False


def stop_pid(pid: int, timeout: float = 20.0, sig: int = signal.SIGTERM) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            return
        time.sleep(0.05)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return


def port_open(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.3)
        return s.connect_ex((host, port)) == 0


def wait_port(host: str, port: int, timeout: float, what: str, log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if port_open(host, port):
            return
        time.sleep(0.1)
    tail = ""
    if log and log.exists():
        tail = "\n" + "\n".join(log.read_text(errors="replace").splitlines()[-15:])
    raise ServiceError(f"{what} did not open {host}:{port} within {timeout:.0f}s{tail}")


def which(name: str, extra_dirs: list[Path] | None = None) -> Path | None:
    for d in extra_dirs or []:
        candidate = d / name
        if candidate.exists():
            return candidate
    found = shutil.which(name, path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")
    return Path(found) if found else None


def wayhouse_command() -> list[str]:
    """How to start another `wayhouse` process: the console script next to this interpreter.
    No `-m`/`-c`, so the working directory never lands on sys.path in the services."""
    script = Path(sys.executable).parent / "wayhouse"
    return [str(script)] if script.exists() else [sys.executable, "-P", "-m", "wayhouse.cli"]
