"""Order fulfilment: pick lists, shipments (partial), proof of delivery, returns."""

from __future__ import annotations

from wayhouse.platform.db.base import Base  # noqa: F401
