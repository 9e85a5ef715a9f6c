"""What an edge agent is, as the registry knows it (no I/O)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from wayhouse.edge.schema import AGENT_ID_RE

AgentKind = Literal["shelf", "scanner", "truck", "gateway"]
SensorKind = Literal["scale", "rfid", "barcode", "gps", "env"]


@dataclass(frozen=True)
class SensorSpec:
    sensor_id: str
    kind: SensorKind
    # Free-form attributes the platform may use (bin code, tare, unit weight, truck plate...).
    meta: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class AgentSpec:
    agent_id: str
    kind: AgentKind
    sensors: tuple[SensorSpec, ...] = ()
    site: str | None = None

    def __post_init__(self) -> None:
        if not AGENT_ID_RE.match(self.agent_id):
            raise ValueError(f"agent id {self.agent_id!r}: use 1-64 letters, digits, '_', '.', '-'")
        ids = [s.sensor_id for s in self.sensors]
        if len(ids) != len(set(ids)):
            raise ValueError(f"agent {self.agent_id}: duplicate sensor ids")
