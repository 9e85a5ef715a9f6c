"""REST routes for contracts."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["contracts"])
