"""Login, logout, and who am I."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Request, status
from pydantic import BaseModel, Field

from wayhouse.platform.api.auth_deps import CurrentUser, DbSession, bearer_token
from wayhouse.platform.auth import service
from wayhouse.platform.auth.principal import Principal
from wayhouse.platform.dms.models import AppUser

router = APIRouter(prefix="/auth", tags=["auth"])


class LoginIn(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


class Me(BaseModel):
    user_id: int
    username: str
    role: str
    org_unit_id: int
    locale: str


class LocaleIn(BaseModel):
    locale: Literal["zh-CN", "en"]


class LoginOut(BaseModel):
    token: str
    expires_at: dt.datetime
    user: Me


def _me(p: Principal) -> Me:
    return Me(
        user_id=p.user_id,
        username=p.username,
        role=p.role.value,
        org_unit_id=p.org_unit_id,
        locale=p.locale,
    )


@router.post("/login", response_model=LoginOut)
def login(body: LoginIn, request: Request, session: DbSession) -> LoginOut:
    client = request.client.host if request.client else None
    try:
        issued = service.login(
            session, body.username, body.password, client, dt.datetime.now(dt.UTC)
        )
    except service.AuthError as exc:
        if exc.code == "too_many_attempts":
            raise HTTPException(
                status.HTTP_429_TOO_MANY_REQUESTS,
                {"code": exc.code, "message": exc.message},
                headers={"Retry-After": str(exc.retry_after_s or 60)},
            ) from exc
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, {"code": exc.code, "message": exc.message}
        ) from exc
    session.commit()
    return LoginOut(token=issued.token, expires_at=issued.expires_at, user=_me(issued.principal))


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
def logout(session: DbSession, token: Annotated[str, Depends(bearer_token)]) -> None:
    service.logout(session, token, dt.datetime.now(dt.UTC))
    session.commit()


@router.get("/me", response_model=Me)
def me(user: CurrentUser) -> Me:
    return _me(user)


@router.put("/me/locale", response_model=Me)
def set_locale(body: LocaleIn, session: DbSession, user: CurrentUser) -> Me:
    """The console's language for this user, kept on the account so every browser gets it."""
    row = session.get(AppUser, user.user_id)
    if row is None:  # deleted between resolving the token and now
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "session expired or logged out")
    row.locale = body.locale
    session.commit()
    return _me(dataclasses.replace(user, locale=body.locale))
