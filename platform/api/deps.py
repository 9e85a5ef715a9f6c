"""Shared API dependencies: the connection pool, the operator token, pagination."""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated

import psycopg
from fastapi import Depends, Header, HTTPException, Query, Request, status
from psycopg_pool import ConnectionPool


def get_pool(request: Request) -> ConnectionPool:
    return request.app.state.pool


def get_conn(pool: Annotated[ConnectionPool, Depends(get_pool)]) -> Iterator[psycopg.Connection]:
    try:
        with pool.connection(timeout=5) as conn:
            yield conn
    except psycopg.OperationalError as exc:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, f"database unavailable: {exc}"
        ) from exc


def require_operator(
    request: Request, authorization: Annotated[str | None, Header()] = None
) -> None:
    """Operations endpoints take the operator token (``<data>/secrets/api_token``, for
    services and scripts; compared in constant time) or the session of an HQ admin."""
    expected: str = request.app.state.api_token
    if not authorization or not authorization.startswith("Bearer "):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "missing bearer token: send 'Authorization: Bearer <token>'",
            headers={"WWW-Authenticate": "Bearer"},
        )
    token = authorization.removeprefix("Bearer ").strip()
    given = token.encode("utf-8", "surrogateescape")
    if hmac.compare_digest(given, expected.encode()):
        return
    role = _session_role(request, token)
    if role is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, "invalid token", headers={"WWW-Authenticate": "Bearer"}
        )
    if role != "hq_admin":
        raise HTTPException(status.HTTP_403_FORBIDDEN, "operations views are for HQ admins")


def _session_role(request: Request, token: str) -> str | None:
    import datetime as dt

    from wayhouse.platform.auth import service
    from wayhouse.platform.db.base import session_factory

    with session_factory(request.app.state.settings.sqlalchemy_url())() as session:
        principal = service.resolve(session, token, dt.datetime.now(dt.UTC))
    return principal.role.value if principal else None


@dataclass(frozen=True)
class Page:
    page: int
    size: int

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.size


def pagination(
    page: Annotated[int, Query(ge=1, le=1_000_000, description="1-based page number")] = 1,
    size: Annotated[int, Query(ge=1, le=500, description="rows per page")] = 50,
) -> Page:
    return Page(page, size)


def like_contains(text: str) -> str:
    """An ILIKE pattern matching ``text`` literally anywhere ('%' and '_' are not wildcards)."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def order_by(
    sort: str | None, allowed: dict[str, str], default: str, tiebreak: str | None = None
) -> str:
    """Map ``sort=field`` / ``sort=-field`` onto a whitelisted SQL ORDER BY clause."""
    suffix = f", {tiebreak}" if tiebreak else ""
    if not sort:
        return allowed[default] + suffix
    field = sort.removeprefix("-")
    if field not in allowed:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"cannot sort by {field!r}; use one of: {', '.join(sorted(allowed))}",
        )
    # A unique tie-breaker keeps pages stable: equal sort values never repeat or skip rows.
    return allowed[field] + (" DESC" if sort.startswith("-") else " ASC") + suffix
