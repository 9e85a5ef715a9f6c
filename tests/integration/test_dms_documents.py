"""Dealer qualification documents through the API on the real database: uploads are sniffed
and size-checked, round-trip byte for byte, stay inside the tenant, show up in the expiring
list, and an expired required licence refuses orders (409) until a renewal is uploaded."""

from __future__ import annotations

import datetime as dt
import stat
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest
from conftest import Stack
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from wayhouse.platform.api.app import create_app
from wayhouse.platform.db.base import unit_of_work
from wayhouse.platform.dms import documents, org
from wayhouse.platform.dms.domain.types import DomainError, OrgLevel, Role
from wayhouse.platform.dms.models import AuditLog, Product
from wayhouse.platform.dms.models_documents import DealerDocument

pytestmark = pytest.mark.integration
PASSWORD = "documents password 1"
TODAY = dt.datetime.now(dt.UTC).date()
PDF = b"%PDF-1.7\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


@dataclass
class World:
    url: str
    data_dir: Path
    dealers: dict[str, int]
    product: int
    tokens: dict[str, str]


@pytest.fixture(scope="module")
def client(stack: Stack) -> Iterator[TestClient]:
    with TestClient(create_app(stack.settings)) as c:
        yield c


@pytest.fixture(scope="module")
def world(stack: Stack, client: TestClient) -> World:
    p = f"q{uuid.uuid4().hex[:6]}"
    url = stack.settings.sqlalchemy_url()
    with unit_of_work(url) as s:
        hq = org.create_unit(s, OrgLevel.HQ, f"{p}-HQ", "HQ", None)
        r1 = org.create_unit(s, OrgLevel.REGION, f"{p}-R1", "East", hq)
        r2 = org.create_unit(s, OrgLevel.REGION, f"{p}-R2", "West", hq)
        d1 = org.create_dealer(s, r1, f"{p}-D1", "Dealer One", None)
        d2 = org.create_dealer(s, r2, f"{p}-D2", "Dealer Two", None)
        for who, role, unit in (
            ("hq", Role.HQ_ADMIN, hq),
            ("rm1", Role.REGION_MANAGER, r1),
            ("rm2", Role.REGION_MANAGER, r2),
            ("du1", Role.DEALER_USER, d1.org_unit),
            ("du2", Role.DEALER_USER, d2.org_unit),
        ):
            org.create_user(s, f"{p}-{who}", PASSWORD, role, unit)
        product = Product(
            sku=f"{p}-pads",
            name="pads",
            product_class="parts",
            unit_weight_g=100.0,
            unit_volume_l=0.1,
            shelf_life_days=365,
            list_price=Decimal("10.00"),
        )
        s.add(product)
        s.flush()
        world = World(url, stack.settings.data_dir, {"d1": d1.id, "d2": d2.id}, product.id, {})
    for who in ("hq", "rm1", "rm2", "du1", "du2"):
        r = client.post("/auth/login", json={"username": f"{p}-{who}", "password": PASSWORD})
        assert r.status_code == 200, r.text
        world.tokens[who] = r.json()["token"]
    return world


