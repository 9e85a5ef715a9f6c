"""Request authentication for user-facing endpoints: bearer session token -> Principal."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request, status
from sqlalchemy.orm import Session

from wayhouse.platform.auth import service
from wayhouse.platform.auth.principal import Principal
from wayhouse.platform.db.base import session_factory
from wayhouse.platform.dms.domain.types import Role


def db_session(request: Request) -> Iterator[Session]:
    """One ORM session per request; the route commits what it changes."""
    session = session_factory(request.app.state.settings.sqlalchemy_url())()
    try:
        yield session
    finally:
        session.close()


DbSession = Annotated[Session, Depends(db_session)]


def bearer_token(authorization: Annotated[str | None, Header()] = None) -> str:
    if not authorization or not authorization.startswith("Bearer "):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "log in first: send 'Authorization: Bearer <token>' from POST /auth/login",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return authorization.removeprefix("Bearer ").strip()


def current_user(session: DbSession, token: Annotated[str, Depends(bearer_token)]) -> Principal:
    principal = service.resolve(session, token, dt.datetime.now(dt.UTC))
    if principal is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "session expired or logged out; log in again",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return principal


CurrentUser = Annotated[Principal, Depends(current_user)]


def require_role(*roles: Role) -> Callable[[Principal], Principal]:
    def check(user: CurrentUser) -> Principal:
        if user.role not in roles:
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                f"this needs one of the roles: {', '.join(r.value for r in roles)}",
            )
        return user

    return check
