"""Readers for VRPLIB/LKH-3 style VRPTW instances, their solutions and the BKS table."""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from .matrix import euclidean_matrix
from .model import Depot, Point, Problem, Stop, TimeWindow, Vehicle


class Convention(StrEnum):
    DIMACS = "dimacs"  # distance only, arcs truncated to one decimal
    HIERARCHICAL = "hier"  # vehicles first, then distance, double precision


class FormatError(ValueError):
    pass


_SECTIONS = (
    "NODE_COORD_SECTION",
    "DEMAND_SECTION",
    "TIME_WINDOW_SECTION",
    "SERVICE_TIME_SECTION",
    "DEPOT_SECTION",
)


def _parse(text: str, source: str) -> tuple[dict[str, str], dict[str, list[list[str]]]]:
    header: dict[str, str] = {}
    sections: dict[str, list[list[str]]] = {}
    current: str | None = None
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line == "EOF":
            continue
        word = line.split()[0]
        if word in _SECTIONS:
            current = word
            sections[current] = []
        elif ":" in line and current is None:
            key, _, value = line.partition(":")
            header[key.strip().upper()] = value.strip()
        elif current is not None:
            sections[current].append(line.split())
        else:
            raise FormatError(f"{source}:{lineno}: unexpected line {line!r}")
    return header, sections


def _table(
    sections: dict[str, list[list[str]]], name: str, width: int, n: int, source: str
) -> dict[int, list[float]]:
    if name not in sections:
        raise FormatError(f"{source}: missing {name}")
    rows: dict[int, list[float]] = {}
    for row in sections[name]:
        if len(row) != width + 1:
            raise FormatError(f"{source}: {name}: expected {width + 1} fields in {row}")
        rows[int(row[0])] = [float(v) for v in row[1:]]
    if sorted(rows) != list(range(1, n + 1)):
        raise FormatError(f"{source}: {name}: expected node ids 1..{n}")
    return rows


def read_vrplib(path: str | Path, convention: Convention | str = Convention.DIMACS) -> Problem:
    """Read a Solomon / Gehring-Homberger instance (node 1 is the depot).

    Stop j is customer j + 1 of the solution files (node id j + 2). The depot's window becomes
    every vehicle's shift; the VEHICLES header sets the fleet size.
    """
    path = Path(path)
    convention = Convention(convention)
    header, sections = _parse(path.read_text(), str(path))
    try:
        n = int(header["DIMENSION"])
        capacity = float(header["CAPACITY"])
    except KeyError as e:
        raise FormatError(f"{path}: missing header {e}") from None
    fleet = int(header.get("VEHICLES", n - 1))
    coords = _table(sections, "NODE_COORD_SECTION", 2, n, str(path))
    demand = _table(sections, "DEMAND_SECTION", 1, n, str(path))
    windows = _table(sections, "TIME_WINDOW_SECTION", 2, n, str(path))
    if "SERVICE_TIME_SECTION" in sections:
        service = {
            k: v[0] for k, v in _table(sections, "SERVICE_TIME_SECTION", 1, n, str(path)).items()
        }
    else:
        default = float(header.get("SERVICE_TIME", 0))
        service = {k: (0.0 if k == 1 else default) for k in range(1, n + 1)}
    depot_ids = [int(r[0]) for r in sections.get("DEPOT_SECTION", [["1"]]) if r[0] != "-1"]
    if depot_ids != [1]:
        raise FormatError(f"{path}: only a single depot with id 1 is supported")

    points = [Point(*coords[k]) for k in range(1, n + 1)]
    depot = Depot("depot", points[0], windows[1][0], windows[1][1])
    stops = tuple(
        Stop(
            id=str(k - 1),
            point=points[k - 1],
            weight=demand[k][0],
            service_time=service[k],
            windows=(TimeWindow(windows[k][0], windows[k][1]),),
        )
        for k in range(2, n + 1)
    )
    vehicles = tuple(
        Vehicle(
            id=f"v{i + 1}",
            capacity_weight=capacity,
            shift_start=windows[1][0],
            shift_end=windows[1][1],
        )
        for i in range(fleet)
    )
    decimals = 1 if convention is Convention.DIMACS else None
    matrix = euclidean_matrix(points, decimals=decimals)
    return Problem((depot,), vehicles, stops, matrix, name=header.get("NAME", path.stem))


_ROUTE = re.compile(r"^\s*Route\s*#?\s*\d+\s*:\s*(.*)$", re.IGNORECASE)


def read_routes(path: str | Path) -> list[list[int]]:
    """Routes of a CVRPLIB (`Route #k: ...`) or SINTEF (`Route k : ...`) solution file, as
    stop indices (customer number minus one)."""
    routes: list[list[int]] = []
    for line in Path(path).read_text().splitlines():
        m = _ROUTE.match(line)
        if m:
            customers = [int(tok) for tok in m.group(1).split()]
            if customers:
                routes.append([c - 1 for c in customers])
    if not routes:
        raise FormatError(f"{path}: no routes found")
    return routes


@dataclass(frozen=True, slots=True)
class BestKnown:
    name: str
    set: str
    customers: int
    dimacs_vehicles: int
    dimacs_distance: float
    sintef_vehicles: int
    sintef_distance: float

    def vehicles(self, convention: Convention) -> int:
        return self.dimacs_vehicles if convention is Convention.DIMACS else self.sintef_vehicles

    def distance(self, convention: Convention) -> float:
        return self.dimacs_distance if convention is Convention.DIMACS else self.sintef_distance


def read_bks(path: str | Path) -> dict[str, BestKnown]:
    with Path(path).open(newline="") as fh:
        return {
            row["instance"]: BestKnown(
                row["instance"],
                row["set"],
                int(row["customers"]),
                int(row["dimacs_vehicles"]),
                float(row["dimacs_distance"]),
                int(row["sintef_vehicles"]),
                float(row["sintef_distance"]),
            )
            for row in csv.DictReader(fh)
        }
