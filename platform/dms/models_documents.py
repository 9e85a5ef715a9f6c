"""Dealer qualification documents (licences, permits) and where their scanned file is kept.

A renewal is a new row; the old one stays for the record. ``superseded_at`` marks a row that
was replaced by a correction (same type and number re-uploaded), so rules ignore it.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, CheckConstraint, Date, DateTime, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from wayhouse.platform.db.base import Base


class DealerDocument(Base):
    __tablename__ = "dealer_document"
    __table_args__ = (
        CheckConstraint("valid_until >= valid_from", name="validity_ordered"),
        CheckConstraint("size_bytes > 0", name="size_positive"),
        Index("ix_dealer_document_dealer_type", "dealer_id", "doc_type"),
        # The HQ expiry report walks current documents by end date.
        Index(
            "ix_dealer_document_valid_until_current",
            "valid_until",
            postgresql_where="superseded_at IS NULL",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    dealer_id: Mapped[int] = mapped_column(ForeignKey("dealer.id"))
    doc_type: Mapped[str] = mapped_column(String(40))
    number: Mapped[str] = mapped_column(String(80))
    valid_from: Mapped[dt.date] = mapped_column(Date)
    valid_until: Mapped[dt.date] = mapped_column(Date)
    # Relative to the data dir, named by content hash: never the client's filename.
    file_path: Mapped[str] = mapped_column(String(200))
    sha256: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    content_type: Mapped[str] = mapped_column(String(64))
    uploaded_by: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    uploaded_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    superseded_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
