"""Tracking on the real broker and database: the truck unit publishes its GPS fixes, the
ingest worker stores them and the evaluation worker (a thread here) tracks the published
route. Through a worker restart mid-route, a proof of delivery at the last stop and the drive
back, the plan's stops get ETAs, arrivals and departures; the dispatcher's live fleet, the
day's playback and the customer's link read what was recorded."""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

import psycopg
import pytest
from conftest import Stack, wait_for
from fastapi.testclient import TestClient
from test_tracking_world import Day, build_day, client, gps_messages  # noqa: F401
from wh_testkit import publish_all

from wayhouse.platform.evaluate.worker import EvaluationWorker
from wayhouse.platform.ingest.batch import Accepted
from wayhouse.platform.ingest.worker import retire_session
from wayhouse.platform.tracking.evaluator import TrackingEvaluator
from wayhouse.platform.tracking.events import EventKind, TrackingEvent
from wayhouse.platform.tracking.plans import travel_model
from wayhouse.platform.tracking.state import TrackerState
from wayhouse.platform.tracking.synthetic import SyntheticDrive, drive
from wayhouse.platform.tracking.tracker import Fix

pytestmark = pytest.mark.integration
PACE = 1.15  # the truck is slower than the planner's model: ETAs must learn it


class Collector:
    """Takes tracking's events after each batch, as the alarm evaluator does."""

    name = "collector"

    def __init__(self, tracking: TrackingEvaluator) -> None:
        self.tracking = tracking
        self.events: list[TrackingEvent] = []

    def load(self, conn: psycopg.Connection) -> None:
        pass

    def feed(self, message: Accepted, received_at: float) -> None:
        pass

    def tick(self, now: float) -> None:
        pass

    def flush(self, conn: psycopg.Connection) -> None:
        self.events += self.tracking.drain_events()

    def of(self, agent: str) -> list[TrackingEvent]:
        """Other tests' trucks may be tracked by the same worker: this truck's events."""
        return [e for e in self.events if e.truck_id == agent]


@dataclass
class Worker:
    worker: EvaluationWorker
    thread: threading.Thread
    tracking: TrackingEvaluator
    collector: Collector

    def stop(self) -> None:
        self.worker.stop_event.set()
        self.thread.join(timeout=30)


def _start(stack: Stack, worker_id: str) -> Worker:
    tracking = TrackingEvaluator(stack.settings)
    collector = Collector(tracking)
    worker = EvaluationWorker(stack.settings, [tracking, collector], worker_id)
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    wait_for(worker._connected.is_set, timeout=30, what="the evaluation worker to connect")
    return Worker(worker, thread, tracking, collector)


@dataclass
class Run:
    """What happened on the road, with snapshots taken along the way."""

    day: Day
    sim: SyntheticDrive
    after_first_part: dict[int, dict] = field(default_factory=dict)  # type: ignore[type-arg]
    at_last_stop: dict[int, dict] = field(default_factory=dict)  # type: ignore[type-arg]
    after_all: dict[int, dict] = field(default_factory=dict)  # type: ignore[type-arg]
    state_before_restart: TrackerState | None = None
    state_after_restart: TrackerState | None = None
    revised_ids: list[str] = field(default_factory=list)  # stop ids after the dispatcher's move
    state_after_replan: TrackerState | None = None
    route_after_replan: list[str] = field(default_factory=list)
    saved_before_restart: dict | None = None  # type: ignore[type-arg]
    events: list[TrackingEvent] = field(default_factory=list)
    link_while_there: dict | None = None  # type: ignore[type-arg]
    link_after_proof: dict | None = None  # type: ignore[type-arg]
    proof: dict | None = None  # type: ignore[type-arg]
    fleet: dict | None = None  # type: ignore[type-arg]


def _stops(stack: Stack, day: Day) -> dict[int, dict]:  # type: ignore[type-arg]
    with psycopg.connect(stack.settings.database_url()) as conn:
        rows = conn.execute(
            "SELECT order_id, status, eta, planned_arrival, actual_arrival, actual_departure "
            "FROM plan_stop WHERE plan_id = %s",
            (day.plan,),
        ).fetchall()
    keys = ("status", "eta", "planned_arrival", "actual_arrival", "actual_departure")
    return {r[0]: dict(zip(keys, r[1:], strict=True)) for r in rows}


