"""``wayhouse``: services, database, ingest, API, console, simulators, devices, benchmarks."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Annotated

import typer

from wayhouse.config import get_settings

app = typer.Typer(
    help="Wayhouse: IoT warehouse and delivery tracking for dealer networks.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
services_app = typer.Typer(help="The project's own PostgreSQL and Mosquitto.", no_args_is_help=True)
db_app = typer.Typer(help="Database migrations.", no_args_is_help=True)
devices_app = typer.Typer(help="Edge agents and their MQTT credentials.", no_args_is_help=True)
bench_app = typer.Typer(help="Benchmarks (write JSON; see bench/).", no_args_is_help=True)
data_app = typer.Typer(
    help="Generated dealer-network data for demos and load.", no_args_is_help=True
)
app.add_typer(services_app, name="services")
app.add_typer(db_app, name="db")
app.add_typer(devices_app, name="devices")
app.add_typer(bench_app, name="bench")
app.add_typer(data_app, name="data")


def _logging(verbose: bool = False) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def _fail(message: str, code: int = 1) -> typer.Exit:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    return typer.Exit(code)


# --- services -------------------------------------------------------------------------
@services_app.command("up")
def services_up() -> None:
    """Start PostgreSQL and Mosquitto (unless WAYHOUSE_DB_URL/WAYHOUSE_MQTT_URL point elsewhere) and migrate."""
    from wayhouse.platform.services import stack
    from wayhouse.platform.services.procs import ServiceError

    _logging()
    try:
        stack.up(get_settings())
    except ServiceError as exc:
        raise _fail(str(exc)) from exc
    services_status()


@services_app.command("down")
def services_down() -> None:
    """Stop the PostgreSQL and Mosquitto this project started (nothing else)."""
    from wayhouse.platform.services import stack

    stack.down(get_settings())
    typer.echo("services stopped")


@services_app.command("status")
def services_status() -> None:
    """Show whether each backing service runs, and where."""
    from wayhouse.platform.services import stack

    for s in stack.status(get_settings()):
        state = "running" if s.running else "stopped"
        owner = "embedded" if s.managed else "external"
        pid = f" pid {s.pid}" if s.pid else ""
        typer.echo(f"{s.name:<11} {state:<8} {owner:<9} {s.where}{pid}")


# --- database -------------------------------------------------------------------------
@db_app.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Apply migrations up to REVISION (default: head)."""
    import sqlalchemy.exc

    from wayhouse.platform.db.migrate import upgrade

    _logging()
    try:
        upgrade(get_settings(), revision)
    except sqlalchemy.exc.OperationalError as exc:
        raise _fail(
            f"cannot reach the database: {exc.orig}. Is it up? (`wayhouse services up`)"
        ) from exc
    typer.echo(f"database at {revision}")


@db_app.command("current")
def db_current() -> None:
    """Print the applied migration revision."""
    from wayhouse.platform.db.migrate import current

    typer.echo(current(get_settings()) or "none")


# --- processes ------------------------------------------------------------------------
@app.command()
def ingest(
    worker_id: Annotated[str | None, typer.Option(help="Stable id; one per worker.")] = None,
    ephemeral: Annotated[
        bool, typer.Option(help="End the broker session on a clean exit (benchmarks, tests).")
    ] = False,
    retire: Annotated[
        bool, typer.Option(help="Do not run: end the broker session of WORKER_ID for good.")
    ] = False,
) -> None:
    """Run an ingest worker (MQTT shared subscription -> PostgreSQL)."""
    from wayhouse.platform.ingest.worker import retire_session, run_worker

    _logging()
    if retire:
        if not worker_id:
            raise _fail("--retire needs --worker-id", 2)
        retire_session(get_settings(), worker_id)
        typer.echo(f"ended the broker session of ingest worker {worker_id}")
        return
    run_worker(get_settings(), worker_id, ephemeral=ephemeral)


@app.command()
def evaluate(
    worker_id: Annotated[str, typer.Option(help="Stable id of the evaluation worker.")] = "e1",
    ephemeral: Annotated[
        bool, typer.Option(help="End the broker session on a clean exit (benchmarks, tests).")
    ] = False,
) -> None:
    """Run the evaluators (alarms, tracking, stocktaking) on the live stream."""
    from wayhouse.platform.evaluate.worker import run_evaluator

    _logging()
    run_evaluator(get_settings(), worker_id, ephemeral=ephemeral)


