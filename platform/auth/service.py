"""Login, logout and token resolution against the database.

Tokens are 32 random bytes (URL-safe); only their SHA-256 is stored, so a database leak does
not hand out sessions. Failed logins are throttled per username over a sliding window.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from wayhouse.platform.auth import passwords
from wayhouse.platform.auth.principal import Principal
from wayhouse.platform.dms.domain.types import DomainError, Role
from wayhouse.platform.dms.models import AppUser, LoginAttempt, UserSession

SESSION_TTL = dt.timedelta(hours=12)
FAILURE_WINDOW = dt.timedelta(minutes=15)
MAX_FAILURES = 5


class AuthError(DomainError):
    """Login refused; ``code`` is 'invalid_credentials' or 'too_many_attempts'."""

    def __init__(self, code: str, message: str, retry_after_s: int | None = None) -> None:
        super().__init__(code, message)
        self.retry_after_s = retry_after_s


@dataclass(frozen=True)
class IssuedToken:
    token: str
    expires_at: dt.datetime
    principal: Principal


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _principal(user: AppUser) -> Principal:
    return Principal(
        user_id=user.id,
        username=user.username,
        role=Role(user.role),
        org_unit_id=user.org_unit_id,
        org_path=user.org_unit.path,
        locale=user.locale,
    )


def login(
    session: Session, username: str, password: str, client: str | None, now: dt.datetime
) -> IssuedToken:
    since = now - FAILURE_WINDOW
    failures = session.scalar(
        select(func.count())
        .select_from(LoginAttempt)
        .where(LoginAttempt.username == username, LoginAttempt.at >= since, ~LoginAttempt.success)
    )
    if failures is not None and failures >= MAX_FAILURES:
        oldest = session.scalar(
            select(func.min(LoginAttempt.at)).where(
                LoginAttempt.username == username, LoginAttempt.at >= since, ~LoginAttempt.success
            )
        )
        wait = int(((oldest or now) + FAILURE_WINDOW - now).total_seconds()) + 1
        raise AuthError(
            "too_many_attempts",
            f"too many failed logins for {username}; try again in {wait} s",
            retry_after_s=wait,
        )
    user = session.scalar(select(AppUser).where(AppUser.username == username))
    ok = passwords.verify(user.password_hash if user else passwords.DUMMY_HASH, password)
    ok = ok and user is not None and user.active
    session.add(LoginAttempt(username=username, client=client, at=now, success=ok))
    if not ok or user is None:
        session.commit()  # the failure must count even though the request fails
        raise AuthError("invalid_credentials", "wrong username or password")
    if passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.hash_password(password)
    token = secrets.token_urlsafe(32)
    expires = now + SESSION_TTL
    session.add(
        UserSession(token_hash=_digest(token), user_id=user.id, created_at=now, expires_at=expires)
    )
    return IssuedToken(token, expires, _principal(user))


def resolve(session: Session, token: str, now: dt.datetime) -> Principal | None:
    row = session.execute(
        select(AppUser)
        .join(UserSession, UserSession.user_id == AppUser.id)
        .where(
            UserSession.token_hash == _digest(token),
            UserSession.revoked_at.is_(None),
            UserSession.expires_at > now,
            AppUser.active,
        )
    ).scalar_one_or_none()
    return _principal(row) if row else None


def logout(session: Session, token: str, now: dt.datetime) -> bool:
    s = session.get(UserSession, _digest(token))
    if s is None or s.revoked_at is not None:
        return False
    s.revoked_at = now
    return True