def _saved_state(stack: Stack, day: Day) -> dict | None:  # type: ignore[type-arg]
    with psycopg.connect(stack.settings.database_url()) as conn:
        row = conn.execute(
            "SELECT state FROM tracker_state WHERE plan_id = %s AND vehicle_id = %s",
            (day.plan, day.vehicle),
        ).fetchone()
    return row[0] if row else None


def _publish(stack: Stack, day: Day, messages: list, w: Worker, until: int) -> None:  # type: ignore[type-arg]
    cred = stack.settings.mqtt(user=day.agent, password=stack.settings.sim_password(day.agent))
    assert publish_all(cred, f"{day.agent}-{uuid.uuid4().hex[:4]}", messages).ok == len(messages)
    wait_for(lambda: w.worker.evaluated >= until, timeout=90, what="the fixes to be evaluated")


def _latest_fix_t(stack: Stack, day: Day) -> float:
    with psycopg.connect(stack.settings.database_url()) as conn:
        row = conn.execute(
            "SELECT g.ts FROM gps_latest g JOIN sensor s USING (sensor_key) WHERE s.sensor_id = %s",
            (day.sensor,),
        ).fetchone()
    return row[0].timestamp() if row else 0.0


@pytest.fixture(scope="module")
def run(stack: Stack, client: TestClient) -> Iterator[Run]:  # noqa: F811
    day = build_day(stack, client)
    model = travel_model()
    # Drive once to learn how long it takes, then again so that it ends just before now.
    probe = drive(day.route(0.0), model, pace=PACE, dt=10.0, linger_s=300.0)
    t0 = time.time() - probe.fixes[-1].t - 120.0
    sim = drive(day.route(t0), model, pace=PACE, dt=10.0, linger_s=300.0, noise_m=3.0, seed=1)
    fixes = [dataclasses.replace(f, t=round(f.t, 3)) for f in sim.fixes]
    cut = (sim.departures[2] + sim.arrivals[3]) / 2  # on the way to the last stop
    there = sim.arrivals[3] + 300.0  # standing at the last stop
    parts: list[list[Fix]] = [
        [f for f in fixes if f.t < cut],
        [f for f in fixes if cut <= f.t < there],
        [f for f in fixes if f.t >= there],
    ]
    messages = []
    for part in parts:
        messages.append(gps_messages(day, part, sum(len(m) for m in messages)))
    result = Run(day, sim)
    ingest = stack.start_ingest(worker_id=f"{day.p}-i")
    w = _start(stack, f"{day.p}-e")
    try:
        _publish(stack, day, messages[0], w, len(messages[0]))
        result.after_first_part = _stops(stack, day)
        result.saved_before_restart = _saved_state(stack, day)
        w.stop()
        result.state_before_restart = w.tracking.state_of(day.agent)
        result.events += w.collector.of(day.agent)
        w = _start(stack, f"{day.p}-e")  # a new process would load the same
        result.state_after_restart = w.tracking.state_of(day.agent)
        # The dispatcher puts the last stop first: a new revision of the published plan.
        last = day.sequence[-1]
        r = client.post(
            f"/dispatch/plans/{day.plan}/moves",
            json={"order_id": last, "vehicle_id": day.vehicle, "position": 0},
            headers=day.h("disp"),
        )
        assert r.status_code == 200, r.text
        result.revised_ids = [
            f"o{s['order_id']}" for s in sorted(r.json()["stops"], key=lambda s: s["seq"])
        ]
        wait_for(
            lambda: (
                (live := w.tracking.route_of(day.agent)) is not None
                and live.row.revision == r.json()["revision"]
            ),
            timeout=30,
            what="the tracker to take the re-planned route",
        )
        result.state_after_replan = w.tracking.state_of(day.agent)
        result.route_after_replan = list(w.tracking.route_of(day.agent).waypoint_ids)  # type: ignore[union-attr]
        _publish(stack, day, messages[1], w, len(messages[1]))
        result.at_last_stop = _stops(stack, day)
        wait_for(
            lambda: _latest_fix_t(stack, day) >= parts[1][-1].t - 0.01,
            timeout=60,
            what="ingest to store the last fix",
        )
        link = client.post("/tracking/links", json={"order_id": last}, headers=day.h("disp"))
        assert link.status_code == 201, link.text
        token = link.json()["token"]
        result.link_while_there = client.get(f"/public/tracking/{token}").json()
        proof = client.post(
            f"/dispatch/plans/{day.plan}/stops/{last}/proof",
            json={"kind": "signature", "reference": "SIG-LAST-1", "received_by": "front desk"},
            headers=day.h("driver"),
        )
        assert proof.status_code == 200, proof.text
        result.proof = proof.json()
        result.link_after_proof = client.get(f"/public/tracking/{token}").json()
        _publish(stack, day, messages[2], w, len(messages[1]) + len(messages[2]))
        wait_for(
            lambda: _latest_fix_t(stack, day) >= parts[2][-1].t - 0.01,
            timeout=60,
            what="ingest to store the drive back",
        )
        result.after_all = _stops(stack, day)
        result.fleet = client.get(
            "/tracking/trucks", params={"q": day.p}, headers=day.h("disp")
        ).json()
    finally:
        w.stop()
        result.events += w.collector.of(day.agent)
        retire_session(stack.settings, w.worker.session_key)
        ingest.stop()
    yield result


