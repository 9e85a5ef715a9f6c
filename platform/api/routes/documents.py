"""Dealer qualification documents: upload (HQ admins or the dealer's own users), list, fetch
the stored file, and HQ's/regions' list of documents about to lapse. A dealer outside the
caller's subtree is a 404, never a 403; every upload is in the audit log."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

from fastapi import (
    APIRouter,
    Depends,
    File,
    Form,
    HTTPException,
    Query,
    Request,
    UploadFile,
    status,
)
from fastapi.responses import FileResponse
from pydantic import BaseModel, ConfigDict
from sqlalchemy import func, select

from wayhouse.platform.api.auth_deps import CurrentUser, DbSession, require_role
from wayhouse.platform.api.deps import Page, pagination
from wayhouse.platform.api.routes.dealers import _get_visible, _visible
from wayhouse.platform.api.schemas import PageOut
from wayhouse.platform.auth.principal import Principal
from wayhouse.platform.dms import documents
from wayhouse.platform.dms.domain.dealers import DocumentState, document_state
from wayhouse.platform.dms.domain.types import DomainError, Role
from wayhouse.platform.dms.models_documents import DealerDocument

router = APIRouter(tags=["documents"])

DocType = Annotated[str, Form(pattern=r"^[a-z][a-z0-9_]{1,39}$", description="business_licence")]


class DocumentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    dealer_id: int
    doc_type: str
    number: str
    valid_from: dt.date
    valid_until: dt.date
    state: DocumentState
    days_left: int
    sha256: str
    size_bytes: int
    content_type: str
    uploaded_by: int | None
    uploaded_at: dt.datetime
    superseded_at: dt.datetime | None


def _out(row: DealerDocument, on: dt.date) -> DocumentOut:
    return DocumentOut(
        id=row.id,
        dealer_id=row.dealer_id,
        doc_type=row.doc_type,
        number=row.number,
        valid_from=row.valid_from,
        valid_until=row.valid_until,
        state=document_state(documents.to_domain(row), on, documents.gate().policy.warning_days),
        days_left=(row.valid_until - on).days,
        sha256=row.sha256,
        size_bytes=row.size_bytes,
        content_type=row.content_type,
        uploaded_by=row.uploaded_by,
        uploaded_at=row.uploaded_at,
        superseded_at=row.superseded_at,
    )


def _data_dir(request: Request) -> Path:
    return Path(request.app.state.settings.data_dir)


@router.post(
    "/dealers/{dealer_id}/documents",
    response_model=DocumentOut,
    status_code=status.HTTP_201_CREATED,
)
def upload_document(
    dealer_id: int,
    request: Request,
    session: DbSession,
    user: CurrentUser,
    doc_type: DocType,
    number: Annotated[str, Form(min_length=1, max_length=80)],
    valid_from: Annotated[dt.date, Form()],
    valid_until: Annotated[dt.date, Form()],
    file: Annotated[UploadFile, File(description="PDF, PNG or JPEG scan")],
) -> DocumentOut:
    dealer = _get_visible(session, user, dealer_id)  # 404 first: never reveal what exists
    own_dealer = user.role is Role.DEALER_USER and user.org_unit_id == dealer.org_unit_id
    if user.role is not Role.HQ_ADMIN and not own_dealer:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "HQ or the dealer's own users upload")
    # Read one byte past the limit: enough to refuse an oversize file without holding it all.
    data = file.file.read(documents.UPLOADS.max_bytes + 1)
    try:
        row = documents.store(
            session,
            _data_dir(request),
            dealer,
            user.user_id,
            doc_type=doc_type,
            number=number,
            valid_from=valid_from,
            valid_until=valid_until,
            data=data,
            declared_type=file.content_type,
        )
    except DomainError as exc:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, {"code": exc.code, "message": exc.message}
        ) from exc
    session.commit()
    return _out(row, documents.today())


@router.get("/dealers/{dealer_id}/documents", response_model=PageOut[DocumentOut])
def list_documents(
    dealer_id: int,
    session: DbSession,
    user: CurrentUser,
    page: Annotated[Page, Depends(pagination)],
    doc_type: Annotated[str | None, Query(max_length=40)] = None,
    include_superseded: bool = False,
) -> PageOut[DocumentOut]:
    _get_visible(session, user, dealer_id)
    query = select(DealerDocument).where(DealerDocument.dealer_id == dealer_id)
    if doc_type:
        query = query.where(DealerDocument.doc_type == doc_type)
    if not include_superseded:
        query = query.where(DealerDocument.superseded_at.is_(None))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(
        query.order_by(DealerDocument.valid_until.desc(), DealerDocument.id.desc())
        .limit(page.size)
        .offset(page.offset)
    ).all()
    on = documents.today()
    return PageOut(items=[_out(r, on) for r in rows], total=total, page=page.page, size=page.size)


@router.get("/dealers/{dealer_id}/documents/{doc_id}/file", response_class=FileResponse)
def document_file(
    dealer_id: int, doc_id: int, request: Request, session: DbSession, user: CurrentUser
) -> FileResponse:
    _get_visible(session, user, dealer_id)
    row = session.get(DealerDocument, doc_id)
    if row is None or row.dealer_id != dealer_id:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no document {doc_id}")
    path = documents.file_of(_data_dir(request), row)
    if not path.is_file():
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"the file of document {doc_id} is gone")
    return FileResponse(
        path,
        media_type=row.content_type,
        filename=f"{row.doc_type}-{row.id}",
        headers={"X-Content-Type-Options": "nosniff"},
    )


# Dealers see their own lapsing documents too: the warning is for whoever must renew them.
Watchers = Annotated[
    Principal, Depends(require_role(Role.HQ_ADMIN, Role.REGION_MANAGER, Role.DEALER_USER))
]


@router.get("/documents/expiring", response_model=PageOut[DocumentOut])
def expiring_documents(
    session: DbSession,
    user: Watchers,
    page: Annotated[Page, Depends(pagination)],
    days: Annotated[
        int | None, Query(ge=0, le=3650, description="default: the configured warning days")
    ] = None,
) -> PageOut[DocumentOut]:
    on = documents.today()
    if days is None:
        days = documents.gate().policy.warning_days
    rows = documents.expiring(session, _visible(user), on, days)
    items = rows[page.offset : page.offset + page.size]
    return PageOut(
        items=[_out(r, on) for r in items], total=len(rows), page=page.page, size=page.size
    )
