"""Customers (end clients of dealers), their interaction log and the lead-assignment rules.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "customer",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=True),
        sa.Column("dealer_id", sa.Integer(), nullable=True),
        sa.Column("region_id", sa.Integer(), nullable=True),
        sa.Column("owner_unit_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("phone", sa.String(length=40), nullable=True),
        sa.Column("email", sa.String(length=200), nullable=True),
        sa.Column("address", sa.Text(), nullable=True),
        sa.Column("area_code", sa.String(length=32), nullable=False),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("purchases", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=40), nullable=False),
        sa.Column("last_interaction_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('lead', 'prospect', 'customer', 'repeat_customer')",
            name=op.f("ck_customer_status_valid"),
        ),
        sa.CheckConstraint("purchases >= 0", name=op.f("ck_customer_purchases_nonnegative")),
        sa.CheckConstraint(
            "(lat IS NULL) = (lon IS NULL)", name=op.f("ck_customer_position_paired")
        ),
        sa.CheckConstraint(
            "lat BETWEEN -90 AND 90 AND lon BETWEEN -180 AND 180",
            name=op.f("ck_customer_position_valid"),
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["app_user.id"], name=op.f("fk_customer_created_by_app_user")
        ),
        sa.ForeignKeyConstraint(
            ["dealer_id"], ["dealer.id"], name=op.f("fk_customer_dealer_id_dealer")
        ),
        sa.ForeignKeyConstraint(
            ["owner_unit_id"], ["org_unit.id"], name=op.f("fk_customer_owner_unit_id_org_unit")
        ),
        sa.ForeignKeyConstraint(
            ["region_id"], ["org_unit.id"], name=op.f("fk_customer_region_id_org_unit")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer")),
        sa.UniqueConstraint("code", name=op.f("uq_customer_code")),
    )
    op.create_index("ix_customer_created_id", "customer", ["created_at", "id"], unique=False)
    op.create_index("ix_customer_dealer_status", "customer", ["dealer_id", "status"], unique=False)
    op.create_index("ix_customer_owner_unit_id", "customer", ["owner_unit_id"], unique=False)
    op.create_table(
        "customer_interaction",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("next_step", sa.Text(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("by_user_id", sa.Integer(), nullable=True),
        sa.Column(
            "recorded_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "kind IN ('call', 'visit', 'email', 'message', 'meeting', 'note')",
            name=op.f("ck_customer_interaction_kind_valid"),
        ),
        sa.ForeignKeyConstraint(
            ["by_user_id"],
            ["app_user.id"],
            name=op.f("fk_customer_interaction_by_user_id_app_user"),
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customer.id"],
            name=op.f("fk_customer_interaction_customer_id_customer"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_interaction")),
    )
    op.create_index(
        "ix_customer_interaction_customer_at",
        "customer_interaction",
        ["customer_id", "at"],
        unique=False,
    )
    op.create_table(
        "lead_rule",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("area_prefix", sa.String(length=32), nullable=False),
        sa.Column("region_id", sa.Integer(), nullable=False),
        sa.Column("dealer_ids", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("updated_by", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["region_id"], ["org_unit.id"], name=op.f("fk_lead_rule_region_id_org_unit")
        ),
        sa.ForeignKeyConstraint(
            ["updated_by"], ["app_user.id"], name=op.f("fk_lead_rule_updated_by_app_user")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lead_rule")),
        sa.UniqueConstraint(
            "region_id", "area_prefix", name=op.f("uq_lead_rule_region_id_area_prefix")
        ),
    )


def downgrade() -> None:
    op.drop_table("lead_rule")
    op.drop_index("ix_customer_interaction_customer_at", table_name="customer_interaction")
    op.drop_table("customer_interaction")
    op.drop_index("ix_customer_owner_unit_id", table_name="customer")
    op.drop_index("ix_customer_dealer_status", table_name="customer")
    op.drop_index("ix_customer_created_id", table_name="customer")
    op.drop_table("customer")
