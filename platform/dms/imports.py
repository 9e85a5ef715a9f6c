"""Bulk import of dealers, customers and products from CSV: all rows or none.

``read_csv`` turns the text into rows keyed by column (pure). ``run`` creates each row through
the same services as the API (``org.create_dealer``, ``customers_service.create_customer``),
each inside a savepoint so that one refused row does not stop the others from being checked:
every row's error is reported in one pass. The caller commits only when no row failed and it
is not a dry run; otherwise it rolls back, so a preview checks exactly what an import would
do (database constraints included) and never leaves anything behind.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from wayhouse.platform.auth.principal import Principal
from wayhouse.platform.dms import audit, org
from wayhouse.platform.dms.customers_service import CustomerData, create_customer
from wayhouse.platform.dms.domain.types import DealerTier, DomainError, OrgLevel
from wayhouse.platform.dms.models import Dealer, OrgUnit, Product
from wayhouse.platform.dms.scope import in_scope

MAX_ROWS = 5000


@dataclass(frozen=True)
class RowError:
    line: int  # as a spreadsheet numbers it: the header is line 1
    column: str | None
    message: str


class FileError(DomainError):
    """The file as a whole cannot be read (no header, a missing column, too many rows)."""


@dataclass
class Table:
    rows: list[tuple[int, dict[str, str]]]
    errors: list[RowError]


def read_csv(text: str, columns: Iterable[str], required: Iterable[str]) -> Table:
    """Rows as (line, {column: stripped text}); blank lines skipped. Accepts a UTF-8 BOM (what
    Excel writes) and comma, semicolon or tab as the separator. Unknown and missing required
    columns are a ``FileError`` naming them; a row with more cells than the header has
    columns is a row error."""
    text = text.lstrip("\ufeff")
    first = text.split("\n", 1)[0]
    delimiter = max((",", ";", "\t"), key=first.count)
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        raise FileError("empty_file", "the file is empty: line 1 names the columns") from None
    except csv.Error as exc:
        raise FileError("invalid_csv", f"line 1: {exc}") from None
    known = list(columns)
    unknown = [h for h in header if h not in known]
    if unknown:
        raise FileError(
            "unknown_columns",
            f"unknown columns: {', '.join(unknown)}; expected: {', '.join(known)}",
        )
    missing = [c for c in required if c not in header]
    if missing:
        raise FileError("missing_columns", f"missing columns: {', '.join(missing)}")
    if len(set(header)) != len(header):
        raise FileError("duplicate_columns", "a column is named twice")
    table = Table([], [])
    try:
        for values in reader:
            if not any(v.strip() for v in values):
                continue
            if len(table.rows) + len(table.errors) == MAX_ROWS:
                raise FileError("too_many_rows", f"at most {MAX_ROWS} rows per file; split it")
            if len(values) > len(header):
                message = f"{len(values)} cells but {len(header)} columns"
                table.errors.append(RowError(reader.line_num, None, message))
                continue
            cells = {
                h: (values[i].strip() if i < len(values) else "") for i, h in enumerate(header)
            }
            table.rows.append((reader.line_num, cells))
    except csv.Error as exc:
        raise FileError("invalid_csv", f"line {reader.line_num}: {exc}") from None
    return table


def duplicates(rows: list[tuple[int, Mapping[str, Any]]], key: str) -> list[RowError]:
    """A code given twice in one file: the later lines are errors (the first would win)."""
    seen: dict[str, int] = {}
    out = []
    for line, values in rows:
        value = str(values.get(key) or "").strip().lower()
        if not value:
            continue
        if value in seen:
            out.append(RowError(line, key, f"{key} repeats line {seen[value]}"))
        else:
            seen[value] = line
    return out


Creator = Callable[[Session, Principal, Any], object]


def run(
    session: Session, actor: Principal, rows: list[tuple[int, Any]], create: Creator
) -> list[RowError]:
    """Create every row, each in a savepoint; the errors of the rows refused."""
    errors = []
    for line, row in rows:
        savepoint = session.begin_nested()
        try:
            create(session, actor, row)
            session.flush()
            savepoint.commit()
        except DomainError as exc:
            savepoint.rollback()
            errors.append(RowError(line, getattr(exc, "column", None), exc.message))
        except IntegrityError as exc:
            savepoint.rollback()
            detail = str(exc.orig).splitlines()[0] if exc.orig else "refused by the database"
            errors.append(RowError(line, None, detail))
    return errors


class RowRefused(DomainError):
    def __init__(self, column: str, code: str, message: str) -> None:
        super().__init__(code, message)
        self.column = column


# -- the three kinds ----------------------------------------------------------------------
def create_dealer(session: Session, actor: Principal, row: Any) -> Dealer:
    region = session.scalar(
        select(OrgUnit).where(
            OrgUnit.code == row.region_code,
            OrgUnit.level == OrgLevel.REGION.value,
            in_scope(actor),
        )
    )
    if region is None:
        raise RowRefused("region_code", "unknown_region", f"no region {row.region_code!r}")
    if session.scalar(select(OrgUnit.id).where(OrgUnit.code == row.code)) is not None:
        raise RowRefused("code", "duplicate_code", f"code {row.code!r} is taken")
    return org.create_dealer(
        session,
        region,
        row.code,
        row.legal_name,
        actor.user_id,
        tier=DealerTier(row.tier),
        business_scope=row.business_scope,
        contacts=[c.model_dump() for c in row.contacts],
        addresses=[a.model_dump() for a in row.addresses],
    )


def create_customer_row(session: Session, actor: Principal, row: Any) -> object:
    dealer_id = None
    if row.dealer_code:
        dealer_id = session.scalar(
            select(Dealer.id)
            .join(Dealer.org_unit)
            .where(OrgUnit.code == row.dealer_code, in_scope(actor))
        )
        if dealer_id is None:
            raise RowRefused("dealer_code", "unknown_dealer", f"no dealer {row.dealer_code!r}")
    data = CustomerData(
        name=row.name,
        phone=row.phone,
        email=row.email,
        address=row.address,
        area_code=row.area_code,
        lat=row.lat,
        lon=row.lon,
        source=row.source or "import",
        code=row.code,
    )
    return create_customer(session, actor, data, dealer_id)


def create_product(session: Session, actor: Principal, row: Any) -> Product:
    if session.scalar(select(Product.id).where(Product.sku == row.sku)) is not None:
        raise RowRefused("sku", "duplicate_sku", f"SKU {row.sku!r} exists")
    product = Product(
        sku=row.sku,
        name=row.name,
        product_class=row.product_class,
        unit=row.unit,
        unit_weight_g=row.unit_weight_g,
        unit_volume_l=row.unit_volume_l,
        shelf_life_days=row.shelf_life_days,
        list_price=Decimal(row.list_price),
        active=row.active,
    )
    session.add(product)
    session.flush()
    audit.record(
        session,
        actor.user_id,
        "product",
        product.id,
        "create",
        None,
        {"sku": product.sku, "name": product.name, "list_price": str(product.list_price)},
        "import",
    )
    return product
