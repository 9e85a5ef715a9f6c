"""Administration (HQ): users (list, create with a role and an org unit, deactivate, activate)
and edge-device credentials (provision with a password shown once, revoke); the org units a
caller may see, for pickers. Users outside the caller's subtree are 404. Passwords go through
the auth module (argon2id); device passwords through the device registry, which keeps the
broker's password file and ACL in step."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

import psycopg
from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, status
from pydantic import BaseModel, Field
from sqlalchemy import func, select, update

from wayhouse.platform.api.auth_deps import CurrentUser, DbSession, require_role
from wayhouse.platform.api.deps import Page, like_contains, pagination
from wayhouse.platform.api.errors import INT_MAX, Text
from wayhouse.platform.api.schemas import PageOut
from wayhouse.platform.auth.passwords import MIN_LENGTH
from wayhouse.platform.auth.principal import Principal
from wayhouse.platform.devices import service as devices
from wayhouse.platform.devices.model import AgentSpec, SensorSpec
from wayhouse.platform.dms import audit, org
from wayhouse.platform.dms.domain.types import DomainError, OrgLevel, Role
from wayhouse.platform.dms.models import AppUser, OrgUnit, UserSession
from wayhouse.platform.dms.scope import in_scope

router = APIRouter(tags=["administration"])

HqOnly = Annotated[Principal, Depends(require_role(Role.HQ_ADMIN))]
UserId = Annotated[int, Path(ge=1, le=INT_MAX)]
AgentId = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]

# Which org-unit levels a role's user may belong to: a dealer user to a dealer, a region
# manager to a region; HQ staff to HQ or a region (a regional warehouse, its dispatchers).
LEVELS_FOR_ROLE: dict[Role, frozenset[OrgLevel]] = {
    Role.HQ_ADMIN: frozenset({OrgLevel.HQ}),
    Role.REGION_MANAGER: frozenset({OrgLevel.REGION}),
    Role.DEALER_USER: frozenset({OrgLevel.DEALER, OrgLevel.SUB_DEALER}),
    Role.WAREHOUSE_OPERATOR: frozenset({OrgLevel.HQ, OrgLevel.REGION}),
    Role.DISPATCHER: frozenset({OrgLevel.HQ, OrgLevel.REGION}),
    Role.DRIVER: frozenset({OrgLevel.HQ, OrgLevel.REGION}),
    Role.TECHNICIAN: frozenset({OrgLevel.HQ, OrgLevel.REGION}),
}


class OrgUnitOut(BaseModel):
    id: int
    parent_id: int | None
    level: OrgLevel
    code: str
    name: str


class UserOut(BaseModel):
    id: int
    username: str
    display_name: str
    role: Role
    org_unit_id: int
    org_unit_code: str
    org_unit_name: str
    locale: str
    active: bool
    created_at: dt.datetime


class UserIn(BaseModel):
    username: str = Field(pattern=r"^[a-z0-9][a-z0-9._-]{1,63}$")
    display_name: Text = Field(default="", max_length=200)
    password: str = Field(min_length=MIN_LENGTH, max_length=256)
    role: Role
    org_unit_id: int = Field(ge=1, le=INT_MAX)
    locale: Literal["zh-CN", "en"] = "zh-CN"


class SensorIn(BaseModel):
    sensor_id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")
    kind: Literal["scale", "rfid", "barcode", "gps", "env"]


class DeviceIn(BaseModel):
    agent_id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
    kind: Literal["shelf", "scanner", "truck", "gateway"]
    site: Text | None = Field(default=None, max_length=64)
    sensors: list[SensorIn] = Field(default_factory=list, max_length=500)


class DeviceCreatedOut(BaseModel):
    agent_id: str
    username: str
    password: str  # shown this once: only its hash is kept


def _user_out(u: AppUser) -> UserOut:
    return UserOut(
        id=u.id,
        username=u.username,
        display_name=u.display_name,
        role=Role(u.role),
        org_unit_id=u.org_unit_id,
        org_unit_code=u.org_unit.code,
        org_unit_name=u.org_unit.name,
        locale=u.locale,
        active=u.active,
        created_at=u.created_at,
    )


def _refused(code: str, message: str, http: int = status.HTTP_409_CONFLICT) -> HTTPException:
    return HTTPException(http, {"code": code, "message": message})


# -- org units ------------------------------------------------------------------------------
@router.get("/org-units", response_model=PageOut[OrgUnitOut])
def list_units(
    session: DbSession,
    user: CurrentUser,
    page: Annotated[Page, Depends(pagination)],
    level: OrgLevel | None = None,
    q: Annotated[Text | None, Query(max_length=100, description="code or name contains")] = None,
) -> PageOut[OrgUnitOut]:
    """The org units in the caller's subtree (for filters and pickers), by code."""
    query = select(OrgUnit).where(in_scope(user))
    if level is not None:
        query = query.where(OrgUnit.level == level.value)
    if q:
        pattern = like_contains(q)
        query = query.where(OrgUnit.code.ilike(pattern) | OrgUnit.name.ilike(pattern))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(
        query.order_by(OrgUnit.code, OrgUnit.id).limit(page.size).offset(page.offset)
    ).all()
    return PageOut(
        items=[
            OrgUnitOut(id=u.id, parent_id=u.parent_id, level=u.level, code=u.code, name=u.name)
            for u in rows
        ],
        total=total,
        page=page.page,
        size=page.size,
    )


