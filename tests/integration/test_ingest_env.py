"""The ``env`` stream end to end: temperature/humidity readings through the real broker into
``env_reading`` (a partitioned time series like the other telemetry) and ``env_latest``."""

from __future__ import annotations

import time
import uuid

import pytest
from conftest import Stack, wait_for
from wh_testkit import publish_all

from wayhouse.edge import schema as S
from wayhouse.platform.db import timeseries as ts
from wayhouse.platform.devices.model import AgentSpec, SensorSpec

pytestmark = pytest.mark.integration


def _env(agent: str, seq: int, readings: list[S.EnvReading]) -> tuple[str, bytes]:
    return S.topic(agent, S.Stream.ENV), S.encode(S.EnvMessage(v=1, seq=seq, r=readings))


def test_env_readings_are_stored_once_with_the_latest_value_per_sensor(stack: Stack) -> None:
    p = f"env{uuid.uuid4().hex[:6]}"
    agent = f"{p}-gw"
    temp, rh, both = f"{p}.t", f"{p}.rh", f"{p}.th"
    stack.provision(
        [
            AgentSpec(
                agent,
                "gateway",
                tuple(SensorSpec(s, "env") for s in (temp, rh, both)),
            )
        ]
    )
    worker = stack.start_ingest("env-tests")
    now = time.time()
    msgs = [
        _env(
            agent, 1, [S.EnvReading(s=temp, t=now, temp=21.5), S.EnvReading(s=rh, t=now, rh=44.0)]
        ),
        _env(agent, 2, [S.EnvReading(s=both, t=now + 1, temp=19.0, rh=50.0)]),
        # Only the temperature changes: the sensor's last humidity stays in the latest value.
        _env(agent, 3, [S.EnvReading(s=both, t=now + 2, temp=18.5)]),
        # Older than what is stored: kept in the series, never overwriting the latest value.
        _env(agent, 4, [S.EnvReading(s=temp, t=now - 10, temp=5.0)]),
        _env(agent, 1, [S.EnvReading(s=temp, t=now, temp=21.5)]),  # a QoS 1 redelivery
        # Broken: no quantity, and an impossible humidity: dead letters, nothing stored.
        (S.topic(agent, "env"), b'{"v":1,"seq":5,"r":[{"s":"%s","t":%f}]}' % (temp.encode(), now)),
        (
            S.topic(agent, "env"),
            b'{"v":1,"seq":6,"r":[{"s":"%s","t":%f,"rh":140}]}' % (rh.encode(), now),
        ),
    ]
    target = stack.settings.mqtt(agent, stack.settings.sim_password(agent))
    try:
        report = publish_all(target, agent, msgs)
        assert report.ok == len(msgs) and not report.refused  # the ACL lets it publish env
        wait_for(
            lambda: (
                stack.scalar(
                    "SELECT count(*) FROM dead_letter WHERE topic = %s", (S.topic(agent, "env"),)
                )
                == 2
            ),
            30,
            "the two broken env messages to be dead-lettered",
        )
        wait_for(
            lambda: (
                stack.scalar(
                    "SELECT count(*) FROM env_reading r JOIN agent a USING (agent_key) "
                    "WHERE a.agent_id = %s",
                    (agent,),
                )
                == 5
            ),
            30,
            "five env readings",
        )
    finally:
        worker.stop()
    with stack.db() as conn:
        rows = conn.execute(
            "SELECT s.sensor_id, r.seq, r.temp_c, r.rh FROM env_reading r "
            "JOIN sensor s USING (sensor_key) WHERE s.sensor_id LIKE %s ORDER BY r.seq, s.sensor_id",
            (p + "%",),
        ).fetchall()
        assert rows == [
            (rh, 1, None, 44.0),
            (temp, 1, 21.5, None),
            (both, 2, 19.0, 50.0),
            (both, 3, 18.5, None),
            (temp, 4, 5.0, None),
        ]
        latest = dict(
            (sid, (t, h))
            for sid, t, h in conn.execute(
                "SELECT s.sensor_id, l.temp_c, l.rh FROM env_latest l JOIN sensor s USING "
                "(sensor_key) WHERE s.sensor_id LIKE %s",
                (p + "%",),
            )
        )
        assert latest == {temp: (21.5, None), rh: (None, 44.0), both: (18.5, 50.0)}
        reasons = [
            r[0]
            for r in conn.execute(
                "SELECT reason FROM dead_letter WHERE topic = %s ORDER BY id",
                (S.topic(agent, "env"),),
            )
        ]
        assert any("needs temp or rh" in r for r in reasons)
        assert any("rh" in r and "100" in r for r in reasons)
        # A time series like the others: partitioned by day, today's partition exists.
        assert ts.detect(conn).mode == "partitioned"
        part = conn.execute(
            "SELECT r.tableoid::regclass::text FROM env_reading r JOIN sensor s USING (sensor_key) "
            "WHERE s.sensor_id = %s AND r.seq = 2",
            (both,),
        ).fetchone()
        assert part is not None and part[0].startswith("env_reading_p")
