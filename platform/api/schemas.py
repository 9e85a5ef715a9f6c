"""Response models of the API."""

from __future__ import annotations

from datetime import datetime
from typing import Generic, TypeVar

from pydantic import BaseModel

T = TypeVar("T")


class PageOut(BaseModel, Generic[T]):
    items: list[T]
    total: int
    page: int
    size: int


class Health(BaseModel):
    status: str
    database: bool
    broker: bool
    storage_mode: str | None
    schema_revision: str | None
    stdlib_platform: bool


class WorkerStats(BaseModel):
    worker_id: str
    pid: int | None
    storage_mode: str
    started_at: datetime
    updated_at: datetime
    alive: bool
    msgs_in: int
    readings_written: int
    duplicates: int
    dead_letters: int
    batches: int
    lag_ms: float | None
    latency_p50_ms: float | None
    latency_p99_ms: float | None
    latency_max_ms: float | None


class IngestStats(BaseModel):
    msgs_in: int
    readings_written: int
    duplicates: int
    dead_letters: int
    lag_ms: float
    dead_letter_rows: int
    workers: list[WorkerStats]


class Device(BaseModel):
    agent_id: str
    kind: str
    site: str | None
    active: bool
    sensors: int
    state: str | None
    last_status_at: datetime | None
    created_at: datetime


class DeadLetterOut(BaseModel):
    id: int
    received_at: datetime
    worker_id: str | None
    topic: str
    agent_id: str | None
    reason: str
    payload_preview: str
    payload_bytes: int


class TruckPosition(BaseModel):
    sensor_id: str
    agent_id: str
    ts: datetime
    lat: float
    lon: float
    speed: float | None
    heading: float | None


class BinWeight(BaseModel):
    sensor_id: str
    agent_id: str
    bin: str | None
    ts: datetime
    weight_g: float
