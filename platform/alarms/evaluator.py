"""Alarms and continuous stocktaking on the live stream: the alarm engine fed from the
evaluation worker (``platform/evaluate``), its conclusions written in the worker's
transaction.

Per batch: ``feed`` turns each fresh message into engine events (shelf readings; scans with
their bin; the climate stream's temperatures and humidities; agent status, and one heartbeat
per message); ``tick`` passes tracking's events through the alarm lifecycle and
lets time-driven rules judge wall time; ``flush`` reads what other processes changed (ledger
movements since the watermark, lot and document expiry every few minutes, the registry and
thresholds now and then, people's acknowledge/clear commands in order), then writes the
transitions, the alarms, the webhook deliveries they queue, the state parts that changed and
the latest sensed counts, all in the transaction that marks the batch evaluated. So a crash
anywhere repeats the batch from the last committed state: no alarm lost or doubled.
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any

import msgspec
import psycopg

from wayhouse.config import Settings
from wayhouse.edge.schema import ScanMessage, ShelfMessage, StatusMessage
from wayhouse.platform.alarms import store
from wayhouse.platform.alarms.engine import PER_ITEM, AlarmEngine, Lifecycle
from wayhouse.platform.alarms.expiry_feed import ExpiryFeed
from wayhouse.platform.alarms.inputs import AgentStatus, BookLevel, EnvReading, EnvSensorConfig
from wayhouse.platform.alarms.ledger_follow import LedgerFollower, Level
from wayhouse.platform.alarms.model import Transition
from wayhouse.platform.alarms.registry import Registry, load_registry
from wayhouse.platform.alarms.rules.tracking_events import conditions_from_tracking
from wayhouse.platform.alarms.thresholds import ThresholdConfig
from wayhouse.platform.dms.domain.types import DomainError
from wayhouse.platform.ingest.batch import Accepted
from wayhouse.platform.stocktake.rfid import ZoneCounts
from wayhouse.platform.tracking.evaluator import TrackingEvaluator

log = logging.getLogger("wayhouse.alarms")

REGISTRY_EVERY_S = 30.0  # new bins, sensors, agents, recalibrations
CONFIG_EVERY_S = 5.0  # threshold edits
EXPIRY_EVERY_S = 300.0  # lots and documents
ENGINE_TICK_S = 1.0  # wall-clock judgement of silence (offline) and expiry
SENSED_REFRESH_S = 10.0  # a bin's unchanged count is rewritten at most this often
COMMANDS_PER_FLUSH = 200


class AlarmEvaluator:
    name = "alarms"

    def __init__(
        self,
        settings: Settings,
        tracking: TrackingEvaluator | None = None,
        lifecycle: Lifecycle | None = None,
        registry_every_s: float = REGISTRY_EVERY_S,
        expiry_every_s: float = EXPIRY_EVERY_S,
    ) -> None:
        self.settings = settings
        self.tracking = tracking
        self.registry_every_s = registry_every_s
        self.expiry_every_s = expiry_every_s
        self._lifecycle = lifecycle  # None: the saved one (or the default)
        self.engine = AlarmEngine(lifecycle=lifecycle)
        self.registry = Registry()
        self._reset_memory()

    def _reset_memory(self) -> None:
        self.follower = LedgerFollower()
        self.expiry = ExpiryFeed()
        self.rfid = ZoneCounts()
        self.rfid_bins: set[str] = set()  # bins that ever had an RFID read: their count is known
        self._pending: list[Transition] = []
        self._dirty_sensors: set[str] = set()
        self._dirty_bins: set[str] = set()
        self._dirty_agents: set[str] = set()
        self._dirty_env: set[str] = set()
        self._dirty_eval: set[str] = set()
        self._reg_agents: dict[str, Any] = {}
        self._reg_env: dict[str, Any] = {}
        self._config_sig: tuple[Any, ...] | None = None
        self._sensed_written: dict[str, tuple[tuple[Any, ...], float]] = {}
        self._next_registry = self._next_config = self._next_expiry = 0.0
        self._next_engine_tick = 0.0
        self.transitions_written = 0

    # ---- load ---------------------------------------------------------------------------

    def load(self, conn: psycopg.Connection) -> None:
        self._reset_memory()
        parts = store.load_parts(conn)
        self.engine = self._assemble(parts)
        if self._lifecycle is not None:
            self.engine.lifecycle = self._lifecycle
        if "eval:ledger" in parts:
            self.follower = LedgerFollower.from_dict(parts["eval:ledger"])
        if "eval:expiry" in parts:
            self.expiry = ExpiryFeed.from_dict(parts["eval:expiry"])
        if "eval:rfid" in parts:
            self.rfid = ZoneCounts.from_dict(parts["eval:rfid"]["zones"])
            self.rfid_bins = set(parts["eval:rfid"]["bins"])
        self.engine.take_changed_slots()
        self._refresh_registry(conn, time.time())
        self._refresh_thresholds(conn)
        log.info(
            "alarm engine loaded: %d bins, %d open alarms, ledger watermark %d",
            len(self.registry.bins),
            len(self.engine.open_alarms()),
            self.follower.watermark,
        )

    def _assemble(self, parts: dict[str, Any]) -> AlarmEngine:
        core = parts.get("engine")
        if core is None:
            return AlarmEngine(lifecycle=self._lifecycle)
        d = dict(core)
        d["rules"] = {**core["rules"], **{f: {} for f in PER_ITEM}}
        d["slots"] = {}
        prefixes = {"bin:": "shelf", "agent:": "devices", "env:": "environment"}
        for key, value in parts.items():
            head, sep, rest = key.partition(":")
            if not sep:
                continue
            if head == "slot":
                d["slots"][rest] = value
            elif (family := prefixes.get(head + ":")) is not None:
                d["rules"][family][rest] = value
        return AlarmEngine.from_dict(d)

    # ---- the stream ---------------------------------------------------------------------

    def _out(self, trs: Any) -> None:
        if trs:
            self._pending.extend(trs)

    def feed(self, message: Accepted, received_at: float) -> None:
        m = message.message
        agent = message.agent_id
        eng = self.engine
        pending = self._pending
        if isinstance(m, StatusMessage):
            # A last will carries the time it was armed (never later than it arrived: an
            # agent's fast clock must not move the devices' clock); a sign of life counts
            # when it is received.
            t = min(m.t, received_at) if m.state == "offline" else received_at
            self._out(eng.feed(AgentStatus(agent, t, m.state, m.info)))
            self._dirty_agents.add(agent)
            return
        if isinstance(m, ShelfMessage):
            dirty = self._dirty_sensors
            for r in m.r:
                tr = eng.feed(r)
                dirty.add(r.s)
                if tr:
                    pending.extend(tr)
        elif isinstance(m, ScanMessage):
            site = self._site_of(agent)
            for r in m.r:
                key = self.registry.bin_key(r.b, site) if r.b is not None else None
                if key is not None:
                    r = msgspec.structs.replace(r, b=key)
                    self._dirty_bins.add(key)
                    self._out(eng.feed(r))
                if r.k == "rfid":
                    self._rfid(r.c, r.a, r.z, key, site, r.t)
        elif message.stream.value == "env":
            # The climate stream: each reading has a temperature and/or a humidity.
            for r in m.r:
                for kind, value in (
                    ("temperature", getattr(r, "temp", None)),
                    ("humidity", getattr(r, "rh", None)),
                ):
                    if value is not None:
                        sid = self._env_sensor(r.s, kind, agent)
                        self._out(eng.feed(EnvReading(sid, r.t, kind, value)))  # type: ignore[arg-type]
                        self._dirty_env.add(sid)
        # Liveness is judged on the evaluator's clock (a store-and-forward replay is old data
        # from a live agent, and an agent's clock may be off): the message arrived now.
        self._out(eng.feed(AgentStatus(agent, received_at, "heartbeat")))
        self._dirty_agents.add(agent)

    def _env_sensor(self, sensor: str, kind: str, agent: str) -> str:
        """The engine's id for one quantity of a climate sensor: the sensor's own id for the
        quantity it is registered for (``meta.kind``), ``<id>:temp`` / ``<id>:rh`` for the
        other one of a combined sensor; registered with its agent's site when new."""
        cfg = self.registry.env.get(sensor)
        sid = sensor
        if cfg is not None and cfg.kind != kind:
            sid = f"{sensor}:{'temp' if kind == 'temperature' else 'rh'}"
        if sid not in self._reg_env and (cfg is None or sid != sensor):
            new = EnvSensorConfig(sid, kind, self._site_of(agent), agent)  # type: ignore[arg-type]
            self.engine.register_env_sensor(new)
            self._reg_env[sid] = new
        return sid

    def _site_of(self, agent: str) -> str | None:
        cfg = self.registry.agents.get(agent)
        return cfg.site if cfg is not None else None

    def _rfid(
        self,
        tag: str,
        action: str,
        zone: str | None,
        bin_key: str | None,
        site: str | None,
        t: float,
    ) -> None:
        """A tag read: counted in its gate's zone, or in the bin a handheld read it at."""
        where = f"{site}/{zone}" if zone is not None and site else zone or bin_key
        if where is None:
            return
        before = self.rfid.zone_of(tag)
        moved = self.rfid.leave(tag, t) if action == "ship" else self.rfid.read(tag, where, t)
        if not moved:
            return
        self._dirty_eval.add("eval:rfid")
        for z in (before, where):
            if z is not None and z in self.registry.bins:
                self.rfid_bins.add(z)
                self._dirty_bins.add(z)

    def tick(self, now: float) -> None:
        if self.tracking is not None:
            events = self.tracking.drain_events()
            if events:
                by_truck: dict[str | None, list[Any]] = {}
                for e in events:
                    by_truck.setdefault(self.registry.trucks.get(e.truck_id), []).append(e)  # type: ignore[attr-defined]
                for site, evs in by_truck.items():
                    self._out(self.engine.report(conditions_from_tracking(evs, site)))
        if now >= self._next_engine_tick:
            self._out(self.engine.tick(now))
            self._next_engine_tick = now + ENGINE_TICK_S

    # ---- flush --------------------------------------------------------------------------

    def flush(self, conn: psycopg.Connection) -> None:
        wall = time.time()
        if wall >= self._next_registry:
            self._refresh_registry(conn, wall)
        if wall >= self._next_config:
            self._refresh_thresholds(conn)
        self._follow_ledger(conn, wall)
        if wall >= self._next_expiry:
            for e in self.expiry.poll(conn, wall):
                self._out(self.engine.feed(e))
            self._dirty_eval.add("eval:expiry")
            self._next_expiry = wall + self.expiry_every_s
        self._apply_commands(conn)
        trs, self._pending = self._pending, []
        ids = store.record(conn, trs, self.engine.alarm, self._meta)
        store.queue_deliveries(conn, ids)
        self.transitions_written += len(ids)
        store.save_parts(conn, self._changed_parts())
        store.save_sensed(conn, self._sensed_rows(wall))

    def _feed_levels(self, levels: list[Level]) -> None:
        reg = self.registry
        for lv in levels:
            key = reg.bin_ids.get(lv.bin_id)
            if key is None or reg.bins[key].product_id != lv.product_id:
                continue
            self._out(self.engine.feed(BookLevel(key, lv.lot, lv.qty, lv.t)))
            self._dirty_bins.add(key)

    def _follow_ledger(self, conn: psycopg.Connection, wall: float) -> None:
        before = (self.follower.watermark, len(self.follower.gaps))
        self._feed_levels(self.follower.poll(conn, wall, set(self.registry.bin_ids)))
        if (self.follower.watermark, len(self.follower.gaps)) != before:
            self._dirty_eval.add("eval:ledger")

    def _refresh_registry(self, conn: psycopg.Connection, wall: float) -> None:
        reg = load_registry(conn)
        eng = self.engine
        new_bins: list[int] = []
        for key, info in reg.bins.items():
            old = eng.shelf.config_of(key)
            if old != info.config:
                eng.register_bin(info.config)
                self._dirty_bins.add(key)
                if old is None or old.product != info.config.product:
                    new_bins.append(info.bin_id)
        for sensor, cfg in reg.env.items():
            if self._reg_env.get(sensor) != cfg:
                eng.register_env_sensor(cfg)
                self._reg_env[sensor] = cfg
                self._dirty_env.add(sensor)
        for agent, acfg in reg.agents.items():
            if self._reg_agents.get(agent) != acfg:
                eng.register_agent(acfg)
                self._reg_agents[agent] = acfg
                self._dirty_agents.add(agent)
        self.registry = reg
        if new_bins:
            # Their book as it stands; later movements come through the follower.
            if self.follower.watermark < 0:
                self.follower.start(conn)
                self._dirty_eval.add("eval:ledger")
            levels = LedgerFollower.levels_of(conn, new_bins, wall)
            have = {
                lv.bin_id
                for lv in levels
                if reg.bins[reg.bin_ids[lv.bin_id]].product_id == lv.product_id
            }
            self._feed_levels(levels)
            for bin_id in new_bins:
                if bin_id not in have:  # nothing on the book: known to be empty
                    key = reg.bin_ids[bin_id]
                    self._out(eng.feed(BookLevel(key, None, 0, wall)))
        self._next_registry = wall + self.registry_every_s

    def _refresh_thresholds(self, conn: psycopg.Connection) -> None:
        self._next_config = time.time() + CONFIG_EVERY_S
        row = conn.execute("SELECT count(*), max(updated_at) FROM alarm_rule_config").fetchone()
        sig = tuple(row) if row else None
        if sig == self._config_sig:
            return
        self._config_sig = sig
        cfg = ThresholdConfig()
        rows = conn.execute(
            "SELECT scope, key, values FROM alarm_rule_config ORDER BY scope <> 'default', id"
        ).fetchall()
        for scope, key, values in rows:
            try:
                if scope == "default":
                    cfg = _with_default(cfg, values)
                else:
                    cfg.set(scope, key, **values)
            except (DomainError, TypeError) as exc:
                log.warning("threshold override %s %r ignored: %s", scope, key, exc)
        if cfg.to_dict() == self.engine.config.to_dict():
            return
        self.engine.config.replace_with(cfg)
        self.engine.thresholds_changed()
        # Re-resolved thresholds may change any item's derived state: save them all.
        self._dirty_bins.update(b.bin for b in self.engine.shelf.bins())
        self._dirty_agents.update(self._reg_agents)
        self._dirty_env.update(self._reg_env)
        log.info("thresholds reloaded (%d overrides)", len(rows))

    def _apply_commands(self, conn: psycopg.Connection) -> None:
        rows = conn.execute(
            "SELECT id, alarm_id, action, force, note, by, extract(epoch FROM requested_at)::float8 "
            "FROM alarm_command WHERE applied_at IS NULL ORDER BY id LIMIT %s",
            (COMMANDS_PER_FLUSH,),
        ).fetchall()
        if not rows:
            return
        outcomes = []
        for cid, alarm_id, action, force, note, by, at in rows:
            try:
                if action == "acknowledge":
                    tr = self.engine.acknowledge(alarm_id, by, at, note)
                else:
                    tr = self.engine.clear(alarm_id, by, at, note, force=force)
                self._pending.append(tr)
                outcomes.append(("applied", None, cid))
            except DomainError as exc:
                outcomes.append(("refused", exc.message, cid))
        with conn.cursor() as cur:
            cur.executemany(
                "UPDATE alarm_command SET applied_at = now(), outcome = %s, error = %s "
                "WHERE id = %s",
                outcomes,
            )

    # ---- what to write ------------------------------------------------------------------

    def _meta(self, subject: str, site: str | None) -> store.AlarmMeta:
        reg = self.registry
        kind, _, rest = subject.partition(":")
        org = pclass = device = None
        if kind == "bin":
            info = reg.bins.get(rest)
            if info is not None:
                pclass, device = info.config.product_class, info.config.sensor
                site = site or info.config.site
        elif kind == "sensor":
            device = rest
            key = reg.sensor_bins.get(rest)
            if key is not None:
                pclass = reg.bins[key].config.product_class
                site = site or reg.bins[key].config.site
            elif rest in self._reg_env:
                site = site or self._reg_env[rest].site
        elif kind == "agent":
            device = rest
            site = site or self._site_of(rest)
        elif kind == "lot":
            pclass = self.expiry.lot_class(rest)
            site = site or rest.rpartition("@")[2]
        elif kind == "document":
            org = self.expiry.document_org(rest)
        elif kind in ("truck", "delivery"):
            device = rest.split("/", 1)[0]
            site = site or reg.trucks.get(device)
        where = reg.sites.get(site) if site else None
        if where is not None:
            return store.AlarmMeta(where.warehouse_id, where.org_unit_id, pclass, device)
        return store.AlarmMeta(None, org, pclass, device)

    def _changed_parts(self) -> dict[str, Any]:
        eng = self.engine
        parts: dict[str, Any] = {"engine": eng.core_dict()}
        for key in eng.take_changed_slots():
            parts[f"slot:{key}"] = eng.slot_dict(key)
            subject = key.partition("|")[2]
            kind, _, rest = subject.partition(":")
            if kind == "bin":
                self._dirty_bins.add(rest)
            elif kind == "sensor":  # a load cell or a climate sensor: whichever it is
                self._dirty_sensors.add(rest)
                self._dirty_env.add(rest)
            elif kind == "agent":
                self._dirty_agents.add(rest)
        for sensor in self._dirty_sensors:
            key = eng.shelf.bin_of_sensor(sensor)
            if key is not None:
                self._dirty_bins.add(key)
        self._dirty_sensors.clear()
        for key in self._dirty_bins:
            item = eng.shelf.item_dict(key)
            if item is not None:
                parts[f"bin:{key}"] = item
        for agent in self._dirty_agents:
            item = eng.devices.item_dict(agent)
            if item is not None:
                parts[f"agent:{agent}"] = item
        self._dirty_agents.clear()
        for sensor in self._dirty_env:
            item = eng.environment.item_dict(sensor)
            if item is not None:
                parts[f"env:{sensor}"] = item
        self._dirty_env.clear()
        for what in self._dirty_eval:
            if what == "eval:ledger":
                parts[what] = self.follower.to_dict()
            elif what == "eval:expiry":
                parts[what] = self.expiry.to_dict()
            elif what == "eval:rfid":
                parts[what] = {"zones": self.rfid.to_dict(), "bins": sorted(self.rfid_bins)}
        self._dirty_eval.clear()
        return parts

    def _sensed_rows(self, wall: float) -> list[store.SensedRow]:
        """Bins whose count, confidence class, book or RFID count changed (or were last
        written ``SENSED_REFRESH_S`` ago): the latest-value table the API reads."""
        rows = []
        eng = self.engine
        reg = self.registry
        for key in self._dirty_bins:
            info = reg.bins.get(key)
            s = eng.shelf.sensed(key)
            if info is None or s is None:
                continue
            book = eng.shelf.book_of(key)
            scanned = None
            if key in self.rfid_bins:
                scanned = self.rfid.count(key, info.config.product)
            sig = (s.count, s.confident, s.settled, book, scanned)
            last = self._sensed_written.get(key)
            if last is not None and last[0] == sig and wall - last[1] < SENSED_REFRESH_S:
                continue
            self._sensed_written[key] = (sig, wall)
            confidence = s.confidence if math.isfinite(s.confidence) else 0.0
            rows.append(
                store.SensedRow(
                    info.bin_id,
                    info.product_id,
                    s.count,
                    confidence,
                    s.confident,
                    s.settled,
                    s.mean_g if math.isfinite(s.mean_g) else 0.0,
                    s.readings,
                    book,
                    scanned,
                    wall,
                )
            )
        self._dirty_bins.clear()
        return rows


def _with_default(cfg: ThresholdConfig, values: dict[str, Any]) -> ThresholdConfig:
    """``cfg`` with its defaults overridden by ``values`` (validated like any override)."""
    d = cfg.to_dict()
    d["default"] = {**d["default"], **values}
    return ThresholdConfig.from_dict(d)
