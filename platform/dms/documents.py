"""Dealer qualification documents on PostgreSQL and disk: store an upload, list, find the ones
about to lapse, and answer whether a dealer's documents let it order.

The rules are ``dms.domain.dealers`` (``check_upload``, ``expiry_warnings``, ``order_blocks``);
this module only translates. Files are content-addressed under
``<data_dir>/documents/<dealer_id>/<sha256>``: the client's filename and declared type are never
used to build a path or to decide what the bytes are.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from wayhouse.config import Settings, get_settings
from wayhouse.platform.dms import audit
from wayhouse.platform.dms.domain.dealers import (
    Dealer as DomainDealer,
)
from wayhouse.platform.dms.domain.dealers import (
    DealerProfile,
    DocumentPolicy,
    QualificationDocument,
    UploadPolicy,
    check_upload,
    expiry_warnings,
    order_blocks,
)
from wayhouse.platform.dms.domain.types import DealerStatus, DomainError
from wayhouse.platform.dms.models import Dealer
from wayhouse.platform.dms.models_documents import DealerDocument


@dataclass(frozen=True)
class OrderGate:
    """The configured document policy, plus whether a dealer with no document of a required
    type at all is blocked too (off by default: dealers onboarded before document tracking
    are caught at activation instead)."""

    policy: DocumentPolicy
    block_missing: bool


def gate(settings: Settings | None = None) -> OrderGate:
    s = settings or get_settings()
    required = tuple(t.strip() for t in s.documents_required.split(",") if t.strip())
    return OrderGate(
        DocumentPolicy(
            required_types=required,
            warning_days=s.documents_warning_days,
            block_orders_when_lapsed=s.documents_block_lapsed,
        ),
        s.documents_block_missing,
    )


UPLOADS = UploadPolicy()
SNIFF_BYTES = 16  # longer than every magic number check_upload knows


def today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


def to_domain(row: DealerDocument) -> QualificationDocument:
    return QualificationDocument(
        row.doc_type, row.number, row.valid_from, row.valid_until, row.file_path
    )


def snapshot(row: DealerDocument) -> dict[str, Any]:
    return {
        "dealer_id": row.dealer_id,
        "doc_type": row.doc_type,
        "number": row.number,
        "valid_from": row.valid_from.isoformat(),
        "valid_until": row.valid_until.isoformat(),
        "sha256": row.sha256,
        "size_bytes": row.size_bytes,
        "content_type": row.content_type,
        "superseded_at": row.superseded_at.isoformat() if row.superseded_at else None,
    }


def current(session: Session, dealer_id: int) -> list[DealerDocument]:
    return list(
        session.scalars(
            select(DealerDocument)
            .where(DealerDocument.dealer_id == dealer_id, DealerDocument.superseded_at.is_(None))
            .order_by(DealerDocument.doc_type, DealerDocument.valid_until.desc())
        )
    )


def write_once(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` readable by the owner only; identical content is kept as is."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    if path.exists():
        return  # content-addressed: same name, same bytes
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)  # readers never see a half-written file
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def store(
    session: Session,
    data_dir: Path,
    dealer: Dealer,
    actor_id: int | None,
    *,
    doc_type: str,
    number: str,
    valid_from: dt.date,
    valid_until: dt.date,
    data: bytes,
    declared_type: str | None,
) -> DealerDocument:
    """Check and store one document in the caller's transaction. Re-uploading the same type and
    number replaces (supersedes) the earlier row: that is a correction, not a renewal."""
    doc = QualificationDocument(doc_type.strip(), number.strip(), valid_from, valid_until)
    content_type = check_upload(data[:SNIFF_BYTES], len(data), declared_type, UPLOADS)
    sha = hashlib.sha256(data).hexdigest()
    relative = Path("documents") / str(dealer.id) / sha
    write_once(data_dir / relative, data)
    now = dt.datetime.now(dt.UTC)
    replaced = session.scalars(
        select(DealerDocument).where(
            DealerDocument.dealer_id == dealer.id,
            DealerDocument.doc_type == doc.doc_type,
            DealerDocument.number == doc.number,
            DealerDocument.superseded_at.is_(None),
        )
    ).all()
    for old in replaced:
        before = snapshot(old)
        old.superseded_at = now
        audit.record(
            session, actor_id, "dealer_document", old.id, "supersede", before, snapshot(old)
        )
    row = DealerDocument(
        dealer_id=dealer.id,
        doc_type=doc.doc_type,
        number=doc.number,
        valid_from=doc.valid_from,
        valid_until=doc.valid_until,
        file_path=str(relative),
        sha256=sha,
        size_bytes=len(data),
        content_type=content_type,
        uploaded_by=actor_id,
        uploaded_at=now,
    )
    session.add(row)
    session.flush()
    audit.record(session, actor_id, "dealer_document", row.id, "upload", None, snapshot(row))
    return row


def file_of(data_dir: Path, row: DealerDocument) -> Path:
    return data_dir / row.file_path


def expiring(session: Session, dealer_scope: Any, on: dt.date, days: int) -> list[DealerDocument]:
    """Current documents ending within ``days`` of ``on`` that no renewal covers yet, soonest
    first. ``dealer_scope`` is a where-clause on ``Dealer`` (and its org unit) for tenancy."""
    until = on + dt.timedelta(days=days)
    candidates = session.scalars(
        select(DealerDocument)
        .join(Dealer, Dealer.id == DealerDocument.dealer_id)
        .join(Dealer.org_unit)
        .where(
            dealer_scope,
            DealerDocument.superseded_at.is_(None),
            DealerDocument.valid_from <= on,
            DealerDocument.valid_until.between(on, until),
        )
    ).all()
    by_dealer: dict[int, list[DealerDocument]] = defaultdict(list)
    for row in candidates:
        by_dealer[row.dealer_id].append(row)
    result = []
    for dealer_id, rows in by_dealer.items():
        # The domain rule drops a document whose renewal is already on file.
        warned = {
            (w.doc_type, w.number, w.valid_until)
            for w in expiry_warnings([to_domain(d) for d in current(session, dealer_id)], on, days)
        }
        result += [r for r in rows if (r.doc_type, r.number, r.valid_until) in warned]
    return sorted(result, key=lambda r: (r.valid_until, r.dealer_id, r.doc_type, r.id))


def ensure_can_order(
    session: Session, dealer: Dealer, on: dt.date, order_gate: OrderGate | None = None
) -> None:
    """Refuse an order when a required document has lapsed (or, if so configured, is
    missing). Dealer status is the order service's own check (applicants may draft), so that
    block is left to it."""
    order_gate = order_gate or gate()
    policy = order_gate.policy
    docs = [to_domain(d) for d in current(session, dealer.id)]
    on_file = {d.doc_type for d in docs}
    scoped = DocumentPolicy(
        required_types=tuple(
            t for t in policy.required_types if order_gate.block_missing or t in on_file
        ),
        warning_days=policy.warning_days,
        block_orders_when_lapsed=policy.block_orders_when_lapsed,
        required_for_activation=policy.required_for_activation,
    )
    profile = DealerProfile(dealer.legal_name, str(dealer.org_unit.parent_id or "-"))
    domain = DomainDealer(str(dealer.id), profile, DealerStatus(dealer.status))
    blocks = [b for b in order_blocks(domain, docs, on, scoped) if b.code != "dealer_not_active"]
    if blocks:
        raise DomainError(blocks[0].code, "; ".join(b.message for b in blocks))
