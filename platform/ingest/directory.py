"""Which sensors each agent may report for, cached from the registry.

A miss (unknown agent, or a sensor provisioned after the cache was loaded) triggers a reload
of that agent, at most once per ``refresh_s`` so a flood of bad readings cannot hammer the DB.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import psycopg

from wayhouse.platform.ingest.batch import LookupUnavailable


@dataclass
class AgentEntry:
    agent_key: int
    sensors: dict[str, int] = field(default_factory=dict)


Loader = Callable[[str | None], dict[str, AgentEntry]]


def sql_loader(conninfo: str) -> Loader:
    def load(agent_id: str | None) -> dict[str, AgentEntry]:
        query = (
            "SELECT a.agent_id, a.agent_key, s.sensor_id, s.sensor_key FROM agent a "
            "LEFT JOIN sensor s ON s.agent_key = a.agent_key AND s.active WHERE a.active"
        )
        params: tuple[str, ...] = ()
        if agent_id is not None:
            query += " AND a.agent_id = %s"
            params = (agent_id,)
        out: dict[str, AgentEntry] = {}
        try:
            with psycopg.connect(conninfo, autocommit=True, connect_timeout=5) as conn:
                for aid, akey, sid, skey in conn.execute(query, params):
                    entry = out.setdefault(aid, AgentEntry(akey))
                    if sid is not None:
                        entry.sensors[sid] = skey
        except psycopg.OperationalError as exc:
            raise LookupUnavailable(f"device registry unavailable: {exc}") from exc
        return out

    return load


class Directory:
    def __init__(
        self, loader: Loader, refresh_s: float = 2.0, clock: Callable[[], float] = time.monotonic
    ):
        self._loader = loader
        self._refresh_s = refresh_s
        self._clock = clock
        self._agents: dict[str, AgentEntry] = {}
        self._last_refresh: dict[str, float] = {}

    def load_all(self) -> None:
        self._agents = self._loader(None)

    def agent(self, agent_id: str) -> AgentEntry | None:
        entry = self._agents.get(agent_id)
        if entry is None:
            self._refresh(agent_id)
            entry = self._agents.get(agent_id)
        return entry

    def sensor_key(self, agent_id: str, sensor_id: str) -> int | None:
        entry = self.agent(agent_id)
        if entry is None:
            return None
        key = entry.sensors.get(sensor_id)
        if key is None and self._refresh(agent_id):
            entry = self._agents.get(agent_id)
            key = entry.sensors.get(sensor_id) if entry else None
        return key

    def _refresh(self, agent_id: str) -> bool:
        now = self._clock()
        if now - self._last_refresh.get(agent_id, -1e18) < self._refresh_s:
            return False
        fresh = self._loader(agent_id)  # may raise LookupUnavailable: then it counts as not tried
        self._last_refresh[agent_id] = now
        if agent_id in fresh:
            self._agents[agent_id] = fresh[agent_id]
        else:
            # Revoked or never registered: forget it so its readings are dead-lettered.
            self._agents.pop(agent_id, None)
        return True