def _h(world: World, who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {world.tokens[who]}"}


def _upload(  # type: ignore[no-untyped-def]
    client: TestClient,
    world: World,
    who: str,
    dealer: str,
    *,
    number: str,
    valid_from: dt.date,
    valid_until: dt.date,
    data: bytes = PDF,
    content_type: str = "application/pdf",
    doc_type: str = "business_licence",
):
    return client.post(
        f"/dealers/{world.dealers[dealer]}/documents",
        data={
            "doc_type": doc_type,
            "number": number,
            "valid_from": valid_from.isoformat(),
            "valid_until": valid_until.isoformat(),
        },
        files={"file": ("../../etc/passwd", data, content_type)},
        headers=_h(world, who),
    )


def _days(n: int) -> dt.date:
    return TODAY + dt.timedelta(days=n)


def test_pdf_upload_round_trips_and_is_stored_privately(client: TestClient, world: World) -> None:
    data = PDF + uuid.uuid4().bytes
    r = _upload(
        client,
        world,
        "du1",
        "d1",
        number="BL-1",
        valid_from=_days(-10),
        valid_until=_days(300),
        data=data,
    )
    assert r.status_code == 201, r.text
    doc = r.json()
    assert (doc["content_type"], doc["size_bytes"], doc["state"]) == (
        "application/pdf",
        len(data),
        "valid",
    )
    # Stored by content hash under the dealer, owner-only; the client's filename is ignored.
    stored = world.data_dir / "documents" / str(world.dealers["d1"]) / doc["sha256"]
    assert stored.read_bytes() == data
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600

    r = client.get(
        f"/dealers/{world.dealers['d1']}/documents/{doc['id']}/file", headers=_h(world, "rm1")
    )
    assert r.status_code == 200, r.text
    assert r.content == data
    assert r.headers["content-type"] == "application/pdf"

    r = client.get(f"/dealers/{world.dealers['d1']}/documents", headers=_h(world, "hq"))
    assert r.status_code == 200
    assert [d["number"] for d in r.json()["items"]] == ["BL-1"]

    with unit_of_work(world.url) as s:
        trail = s.scalars(
            select(AuditLog).where(
                AuditLog.entity == "dealer_document", AuditLog.entity_id == str(doc["id"])
            )
        ).all()
        assert [(a.action, a.new["number"]) for a in trail] == [("upload", "BL-1")]  # type: ignore[index]


@pytest.mark.parametrize(
    ("data", "content_type", "code"),
    [
        (b"MZ\x90\x00 not a scan", "application/pdf", "file_type_not_allowed"),
        (b"<html><script>alert(1)</script>", "text/html", "file_type_not_allowed"),
        (PDF, "image/png", "file_type_mismatch"),
        (b"", "application/pdf", "empty_file"),
        (b"%PDF-" + b"0" * documents.UPLOADS.max_bytes, "application/pdf", "file_too_large"),
    ],
)
def test_bad_files_are_422_with_the_reason(
    client: TestClient, world: World, data: bytes, content_type: str, code: str
) -> None:
    r = _upload(
        client,
        world,
        "hq",
        "d2",
        number="BAD-1",
        valid_from=_days(-1),
        valid_until=_days(9),
        data=data,
        content_type=content_type,
    )
    assert r.status_code == 422, r.text
    assert r.json()["detail"]["code"] == code
    with unit_of_work(world.url) as s:
        assert not s.scalars(select(DealerDocument).where(DealerDocument.number == "BAD-1")).all()


def test_validity_must_be_ordered(client: TestClient, world: World) -> None:
    r = _upload(client, world, "hq", "d2", number="X", valid_from=_days(5), valid_until=_days(1))
    assert r.status_code == 422
    assert r.json()["detail"]["code"] == "invalid_document"


def test_other_tenants_documents_are_404_and_only_hq_or_own_dealer_uploads(
    client: TestClient, world: World
) -> None:
    r = _upload(
        client, world, "hq", "d2", number="BL-D2", valid_from=_days(-1), valid_until=_days(99)
    )
    assert r.status_code == 201, r.text
    doc_id = r.json()["id"]
    d2 = world.dealers["d2"]
    for who in ("du1", "rm1"):
        assert client.get(f"/dealers/{d2}/documents", headers=_h(world, who)).status_code == 404
        r = client.get(f"/dealers/{d2}/documents/{doc_id}/file", headers=_h(world, who))
        assert r.status_code == 404
        r = _upload(
            client, world, who, "d2", number="SNEAK", valid_from=_days(0), valid_until=_days(9)
        )
        assert r.status_code == 404
    # A document id under the wrong dealer does not leak either.
    r = client.get(
        f"/dealers/{world.dealers['d1']}/documents/{doc_id}/file", headers=_h(world, "hq")
    )
    assert r.status_code == 404
    # The region manager sees d2's documents but may not file them.
    assert client.get(f"/dealers/{d2}/documents", headers=_h(world, "rm2")).status_code == 200
    r = _upload(client, world, "rm2", "d2", number="RM", valid_from=_days(0), valid_until=_days(9))
    assert r.status_code == 403


def test_expiring_lists_documents_lapsing_within_n_days_in_scope(
    client: TestClient, world: World
) -> None:
    r = _upload(
        client,
        world,
        "hq",
        "d2",
        number="PERMIT-9",
        doc_type="operating_permit",
        valid_from=_days(-100),
        valid_until=_days(9),
    )
    assert r.status_code == 201, r.text

    def numbers(who: str, days: int) -> list[str]:
        r = client.get(f"/documents/expiring?days={days}&size=500", headers=_h(world, who))
        assert r.status_code == 200, r.text
        return [d["number"] for d in r.json()["items"] if d["dealer_id"] == world.dealers["d2"]]

    assert numbers("hq", 10) == ["PERMIT-9"]
    assert numbers("hq", 5) == []
    assert numbers("rm2", 10) == ["PERMIT-9"]
    assert numbers("rm1", 10) == []  # another region's dealer
    assert numbers("du2", 10) == ["PERMIT-9"]  # the dealer that must renew it is warned
    assert numbers("du1", 10) == []  # another dealer's document

    # Once a renewal is on file there is nothing to chase.
    r = _upload(
        client,
        world,
        "du2",
        "d2",
        number="PERMIT-10",
        doc_type="operating_permit",
        valid_from=_days(10),
        valid_until=_days(400),
    )
    assert r.status_code == 201, r.text
    assert numbers("hq", 10) == []


def test_expired_licence_refuses_orders_until_renewed(client: TestClient, world: World) -> None:
    d1 = world.dealers["d1"]
    order = {"lines": [{"product_id": world.product, "qty": 1}]}
    r = _upload(
        client, world, "du1", "d1", number="BL-OLD", valid_from=_days(-400), valid_until=_days(30)
    )
    assert r.status_code == 201, r.text
    r = client.post("/orders", json=order, headers=_h(world, "du1"))
    assert r.status_code == 201, r.text
    draft = r.json()["id"]

    # Every licence of d1 lapses (the BL-1 of the first test too, if it ran).
    with unit_of_work(world.url) as s:
        s.execute(
            update(DealerDocument)
            .where(DealerDocument.dealer_id == d1)
            .values(valid_from=_days(-400), valid_until=_days(-1))
        )

    r = client.post("/orders", json=order, headers=_h(world, "du1"))
    assert r.status_code == 409, r.text
    assert r.json()["detail"]["code"] == "document_expired"
    assert "business_licence" in r.json()["detail"]["message"]
    r = client.post(f"/orders/{draft}/submit", headers=_h(world, "du1"))
    assert r.status_code == 409, r.text
    assert r.json()["detail"]["code"] == "document_expired"

    r = _upload(
        client, world, "du1", "d1", number="BL-NEW", valid_from=_days(0), valid_until=_days(365)
    )
    assert r.status_code == 201, r.text
    assert client.post(f"/orders/{draft}/submit", headers=_h(world, "du1")).status_code == 200
    assert client.post("/orders", json=order, headers=_h(world, "du1")).status_code == 201


def test_reupload_of_same_number_supersedes_and_is_audited(
    client: TestClient, world: World
) -> None:
    first = _upload(
        client, world, "hq", "d2", number="BL-FIX", valid_from=_days(-5), valid_until=_days(50)
    )
    second = _upload(
        client, world, "hq", "d2", number="BL-FIX", valid_from=_days(-5), valid_until=_days(500)
    )
    assert first.status_code == second.status_code == 201
    r = client.get(
        f"/dealers/{world.dealers['d2']}/documents?doc_type=business_licence&include_superseded=true",
        headers=_h(world, "hq"),
    )
    fix = {d["id"]: d for d in r.json()["items"] if d["number"] == "BL-FIX"}
    assert fix[first.json()["id"]]["superseded_at"] is not None
    assert fix[second.json()["id"]]["superseded_at"] is None
    r = client.get(
        f"/audit?entity=dealer_document&entity_id={first.json()['id']}", headers=_h(world, "hq")
    )
    assert [a["action"] for a in r.json()["items"]] == ["supersede", "upload"]


def test_missing_licence_blocks_orders_only_when_configured(stack: Stack) -> None:
    from wayhouse.config import Settings
    from wayhouse.platform.dms.documents import ensure_can_order, gate

    p = f"gm{uuid.uuid4().hex[:6]}"
    with unit_of_work(stack.settings.sqlalchemy_url()) as s:
        hq = org.create_unit(s, OrgLevel.HQ, f"{p}-HQ", "HQ", None)
        region = org.create_unit(s, OrgLevel.REGION, f"{p}-R", "R", hq)
        dealer = org.create_dealer(s, region, f"{p}-D", "No papers", None)
        on = dt.date.today()
        ensure_can_order(s, dealer, on, gate(Settings(documents_block_missing=False)))
        with pytest.raises(DomainError) as refused:
            ensure_can_order(s, dealer, on, gate(Settings(documents_block_missing=True)))
        assert refused.value.code == "document_missing"
        assert "business_licence" in refused.value.message