@app.command()
def webhooks() -> None:
    """Deliver queued alarm webhooks (signed POSTs, retried with exponential backoff)."""
    from wayhouse.platform.alarms.webhooks import run_dispatcher

    _logging()
    run_dispatcher(get_settings())


@app.command("post-scans")
def post_scans(
    once: Annotated[bool, typer.Option(help="Post what is pending, then exit.")] = False,
) -> None:
    """Post scanner reads (picks, put-aways, returns) to the stock ledger, each exactly once."""
    import signal

    from wayhouse.platform.db.base import session_factory
    from wayhouse.platform.dms.scan_posting import ScanPoster

    _logging()
    poster = ScanPoster(session_factory(get_settings().sqlalchemy_url()))
    if once:
        while poster.run_once():
            pass
        typer.echo(f"posted {poster.posted}, rejected {poster.rejected}")
        return
    stopping: list[int] = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(1))
    signal.signal(signal.SIGINT, lambda *_: stopping.append(1))
    poster.run_forever(should_stop=lambda: bool(stopping))


@app.command()
def api(
    host: Annotated[str | None, typer.Option()] = None,
    port: Annotated[int | None, typer.Option()] = None,
) -> None:
    """Run the REST API (OpenAPI at /docs)."""
    import uvicorn

    s = get_settings()
    uvicorn.run(
        "wayhouse.platform.api.app:create_app",
        factory=True,
        host=host or s.api_host,
        port=port or s.api_port,
        log_level="info",
    )


@app.command()
def ui(
    host: Annotated[str | None, typer.Option()] = None,
    port: Annotated[int | None, typer.Option()] = None,
) -> None:
    """Run the NiceGUI console."""
    from wayhouse.ui.app import run_console

    s = get_settings()
    run_console(host or s.ui_host, port or s.ui_port)


@app.command()
def sim(
    scenario: Annotated[str, typer.Option(help="Scenario name.")] = "default",
    seed: Annotated[int, typer.Option()] = 0,
    speed: Annotated[float, typer.Option(help="Simulated seconds per real second.")] = 1.0,
    duration: Annotated[float | None, typer.Option(help="Stop after this many seconds.")] = None,
) -> None:
    """Run the warehouse-floor and truck simulators against the broker."""
    from wayhouse.simulators.runner import run

    _logging()
    run(get_settings(), scenario=scenario, seed=seed, speed=speed, duration=duration)


