"""Domain refusals as HTTP answers, one mapping for every route: missing or outside the
caller's scope 404, not allowed 403, any other refusal (illegal transition, rule) 409.
The body is always ``{"detail": {"code", "message"}}``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, TypeVar

from fastapi import HTTPException, status
from pydantic import AfterValidator

from wayhouse.platform.dms.domain.types import DomainError
from wayhouse.platform.dms.orders_service import NotFound

T = TypeVar("T")
FORBIDDEN_CODES = frozenset({"not_authorised", "same_approver"})
INT_MAX = 2**31 - 1  # ids are PostgreSQL integers: a larger one is a 422, not a 500


def http_error(exc: DomainError) -> HTTPException:
    body = {"code": exc.code, "message": exc.message}
    if isinstance(exc, NotFound) or exc.code == "not_found":
        return HTTPException(status.HTTP_404_NOT_FOUND, body)
    if exc.code in FORBIDDEN_CODES:
        return HTTPException(status.HTTP_403_FORBIDDEN, body)
    return HTTPException(status.HTTP_409_CONFLICT, body)


def run_domain(fn: Callable[[], T]) -> T:
    try:
        return fn()
    except DomainError as exc:
        raise http_error(exc) from exc


def _no_nul(value: str) -> str:
    # PostgreSQL text cannot hold NUL: refuse it here rather than fail in the database.
    if "\x00" in value:
        raise ValueError("text may not contain NUL characters")
    return value


Text = Annotated[str, AfterValidator(_no_nul)]
