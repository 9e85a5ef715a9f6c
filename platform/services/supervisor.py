"""``wayhouse run``: start the whole main job and stop exactly what it started.

Backing services first (only those not already running are ours to stop later), then the
ingest worker, API, console and simulators as child processes. A state file under the data
folder records them, so ``wayhouse stop`` from another terminal stops the same set.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import time
from pathlib import Path

from wayhouse.config import Settings
from wayhouse.platform.services import mosquitto, postgres, stack
from wayhouse.platform.services.procs import pid_alive, stop_pid, wait_port, wayhouse_command

log = logging.getLogger("wayhouse.run")


def _state_file(settings: Settings) -> Path:
    return settings.data_dir / "run" / "wayhouse-run.json"


def run_everything(settings: Settings, with_sim: bool = True) -> int:
    pg_was_running = not settings.embedded_db or postgres.is_running(settings)
    mq_was_running = not settings.embedded_mqtt or mosquitto.is_running(settings)
    stack.up(settings)
    from wayhouse.platform.dms.seed import seed_demo

    seed_demo(settings)  # a no-op once the demo network exists
    _demo_vehicles(settings)
    logs = settings.data_dir / "log"
    logs.mkdir(parents=True, exist_ok=True)
    children: dict[str, subprocess.Popen[bytes]] = {}
    commands = {
        "ingest": ["ingest"],
        "ledger": ["post-scans"],
        "eval": ["evaluate"],
        "hooks": ["webhooks"],
        "api": ["api"],
        "ui": ["ui"],
    }
    if with_sim:
        commands["sim"] = ["sim", "--scenario", "default"]
    state = {
        "pid": os.getpid(),
        "children": {},
        "stop_postgres": not pg_was_running,
        "stop_mosquitto": not mq_was_running,
    }
    stopping = False

    def _stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    try:
        for name, args in commands.items():
            out = (logs / f"{name}.log").open("ab")
            children[name] = subprocess.Popen(
                [*wayhouse_command(), *args],
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=settings.data_dir,
                start_new_session=True,
            )
            state["children"][name] = children[name].pid  # type: ignore[index]
            _state_file(settings).parent.mkdir(parents=True, exist_ok=True)
            _state_file(settings).write_text(json.dumps(state))
        wait_port(settings.api_host, settings.api_port, 60, "API", logs / "api.log")
        wait_port(settings.ui_host, settings.ui_port, 90, "console", logs / "ui.log")
        print(
            f"\nWayhouse is running.\n"
            f"  console  http://{settings.ui_host}:{settings.ui_port}/\n"
            f"  API      http://{settings.api_host}:{settings.api_port}/docs\n"
            f"  logs     {logs}/\n"
            f"  sign in  admin, east.manager, dealer1, operator, ... (passwords in "
            f"{settings.secrets_dir / 'demo_users.json'})\n"
            f"Ctrl-C or `make stop` stops everything this started.\n",
            flush=True,
        )
        while not stopping:
            for name, proc in children.items():
                code = proc.poll()
                if code is not None:
                    log.error("%s exited with %s; see %s", name, code, logs / f"{name}.log")
                    stopping = True
            time.sleep(0.5)
    finally:
        _stop_children(children)
        if state["stop_mosquitto"]:
            mosquitto.stop(settings)
        if state["stop_postgres"]:
            postgres.stop(settings)
        _state_file(settings).unlink(missing_ok=True)
        print("stopped", flush=True)
    return 0


def _stop_children(children: dict[str, subprocess.Popen[bytes]]) -> None:
    # Simulators first (stop producing), ingest last (drain and acknowledge what it has).
    for name in ("sim", "ui", "api", "hooks", "eval", "ledger", "ingest"):
        proc = children.get(name)
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


def stop_everything(settings: Settings) -> None:
    path = _state_file(settings)
    if not path.exists():
        print("nothing started by `wayhouse run` is running")
        return
    state = json.loads(path.read_text())
    if pid_alive(state["pid"]):
        # The supervisor stops its children and its services itself.
        stop_pid(state["pid"], timeout=60)
    else:
        for pid in state["children"].values():
            stop_pid(pid)
        if state.get("stop_mosquitto"):
            mosquitto.stop(settings)
        if state.get("stop_postgres"):
            postgres.stop(settings)
    path.unlink(missing_ok=True)
    print("stopped")


def _demo_vehicles(settings: Settings) -> None:
    """One vehicle per simulated truck of the default scenario, at its warehouse (once)."""
    from wayhouse.platform.db.base import unit_of_work
    from wayhouse.platform.dispatch.service import ensure_demo_vehicles
    from wayhouse.simulators.scenario import default_scenario

    scenario = default_scenario(0)
    with unit_of_work(settings.sqlalchemy_url()) as session:
        ensure_demo_vehicles(session, scenario.site, [t.agent_id for t in scenario.trucks])
