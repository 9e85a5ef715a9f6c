"""Creating the organisation tree, dealers and users (service layer over the ORM)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from wayhouse.platform.auth.passwords import hash_password
from wayhouse.platform.dms import audit
from wayhouse.platform.dms.domain.types import DealerTier, DomainError, OrgLevel, Role
from wayhouse.platform.dms.models import AppUser, Dealer, OrgUnit

CHILD_LEVELS = {
    OrgLevel.HQ: {OrgLevel.REGION},
    OrgLevel.REGION: {OrgLevel.DEALER},
    OrgLevel.DEALER: {OrgLevel.SUB_DEALER},
    OrgLevel.SUB_DEALER: set(),
}


def create_unit(
    session: Session, level: OrgLevel, code: str, name: str, parent: OrgUnit | None
) -> OrgUnit:
    if parent is None and level is not OrgLevel.HQ:
        raise DomainError("bad_parent", f"a {level.value} needs a parent unit")
    if parent is not None and level not in CHILD_LEVELS[OrgLevel(parent.level)]:
        raise DomainError("bad_parent", f"a {level.value} cannot sit under a {parent.level}")
    if session.scalar(select(OrgUnit.id).where(OrgUnit.code == code)) is not None:
        raise DomainError("duplicate_code", f"org unit code {code!r} is taken")
    unit = OrgUnit(level=level.value, code=code, name=name, parent_id=parent.id if parent else None)
    unit.path = f"/pending-{code}/"
    session.add(unit)
    session.flush()  # the id makes the path
    unit.path = f"{parent.path if parent else '/'}{unit.id}/"
    session.flush()
    return unit


def create_dealer(
    session: Session,
    region: OrgUnit,
    code: str,
    legal_name: str,
    by_user: int | None,
    tier: DealerTier = DealerTier.STANDARD,
    **profile: Any,
) -> Dealer:
    unit = create_unit(session, OrgLevel.DEALER, code, legal_name, region)
    dealer = Dealer(org_unit_id=unit.id, legal_name=legal_name, tier=tier.value, **profile)
    dealer.org_unit = unit
    session.add(dealer)
    session.flush()
    audit.record(session, by_user, "dealer", dealer.id, "create", None, dealer_snapshot(dealer))
    return dealer


def create_user(
    session: Session,
    username: str,
    password: str,
    role: Role,
    unit: OrgUnit,
    display_name: str = "",
) -> AppUser:
    if session.scalar(select(AppUser.id).where(AppUser.username == username)) is not None:
        raise DomainError("duplicate_username", f"user {username!r} exists")
    user = AppUser(
        username=username,
        display_name=display_name or username,
        password_hash=hash_password(password),
        role=role.value,
        org_unit_id=unit.id,
    )
    user.org_unit = unit
    session.add(user)
    session.flush()
    return user


PROFILE_FIELDS = (
    "legal_name",
    "tier",
    "status",
    "status_reason",
    "business_scope",
    "contacts",
    "addresses",
)


def dealer_snapshot(d: Dealer) -> dict[str, Any]:
    return {f: getattr(d, f) for f in PROFILE_FIELDS}
