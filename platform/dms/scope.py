"""Tenant scoping as one SQL condition: an org unit is visible to a principal when it lies in
the principal's subtree (materialised path prefix; '%' and '_' in paths are not wildcards)."""

from __future__ import annotations

from sqlalchemy import ColumnElement

from wayhouse.platform.auth.principal import Principal
from wayhouse.platform.dms.models import OrgUnit


def in_scope(principal: Principal) -> ColumnElement[bool]:
    return OrgUnit.path.startswith(principal.org_path, autoescape=True)
