"""CSV import on the real database: a dry run previews and lists every row's error without
writing; an import with any bad row writes nothing (422, the same errors); a clean import
creates every row through the services (audited); HQ only; file-level errors are 422."""

from __future__ import annotations

import pytest
from conftest import Stack
from console_world import World, client_fixture, world_fixture  # noqa: F401 - fixtures
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st

from wayhouse.platform.dms.imports import FileError, read_csv

pytestmark = pytest.mark.integration


def _import(client: TestClient, world: World, kind: str, text: str, dry_run: bool, who: str = "hq"):  # type: ignore[no-untyped-def]
    return client.post(
        f"/import/{kind}",
        params={"dry_run": str(dry_run).lower()},
        json={"csv": text},
        headers=world.h(who),
    )


def _dealer_codes(client: TestClient, world: World) -> set[str]:
    r = client.get("/dealers", params={"q": world.p, "size": 100}, headers=world.h("hq"))
    return {d["code"] for d in r.json()["items"]}


def _dealers_csv(world: World, *rows: str) -> str:
    header = "code,legal_name,region_code,tier,contact_name,contact_phone,address,lat,lon"
    return "\n".join([header, *rows]).replace("{p}", world.p) + "\n"


def test_a_dry_run_previews_and_writes_nothing(client: TestClient, world: World) -> None:
    text = _dealers_csv(
        world,
        "{p}-N1,{p} Nova Motors,{p}-R1,gold,Li Lei,+86 21 5555,1 Harbour Rd,31.2,121.5",
        "{p}-N2,{p} Orion Parts,{p}-R2,,,,,,",
    )
    before = _dealer_codes(client, world)
    r = _import(client, world, "dealers", text, dry_run=True)
    assert r.status_code == 200, r.text
    out = r.json()
    assert (out["rows"], out["created"], out["errors"], out["dry_run"]) == (2, 0, [], True)
    assert out["preview"][0]["legal_name"] == f"{world.p} Nova Motors"
    assert _dealer_codes(client, world) == before


def test_one_bad_row_imports_nothing_and_every_error_is_named(
    client: TestClient, world: World
) -> None:
    text = _dealers_csv(
        world,
        "{p}-B1,{p} Good Row,{p}-R1,,,,,,",  # line 2: fine on its own
        "{p}-B2,{p} Bad Tier,{p}-R1,diamond,,,,,",  # line 3
        "{p}-B3,{p} No Region,NOPE,,,,,,",  # line 4
        "{p}-B1,{p} Same Code,{p}-R1,,,,,,",  # line 5: repeats line 2
        "{p}-B4,{p} Half Address,{p}-R2,,,,Somewhere,95,",  # line 6
        "{p}-D11,{p} Taken Code,{p}-R1,,,,,,",  # line 7: the world's dealer
        "{p}-B5,{p} Phone Only,{p}-R1,,,+86 1,,,",  # line 8: a contact needs a name
    )
    before = _dealer_codes(client, world)
    preview = _import(client, world, "dealers", text, dry_run=True).json()
    where = {(e["line"], e["column"]) for e in preview["errors"]}
    assert {(3, "tier"), (4, "region_code"), (5, "code"), (6, "lat"), (6, "lon")} <= where
    assert (7, "code") in where and (8, "contact_name") in where
    assert 2 not in {e["line"] for e in preview["errors"]}

    r = _import(client, world, "dealers", text, dry_run=False)
    assert r.status_code == 422, r.text
    detail = r.json()["detail"]
    assert detail["code"] == "rows_invalid" and "nothing was imported" in detail["message"]
    assert {(e["line"], e["column"]) for e in detail["errors"]} == where
    assert _dealer_codes(client, world) == before  # not even the good row


def test_a_clean_file_imports_every_row(stack: Stack, client: TestClient, world: World) -> None:
    text = "\ufeff" + _dealers_csv(
        world,
        "{p}-G1,{p} Vega Trading,{p}-R1,silver,Han Mei,+86 10 1234,8 Bund Rd,31.23,121.49",
        '{p}-G2,"{p} Lyra, Ltd.",{p}-R2,,,,,,',
    )
    r = _import(client, world, "dealers", text, dry_run=False)
    assert r.status_code == 200, r.text
    assert (r.json()["created"], r.json()["errors"]) == (2, [])
    found = client.get("/dealers", params={"q": f"{world.p}-G"}, headers=world.h("hq")).json()
    by_code = {d["code"]: d for d in found["items"]}
    g1 = by_code[f"{world.p}-G1"]
    assert (g1["tier"], g1["status"], g1["region_id"]) == ("silver", "applicant", world.units["r1"])
    assert g1["contacts"] == [
        {"name": "Han Mei", "phone": "+86 10 1234", "email": None, "role": None}
    ]
    assert g1["addresses"][0]["line"] == "8 Bund Rd" and g1["addresses"][0]["lat"] == 31.23
    assert by_code[f"{world.p}-G2"]["legal_name"] == f"{world.p} Lyra, Ltd."
    audited = stack.scalar(
        "SELECT count(*) FROM audit_log WHERE entity = 'dealer' AND action = 'create' "
        "AND entity_id = %s",
        (str(g1["id"]),),
    )
    assert audited == 1