@app.command("load", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def load(ctx: typer.Context) -> None:
    """One process playing thousands of agents: --agents, --rate, --duration,
    --readings-per-message, --mode normal|replay|malformed (see `wayhouse load --help-load`)."""
    from wayhouse.simulators.load import main as load_main

    args = list(ctx.args)
    if "--help-load" in args:
        args = ["--help"]
    raise typer.Exit(load_main(args))


@app.command("run")
def run_all(
    no_sim: Annotated[bool, typer.Option("--no-sim", help="Do not start the simulators.")] = False,
) -> None:
    """Start everything: services, migrations, ingest, API, console and simulators. Ctrl-C stops it."""
    from wayhouse.platform.services.procs import ServiceError
    from wayhouse.platform.services.supervisor import run_everything

    _logging()
    try:
        code = run_everything(get_settings(), with_sim=not no_sim)
    except ServiceError as exc:
        raise _fail(str(exc)) from exc
    raise typer.Exit(code)


@app.command("stop")
def stop_all() -> None:
    """Stop what `wayhouse run` started (its processes and the embedded services)."""
    from wayhouse.platform.services.supervisor import stop_everything

    stop_everything(get_settings())


@app.command("seed")
def seed(scenario_seed: Annotated[int, typer.Option(help="Simulator scenario seed.")] = 0) -> None:
    """Create the demo dealer network (idempotent); prints where the demo passwords are."""
    from wayhouse.platform.dms.seed import seed_demo

    s = get_settings()
    users = seed_demo(s, scenario_seed)
    typer.echo(
        f"demo users: {', '.join(sorted(users))}; passwords in {s.secrets_dir / 'demo_users.json'}"
    )


@data_app.command("load")
def data_load(
    size: Annotated[str, typer.Option(help="small (demo) or full (benchmark).")] = "small",
    seed: Annotated[int, typer.Option(help="Generator seed.")] = 0,
) -> None:
    """Load the generated dealer network (org units NET-*, users net.*) unless already there."""
    from wayhouse.platform.dms.loader import load_network
    from wayhouse.simulators import dealer_network

    if size not in ("small", "full"):
        raise _fail("--size must be small or full", 2)
    net = dealer_network.full(seed) if size == "full" else dealer_network.small(seed)
    result = load_network(get_settings(), net)
    typer.echo(json.dumps({"loaded": result.loaded, "seconds": result.seconds, **result.counts}))


# --- devices --------------------------------------------------------------------------
@devices_app.command("add")
def devices_add(
    agent_id: str,
    kind: Annotated[str, typer.Option(help="shelf | scanner | truck | gateway")] = "shelf",
    sensor: Annotated[
        list[str] | None,
        typer.Option(help="SENSOR_ID:KIND (scale|rfid|barcode|gps|env); repeatable."),
    ] = None,
    site: Annotated[str | None, typer.Option()] = None,
) -> None:
    """Provision an edge agent and its sensors; prints its MQTT password once."""
    import psycopg

    from wayhouse.platform.devices.model import AgentSpec, SensorSpec
    from wayhouse.platform.devices.service import RegistryError, add_agent

    sensors = []
    for item in sensor or []:
        sid, _, skind = item.partition(":")
        if not sid or skind not in ("scale", "rfid", "barcode", "gps", "env"):
            raise _fail(
                f"--sensor {item!r}: expected SENSOR_ID:KIND with KIND scale|rfid|barcode|gps|env",
                2,
            )
        sensors.append(SensorSpec(sid, skind))  # type: ignore[arg-type]
    if kind not in ("shelf", "scanner", "truck", "gateway"):
        raise _fail(f"--kind {kind!r}: expected shelf|scanner|truck|gateway", 2)
    try:
        spec = AgentSpec(agent_id, kind, tuple(sensors), site)  # type: ignore[arg-type]
        password = add_agent(get_settings(), spec)
    except (ValueError, RegistryError) as exc:
        raise _fail(str(exc), 2) from exc
    except psycopg.OperationalError as exc:
        raise _fail(f"cannot reach the database: {exc}") from exc
    typer.echo(json.dumps({"agent_id": agent_id, "username": agent_id, "password": password}))


@devices_app.command("list")
def devices_list(
    all_: Annotated[bool, typer.Option("--all", help="Include revoked agents.")] = False,
) -> None:
    """List provisioned agents."""
    from wayhouse.platform.devices.service import list_agents

    rows = list_agents(get_settings(), include_revoked=all_)
    typer.echo(f"{'AGENT':<28} {'KIND':<8} {'SENSORS':>7} {'STATE':<8} CREATED")
    for r in rows:
        state = "active" if r.active else "revoked"
        typer.echo(
            f"{r.agent_id:<28} {r.kind:<8} {r.sensors:>7} {state:<8} {r.created_at:%Y-%m-%d %H:%M}"
        )


@devices_app.command("revoke")
def devices_revoke(agent_id: str) -> None:
    """Revoke an agent's credentials (the broker reloads; its readings are dead-lettered)."""
    from wayhouse.platform.devices.service import RegistryError, revoke_agent

    try:
        revoke_agent(get_settings(), agent_id)
    except RegistryError as exc:
        raise _fail(str(exc), 2) from exc
    typer.echo(f"revoked {agent_id}")


@devices_app.command("sync")
def devices_sync() -> None:
    """Rewrite the broker's password file and ACL from the registry (and reload an embedded broker).

    With an external broker (WAYHOUSE_MQTT_URL) the files are written under the data folder's
    mosquitto/ for that broker to mount; send it SIGHUP to reload them.
    """
    from wayhouse.platform.devices.service import sync_broker
    from wayhouse.platform.services import mosquitto

    s = get_settings()
    sync_broker(s)
    typer.echo(f"wrote {mosquitto.paths(s).password_file} and {mosquitto.paths(s).acl_file}")


# --- benchmarks -----------------------------------------------------------------------
@bench_app.command("ingest")
def bench_ingest(
    rate: Annotated[int, typer.Option(help="Target messages per second.")] = 20_000,
    duration: Annotated[float, typer.Option(help="Seconds of load.")] = 20.0,
    agents: Annotated[int, typer.Option(help="Simulated agents.")] = 1000,
    readings_per_message: Annotated[int, typer.Option()] = 1,
    producers: Annotated[int, typer.Option(help="Load-generator processes.")] = 1,
    mode: Annotated[
        str,
        typer.Option(help="live: load and worker together; drain: time the worker on a backlog."),
    ] = "live",
    json_out: Annotated[Path | None, typer.Option("--json", help="Write results here.")] = None,
) -> None:
    """Drive simulators through the broker into the database; report rate, latency, CPU."""
    from wayhouse.bench import ingest as bench

    _logging()
    if mode not in ("live", "drain"):
        raise _fail("--mode must be live or drain", 2)
    result = bench.run(
        get_settings(),
        rate=rate,
        duration=duration,
        agents=agents,
        readings_per_message=readings_per_message,
        producers=producers,
        mode=mode,
    )
    text = json.dumps(result, indent=2)
    typer.echo(text)
    if json_out:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(text + "\n")
    if result["lost"] or result["duplicates"]:
        raise _fail(f"lost {result['lost']}, duplicates {result['duplicates']}")


@bench_app.command(
    "routing", context_settings={"allow_extra_args": True, "ignore_unknown_options": True}
)
def bench_routing(ctx: typer.Context) -> None:
    """VRPTW engines against best-known solutions (see `wayhouse bench routing --help-bench`)."""
    from wayhouse.bench import routing as bench

    raise typer.Exit(bench.main(list(ctx.args)))


@bench_app.command("api")
def bench_api(
    json_out: Annotated[Path | None, typer.Option("--json", help="Write results here.")] = None,
    requests: Annotated[int, typer.Option(help="Requests per endpoint.")] = 200,
) -> None:
    """p50/p99 of the main list/detail endpoints and of placing an order, on the full data set."""
    from wayhouse.bench import api as bench

    _logging()
    result = bench.run(get_settings(), requests=requests)
    text = json.dumps(result, indent=2)
    typer.echo(text)
    if json_out:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(text + "\n")


@bench_app.command("eta")
def bench_eta(
    json_out: Annotated[Path | None, typer.Option("--json", help="Write results here.")] = None,
    jitter: Annotated[
        list[float] | None,
        typer.Option(help="Per-leg speed variation (fraction); repeat for several runs."),
    ] = None,
    seeds: Annotated[int, typer.Option(help="Scenario seeds (0..N-1), 5 trucks each.")] = 3,
    hours: Annotated[float, typer.Option(help="Simulated hours per truck.")] = 10.0,
) -> None:
    """ETA accuracy on simulated drives against true arrivals (p90 target: 3 min, < 1 h out)."""
    from wayhouse.bench import eta as bench

    result = bench.run(jitters=jitter or [0.15, 0.0], seeds=range(seeds), hours=hours)
    text = json.dumps(result, indent=2)
    typer.echo(text)
    if json_out:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(text + "\n")


@bench_app.command("console")
def bench_console(
    json_out: Annotated[Path, typer.Option("--json", help="Write results here.")] = Path(
        "bench/results/console.json"
    ),
    repeats: Annotated[int, typer.Option(help="Visits per page.")] = 5,
) -> None:
    """First-view time of every console page in Chromium on the full data set (target 1.5 s)."""
    from wayhouse.bench import console as bench

    _logging()
    raise typer.Exit(bench.main(get_settings(), json_out, repeats))


@bench_app.command("alarms")
def bench_alarms(
    scenario: Annotated[
        str, typer.Option(help="alarms, alarms-noisy, alarms-fast, alarms-burst, alarms-1s.")
    ] = "alarms",
    json_out: Annotated[Path | None, typer.Option("--json", help="Write results here.")] = None,
    seed: Annotated[int, typer.Option()] = 0,
    rate: Annotated[int, typer.Option(help="Background load, messages per second.")] = 10_000,
    load_agents: Annotated[int, typer.Option(help="Agents of the background load.")] = 1000,
) -> None:
    """Inject anomalies, run ingest and the evaluator under load, score alarms vs truth."""
    from wayhouse.bench import alarms as bench

    _logging()
    if not scenario.startswith("alarms"):
        raise _fail("--scenario must be one of the alarms* scenarios", 2)
    result = bench.run(
        get_settings(),
        scenario=scenario,
        seed=seed,
        rate=rate,
        load_agents=load_agents,
        out=lambda line: typer.echo(line, err=True),
    )
    text = json.dumps(result, indent=2)
    typer.echo(text)
    if json_out:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(text + "\n")


def main() -> None:  # pragma: no cover - console-script shim
    app()
