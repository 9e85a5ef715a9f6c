"""``wayhouse bench alarms``: anomalies injected by the simulators, measured against the alarms
the live pipeline raises.

One run: start the services; provision a fresh copy of the scenario (its own prefix and
warehouse code, so it shares a database with the demo and earlier runs without mixing); set
up what lives in the database (products, bins with their opening stock, a published delivery
plan for the trucks; lots and dealer documents that come due while it runs); start an ingest
worker, the scan poster and ``wayhouse evaluate``; play the scenario in real time through real
edge agents next to ``rate`` messages/s of background load (``simulators/load.py``); then
match the alarm rows to the ground truth, per alarm type.

Latency is measured from the truth's ``due`` (when the rule as specified can first decide,
see ``simulators/anomalies.py``) to the alarm row's creation (its raise transition's
``recorded_at``); the onset-based figure (from the physical event) is in ``details``.
Stocktaking: the share of bins whose sensed count (``bin_sensed``, written by the evaluator)
equals the simulator's true count, read after a quiet end with no operations, so each bin's
last settled reading and the snapshot see the same true count.

The ground truth, the alarms and the result go to ``<data>/bench/alarms/<run>/``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
import subprocess
import sys
import time
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from wayhouse.simulators.anomalies import Truth

EARLY_S = 5.0  # an alarm created this long before the onset still counts (clock skew)
# ... and this long after ``due``. Generous on purpose: precision and recall judge *what* was
# detected by the time the run is read, latency judges *when* (an evaluator minutes behind
# shows as minutes of latency, not as wrong alarms).
LATE_S = 1800.0


# ---- matching (pure) ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Raised:
    """An alarm row: when the engine stamped it, when its row was written, when it cleared."""

    type: str
    subject: str
    raised_at: float
    created: float
    cleared_at: float | None = None


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (``q`` in 0..100); None for no values."""
    if not values:
        return None
    xs = sorted(values)
    k = max(0, min(len(xs) - 1, math.ceil(q / 100.0 * len(xs)) - 1))
    return xs[k]


def _covers(a: Raised, x: Truth, early_s: float, late_s: float) -> tuple[bool, bool]:
    """(covers it, raised for it): an alarm raised between the onset and ``due + late_s``
    was raised for it; one raised earlier and still open at the onset covers it too (one open
    alarm per type and subject: a second loss on a bin with an open loss alarm is a repeat)."""
    if x.t - early_s <= a.created <= x.due + late_s:
        return True, True
    open_at_onset = a.created < x.t and (a.cleared_at is None or a.cleared_at >= x.t)
    return open_at_onset, False


def match(
    truths: Iterable[Truth],
    alarms: Iterable[Raised],
    *,
    early_s: float = EARLY_S,
    late_s: float = LATE_S,
) -> dict[str, dict[str, Any]]:
    """Per alarm type: precision, recall, detection latency p50/p99 (seconds from ``due`` to
    the row), injected (truths) and raised (alarms). An alarm matches the truths of its type
    and subject it covers; a truth is found when some alarm covers it."""
    by_key: dict[tuple[str, str], list[Raised]] = defaultdict(list)
    raised_n: dict[str, int] = defaultdict(int)
    for a in alarms:
        by_key[(a.type, a.subject)].append(a)
        raised_n[a.type] += 1
    injected_n: dict[str, int] = defaultdict(int)
    found_n: dict[str, int] = defaultdict(int)
    latencies: dict[str, list[float]] = defaultdict(list)
    onset: dict[str, list[float]] = defaultdict(list)
    useful: set[int] = set()
    for x in truths:
        injected_n[x.type] += 1
        first: Raised | None = None
        hit = False
        for a in sorted(by_key.get((x.type, x.subject), ()), key=lambda r: r.created):
            covers, for_it = _covers(a, x, early_s, late_s)
            if covers:
                hit = True
                useful.add(id(a))
                if for_it and first is None:
                    first = a
        if hit:
            found_n[x.type] += 1
        if first is not None:
            latencies[x.type].append(first.created - x.due)
            onset[x.type].append(first.created - x.t)
    true_pos: dict[str, int] = defaultdict(int)
    for group in by_key.values():
        for a in group:
            if id(a) in useful:
                true_pos[a.type] += 1
    out: dict[str, dict[str, Any]] = {}
    for type_ in sorted(set(injected_n) | set(raised_n)):
        raised = raised_n[type_]
        injected = injected_n[type_]
        lat = latencies[type_]
        out[type_] = {
            "precision": round(true_pos[type_] / raised, 4) if raised else None,
            "recall": round(found_n[type_] / injected, 4) if injected else None,
            "latency_p50_s": _r(percentile(lat, 50)),
            "latency_p99_s": _r(percentile(lat, 99)),
            "injected": injected,
            "raised": raised,
            "_onset_p50_s": _r(percentile(onset[type_], 50)),
            "_onset_p99_s": _r(percentile(onset[type_], 99)),
        }
    return out


