"""Console pages for alarms (slot)."""

from __future__ import annotations


def register() -> None:
    """Registers the pages (none yet)."""
