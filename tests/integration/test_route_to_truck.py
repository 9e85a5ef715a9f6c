"""A published route reaches the truck unit over the real broker (retained, so also after a
reconnect), the simulated truck then drives it, and no truck can read another's route."""

from __future__ import annotations

import json
import threading
import time
import uuid

import pytest
from conftest import Stack, wait_for

from wayhouse.edge.agents import TruckGpsAgent, route_topic
from wayhouse.edge.fleet import Fleet
from wayhouse.edge.outbox import MemoryOutbox
from wayhouse.platform.devices.model import AgentSpec, SensorSpec
from wayhouse.platform.dispatch.publisher import route_sender
from wayhouse.simulators.runner import follow_route
from wayhouse.simulators.scenario import get_scenario
from wayhouse.simulators.world import World

pytestmark = pytest.mark.integration


def _route(plan: int, revision: int, stops: list[tuple[int, float, float]]) -> bytes:
    return json.dumps(
        {
            "v": 1,
            "plan": plan,
            "revision": revision,
            "vehicle": "V1",
            "stops": [
                {
                    "order": o,
                    "seq": i,
                    "lat": lat,
                    "lon": lon,
                    "service_s": 300,
                    "status": "planned",
                }
                for i, (o, lat, lon) in enumerate(stops)
            ],
        }
    ).encode()


def test_the_truck_gets_its_route_and_only_its_own(stack: Stack) -> None:
    p = f"rt{uuid.uuid4().hex[:6]}"
    mine, other = f"{p}-truck1", f"{p}-truck2"
    stack.provision(
        [AgentSpec(a, "truck", (SensorSpec(f"{a}.gps", "gps"),)) for a in (mine, other)]
    )
    payload = _route(7, 1, [(101, 45.78, 4.97)])
    with route_sender(stack.settings) as send:
        send(mine, payload)  # before the truck is even connected: retained

    got: dict[str, list[bytes]] = {mine: [], other: []}
    lock = threading.Lock()

    def receiver(agent: str):  # type: ignore[no-untyped-def]
        def on_route(data: bytes) -> None:
            with lock:
                got[agent].append(data)

        return on_route

    agents = [
        TruckGpsAgent(
            a,
            stack.settings.mqtt(a, stack.settings.sim_password(a)),
            MemoryOutbox(),
            sensor_id=f"{a}.gps",
            on_route=receiver(a),
        )
        for a in (mine, other)
    ]
    # The other truck also asks for the first truck's topic: the ACL must refuse it.
    agents[1].client.subscriptions = (route_topic(other), route_topic(mine))
    fleet = Fleet([a.client for a in agents])
    fleet.start()
    try:
        wait_for(lambda: bool(got[mine]), timeout=20, what="the retained route")
        assert json.loads(got[mine][0])["plan"] == 7
        with route_sender(stack.settings) as send:
            send(mine, _route(7, 2, [(101, 45.78, 4.97), (102, 45.74, 4.90)]))
        wait_for(lambda: len(got[mine]) == 2, timeout=20, what="the revised route")
        time.sleep(0.5)
        assert got[other] == []
    finally:
        fleet.stop(flush_timeout=0)


def test_the_simulated_truck_drives_a_published_route_once_per_revision() -> None:
    scenario = get_scenario("default", 0)
    start = 1_800_000_000.0
    world = World(scenario, start)
    world.advance(start + 600)
    truck = world.trucks[0]
    applied: dict[str, tuple[int, int]] = {}
    lines: list[str] = []
    payload = _route(3, 1, [(201, 45.80, 5.05), (202, 45.70, 4.85)])
    assert follow_route(world, applied, truck.spec.agent_id, payload, lines.append)
    assert not follow_route(world, applied, truck.spec.agent_id, payload, lines.append)
    assert not follow_route(world, applied, truck.spec.agent_id, b"{not json", lines.append)
    world.advance(start + 4 * 3600)
    served = [v.stop.stop_id for v in truck.visits if v.arrive > start + 600]
    assert served[:2] == ["o201", "o202"]