def test_customers_and_products(client: TestClient, world: World) -> None:
    customers = "\n".join(
        [
            "code;name;dealer_code;phone;email;area_code;lat;lon",  # semicolons, as Excel may
            f"{world.p}-K1;{world.p} Kilo Garage;{world.p}-D11;+86 20 111;k@example.com;CN-GD;23.1;113.3",
            f"{world.p}-K2;{world.p} Lima Fleet;{world.p}-NOPE;;;;;",
            f"{world.p}-K3;{world.p} Mike Repairs;{world.p}-D21;;not-an-email;;;",
        ]
    )
    out = _import(client, world, "customers", customers, dry_run=True).json()
    assert {(e["line"], e["column"]) for e in out["errors"]} == {(3, "dealer_code"), (4, "email")}
    fixed = "\n".join(customers.splitlines()[:2])
    r = _import(client, world, "customers", fixed, dry_run=False)
    assert r.status_code == 200 and r.json()["created"] == 1, r.text
    found = client.get("/customers", params={"q": f"{world.p}-K1"}, headers=world.h("du11"))
    (k1,) = found.json()["items"]
    assert k1["dealer_id"] == world.dealers["d11"] and k1["source"] == "import"

    products = "\n".join(
        [
            "sku,name,product_class,unit_weight_g,unit_volume_l,list_price,shelf_life_days,active",
            f"{world.p}-NEW1,Brake disc,brakes,5400,2.1,320.50,,true",
            f"{world.p}-P1,Again,parts,1,1,1,,",  # the world's SKU
            f"{world.p}-NEW2,Oil,fluids,-3,1,abc,0,maybe",
        ]
    )
    out = _import(client, world, "products", products, dry_run=True).json()
    assert {(e["line"], e["column"]) for e in out["errors"]} == {
        (3, "sku"),
        (4, "unit_weight_g"),
        (4, "list_price"),
        (4, "shelf_life_days"),
        (4, "active"),
    }
    r = _import(client, world, "products", "\n".join(products.splitlines()[:2]), dry_run=False)
    assert r.status_code == 200 and r.json()["created"] == 1, r.text
    (p,) = client.get("/products", params={"q": f"{world.p}-NEW1"}, headers=world.h("du11")).json()[
        "items"
    ]
    assert (p["list_price"], p["product_class"], p["unit"]) == ("320.50", "brakes", "pcs")


def test_file_errors_roles_and_scope(client: TestClient, world: World) -> None:
    cases = {
        "": "empty_file",
        "code,legal_name,region_code,colour\n": "unknown_columns",
        "code,legal_name\nX1,Name\n": "missing_columns",
        "code,code,legal_name,region_code\n": "duplicate_columns",
    }
    for text, code in cases.items():
        r = _import(client, world, "dealers", text, dry_run=True)
        assert r.status_code == 422 and r.json()["detail"]["code"] == code, (text, r.text)
    assert _import(client, world, "widgets", "a\n", dry_run=True).status_code == 422
    assert _import(client, world, "dealers", "a\x00b", dry_run=True).status_code == 422
    text = _dealers_csv(world, "{p}-S1,{p} Scoped,{p}-R1,,,,,,")
    assert _import(client, world, "dealers", text, dry_run=True, who="rm1").status_code == 403
    # A region of another tenant tree is unknown to this HQ.
    other = _dealers_csv(world, "{p}-S2,{p} Elsewhere,R-EAST,,,,,,")
    errors = _import(client, world, "dealers", other, dry_run=True).json()["errors"]
    assert [(e["line"], e["column"]) for e in errors] == [(2, "region_code")]
    r = client.get("/import/products/columns", headers=world.h("hq"))
    assert r.status_code == 200 and "sku" in r.json()["required"]
    assert client.get("/import/products/columns", headers=world.h("du11")).status_code == 403


def test_extra_cells_are_a_row_error() -> None:
    table = read_csv("a,b\n1,2\n1,2,3\n\n4,5\n", ["a", "b"], ["a"])
    assert [line for line, _ in table.rows] == [2, 5]
    assert [(e.line, e.message) for e in table.errors] == [(3, "3 cells but 2 columns")]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.text(max_size=12), st.text(max_size=12)), max_size=8))
def test_any_text_reads_back_or_is_refused_as_a_file_error(cells: list[tuple[str, str]]) -> None:
    import csv
    import io

    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["a", "b"])
    writer.writerows(cells)
    try:
        table = read_csv(out.getvalue(), ["a", "b"], ["a", "b"])
    except FileError:
        return
    expected = [(a.strip(), b.strip()) for a, b in cells if a.strip() or b.strip()]
    got = [(r["a"], r["b"]) for _, r in table.rows]
    # A value that holds a line break or a separator is still one cell: nothing lost or added.
    assert got == expected and table.errors == []
