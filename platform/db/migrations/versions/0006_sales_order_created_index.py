"""Index sales_order (created_at, id): the order lists sort by it; without it a deep page
of HQ's 50,000 orders sorted them all (spilling to disk) on every request.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        op.f("ix_sales_order_created_id"), "sales_order", ["created_at", "id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_sales_order_created_id"), table_name="sales_order")