def _near(when: dt.datetime | None, t: float, within_s: float) -> bool:
    return when is not None and abs(when.timestamp() - t) <= within_s


def test_etas_follow_the_truck_and_learn_its_pace(run: Run) -> None:
    last = run.day.sequence[-1]
    stop = run.after_first_part[last]
    assert stop["status"] == "planned" and stop["eta"] != stop["planned_arrival"]
    # Half-way to the last stop, 15 % slower than planned: the ETA is within 3 minutes.
    assert _near(stop["eta"], run.sim.arrivals[3], 180.0), (stop["eta"], run.sim.arrivals[3])


def test_arrivals_and_departures_come_from_the_geofences(run: Run) -> None:
    first, second, last = run.day.sequence
    for order, k in ((first, 1), (second, 2)):
        stop = run.after_first_part[order]
        assert stop["status"] == "departed"
        assert _near(stop["actual_arrival"], run.sim.arrivals[k], 30.0)
        assert _near(stop["actual_departure"], run.sim.departures[k], 40.0)
    at_last = run.at_last_stop[last]
    assert at_last["status"] == "arrived" and at_last["actual_departure"] is None
    assert _near(at_last["actual_arrival"], run.sim.arrivals[3], 30.0)
    # Confirmed by the driver before the truck left: it stays delivered, the departure counts.
    done = run.after_all[last]
    assert done["status"] == "delivered"
    assert done["actual_arrival"] == at_last["actual_arrival"]
    assert _near(done["actual_departure"], run.sim.departures[3], 40.0)


def test_the_tracker_state_survives_a_worker_restart(run: Run) -> None:
    before, after = run.state_before_restart, run.state_after_restart
    assert before is not None and before.last_t is not None
    assert after == before  # loaded from the last commit, exactly
    assert run.saved_before_restart is not None
    assert TrackerState.from_dict(run.saved_before_restart) == before
    assert before.pace.model_s > 0  # two legs of pace evidence carried over
    # One departure from the depot, then each stop once: nothing re-detected after the restart.
    seen = [(e.kind, e.stop_id) for e in run.events if e.kind in ("arrived", "departed")]
    wh = f"wh:{run.day.p}-WH"
    stops = [f"o{o}" for o in run.day.sequence]
    expected = [(EventKind.DEPARTED, wh)]
    for s in stops:
        expected += [(EventKind.ARRIVED, s), (EventKind.DEPARTED, s)]
    assert seen == [*expected, (EventKind.ARRIVED, wh)]
    assert run.events[-1].kind is EventKind.ROUTE_FINISHED


