"""REST routes for tracking (slot)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["tracking"])
