"""Provisioning: add, list and revoke edge agents; keep the broker's auth files in step.

The registry (PostgreSQL) is the source of truth. After every change the password file and
ACL are regenerated from it and Mosquitto is sent SIGHUP, which reloads them without
dropping connections or persistent sessions.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

import psycopg
from psycopg.types.json import Jsonb

from wayhouse.config import INGEST_USER, PLATFORM_USER, Settings
from wayhouse.platform.devices.credentials import (
    AgentCredential,
    hash_password,
    new_password,
    render_acl,
    render_password_file,
)
from wayhouse.platform.devices.model import AgentSpec
from wayhouse.platform.services import mosquitto


class RegistryError(ValueError):
    """A provisioning request the registry refuses; the message says why."""


@dataclass(frozen=True)
class AgentRow:
    agent_id: str
    kind: str
    site: str | None
    active: bool
    sensors: int
    created_at: datetime
    revoked_at: datetime | None


def _connect(settings: Settings) -> psycopg.Connection:
    return psycopg.connect(settings.database_url())


def _upsert(conn: psycopg.Connection, spec: AgentSpec, password: str) -> None:
    row = conn.execute(
        "INSERT INTO agent (agent_id, kind, site, password_hash) VALUES (%s, %s, %s, %s) "
        "ON CONFLICT (agent_id) DO UPDATE SET kind = EXCLUDED.kind, site = EXCLUDED.site, "
        "password_hash = EXCLUDED.password_hash, active = true, revoked_at = NULL "
        "RETURNING agent_key",
        (spec.agent_id, spec.kind, spec.site, hash_password(password)),
    ).fetchone()
    assert row is not None
    agent_key = row[0]
    for s in spec.sensors:
        owner = conn.execute(
            "SELECT a.agent_id FROM sensor s JOIN agent a USING (agent_key) "
            "WHERE s.sensor_id = %s AND s.agent_key <> %s",
            (s.sensor_id, agent_key),
        ).fetchone()
        if owner is not None:
            raise RegistryError(f"sensor {s.sensor_id} is registered to agent {owner[0]}")
        conn.execute(
            "INSERT INTO sensor (sensor_id, agent_key, kind, meta) VALUES (%s, %s, %s, %s) "
            "ON CONFLICT (sensor_id) DO UPDATE SET kind = EXCLUDED.kind, meta = EXCLUDED.meta, "
            "active = true",
            (s.sensor_id, agent_key, s.kind, Jsonb(s.meta)),
        )


def ensure_agents(
    settings: Settings,
    agents: Sequence[AgentSpec],
    password_for: Callable[[str], str],
) -> None:
    """Upsert agents and their sensors with the given passwords, then reload the broker."""
    with _connect(settings) as conn:
        for spec in agents:
            _upsert(conn, spec, password_for(spec.agent_id))
    sync_broker(settings)


def add_agent(settings: Settings, spec: AgentSpec, password: str | None = None) -> str:
    """Provision one agent; returns its password (shown once, only its hash is kept)."""
    password = password or new_password()
    with _connect(settings) as conn:
        exists = conn.execute(
            "SELECT active FROM agent WHERE agent_id = %s", (spec.agent_id,)
        ).fetchone()
        if exists is not None and exists[0]:
            raise RegistryError(f"agent {spec.agent_id} exists; revoke it first or use another id")
        _upsert(conn, spec, password)
    sync_broker(settings)
    return password


def revoke_agent(settings: Settings, agent_id: str) -> None:
    with _connect(settings) as conn:
        row = conn.execute(
            "UPDATE agent SET active = false, revoked_at = now() WHERE agent_id = %s AND active "
            "RETURNING agent_key",
            (agent_id,),
        ).fetchone()
        if row is None:
            raise RegistryError(f"no active agent {agent_id}")
        conn.execute("UPDATE sensor SET active = false WHERE agent_key = %s", (row[0],))
    sync_broker(settings)


def list_agents(settings: Settings, include_revoked: bool = False) -> list[AgentRow]:
    with _connect(settings) as conn:
        rows = conn.execute(
            "SELECT a.agent_id, a.kind, a.site, a.active, count(s.sensor_key), a.created_at, "
            "a.revoked_at FROM agent a LEFT JOIN sensor s ON s.agent_key = a.agent_key "
            "AND s.active WHERE a.active OR %s GROUP BY a.agent_key ORDER BY a.agent_id",
            (include_revoked,),
        ).fetchall()
    return [AgentRow(*r) for r in rows]


def service_users(settings: Settings) -> dict[str, str]:
    return {
        INGEST_USER: hash_password(settings.secret("ingest_password")),
        PLATFORM_USER: hash_password(settings.secret("platform_password")),
    }


def sync_broker(settings: Settings) -> None:
    """Regenerate the broker's password file and ACL from the registry; reload it."""
    with _connect(settings) as conn:
        creds = [
            AgentCredential(*r)
            for r in conn.execute(
                "SELECT agent_id, kind, password_hash FROM agent WHERE active ORDER BY agent_id"
            )
        ]
    mosquitto.write_auth_files(
        settings, render_password_file(creds, service_users(settings)), render_acl(creds)
    )
