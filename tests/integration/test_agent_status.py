"""Online/offline status end to end: heartbeats mark an agent online, its last will (the
broker publishes it when the agent vanishes) marks it offline in the platform."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import uuid

import pytest
from conftest import Stack, wait_for

from wayhouse.platform.devices.model import AgentSpec, SensorSpec

pytestmark = pytest.mark.integration

AGENT = textwrap.dedent(
    """
    import sys, time
    from wayhouse.config import MqttTarget
    from wayhouse.edge.client import EdgeClient
    from wayhouse.edge.outbox import MemoryOutbox
    host, port, user, pw = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    c = EdgeClient(user, MqttTarget(host, port, user, pw), MemoryOutbox(), keepalive=1, heartbeat_s=0.5)
    c.start()
    print("started", flush=True)
    time.sleep(600)
    """
)


def _state(stack: Stack, agent_id: str) -> str | None:
    return stack.scalar(  # type: ignore[return-value]
        "SELECT st.state FROM agent_status_latest st JOIN agent a USING (agent_key) WHERE a.agent_id = %s",
        (agent_id,),
    )


def test_heartbeat_online_and_last_will_offline(stack: Stack) -> None:
    agent_id = f"st-{uuid.uuid4().hex[:6]}"
    stack.provision([AgentSpec(agent_id, "scanner", (SensorSpec(f"{agent_id}-bc", "barcode"),))])
    worker = stack.start_ingest("status-tests")
    target = stack.settings.mqtt(agent_id, stack.settings.sim_password(agent_id))
    proc = subprocess.Popen(
        [sys.executable, "-c", AGENT, target.host, str(target.port), agent_id, target.password],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        cwd="/",
    )
    try:
        wait_for(
            lambda: _state(stack, agent_id) in ("online", "heartbeat"), 30, "the agent to be online"
        )
        proc.kill()  # no clean disconnect: only the broker's last will can tell
        proc.wait()
        wait_for(
            lambda: _state(stack, agent_id) == "offline", 30, "the last will to mark it offline"
        )
    finally:
        if proc.poll() is None:
            proc.kill()
        worker.stop()
