"""RFID zone counts: the last zone each tagged case was seen in, and counts per zone and
product from that.

A reader reads the same tag many times while it is in range, and a gate and a handheld may
read it out of order (store-and-forward replays): a tag counts once, in the zone of its
newest read; a read older than the tag's last one changes nothing. A handheld read in a bin
counts in the bin's zone (or the bin itself when no zone is known).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from wayhouse.edge.schema import ScanReading


def epc_product(tag: str) -> str:
    """The product of an SGTIN-like tag ``EPC-<sku>-<serial>`` (the simulator's format);
    '' when the tag does not say."""
    parts = tag.split("-")
    return "-".join(parts[1:-1]) if len(parts) >= 3 and parts[0] == "EPC" else ""


class ZoneCounts:
    __slots__ = ("_counts", "_tags", "duplicates", "product_of", "stale")

    def __init__(self, product_of: Callable[[str], str] = epc_product) -> None:
        self.product_of = product_of
        self._tags: dict[str, tuple[str, float, str]] = {}  # tag -> (zone, last read, product)
        self._counts: dict[str, dict[str, int]] = {}  # zone -> product -> tags
        self.duplicates = 0  # reads of a tag already counted in that zone
        self.stale = 0  # reads older than the tag's newest

    def read(self, tag: str, zone: str, t: float) -> bool:
        """One tag read; True when the tag is now counted in a different zone."""
        prev = self._tags.get(tag)
        if prev is not None:
            prev_zone, prev_t, product = prev
            if t < prev_t:
                self.stale += 1
                return False
            if prev_zone == zone:
                self._tags[tag] = (zone, t, product)
                self.duplicates += 1
                return False
            self._add(prev_zone, product, -1)
        else:
            product = self.product_of(tag)
        self._tags[tag] = (zone, t, product)
        self._add(zone, product, 1)
        return True

    def leave(self, tag: str, t: float) -> bool:
        """The case left the warehouse (shipped, written off): stop counting it."""
        prev = self._tags.get(tag)
        if prev is None or t < prev[1]:
            return False
        del self._tags[tag]
        self._add(prev[0], prev[2], -1)
        return True

    def feed(self, scan: ScanReading, zone_of_bin: Mapping[str, str] | None = None) -> bool:
        """A scan from the contract: RFID reads with a zone (gate) or a bin (handheld)."""
        if scan.k != "rfid":
            return False
        zone = scan.z
        if zone is None and scan.b is not None:
            zone = (zone_of_bin or {}).get(scan.b, scan.b)
        if zone is None:
            return False
        if scan.a == "ship":
            return self.leave(scan.c, scan.t)
        return self.read(scan.c, zone, scan.t)

    def _add(self, zone: str, product: str, n: int) -> None:
        per = self._counts.setdefault(zone, {})
        left = per.get(product, 0) + n
        if left:
            per[product] = left
        else:
            per.pop(product, None)
            if not per:
                del self._counts[zone]

    # ---- queries ------------------------------------------------------------------------

    def zone_of(self, tag: str) -> str | None:
        prev = self._tags.get(tag)
        return prev[0] if prev else None

    def count(self, zone: str, product: str | None = None) -> int:
        per = self._counts.get(zone, {})
        return per.get(product, 0) if product is not None else sum(per.values())

    def counts(self) -> dict[str, dict[str, int]]:
        """zone -> product -> tags counted there (a copy)."""
        return {zone: dict(per) for zone, per in self._counts.items()}

    def forget_before(self, t: float, zones: set[str]) -> int:
        """Stop counting tags of ``zones`` (transit zones such as a dock gate) last read
        before ``t``; returns how many. A sweep: call it now and then, not per read."""
        gone = [tag for tag, (z, seen, _) in self._tags.items() if z in zones and seen < t]
        for tag in gone:
            zone, _, product = self._tags.pop(tag)
            self._add(zone, product, -1)
        return len(gone)

    # ---- state --------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return {
            "tags": {tag: [z, t, p] for tag, (z, t, p) in self._tags.items()},
            "duplicates": self.duplicates,
            "stale": self.stale,
        }

    @classmethod
    def from_dict(
        cls, d: dict[str, Any], product_of: Callable[[str], str] = epc_product
    ) -> ZoneCounts:
        zc = cls(product_of)
        for tag, (zone, t, product) in d["tags"].items():
            zc._tags[tag] = (zone, float(t), product)
            zc._add(zone, product, 1)
        zc.duplicates = int(d["duplicates"])
        zc.stale = int(d["stale"])
        return zc
