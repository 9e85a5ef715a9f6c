"""Dealer qualification documents (licences, permits): number, validity and the stored file.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dealer_document",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dealer_id", sa.Integer(), nullable=False),
        sa.Column("doc_type", sa.String(length=40), nullable=False),
        sa.Column("number", sa.String(length=80), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_until", sa.Date(), nullable=False),
        sa.Column("file_path", sa.String(length=200), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("content_type", sa.String(length=64), nullable=False),
        sa.Column("uploaded_by", sa.Integer(), nullable=True),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("superseded_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("size_bytes > 0", name=op.f("ck_dealer_document_size_positive")),
        sa.CheckConstraint(
            "valid_until >= valid_from", name=op.f("ck_dealer_document_validity_ordered")
        ),
        sa.ForeignKeyConstraint(
            ["dealer_id"], ["dealer.id"], name=op.f("fk_dealer_document_dealer_id_dealer")
        ),
        sa.ForeignKeyConstraint(
            ["uploaded_by"], ["app_user.id"], name=op.f("fk_dealer_document_uploaded_by_app_user")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dealer_document")),
    )
    op.create_index(
        "ix_dealer_document_dealer_type", "dealer_document", ["dealer_id", "doc_type"], unique=False
    )
    op.create_index(
        "ix_dealer_document_valid_until_current",
        "dealer_document",
        ["valid_until"],
        unique=False,
        postgresql_where="superseded_at IS NULL",
    )


def downgrade() -> None:
    op.drop_index(
        "ix_dealer_document_valid_until_current",
        table_name="dealer_document",
        postgresql_where="superseded_at IS NULL",
    )
    op.drop_index("ix_dealer_document_dealer_type", table_name="dealer_document")
    op.drop_table("dealer_document")
