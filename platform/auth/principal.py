"""Who is asking, and what of the organisation tree they may see (no I/O)."""

from __future__ import annotations

from dataclasses import dataclass

from wayhouse.platform.dms.domain.types import Role


@dataclass(frozen=True)
class Principal:
    user_id: int
    username: str
    role: Role
    org_unit_id: int
    org_path: str  # '/1/4/17/': the subtree this user may see
    locale: str = "zh-CN"

    def can_see(self, path: str) -> bool:
        """A row belongs to an org unit; it is visible when that unit is in the user's subtree."""
        return path.startswith(self.org_path)

    @property
    def is_hq(self) -> bool:
        return self.role is Role.HQ_ADMIN
