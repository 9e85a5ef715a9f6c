"""Dealer contracts: versions, quarterly targets, rebate tiers, payment stages."""

from __future__ import annotations

from wayhouse.platform.db.base import Base  # noqa: F401
