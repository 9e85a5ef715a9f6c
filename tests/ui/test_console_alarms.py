"""The alarm and stocktake console pages in NiceGUI's user simulation against the real API, with
an evaluation worker running the alarm engine on the real broker: a demo bin of WH1 loses two
units without a pick scan; the operator finds the alarm in the live list, sees the evidence
chart, acknowledges and clears it (through the engine); the bin map colours the bin; a
stocktake is started and proposed from the page. A region manager of another region sees
none of it (404)."""

from __future__ import annotations

import asyncio
import random
import threading
import time
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from nicegui import ui
from nicegui.testing.user import User
from ui_kit import (  # noqa: F401 - fixtures
    RETRIES,
    Api,
    anyio_backend_fixture,
    api_fixture,
    login,
    rows,
    switch_user,
    user_fixture,
)
from wh_testkit import publish_all

from wayhouse.edge import schema as S
from wayhouse.platform.alarms.engine import Lifecycle
from wayhouse.platform.alarms.evaluator import AlarmEvaluator
from wayhouse.platform.evaluate.worker import EvaluationWorker
from wayhouse.platform.ingest.worker import retire_session
from wayhouse.simulators.scenario import default_scenario
from wayhouse.ui.pages.alarms import bin_color, evidence_chart, readings_of

if TYPE_CHECKING:
    from conftest import Stack

pytestmark = [pytest.mark.integration, pytest.mark.anyio]


@pytest.fixture
def evaluator(stack: Stack, api: Api) -> Iterator[EvaluationWorker]:
    ev = AlarmEvaluator(stack.settings, lifecycle=Lifecycle(clear_hold_s=1.0), registry_every_s=1.0)
    worker = EvaluationWorker(stack.settings, [ev], f"t-ui-{uuid.uuid4().hex[:6]}")
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not worker._connected.is_set() and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        yield worker
    finally:
        worker.stop_event.set()
        thread.join(timeout=30)
        retire_session(stack.settings, worker.session_key)


def _lose_two_units(stack: Stack, api: Api) -> tuple[str, str]:
    """Publishes a WH1 demo bin's cell: its stock, then two units fewer (no scan). Returns
    (bin code, alarm id) once the alarm is raised."""
    scenario = default_scenario(0)
    b = scenario.bins[0]
    (agent,) = [a for a in scenario.agents() if a.agent_id == b.agent_id]
    stack.provision([agent])
    rng = random.Random(5)
    t0 = time.time()
    msgs = []
    seq0 = int(t0 * 1000)  # fresh sequence numbers for this run
    for i, n in enumerate([b.initial_count] * 10 + [b.initial_count - 2] * 25):
        w = round(b.tare_g + n * b.unit_weight_g + rng.gauss(0, b.noise_sigma_g * 0.5), 1)
        msg = S.ShelfMessage(v=1, seq=seq0 + i, r=[S.ShelfReading(s=b.sensor_id, t=t0 + i, w=w)])
        msgs.append((S.topic(agent.agent_id, "shelf"), S.encode(msg)))
    cred = stack.settings.mqtt(
        user=agent.agent_id, password=stack.settings.sim_password(agent.agent_id)
    )
    # The evaluator registers the bin within a second of its agent's provisioning.
    time.sleep(2.0)
    assert publish_all(cred, f"{agent.agent_id}-ui", msgs).ok == len(msgs)
    headers = api.headers("operator")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found = httpx.get(
            f"{api.url}/alarms",
            params={"type": "weight_loss_unexplained", "q": b.code, "open_only": True},
            headers=headers,
        ).json()["items"]
        if found:
            return b.code, found[0]["id"]
        time.sleep(0.3)
    pytest.fail("no weight loss alarm for the demo bin")


async def _loaded(user: User) -> list[dict[str, Any]]:
    """The alarm table's rows once the page's API call has answered (it stamps the time)."""
    await user.should_see(marker="updated", retries=RETRIES)
    for _ in range(RETRIES):
        (stamp,) = user.find(marker="updated").elements
        if isinstance(stamp, ui.label) and stamp.text:
            return rows(user, "alarms")
        await asyncio.sleep(0.1)
    pytest.fail("the alarm list never loaded")


async def test_operator_acknowledges_and_clears_an_alarm_with_its_evidence_chart(
    user: User, api: Api, stack: Stack, evaluator: EvaluationWorker
) -> None:
    code, alarm_id = _lose_two_units(stack, api)
    await login(user, api, "operator")
    await user.should_see(marker="whoami", retries=RETRIES)
    await user.open("/alarms")
    listed = await _loaded(user)
    assert any(r["id"] == alarm_id and code in str(r["subject"]) for r in listed)
    await user.open(f"/alarms/{alarm_id}")
    await user.should_see(marker="evidence-chart", retries=RETRIES)
    (chart,) = user.find(marker="evidence-chart").elements
    assert isinstance(chart, ui.echart) and len(chart.options["series"][0]["data"]) >= 5
    user.find(marker="acknowledge").click()
    await user.should_see(marker="alarm-state", content="acknowledged", retries=RETRIES)
    user.find(marker="alarm-note").type("recounted: two on the floor")
    user.find(marker="clear").click()
    await user.should_see(marker="alarm-state", content="cleared", retries=RETRIES)
    a = httpx.get(f"{api.url}/alarms/{alarm_id}", headers=api.headers("operator")).json()
    assert [s["action"] for s in a["transitions"]][-2:] == ["acknowledge", "clear"]
    assert a["cleared_by"] == "operator" and a["clear_reason"] == "recounted: two on the floor"

    await user.open("/alarms/bin-map")
    await user.should_see(marker=f"bin-{code}", retries=RETRIES)
    await user.should_see(marker="accuracy", retries=RETRIES)

    await user.open("/alarms/stocktakes")
    await user.should_see(marker="new-stocktake", retries=RETRIES)
    user.find(marker="new-stocktake").click()
    await user.should_see(marker="stocktake-lines", retries=RETRIES)
    user.find(marker="stocktake-reason").type("monthly count")
    user.find(marker="propose").click()
    await user.should_see(marker="stocktake-status", content="approval", retries=RETRIES)
    await user.should_see(marker="approve", retries=RETRIES)

    # The central warehouse belongs to HQ: a region's manager cannot open its alarm.
    await switch_user(user, api, "east.manager")
    await user.should_see(marker="whoami", content="east.manager", retries=RETRIES)
    await user.open(f"/alarms/{alarm_id}")
    await user.should_see(marker="page-error", retries=RETRIES)
    await user.open("/alarms")
    assert all(r["id"] != alarm_id for r in await _loaded(user))


def test_chart_and_colours_from_api_shapes() -> None:
    alarm = {
        "evidence": {"evidence": {"readings": [[1.0e9, 1500.0], [1.0e9 + 1, 1490.0]]}},
        "transitions": [],
    }
    assert readings_of(alarm) == [[1.0e9, 1500.0], [1.0e9 + 1, 1490.0]]
    climate = {
        "evidence": {"value": 35.0},
        "transitions": [{"at": "2026-01-01T00:00:00+00:00", "evidence": {"value": 35.0}}],
    }
    assert readings_of(climate) == [[1767225600.0, 35.0]]
    assert evidence_chart([[1.0, 2.0]])["series"][0]["data"] == [[1000.0, 2.0]]
    assert [bin_color({"difference": d}) for d in (None, 0, -1, 2)] == [
        "grey-5",
        "positive",
        "negative",
        "orange",
    ]
