"""The audit trail: every change to dealers, orders, credit, contracts and stock adjustments."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from wayhouse.platform.dms.models import AuditLog


def record(
    session: Session,
    user_id: int | None,
    entity: str,
    entity_id: object,
    action: str,
    old: dict[str, Any] | None = None,
    new: dict[str, Any] | None = None,
    reason: str | None = None,
) -> None:
    """Add an audit row in the caller's transaction: the change and its record commit together."""
    if old is not None and new is not None:
        # Keep only what changed, so the trail reads as a diff.
        keys = {k for k in set(old) | set(new) if old.get(k) != new.get(k)}
        old = {k: old.get(k) for k in sorted(keys)}
        new = {k: new.get(k) for k in sorted(keys)}
    session.add(
        AuditLog(
            user_id=user_id,
            entity=entity,
            entity_id=str(entity_id),
            action=action,
            old=old,
            new=new,
            reason=reason,
        )
    )
