"""The import and export page in NiceGUI's user simulation against the real API: a CSV is
checked (preview, per-row errors, the import button stays off while any row is wrong), then
imported as a whole; a file can be uploaded; the template and any list download as CSV with
every row of the filter."""

from __future__ import annotations

import csv
import io
import uuid
from typing import Any

import httpx
import pytest
from nicegui import ui
from nicegui.elements.upload_files import SmallFileUpload
from nicegui.testing.user import User
from ui_kit import (  # noqa: F401 - fixtures
    RETRIES,
    Api,
    anyio_backend_fixture,
    api_fixture,
    login,
    rows,
    user_fixture,
)

from wayhouse.ui.export import EXPORTS, cell, to_csv
from wayhouse.ui.i18n import t

pytestmark = [pytest.mark.integration, pytest.mark.anyio]


def _one(user: User, marker: str) -> Any:
    (element,) = user.find(marker=marker).elements
    return element


def _codes(api: Api, q: str) -> set[str]:
    r = httpx.get(f"{api.url}/dealers", params={"q": q, "size": 100}, headers=api.headers("admin"))
    return {d["code"] for d in r.json()["items"]}


def _read(content: bytes) -> list[list[str]]:
    assert content.startswith("\ufeff".encode())  # Excel reads the Chinese headers right
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))


def test_cells_are_safe_for_spreadsheets() -> None:
    assert cell(None) == "" and cell(True) == "true" and cell(["a", "b"]) == "a; b"
    assert cell("=HYPERLINK(1)") == "'=HYPERLINK(1)" and cell("@x") == "'@x"
    assert cell("-12.50") == "-12.50" and cell("+86 21 5555") == "'+86 21 5555"
    data = to_csv([{"id": 1, "code": "A,1"}], ["id", "code"], "en")
    assert _read(data) == [["ID", "Code"], ["1", "A,1"]]


async def test_a_checked_file_imports_and_a_bad_one_does_not(user: User, api: Api) -> None:
    p = f"IMP{uuid.uuid4().hex[:5]}"
    good = f"code,legal_name,region_code,tier\n{p}-1,{p} 华东新车行,R-EAST,gold\n"
    bad = good + f"{p}-2,{p} Nowhere,R-MOON,\n{p}-3,x,R-EAST,\n"
    await login(user, api, "admin")
    await user.should_see(marker="kpi-orders", retries=RETRIES)
    await user.open("/import")
    await user.should_see(marker="import-text", retries=RETRIES)

    user.find(marker="import-text").type(bad)
    user.find(marker="import-check").click()
    await user.should_see(marker="import-errors", retries=RETRIES)
    errors = rows(user, "import-errors")
    assert {(e["line"], e["column"]) for e in errors} == {(3, "region_code"), (4, "legal_name")}
    await user.should_see(
        marker="import-summary", content=t("imp.summary", "zh-CN", rows=3, errors=2)
    )
    assert not _one(user, "import-run").enabled  # nothing is imported while a row is wrong
    assert _codes(api, p) == set()

    user.find(marker="import-text").clear().type(good)
    assert not _one(user, "import-run").enabled  # changed text: check again first
    user.find(marker="import-check").click()
    await user.should_see(
        marker="import-summary", content=t("imp.ok", "zh-CN", rows=1), retries=RETRIES
    )
    assert rows(user, "import-preview")[0]["legal_name"] == f"{p} 华东新车行"
    user.find(marker="import-run").click()
    await user.should_see(
        marker="import-summary", content=t("imp.done", "zh-CN", n=1), retries=RETRIES
    )
    assert _codes(api, p) == {f"{p}-1"}


async def test_an_uploaded_file_is_checked(user: User, api: Api) -> None:
    p = f"UP{uuid.uuid4().hex[:5]}"
    content = f"\ufeffsku,name,product_class,unit_weight_g,unit_volume_l,list_price\n{p}-1,Bolt,parts,10,0.01,1.20\n"
    await login(user, api, "admin")
    await user.should_see(marker="kpi-orders", retries=RETRIES)
    await user.open("/import")
    await user.should_see(marker="import-kind", retries=RETRIES)
    _one(user, "import-kind").value = "products"
    await _one(user, "import-upload").handle_uploads(
        [SmallFileUpload("products.csv", "text/csv", content.encode())]
    )
    await user.should_see(marker="import-text", content=f"{p}-1", retries=RETRIES)
    user.find(marker="import-check").click()
    await user.should_see(
        marker="import-summary", content=t("imp.ok", "zh-CN", rows=1), retries=RETRIES
    )
    user.find(marker="import-template").click()
    template = await user.download.next(timeout=5)
    assert _read(template.content)[0][:3] == ["sku", "name", "product_class"]


async def test_export_downloads_every_row_of_the_filter(user: User, api: Api) -> None:
    await login(user, api, "admin")
    await user.should_see(marker="kpi-orders", retries=RETRIES)
    await user.open("/import")
    await user.should_see(marker="tab-export", retries=RETRIES)
    user.find(marker="tab-export").click()
    _one(user, "export-list").value = "dealers"
    await user.should_see(marker="export-dealers", retries=RETRIES)
    user.find(marker="export-dealers").click()
    response = await user.download.next(timeout=10)
    table = _read(response.content)
    header = [t(f"col.{c}", "zh-CN") for c in EXPORTS["dealers"].columns]
    total = httpx.get(f"{api.url}/dealers", params={"size": 1}, headers=api.headers("admin")).json()
    assert table[0] == header and len(table) - 1 == total["total"]
    assert "DL-001" in {r[1] for r in table[1:]}

    # A filter narrows it: the page size of the API does not cut it short.
    user.find(marker="export-q").type("DL-001")
    user.find(marker="export-dealers").click()
    narrowed = _read((await user.download.next(timeout=10)).content)
    assert [r[1] for r in narrowed[1:]] == ["DL-001"]
    assert isinstance(_one(user, "export-list"), ui.select)