def _r(x: float | None) -> float | None:
    return None if x is None else round(x, 3)


def stock_exact_ratio(sensed: dict[str, int], true: dict[str, int]) -> float | None:
    """Share of the simulated bins whose sensed count equals the true one (a bin the
    evaluator never counted is not exact)."""
    if not true:
        return None
    exact = sum(1 for code, n in true.items() if sensed.get(code) == n)
    return round(exact / len(true), 4)


def split_result(types: dict[str, dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The ``types`` map with exactly its six keys, and the onset latencies aside."""
    keys = ("precision", "recall", "latency_p50_s", "latency_p99_s", "injected", "raised")
    main = {t: {k: v[k] for k in keys} for t, v in types.items()}
    onset = {t: {"p50_s": v["_onset_p50_s"], "p99_s": v["_onset_p99_s"]} for t, v in types.items()}
    return main, onset


# ---- the run ------------------------------------------------------------------------------------


def run(
    settings: Any,
    scenario: str = "alarms",
    seed: int = 0,
    rate: int = 10_000,
    load_agents: int = 1000,
    out: Any = print,
) -> dict[str, Any]:
    from wayhouse.platform.services import stack
    from wayhouse.simulators.scenario import get_scenario, renamed

    stack.up(settings)
    run_id = uuid.uuid4().hex[:5]
    prefix = f"ab{run_id}-"
    site = f"AB{run_id}".upper()
    sc = renamed(get_scenario(scenario, seed), prefix, site)
    folder = settings.data_dir / "bench" / "alarms" / f"{scenario}-{run_id}"
    folder.mkdir(parents=True, exist_ok=True)
    out(f"bench alarms: scenario {scenario} seed {seed}, run {run_id} (site {site}) -> {folder}")
    return _Run(settings, sc, prefix, folder, rate, load_agents, out).go()


class _Run:
    def __init__(
        self,
        settings: Any,
        sc: Any,
        prefix: str,
        folder: Path,
        rate: int,
        load_agents: int,
        out: Any,
    ) -> None:
        self.settings = settings
        self.sc = sc
        self.prefix = prefix
        self.folder = folder
        self.rate = rate
        self.load_agents = load_agents
        self.out = out
        self.tz = ZoneInfo(settings.timezone)
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.extra_truth: list[Truth] = []
        self.doc_subjects: list[str] = []

    # ---- orchestration --------------------------------------------------------------------

    def go(self) -> dict[str, Any]:
        from wayhouse.platform.devices.service import ensure_agents
        from wayhouse.simulators.load import LoadConfig, load_agent_specs

        sc = self.sc
        t0 = time.monotonic()
        ids = self._setup_database()
        ensure_agents(self.settings, sc.agents(), password_for=self.settings.sim_password)
        bg = LoadConfig(agents=self.load_agents, sensors_per_agent=10, prefix=f"{self.prefix}bg")
        ensure_agents(self.settings, load_agent_specs(bg), password_for=self.settings.sim_password)
        self.out(f"bench alarms: set up and provisioned in {time.monotonic() - t0:.0f}s")
        try:
            self._start_services()
            result = self._play(ids)
        finally:
            self._stop_all()
        return result

    def _log(self, name: str) -> Path:
        d = self.settings.data_dir / "log"
        d.mkdir(parents=True, exist_ok=True)
        return d / f"bench-alarms-{name}.log"

    def _start_services(self) -> None:
        from wayhouse.platform.ingest.process import child_env, start_worker
        from wayhouse.platform.services.procs import wayhouse_command

        self.procs["ingest"] = start_worker(
            self.settings, "bench-alarms", self._log("ingest"), ephemeral=True
        )
        env = child_env(self.settings)
        for name, args in (
            ("post-scans", ["post-scans"]),
            ("evaluate", ["evaluate", "--worker-id", "bench-alarms", "--ephemeral"]),
        ):
            log = self._log(name)
            log.write_bytes(b"")
            self.procs[name] = subprocess.Popen(
                ["nice", "-n", "0", *wayhouse_command(), *args],
                env=env,
                stdout=log.open("ab"),
                stderr=subprocess.STDOUT,
                cwd=self.settings.data_dir,
            )
        # The evaluator has loaded its state and subscribed once it says so.
        log = self._log("evaluate")
        deadline = time.monotonic() + 180
        while b"alarm engine loaded" not in log.read_bytes():
            if self.procs["evaluate"].poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the evaluator did not start; see {log}")
            time.sleep(0.5)
        time.sleep(2.0)

    def _stop_all(self) -> None:
        for name in ("load", "post-scans", "evaluate", "ingest", *self.procs):
            p = self.procs.get(name)
            if p is not None and p.poll() is None:
                p.terminate()
                try:
                    p.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()

    # ---- the database side of the scenario -----------------------------------------------------

    def _setup_database(self) -> dict[str, Any]:
        """Warehouse, products, bins and opening stock; a region with dealers and orders; the
        vehicles and today's published plan. Returns the ids the run needs."""
        from sqlalchemy import select

        from wayhouse.platform.db.base import unit_of_work
        from wayhouse.platform.dispatch.models import DeliveryPlan, PlanRoute, VehicleRow
        from wayhouse.platform.dms import org, stock
        from wayhouse.platform.dms.domain.types import MovementKind, OrgLevel
        from wayhouse.platform.dms.models import Bin, Lot, OrgUnit, Product, Warehouse, Zone

        sc = self.sc
        p = self.prefix
        ids: dict[str, Any] = {}
        with unit_of_work(self.settings.sqlalchemy_url()) as s:
            hq = s.scalar(select(OrgUnit).where(OrgUnit.level == "hq").order_by(OrgUnit.id))
            if hq is None:
                hq = org.create_unit(s, OrgLevel.HQ, f"{p}HQ", "Bench HQ", None)
            region = org.create_unit(s, OrgLevel.REGION, f"{p}R", "Bench region", hq)
            ids["region"] = region.id
            wh = Warehouse(
                org_unit_id=hq.id,
                code=sc.site,
                name=f"bench {sc.site}",
                lat=sc.depot.lat,
                lon=sc.depot.lon,
            )
            s.add(wh)
            s.flush()
            ids["warehouse"] = wh.id
            zones: dict[str, Zone] = {}
            products: dict[str, Product] = {}
            for b in sc.bins:
                aisle = b.code.split("-")[0]
                if aisle not in zones:
                    zones[aisle] = Zone(warehouse_id=wh.id, code=aisle, name=f"Aisle {aisle}")
                    s.add(zones[aisle])
                if b.sku not in products:
                    products[b.sku] = Product(
                        sku=b.sku,
                        name=b.product or b.sku,
                        product_class="parts",
                        unit_weight_g=b.unit_weight_g,
                        unit_volume_l=0.1,
                        shelf_life_days=None,
                        list_price=1,
                    )
                    s.add(products[b.sku])
            s.flush()
            lots = {sku: Lot(product_id=pr.id, code=f"{sku}-L1") for sku, pr in products.items()}
            s.add_all(lots.values())
            s.flush()
            for b in sc.bins:
                row = Bin(
                    warehouse_id=wh.id,
                    zone_id=zones[b.code.split("-")[0]].id,
                    code=b.code,
                    scale_sensor_id=b.sensor_id,
                )
                s.add(row)
                s.flush()
                stock.post_movement(
                    s,
                    kind=MovementKind.RECEIVE,
                    product_id=products[b.sku].id,
                    bin_id=row.id,
                    lot_id=lots[b.sku].id,
                    qty=b.initial_count,
                    user_id=None,
                    reason="bench opening stock",
                    source="seed",
                )
            lots_bin = Bin(warehouse_id=wh.id, code="LOTS-1")  # no scale: a lot's stock only
            s.add(lots_bin)
            s.flush()
            ids["lots_bin"] = lots_bin.id
            ids["products"] = {sku: pr.id for sku, pr in products.items()}
            vehicles = []
            for t in sc.trucks:
                v = VehicleRow(
                    code=t.agent_id.upper()[:32],
                    plate=t.plate,
                    warehouse_id=wh.id,
                    agent_id=t.agent_id,
                    capacity_kg=3000.0,
                    capacity_m3=20.0,
                )
                s.add(v)
                vehicles.append(v)
            s.flush()
            day = dt.datetime.now(self.tz).date()
            plan = DeliveryPlan(
                warehouse_id=wh.id,
                day=day,
                status="published",
                engine="bench",
                objective="distance",
                time_limit_s=0.0,
                published_at=dt.datetime.now(dt.UTC),
            )
            s.add(plan)
            s.flush()
            ids["plan"] = plan.id
            ids["day"] = day
            ids["vehicles"] = [v.id for v in vehicles]
            ids["routes"] = []
            for v in vehicles:
                r = PlanRoute(plan_id=plan.id, vehicle_id=v.id)
                s.add(r)
                s.flush()
                ids["routes"].append(r.id)
        return ids

    def _plan_trucks(self, ids: dict[str, Any], start: float) -> list[Any]:
        """Each truck's drive (an anomaly each, in the mix's order, then plain ones), and its
        stops on today's plan with their windows."""
        from wayhouse.platform.db.base import unit_of_work
        from wayhouse.platform.dispatch.models import DeliveryPlan, PlanRoute, PlanStop
        from wayhouse.platform.dms import org
        from wayhouse.platform.dms.models import OrgUnit
        from wayhouse.platform.dms.models_orders import SalesOrder
        from wayhouse.simulators.truck_anomalies import TruckDrive

        sc = self.sc
        kinds = list(sc.anomalies.truck_kinds if sc.anomalies else ())
        drives = []
        midnight = dt.datetime.combine(ids["day"], dt.time(), tzinfo=self.tz).timestamp()
        now = dt.datetime.now(dt.UTC)
        with unit_of_work(self.settings.sqlalchemy_url()) as s:
            region = s.get(OrgUnit, ids["region"])
            assert region is not None
            dealer = org.create_dealer(s, region, f"{self.prefix}TRK", "Bench deliveries", None)
            for i, (truck, route_id) in enumerate(zip(sc.trucks, ids["routes"], strict=True)):
                kind = kinds[i] if i < len(kinds) else "none"
                stops = [
                    dataclasses.replace(c, service_s=120.0) for c in sc.customers[2 * i : 2 * i + 2]
                ]
                drive = TruckDrive(
                    truck,
                    sc.depot,
                    stops,
                    start + 5.0 + 3.0 * i,
                    kind,  # type: ignore[arg-type]
                    route_id=f"plan-{ids['plan']}",
                    seed=sc.seed,
                )
                close = {}
                if kind == "slow":
                    # Met at the planned speed with half the drive to spare; not when slow.
                    nominal = (drive.arrivals[1] - drive.start) * 0.35
                    close[1] = drive.start + 1.5 * nominal
                drives.append((drive, close))
                route = s.get(PlanRoute, route_id)
                assert route is not None
                route.start_at = dt.datetime.fromtimestamp(drive.start, dt.UTC)
                for k, stop in enumerate(stops, start=1):
                    order = SalesOrder(
                        dealer_id=dealer.id,
                        region_id=region.id,
                        status="shipped",
                        created_at=now,
                        updated_at=now,
                    )
                    s.add(order)
                    s.flush()
                    close_s = close[k] - midnight if k in close else 86_399.0
                    s.add(
                        PlanStop(
                            plan_id=ids["plan"],
                            route_id=route_id,
                            order_id=order.id,
                            seq=k,
                            lat=stop.lat,
                            lon=stop.lon,
                            weight_kg=10.0,
                            volume_m3=0.1,
                            service_s=stop.service_s,
                            window_open_s=0.0,
                            window_close_s=close_s,
                            status="planned",
                        )
                    )
            plan = s.get(DeliveryPlan, ids["plan"])
            assert plan is not None
            plan.revision += 1  # re-planned: tracking re-reads the routes with their stops
        return drives

    def _post_lots_and_documents(self, ids: dict[str, Any], n: int) -> None:
        """Lots that expire within the warning days, and dealer documents likewise, committed
        now: each is due the moment it exists."""
        import hashlib

        from wayhouse.platform.db.base import unit_of_work
        from wayhouse.platform.dms import org, stock
        from wayhouse.platform.dms.domain.types import MovementKind
        from wayhouse.platform.dms.models import Lot, OrgUnit
        from wayhouse.platform.dms.models_documents import DealerDocument

        today = dt.datetime.now(dt.UTC).date()
        skus = sorted(ids["products"])[:n]
        subjects_lots = []
        with unit_of_work(self.settings.sqlalchemy_url()) as s:
            for k, sku in enumerate(skus):
                lot = Lot(
                    product_id=ids["products"][sku],
                    code=f"EXP{k + 1}",
                    expires_on=today + dt.timedelta(days=10 + k),
                )
                s.add(lot)
                s.flush()
                stock.post_movement(
                    s,
                    kind=MovementKind.RECEIVE,
                    product_id=lot.product_id,
                    bin_id=ids["lots_bin"],
                    lot_id=lot.id,
                    qty=5,
                    user_id=None,
                    reason="bench expiring lot",
                    source="seed",
                )
                subjects_lots.append(f"lot:{sku}/{lot.code}@{self.sc.site}")
            region = s.get(OrgUnit, ids["region"])
            assert region is not None
            subjects_docs = []
            for k in range(n):
                dealer = org.create_dealer(s, region, f"{self.prefix}D{k}", f"Bench {k}", None)
                dealer.status = "active"
                body = f"{self.prefix}{k}".encode()
                s.add(
                    DealerDocument(
                        dealer_id=dealer.id,
                        doc_type="business_license",
                        number=f"BL-{k}",
                        valid_from=today - dt.timedelta(days=300),
                        valid_until=today + dt.timedelta(days=5 + k),
                        file_path="bench",
                        sha256=hashlib.sha256(body).hexdigest(),
                        size_bytes=len(body),
                        content_type="application/pdf",
                        uploaded_at=dt.datetime.now(dt.UTC),
                    )
                )
                s.flush()
                subjects_docs.append(f"document:{dealer.id}:business_license")
        at = time.time()  # committed: due from now on
        self.extra_truth += [Truth("lot_expiring", x, at, at) for x in subjects_lots]
        self.extra_truth += [Truth("document_expiring", x, at, at) for x in subjects_docs]
        self.doc_subjects = subjects_docs

    # ---- playing the scenario ------------------------------------------------------------------

    def _play(self, ids: dict[str, Any]) -> dict[str, Any]:
        from wayhouse.edge.client import EdgeClient
        from wayhouse.edge.outbox import MemoryOutbox
        from wayhouse.edge.schema import (
            SCHEMA_VERSION,
            EnvMessage,
            EnvReading,
            StatusMessage,
            Stream,
        )
        from wayhouse.platform.ingest.process import child_env
        from wayhouse.simulators.anomalies import (
            AgentKill,
            AnomalyWorld,
            EnvBatch,
            Heartbeat,
            write_truth,
        )
        from wayhouse.simulators.runner import SimAgents

        sc = self.sc
        settings = self.settings
        start = time.time() + 2.0
        drives = self._plan_trucks(ids, start)
        world = AnomalyWorld(sc, start, trucks=[d for d, _ in drives])
        target = lambda a: settings.mqtt(a, settings.sim_password(a))  # noqa: E731
        agents = SimAgents(sc, time.time, target, lambda a: MemoryOutbox())
        extra: dict[str, EdgeClient] = {}
        for z in sc.env_zones:
            extra[z.agent_id] = EdgeClient(z.agent_id, target(z.agent_id), MemoryOutbox())
        for g in sc.gateways:
            if g not in world.will_agents:
                # Its heartbeats are the world's (known times), not the client's own.
                extra[g] = EdgeClient(g, target(g), MemoryOutbox(), heartbeat_s=None)
        for c in extra.values():
            agents.fleet.add(c)
        dying = {
            g: subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    _DYING_AGENT,
                    g,
                    target(g).host,
                    str(target(g).port),
                    target(g).password or "",
                ],
                env=child_env(settings),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for g in world.will_agents
        }
        agents.fleet.start()
        load_s = world.end_time - start + 10.0
        self.procs["load"] = subprocess.Popen(
            [
                sys.executable,
                "-P",
                "-m",
                "wayhouse.simulators.load",
                "--agents",
                str(self.load_agents),
                "--rate",
                str(self.rate),
                "--duration",
                str(load_s),
                "--readings-per-message",
                "1",
                "--sensors-per-agent",
                "10",
                "--prefix",
                f"{self.prefix}bg",
                "--no-provision",
                "--json",
                "--first-seq",
                str(time.time_ns() // 1000),
            ],
            env=child_env(settings),
            stdout=subprocess.PIPE,
            stderr=self._log("load").open("ab"),
        )
        lots_at = start + (sc.anomalies.warmup_s if sc.anomalies else 60.0) + 15.0
        n_expiry = sc.anomalies.per_kind if sc.anomalies else 0
        self.out(
            f"bench alarms: playing {world.end_time - start:.0f}s with {len(world.injections)} "
            f"injections, {self.rate} msg/s background"
        )
        emitted = 0
        next_status = time.monotonic() + 30
        try:
            while time.time() < world.end_time:
                now = time.time()
                if n_expiry and now >= lots_at:
                    self._post_lots_and_documents(ids, n_expiry)
                    n_expiry = 0
                for e in world.advance(now):
                    emitted += 1
                    if isinstance(e, EnvBatch):
                        readings = [
                            EnvReading(s=s_, t=e.t, temp=tc, rh=h) for s_, tc, h in e.readings
                        ]
                        extra[e.agent_id].put(
                            Stream.ENV,
                            lambda seq, r=readings: EnvMessage(v=SCHEMA_VERSION, seq=seq, r=r),
                        )
                    elif isinstance(e, Heartbeat):
                        extra[e.agent_id].put(
                            Stream.STATUS,
                            lambda seq, t=e.t: StatusMessage(
                                v=SCHEMA_VERSION, seq=seq, t=t, state="heartbeat"
                            ),
                        )
                    elif isinstance(e, AgentKill):
                        dying[e.agent_id].kill()  # SIGKILL: the broker publishes its will
                    else:
                        agents.deliver(e)
                if time.monotonic() >= next_status:
                    next_status += 30
                    self.out(f"  +{now - start:5.0f}s emitted {emitted} | {agents.status_line()}")
                time.sleep(0.1)
            time.sleep(5.0)  # the last readings reach the evaluator
            end = world.end_time
            # Truth due in the last seconds could not be raised yet: left out.
            truths = world.truths(until=end - 30.0)
            truths += [t for d, close in drives for t in d.truths(end, close)]
            truths += self.extra_truth
            alarms = self._alarms()
            sensed = self._sensed(ids)
            true_counts = world.true_counts(end)
            fair = self._fair_stock(world)
            evaluated = self._evaluated(start)
        finally:
            agents.fleet.stop(flush_timeout=5.0)
            for p in dying.values():
                if p.poll() is None:
                    p.kill()
        load = self._load_result()
        write_truth(self.folder / "truth.jsonl", truths)
        with (self.folder / "alarms.jsonl").open("w") as f:
            for a in alarms:
                f.write(json.dumps(dataclasses.asdict(a)) + "\n")
        types, onset = split_result(match(truths, alarms))
        missed = _missed(truths, alarms)
        result = {
            "types": types,
            "stock_exact_ratio": fair,
            "details": {
                "scenario": sc.name,
                "seed": sc.seed,
                "site": sc.site,
                "run_folder": str(self.folder),
                "shelf_interval_s": sc.shelf_interval_s,
                "duration_s": round(world.end_time - start, 1),
                "background_rate_target": self.rate,
                "background_load": load,
                "latency_from": "truth.due (rule definition met) -> alarm raise row recorded_at",
                "onset_latency_s": onset,
                "bins": len(true_counts),
                "bins_sensed": len(sensed),
                "stock_exact_ratio_at_end": stock_exact_ratio(sensed, true_counts),
                "stock_compared_at": "true count at the bin's last settled reading the "
                "evaluator judged (its saved sensor state); _at_end: bin_sensed vs the end",
                "evaluator": evaluated,
                "missed": missed[:40],
            },
        }
        (self.folder / "result.json").write_text(json.dumps(result, indent=2) + "\n")
        return result

    def _load_result(self) -> dict[str, Any]:
        p = self.procs.get("load")
        if p is None or p.stdout is None:
            return {}
        try:
            text = p.stdout.read().decode()
            p.wait(timeout=60)
            r = json.loads(text.strip().splitlines()[-1])
        except (ValueError, IndexError, subprocess.TimeoutExpired):
            return {}
        return {
            "produced": r.get("produced"),
            "acked": r.get("acked"),
            "produce_rate": round(r.get("produced", 0) / r["produce_s"], 1)
            if r.get("produce_s")
            else None,
        }

    def _db(self) -> Any:
        import psycopg

        return psycopg.connect(self.settings.database_url(), autocommit=True)

    def _alarms(self) -> list[Raised]:
        with self._db() as conn:
            rows = conn.execute(
                "SELECT a.type, a.subject, extract(epoch FROM a.raised_at)::float8, "
                "extract(epoch FROM t.recorded_at)::float8, "
                "extract(epoch FROM a.cleared_at)::float8 "
                "FROM alarm a JOIN alarm_transition t ON t.alarm_id = a.id AND t.action = 'raise' "
                "WHERE a.subject LIKE %s OR a.subject LIKE %s OR a.subject = ANY(%s)",
                (f"%{self.prefix}%", f"%{self.sc.site}/%", self.doc_subjects),
            ).fetchall()
        bg = f"agent:{self.prefix}bg"
        return [Raised(*r) for r in rows if not r[1].startswith(bg)]

    def _sensed(self, ids: dict[str, Any]) -> dict[str, int]:
        with self._db() as conn:
            rows = conn.execute(
                "SELECT b.code, s.count FROM bin_sensed s JOIN bin b ON b.id = s.bin_id "
                "WHERE b.warehouse_id = %s",
                (ids["warehouse"],),
            ).fetchall()
        return {code: int(n) for code, n in rows}

    def _fair_stock(self, world: Any) -> float | None:
        """Each bin's count against the true count when its last judged reading was taken
        (settled: that reading; moving: when its level settled), from the evaluator's saved
        sensor state: an evaluator running behind is not blamed for readings it has not seen."""
        site = self.sc.site
        with self._db() as conn:
            rows = conn.execute(
                "SELECT key, state->'sensor' FROM alarm_state WHERE key LIKE %s",
                (f"bin:{site}/%",),
            ).fetchall()
        sensed: dict[str, int] = {}
        true: dict[str, int] = {}
        for key, sensor in rows:
            code = key.removeprefix(f"bin:{site}/")
            if not sensor or sensor.get("last_t") is None:
                continue
            at = sensor["last_t"] if sensor["settled"] else sensor["since"]
            sensed[code] = int(sensor["count"])
            true[code] = world.floor.count(code, at)
        for b in self.sc.bins:  # a bin the evaluator never judged is not counted exactly
            true.setdefault(b.code, world.floor.count(b.code))
        return stock_exact_ratio(sensed, true)

    def _evaluated(self, start: float) -> dict[str, Any]:
        """Messages the evaluator and ingest took in during the run (all agents)."""
        with self._db() as conn:
            ev = conn.execute(
                "SELECT count(*) FROM eval_seen WHERE received_at >= to_timestamp(%s)", (start,)
            ).fetchone()
            ing = conn.execute(
                "SELECT count(*) FROM ingest_seen WHERE received_at >= to_timestamp(%s)", (start,)
            ).fetchone()
        return {
            "messages_evaluated": int(ev[0]) if ev else None,
            "messages_ingested": int(ing[0]) if ing else None,
        }


def rescore(folder: Path, late_s: float = LATE_S) -> dict[str, Any]:
    """Score a run folder again (``truth.jsonl``, ``alarms.jsonl``) with other windows."""
    from wayhouse.simulators.anomalies import read_truth

    truths = read_truth(folder / "truth.jsonl")
    alarms = [Raised(**json.loads(x)) for x in (folder / "alarms.jsonl").read_text().splitlines()]
    types, onset = split_result(match(truths, alarms, late_s=late_s))
    return {"types": types, "onset_latency_s": onset, "missed": _missed(truths, alarms)}


def _missed(truths: Sequence[Truth], alarms: Sequence[Raised]) -> list[dict[str, Any]]:
    """Truths nothing covered (for the report), with the alarms of the same subject."""
    out = []
    for x in truths:
        same = [a for a in alarms if a.type == x.type and a.subject == x.subject]
        if not any(_covers(a, x, EARLY_S, LATE_S)[0] for a in same):
            out.append(
                {
                    "type": x.type,
                    "subject": x.subject,
                    "due": x.due,
                    "alarms_of_subject": [a.created - x.due for a in same],
                }
            )
    return out


# A gateway in its own process, so it can die without a goodbye (SIGKILL): the broker then
# publishes its last will, the only way the platform learns of it.
_DYING_AGENT = """
import sys, time
from wayhouse.config import MqttTarget
from wayhouse.edge.client import EdgeClient
from wayhouse.edge.outbox import MemoryOutbox
agent, host, port, pw = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
EdgeClient(agent, MqttTarget(host, port, agent, pw), MemoryOutbox(), heartbeat_s=10.0).start()
time.sleep(3600)
"""