# -- users ----------------------------------------------------------------------------------
USER_SORTS = {
    "username": AppUser.username,
    "created_at": AppUser.created_at,
    "role": AppUser.role,
}


def _visible_users(user: Principal):  # type: ignore[no-untyped-def]
    return select(AppUser).join(AppUser.org_unit).where(in_scope(user))


def _get_user(session: DbSession, user: Principal, user_id: int) -> AppUser:
    row = session.scalar(_visible_users(user).where(AppUser.id == user_id))
    if row is None:
        raise _refused("not_found", f"no user {user_id}", status.HTTP_404_NOT_FOUND)
    return row


@router.get("/users", response_model=PageOut[UserOut])
def list_users(
    session: DbSession,
    user: HqOnly,
    page: Annotated[Page, Depends(pagination)],
    role: Role | None = None,
    active: bool | None = None,
    org_unit_id: Annotated[int | None, Query(ge=1, le=INT_MAX)] = None,
    q: Annotated[
        Text | None, Query(max_length=100, description="username or name contains")
    ] = None,
    sort: Annotated[str, Query(pattern=r"^-?(username|created_at|role)$")] = "username",
) -> PageOut[UserOut]:
    query = _visible_users(user)
    if role is not None:
        query = query.where(AppUser.role == role.value)
    if active is not None:
        query = query.where(AppUser.active == active)
    if org_unit_id is not None:
        query = query.where(AppUser.org_unit_id == org_unit_id)
    if q:
        pattern = like_contains(q)
        query = query.where(AppUser.username.ilike(pattern) | AppUser.display_name.ilike(pattern))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    column = USER_SORTS[sort.removeprefix("-")]
    desc = sort.startswith("-")
    rows = session.scalars(
        query.order_by(column.desc() if desc else column.asc(), AppUser.id)
        .limit(page.size)
        .offset(page.offset)
    ).all()
    return PageOut(items=[_user_out(u) for u in rows], total=total, page=page.page, size=page.size)


@router.get("/users/{user_id}", response_model=UserOut)
def get_user(user_id: UserId, session: DbSession, user: HqOnly) -> UserOut:
    return _user_out(_get_user(session, user, user_id))


