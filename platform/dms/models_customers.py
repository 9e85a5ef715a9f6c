"""Customers (end clients of dealers), their interactions and lead-assignment rules."""

from __future__ import annotations

from wayhouse.platform.db.base import Base  # noqa: F401
