"""Bring the platform's backing services up and down: PostgreSQL, migrations, Mosquitto."""

from __future__ import annotations

from dataclasses import dataclass

from wayhouse.config import Settings
from wayhouse.platform.services import mosquitto, postgres


@dataclass(frozen=True)
class ServiceStatus:
    name: str
    managed: bool
    running: bool
    where: str
    pid: int | None


def up(settings: Settings, migrate: bool = True) -> None:
    """Start what is embedded (skip what WAYHOUSE_DB_URL / WAYHOUSE_MQTT_URL point elsewhere)."""
    from wayhouse.platform.db.migrate import upgrade
    from wayhouse.platform.devices.service import sync_broker

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    if settings.embedded_db:
        postgres.start(settings)
    if migrate:
        upgrade(settings)
    if settings.embedded_mqtt:
        mosquitto.write_conf(settings)
        # Auth files first, so the broker never starts without the registry's agents.
        sync_broker(settings)
        mosquitto.start(settings)


def down(settings: Settings) -> None:
    if settings.embedded_mqtt:
        mosquitto.stop(settings)
    if settings.embedded_db:
        postgres.stop(settings)


def status(settings: Settings) -> list[ServiceStatus]:
    out = []
    if settings.embedded_db:
        pid = postgres.postmaster_pid(settings)
        out.append(
            ServiceStatus("postgresql", True, pid is not None, f"127.0.0.1:{settings.pg_port}", pid)
        )
    else:
        out.append(ServiceStatus("postgresql", False, True, "WAYHOUSE_DB_URL", None))
    if settings.embedded_mqtt:
        pid = mosquitto.pid(settings)
        out.append(
            ServiceStatus(
                "mosquitto", True, pid is not None, f"127.0.0.1:{settings.mqtt_port}", pid
            )
        )
    else:
        out.append(ServiceStatus("mosquitto", False, True, "WAYHOUSE_MQTT_URL", None))
    return out