@router.post("/users", response_model=UserOut, status_code=status.HTTP_201_CREATED)
def create_user(body: UserIn, session: DbSession, user: HqOnly) -> UserOut:
    unit = session.scalar(select(OrgUnit).where(OrgUnit.id == body.org_unit_id, in_scope(user)))
    if unit is None:
        raise _refused(
            "unknown_org_unit",
            f"no org unit {body.org_unit_id}",
            status.HTTP_422_UNPROCESSABLE_CONTENT,
        )
    allowed = LEVELS_FOR_ROLE[body.role]
    if OrgLevel(unit.level) not in allowed:
        raise _refused(
            "role_unit_mismatch",
            f"a {body.role.value} belongs to a {' or '.join(sorted(a.value for a in allowed))}, "
            f"not a {unit.level}",
            status.HTTP_422_UNPROCESSABLE_CONTENT,
        )
    try:
        row = org.create_user(
            session, body.username, body.password, body.role, unit, body.display_name
        )
    except DomainError as exc:
        raise _refused(exc.code, exc.message) from exc
    row.locale = body.locale
    snapshot = {"username": row.username, "role": row.role, "org_unit_id": unit.id}
    audit.record(session, user.user_id, "user", row.id, "create", None, snapshot)
    session.commit()
    session.refresh(row)
    return _user_out(row)


def _set_active(session: DbSession, user: Principal, user_id: int, active: bool) -> UserOut:
    row = _get_user(session, user, user_id)
    if row.id == user.user_id and not active:
        raise _refused("own_account", "you cannot deactivate your own account")
    if row.active != active:
        row.active = active
        if not active:  # signed-in sessions end now, not when they expire
            session.execute(
                update(UserSession)
                .where(UserSession.user_id == row.id, UserSession.revoked_at.is_(None))
                .values(revoked_at=func.now())
            )
        audit.record(
            session,
            user.user_id,
            "user",
            row.id,
            "activate" if active else "deactivate",
            {"active": not active},
            {"active": active},
        )
        session.commit()
        session.refresh(row)
    return _user_out(row)


@router.post("/users/{user_id}/deactivate", response_model=UserOut)
def deactivate_user(user_id: UserId, session: DbSession, user: HqOnly) -> UserOut:
    return _set_active(session, user, user_id, False)


@router.post("/users/{user_id}/activate", response_model=UserOut)
def activate_user(user_id: UserId, session: DbSession, user: HqOnly) -> UserOut:
    return _set_active(session, user, user_id, True)


# -- device credentials -----------------------------------------------------------------------
@router.post("/devices", response_model=DeviceCreatedOut, status_code=status.HTTP_201_CREATED)
def add_device(
    body: DeviceIn, request: Request, session: DbSession, user: HqOnly
) -> DeviceCreatedOut:
    """Provision an edge agent and its sensors; its MQTT password is in this answer only."""
    try:
        spec = AgentSpec(
            body.agent_id,
            body.kind,
            tuple(SensorSpec(s.sensor_id, s.kind) for s in body.sensors),
            body.site,
        )
    except ValueError as exc:
        raise _refused("invalid_device", str(exc), status.HTTP_422_UNPROCESSABLE_CONTENT) from exc
    try:
        password = devices.add_agent(request.app.state.settings, spec)
    except devices.RegistryError as exc:
        raise _refused("registry_refused", str(exc)) from exc
    except psycopg.errors.UniqueViolation as exc:  # a concurrent add of the same id
        raise _refused("device_exists", f"agent {body.agent_id} exists") from exc
    snapshot = {"kind": body.kind, "site": body.site, "sensors": len(body.sensors)}
    audit.record(session, user.user_id, "device", body.agent_id, "create", None, snapshot)
    session.commit()
    return DeviceCreatedOut(agent_id=body.agent_id, username=body.agent_id, password=password)


@router.post("/devices/{agent_id}/revoke", status_code=status.HTTP_204_NO_CONTENT)
def revoke_device(agent_id: AgentId, request: Request, session: DbSession, user: HqOnly) -> None:
    """Revoke an agent: the broker refuses its login from now on, its sensors stop counting."""
    try:
        devices.revoke_agent(request.app.state.settings, agent_id)
    except devices.RegistryError as exc:
        raise _refused("not_found", str(exc), status.HTTP_404_NOT_FOUND) from exc
    audit.record(session, user.user_id, "device", agent_id, "revoke")
    session.commit()
