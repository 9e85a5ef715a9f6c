"""REST routes for fulfilment."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["fulfilment"])
