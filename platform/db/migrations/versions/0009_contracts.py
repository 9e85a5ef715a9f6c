"""Dealer contracts: contracts, their versions (terms, approval state) and version timelines.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

STATUSES = "'draft', 'pending_approval', 'active', 'rejected', 'superseded'"
ROLES = (
    "'hq_admin', 'region_manager', 'dealer_user', 'warehouse_operator', 'dispatcher', "
    "'driver', 'technician'"
)


def upgrade() -> None:
    op.create_table(
        "contract",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dealer_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("latest_version", sa.Integer(), nullable=False),
        sa.Column("active_version_id", sa.Integer(), nullable=True),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(f"status IN ({STATUSES})", name=op.f("ck_contract_status_valid")),
        sa.ForeignKeyConstraint(
            ["created_by"], ["app_user.id"], name=op.f("fk_contract_created_by_app_user")
        ),
        sa.ForeignKeyConstraint(
            ["dealer_id"], ["dealer.id"], name=op.f("fk_contract_dealer_id_dealer")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contract")),
        sa.UniqueConstraint("number", name=op.f("uq_contract_number")),
    )
    op.create_index("ix_contract_dealer_id", "contract", ["dealer_id"], unique=False)
    op.create_index("ix_contract_status", "contract", ["status"], unique=False)
    op.create_table(
        "contract_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contract_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("terms", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("author_role", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            f"author_role IN ({ROLES})", name=op.f("ck_contract_version_author_role_valid")
        ),
        sa.CheckConstraint("number >= 1", name=op.f("ck_contract_version_number_positive")),
        sa.CheckConstraint(
            "period_end >= period_start", name=op.f("ck_contract_version_period_ordered")
        ),
        sa.CheckConstraint(
            f"status IN ({STATUSES})", name=op.f("ck_contract_version_status_valid")
        ),
        sa.ForeignKeyConstraint(
            ["author_id"], ["app_user.id"], name=op.f("fk_contract_version_author_id_app_user")
        ),
        sa.ForeignKeyConstraint(
            ["contract_id"], ["contract.id"], name=op.f("fk_contract_version_contract_id_contract")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contract_version")),
        sa.UniqueConstraint(
            "contract_id", "number", name=op.f("uq_contract_version_contract_id_number")
        ),
    )
    op.create_index(
        "ix_contract_version_one_active",
        "contract_version",
        ["contract_id"],
        unique=True,
        postgresql_where="status = 'active'",
    )
    # The contract -> version pointer closes a cycle: added once both tables exist.
    op.create_foreign_key(
        op.f("fk_contract_active_version_id_contract_version"),
        "contract",
        "contract_version",
        ["active_version_id"],
        ["id"],
    )
    op.create_table(
        "contract_event",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("from_status", sa.String(length=20), nullable=True),
        sa.Column("to_status", sa.String(length=20), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("by", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.CheckConstraint(
            f"to_status IN ({STATUSES})", name=op.f("ck_contract_event_to_status_valid")
        ),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["contract_version.id"],
            name=op.f("fk_contract_event_version_id_contract_version"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contract_event")),
        sa.UniqueConstraint("version_id", "seq", name=op.f("uq_contract_event_version_id_seq")),
    )


def downgrade() -> None:
    op.drop_table("contract_event")
    op.drop_constraint(
        op.f("fk_contract_active_version_id_contract_version"), "contract", type_="foreignkey"
    )
    op.drop_index(
        "ix_contract_version_one_active",
        table_name="contract_version",
        postgresql_where="status = 'active'",
    )
    op.drop_table("contract_version")
    op.drop_index("ix_contract_status", table_name="contract")
    op.drop_index("ix_contract_dealer_id", table_name="contract")
    op.drop_table("contract")
