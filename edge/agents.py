"""The three edge agents: thin adapters from device readings to messages in the outbox.

Each agent speaks for the sensors registered under it and owns an ``EdgeClient``; run it
alone (``start()``/``stop()``) or put its ``client`` in a shared ``Fleet``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence

from wayhouse.config import MqttTarget
from wayhouse.edge.client import EdgeClient
from wayhouse.edge.fleet import Fleet
from wayhouse.edge.outbox import Outbox
from wayhouse.edge.schema import (
    MAX_READINGS_PER_MESSAGE,
    SCHEMA_VERSION,
    TOPIC_ROOT,
    GpsMessage,
    GpsReading,
    ScanAction,
    ScanKind,
    ScanMessage,
    ScanReading,
    ShelfMessage,
    ShelfReading,
    Stream,
)


def route_topic(agent_id: str) -> str:
    """Where the platform publishes a truck's route (the one topic an agent reads)."""
    return f"{TOPIC_ROOT}/{agent_id}/route"


class Agent:
    """Common part: identity, client, clock."""

    def __init__(
        self,
        agent_id: str,
        target: MqttTarget,
        outbox: Outbox,
        *,
        clock: Callable[[], float] = time.time,
        client: EdgeClient | None = None,
        **client_options: object,
    ) -> None:
        self.agent_id = agent_id
        self.outbox = outbox
        self.clock = clock
        self.client = client or EdgeClient(
            agent_id,
            target,
            outbox,
            clock=clock,
            **client_options,  # type: ignore[arg-type]
        )

    def start(self) -> Fleet:
        return self.client.start()

    def stop(self, flush_timeout: float = 5.0) -> None:
        self.client.stop(flush_timeout)


class ShelfScaleAgent(Agent):
    """A shelf-row controller reading many load cells: one ShelfMessage per tick."""

    def __init__(
        self,
        agent_id: str,
        target: MqttTarget,
        outbox: Outbox,
        cells: Sequence[str],
        read: Callable[[str], float] | None = None,
        **options: object,
    ) -> None:
        super().__init__(agent_id, target, outbox, **options)  # type: ignore[arg-type]
        if not cells:
            raise ValueError(f"{agent_id}: a shelf controller needs at least one load cell")
        self.cells = list(cells)
        self.read = read

    def tick(self, t: float | None = None) -> list[int]:
        """Read every cell now (with ``read``) and queue the batch; returns the seqs used."""
        if self.read is None:
            raise RuntimeError(f"{self.agent_id} has no cell reader; push weights with emit()")
        t = self.clock() if t is None else t
        read = self.read
        return self.emit({cell: read(cell) for cell in self.cells}, t)

    def emit(self, weights: Mapping[str, float], t: float | None = None) -> list[int]:
        """Queue gross weights (grams) per cell, split to respect the per-message limit."""
        t = self.clock() if t is None else t
        readings = [ShelfReading(s=cell, t=t, w=float(w)) for cell, w in weights.items()]
        seqs = []
        for i in range(0, len(readings), MAX_READINGS_PER_MESSAGE):
            chunk = readings[i : i + MAX_READINGS_PER_MESSAGE]
            seqs.append(
                self.client.put(
                    Stream.SHELF, lambda seq, r=chunk: ShelfMessage(v=SCHEMA_VERSION, seq=seq, r=r)
                )
            )
        return seqs


class ScannerAgent(Agent):
    """A handheld or gate reader with a barcode and an RFID sensor."""

    def __init__(
        self,
        agent_id: str,
        target: MqttTarget,
        outbox: Outbox,
        *,
        barcode_sensor: str | None,
        rfid_sensor: str | None,
        **options: object,
    ) -> None:
        super().__init__(agent_id, target, outbox, **options)  # type: ignore[arg-type]
        self.sensors: dict[str, str] = {}
        if barcode_sensor:
            self.sensors["barcode"] = barcode_sensor
        if rfid_sensor:
            self.sensors["rfid"] = rfid_sensor
        if not self.sensors:
            raise ValueError(f"{agent_id}: a scanner needs a barcode or an RFID sensor")

    def reading(
        self,
        code: str,
        action: ScanAction,
        *,
        kind: ScanKind = "barcode",
        qty: int = 1,
        bin_code: str | None = None,
        zone: str | None = None,
        t: float | None = None,
    ) -> ScanReading:
        sensor = self.sensors.get(kind)
        if sensor is None:
            raise ValueError(f"{self.agent_id} has no {kind} sensor")
        t = self.clock() if t is None else t
        return ScanReading(s=sensor, t=t, k=kind, c=code, a=action, q=qty, b=bin_code, z=zone)

    def scan(
        self,
        code: str,
        action: ScanAction,
        *,
        kind: ScanKind = "barcode",
        qty: int = 1,
        bin_code: str | None = None,
        zone: str | None = None,
        t: float | None = None,
    ) -> int:
        """Queue one scan at once (an operator is waiting for it); returns its seq."""
        r = self.reading(code, action, kind=kind, qty=qty, bin_code=bin_code, zone=zone, t=t)
        return self.emit([r])[0]

    def emit(self, readings: Sequence[ScanReading]) -> list[int]:
        """Queue a batch of scans (a gate reading a pallet of tags)."""
        rs = list(readings)
        return [
            self.client.put(
                Stream.SCAN,
                lambda seq, r=rs[i : i + MAX_READINGS_PER_MESSAGE]: ScanMessage(
                    v=SCHEMA_VERSION, seq=seq, r=r
                ),
            )
            for i in range(0, len(rs), MAX_READINGS_PER_MESSAGE)
        ]


class TruckGpsAgent(Agent):
    """A truck's telematics unit: one GPS fix per message."""

    def __init__(
        self,
        agent_id: str,
        target: MqttTarget,
        outbox: Outbox,
        *,
        sensor_id: str,
        on_route: Callable[[bytes], None] | None = None,
        **options: object,
    ) -> None:
        """``on_route`` receives each route the dispatcher publishes to this truck (retained:
        the latest one also arrives on every reconnect)."""
        if on_route is not None:
            route = route_topic(agent_id)
            options = {
                **options,
                "subscriptions": (route,),
                "on_message": lambda topic, payload: on_route(payload) if topic == route else None,
            }
        super().__init__(agent_id, target, outbox, **options)  # type: ignore[arg-type]
        self.sensor_id = sensor_id

    def fix(
        self,
        lat: float,
        lon: float,
        *,
        spd: float | None = None,
        hdg: float | None = None,
        acc: float | None = None,
        t: float | None = None,
    ) -> int:
        t = self.clock() if t is None else t
        r = GpsReading(s=self.sensor_id, t=t, lat=lat, lon=lon, spd=spd, hdg=hdg, acc=acc)
        return self.client.put(Stream.GPS, lambda seq: GpsMessage(v=SCHEMA_VERSION, seq=seq, r=[r]))
