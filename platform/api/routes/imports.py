"""CSV import of dealers, customers and products (HQ): ``dry_run=true`` previews and lists
every row's errors; ``dry_run=false`` imports all rows in one transaction or, if any row is
refused, nothing (422 with the same per-row errors). Rows are validated with the same rules
as the single-row endpoints (their pydantic models) and created through the same services."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, status
from pydantic import BaseModel, Field, ValidationError

from wayhouse.platform.api.auth_deps import DbSession, require_role
from wayhouse.platform.api.errors import Text
from wayhouse.platform.api.routes.customers import CustomerIn
from wayhouse.platform.api.routes.dealers import Address, Contact
from wayhouse.platform.auth.principal import Principal
from wayhouse.platform.dms import imports
from wayhouse.platform.dms.domain.types import DealerTier, Role

router = APIRouter(prefix="/import", tags=["import"])

HqOnly = Annotated[Principal, Depends(require_role(Role.HQ_ADMIN))]
Kind = Literal["dealers", "customers", "products"]
PREVIEW_ROWS = 50
MAX_CHARS = 2_000_000


# -- one row of each kind, as the single-row endpoints validate it -------------------------
class DealerRowIn(BaseModel):
    code: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{1,31}$")
    legal_name: str = Field(min_length=2, max_length=200)
    region_code: str = Field(min_length=1, max_length=32)
    tier: DealerTier = DealerTier.STANDARD
    business_scope: str | None = Field(default=None, max_length=2000)
    contacts: list[Contact] = Field(default_factory=list)
    addresses: list[Address] = Field(default_factory=list)


class CustomerRowIn(CustomerIn):
    dealer_code: str | None = Field(default=None, max_length=32)


class ProductRowIn(BaseModel):
    sku: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,39}$")
    name: str = Field(min_length=1, max_length=200)
    product_class: str = Field(min_length=1, max_length=40)
    unit: str = Field(default="pcs", min_length=1, max_length=16)
    unit_weight_g: float = Field(gt=0, le=10_000_000, allow_inf_nan=False)
    unit_volume_l: float = Field(gt=0, le=100_000, allow_inf_nan=False)
    shelf_life_days: int | None = Field(default=None, ge=1, le=36_500)
    list_price: Decimal = Field(ge=0, le=Decimal("1e11"), decimal_places=2)
    active: bool = True


def _dealer_input(cells: dict[str, str]) -> dict[str, Any]:
    data: dict[str, Any] = {
        k: cells[k]
        for k in ("code", "legal_name", "region_code", "tier", "business_scope")
        if cells.get(k)
    }
    contact = {k: cells.get(f"contact_{k}") for k in ("name", "phone", "email")}
    if any(contact.values()):
        data["contacts"] = [{k: v for k, v in contact.items() if v}]
    address = {"line": cells.get("address"), "lat": cells.get("lat"), "lon": cells.get("lon")}
    if any(address.values()):
        data["addresses"] = [{"label": "main", **{k: v for k, v in address.items() if v}}]
    return data


def _plain_input(cells: dict[str, str]) -> dict[str, Any]:
    return {k: v for k, v in cells.items() if v}


# Where a model's error location points in the file: ('contacts', 0, 'phone') -> contact_phone.
NESTED_COLUMNS = {"contacts": "contact_{}", "addresses": "{}"}
ADDRESS_COLUMN = {"line": "address"}


class Spec(BaseModel):
    columns: list[str]
    required: list[str]
    key: str  # unique per file


SPECS: dict[str, tuple[Spec, type[BaseModel], Any, imports.Creator]] = {
    "dealers": (
        Spec(
            columns=[
                *("code", "legal_name", "region_code", "tier", "business_scope"),
                *("contact_name", "contact_phone", "contact_email", "address", "lat", "lon"),
            ],
            required=["code", "legal_name", "region_code"],
            key="code",
        ),
        DealerRowIn,
        _dealer_input,
        imports.create_dealer,
    ),
    "customers": (
        Spec(
            columns=[
                *("code", "name", "dealer_code", "phone", "email", "address", "area_code"),
                *("lat", "lon", "source"),
            ],
            required=["name"],
            key="code",
        ),
        CustomerRowIn,
        _plain_input,
        imports.create_customer_row,
    ),
    "products": (
        Spec(
            columns=[
                *("sku", "name", "product_class", "unit", "unit_weight_g", "unit_volume_l"),
                *("shelf_life_days", "list_price", "active"),
            ],
            required=[
                *("sku", "name", "product_class", "unit_weight_g", "unit_volume_l"),
                "list_price",
            ],
            key="sku",
        ),
        ProductRowIn,
        _plain_input,
        imports.create_product,
    ),
}


class ImportIn(BaseModel):
    csv: Text = Field(max_length=MAX_CHARS, description="the file's text (UTF-8)")


class RowErrorOut(BaseModel):
    line: int
    column: str | None
    message: str


class ImportOut(BaseModel):
    kind: Kind
    dry_run: bool
    rows: int
    created: int
    errors: list[RowErrorOut]
    preview: list[dict[str, str]]


def _column(loc: tuple[int | str, ...]) -> str | None:
    if not loc:
        return None
    head = str(loc[0])
    if head in NESTED_COLUMNS and len(loc) >= 3:
        leaf = str(loc[2])
        return NESTED_COLUMNS[head].format(ADDRESS_COLUMN.get(leaf, leaf))
    return head


def _validate(
    rows: list[tuple[int, dict[str, str]]], model: type[BaseModel], to_input: Any
) -> tuple[list[tuple[int, BaseModel]], list[imports.RowError]]:
    valid, errors = [], []
    for line, cells in rows:
        try:
            valid.append((line, model.model_validate(to_input(cells))))
        except ValidationError as exc:
            for e in exc.errors():
                errors.append(imports.RowError(line, _column(tuple(e["loc"])), e["msg"]))
    return valid, errors


@router.get("/{kind}/columns", response_model=Spec)
def columns(kind: Annotated[Kind, Path()], user: HqOnly) -> Spec:
    """The columns a file of this kind may have (line 1), and the ones it must have."""
    return SPECS[kind][0]


@router.post("/{kind}", response_model=ImportOut)
def import_csv(
    kind: Annotated[Kind, Path()],
    body: ImportIn,
    session: DbSession,
    user: HqOnly,
    dry_run: Annotated[bool, Query(description="check and preview only")] = True,
) -> ImportOut:
    spec, model, to_input, create = SPECS[kind]
    try:
        table = imports.read_csv(body.csv, spec.columns, spec.required)
    except imports.FileError as exc:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, {"code": exc.code, "message": exc.message}
        ) from exc
    valid, errors = _validate(table.rows, model, to_input)
    errors += table.errors + imports.duplicates(table.rows, spec.key)
    refused = {e.line for e in errors}
    try:
        errors += imports.run(
            session, user, [(ln, row) for ln, row in valid if ln not in refused], create
        )
    finally:
        # Commit only below, once everything passed: a dry run or a refused row leaves nothing.
        if dry_run or errors:
            session.rollback()
    errors.sort(key=lambda e: (e.line, e.column or ""))
    out_errors = [RowErrorOut(line=e.line, column=e.column, message=e.message) for e in errors]
    n_rows = len(table.rows) + len(table.errors)
    if errors and not dry_run:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            {
                "code": "rows_invalid",
                "message": f"{len({e.line for e in errors})} of {n_rows} rows have errors; "
                "nothing was imported",
                "errors": [e.model_dump() for e in out_errors],
            },
        )
    if not dry_run:
        session.commit()
    return ImportOut(
        kind=kind,
        dry_run=dry_run,
        rows=n_rows,
        created=0 if dry_run else len(valid),
        errors=out_errors,
        preview=[cells for _, cells in table.rows[:PREVIEW_ROWS]],
    )
