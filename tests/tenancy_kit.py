"""Shared by the API tests: the FastAPI test client on the real database, and a small tenant
tree (HQ > two regions > a dealer each) with a user per role, signed in. A test module
imports what it uses; the client fixture registers as ``client``."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

import pytest
from conftest import Stack
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from wayhouse.platform.api.app import create_app
from wayhouse.platform.dms import org
from wayhouse.platform.dms.domain.types import OrgLevel, Role
from wayhouse.platform.dms.models import Dealer, OrgUnit

PASSWORD = "tenant kit password 1"


@pytest.fixture(name="client", scope="module")
def client_fixture(stack: Stack) -> Iterator[TestClient]:
    with TestClient(create_app(stack.settings)) as c:
        yield c


@dataclass
class Tree:
    """HQ > R1 > d1 and HQ > R2 > d2 (named with a unique prefix), plus users by key."""

    prefix: str
    hq: OrgUnit
    regions: dict[str, OrgUnit]
    dealers: dict[str, Dealer]
    users: dict[str, int] = field(default_factory=dict)


def build_tree(
    session: Session, letter: str, region_names: tuple[str, str] = ("East", "West")
) -> Tree:
    p = f"{letter}{uuid.uuid4().hex[:6]}"
    hq = org.create_unit(session, OrgLevel.HQ, f"{p}-HQ", "HQ", None)
    r1 = org.create_unit(session, OrgLevel.REGION, f"{p}-R1", region_names[0], hq)
    r2 = org.create_unit(session, OrgLevel.REGION, f"{p}-R2", region_names[1], hq)
    d1 = org.create_dealer(session, r1, f"{p}-D1", "Dealer One", None)
    d2 = org.create_dealer(session, r2, f"{p}-D2", "Dealer Two", None)
    return Tree(p, hq, {"r1": r1, "r2": r2}, {"d1": d1, "d2": d2})


def add_users(session: Session, tree: Tree, spec: Mapping[str, tuple[Role, OrgUnit]]) -> None:
    """Users named ``<prefix>-<key>`` with the kit's password."""
    for key, (role, unit) in spec.items():
        tree.users[key] = org.create_user(session, f"{tree.prefix}-{key}", PASSWORD, role, unit).id


def sign_in_all(client: TestClient, prefix: str, keys: Iterator[str] | list[str]) -> dict[str, str]:
    tokens = {}
    for key in keys:
        r = client.post("/auth/login", json={"username": f"{prefix}-{key}", "password": PASSWORD})
        assert r.status_code == 200, r.text
        tokens[key] = r.json()["token"]
    return tokens


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
