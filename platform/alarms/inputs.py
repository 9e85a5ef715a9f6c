"""What the engine is fed, besides the contract's own readings (``ShelfReading`` and
``ScanReading`` from ``edge/schema.py`` go in as decoded), and what it is told about the
things it watches.

Geometry is computed elsewhere: tracking says whether a truck is inside a fence, how far it
is from its planned route and when it will arrive; the rules only judge those numbers.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Literal

EnvKind = Literal["temperature", "humidity"]
AgentState = Literal["online", "offline", "heartbeat"]


# ---- events ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EnvReading:
    sensor: str
    t: float
    kind: EnvKind
    value: float


@dataclass(frozen=True, slots=True)
class AgentStatus:
    """A status message of an agent (``offline`` is its last will), or any message from it:
    the ingest evaluator feeds one ``heartbeat`` per accepted message, not per reading."""

    agent: str
    t: float
    state: AgentState
    info: str | None = None


@dataclass(frozen=True, slots=True)
class BookLevel:
    """The ledger's on-hand of one lot in one bin after a movement (absolute: replay-safe)."""

    bin: str
    lot: str | None
    qty: int
    t: float


@dataclass(frozen=True, slots=True)
class LotStock:
    """A lot's expiry and how much of it is on hand (0 or None expiry: nothing to watch)."""

    lot: str
    product: str
    t: float
    expires_at: float | None
    on_hand: int
    product_class: str | None = None
    site: str | None = None


@dataclass(frozen=True, slots=True)
class DocumentState:
    """A dealer's qualification document; ``expires_at`` None when withdrawn or renewed away."""

    document: str
    dealer: str
    kind: str
    t: float
    expires_at: float | None
    site: str | None = None


@dataclass(frozen=True, slots=True)
class TruckSample:
    """Tracking's view of one GPS fix: speed, at a planned stop or not, distance from the
    planned route (None without one), the watched fences the truck is inside."""

    truck: str
    t: float
    speed_mps: float
    at_stop: bool = False
    route_distance_m: float | None = None
    fences: tuple[str, ...] = ()
    lat: float | None = None
    lon: float | None = None


@dataclass(frozen=True, slots=True)
class EtaUpdate:
    """Predicted arrival for a delivery; ``window_end`` None once delivered or cancelled."""

    delivery: str
    truck: str
    t: float
    eta: float
    window_end: float | None


# ---- registrations ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BinConfig:
    """An instrumented bin: its load cell, product and calibration (from the sensor registry)."""

    bin: str
    sensor: str
    product: str
    unit_weight_g: float
    tare_g: float
    noise_sigma_g: float | None = None
    capacity: int = 0
    reorder_point: int | None = None  # default: thresholds.reorder_fraction x capacity
    agent: str | None = None
    site: str | None = None
    product_class: str | None = None

    def to_dict(self) -> dict[str, Any]:
        # Saved with every batch that touched the bin: no deep copy (all fields are plain).
        return {name: getattr(self, name) for name in _BIN_FIELDS}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> BinConfig:
        return cls(**d)


_BIN_FIELDS = tuple(f.name for f in dataclasses.fields(BinConfig))


@dataclass(frozen=True, slots=True)
class EnvSensorConfig:
    sensor: str
    kind: EnvKind
    site: str | None = None
    agent: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> EnvSensorConfig:
        return cls(**d)


@dataclass(frozen=True, slots=True)
class AgentConfig:
    agent: str
    site: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> AgentConfig:
        return cls(**d)
