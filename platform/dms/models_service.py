"""After-sales service tickets, work orders and parts used."""

from __future__ import annotations

from wayhouse.platform.db.base import Base  # noqa: F401