def test_proof_of_delivery_at_the_stop_delivers_the_order(run: Run, client: TestClient) -> None:  # noqa: F811
    assert run.proof is not None
    assert run.proof["stop_status"] == "delivered" and run.proof["order_status"] == "delivered"
    assert len(run.proof["shipments_delivered"]) == 1
    last = run.day.sequence[-1]
    order = client.get(f"/orders/{last}", headers=run.day.h("hq")).json()
    assert order["status"] == "delivered"
    assert any("SIG-LAST-1" in (e.get("reason") or "") for e in order["timeline"])


def test_the_customer_sees_the_truck_until_the_delivery_then_only_that_it_is_done(
    run: Run,
) -> None:
    there = run.link_while_there
    assert there is not None and there["status"] == "arrived"
    assert set(there) == {"status", "eta", "truck", "expires_at"}
    shop = run.day.shop(run.day.sequence[-1])
    assert (
        abs(there["truck"]["lat"] - shop[0]) < 0.001
        and abs(there["truck"]["lon"] - shop[1]) < 0.001
    )
    done = run.link_after_proof
    assert done is not None and done["status"] == "delivered" and done["truck"] is None


def test_the_live_fleet_shows_the_truck_and_its_progress(run: Run) -> None:
    assert run.fleet is not None
    (truck,) = run.fleet["items"]
    assert truck["vehicle_id"] == run.day.vehicle and truck["plan_id"] == run.day.plan
    assert (truck["stops"], truck["stops_done"], truck["route_index"]) == (3, 3, 0)
    last = run.sim.fixes[-1]
    assert abs(truck["lat"] - last.lat) < 1e-5 and abs(truck["lon"] - last.lon) < 1e-5


def test_playback_returns_the_days_track(run: Run, client: TestClient) -> None:  # noqa: F811
    tz = run.day.tz
    first = run.sim.fixes[0]
    day = dt.datetime.fromtimestamp(first.t, tz).date()
    of_day = [f for f in run.sim.fixes if dt.datetime.fromtimestamp(f.t, tz).date() == day]
    h = run.day.h("disp")
    params = {"vehicle_id": run.day.vehicle, "day": str(day), "every_s": 1}
    r = client.get("/tracking/playback", params=params, headers=h)
    assert r.status_code == 200, r.text
    body = r.json()
    assert len(body["fixes"]) == len(of_day)
    got = body["fixes"][0]
    assert abs(got["lat"] - of_day[0].lat) < 1e-6 and abs(got["lon"] - of_day[0].lon) < 1e-6
    assert dt.datetime.fromisoformat(got["at"]).timestamp() == pytest.approx(of_day[0].t, abs=1e-3)
    times = [dt.datetime.fromisoformat(f["at"]) for f in body["fixes"]]
    assert times == sorted(times)
    coarse = client.get("/tracking/playback", params={**params, "every_s": 60}, headers=h).json()
    assert 0 < len(coarse["fixes"]) <= len(of_day) // 5
    if day == run.day.day:
        assert [f"o{s['order_id']}" for s in body["stops"]] == run.revised_ids
    other = (day - dt.timedelta(days=3)).isoformat()
    empty = client.get("/tracking/playback", params={**params, "day": other}, headers=h).json()
    assert empty["fixes"] == []
    missing = client.get(
        "/tracking/playback", params={**params, "vehicle_id": 2_000_000_000}, headers=h
    )
    assert missing.status_code == 404
    assert (
        client.get("/tracking/playback", params=params, headers=run.day.h("du0")).status_code == 403
    )


def test_a_replanned_route_keeps_the_progress_made(run: Run) -> None:
    """The last stop moved first while the truck drove: the stops already made keep their
    times under their new numbers, and the moved stop is still the one due."""
    first, second, last = (f"o{o}" for o in run.day.sequence)
    assert run.revised_ids == [last, first, second]
    wh = f"wh:{run.day.p}-WH"
    assert run.route_after_replan == [wh, last, first, second, wh]
    before, after = run.state_after_restart, run.state_after_replan
    assert before is not None and after is not None
    assert after.arrived[2:4] == before.arrived[1:3] and after.departed[2:4] == before.departed[1:3]
    assert after.arrived[1] is None and after.leg_from == 3
    assert after.pace == before.pace and after.last_t == before.last_t
