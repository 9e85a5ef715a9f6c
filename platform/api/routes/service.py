"""REST routes for service."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["service"])
