"""After-sales service: tickets (with their SLA clocks), the ticket timeline, photos and the
parts used on work orders (each with the stock movement it posted).

``service_ticket.customer_id`` has no foreign key on purpose: the customer table is created
by its own migration, and the reference is kept by value (see models_service.py).

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "service_ticket",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dealer_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("lot_code", sa.String(length=40), nullable=False),
        sa.Column("serial", sa.String(length=80), nullable=False),
        sa.Column("problem", sa.Text(), nullable=False),
        sa.Column("priority", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("technician_id", sa.Integer(), nullable=True),
        sa.Column("opened_by", sa.Integer(), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("response_stop_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolution_stop_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("work_started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("labour_minutes", sa.Integer(), nullable=False),
        sa.Column("resolution", sa.Text(), nullable=False),
        sa.Column("rating_score", sa.SmallInteger(), nullable=True),
        sa.Column("rating_comment", sa.Text(), nullable=True),
        sa.Column("rated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("rated_by", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "status IN ('open', 'dispatched', 'in_progress', 'resolved', 'closed')",
            name=op.f("ck_service_ticket_status_valid"),
        ),
        sa.CheckConstraint(
            "priority IN ('low', 'normal', 'high', 'urgent')",
            name=op.f("ck_service_ticket_priority_valid"),
        ),
        sa.CheckConstraint(
            "rating_score BETWEEN 1 AND 5", name=op.f("ck_service_ticket_rating_score_range")
        ),
        sa.CheckConstraint(
            "labour_minutes >= 0", name=op.f("ck_service_ticket_labour_nonnegative")
        ),
        sa.ForeignKeyConstraint(
            ["dealer_id"], ["dealer.id"], name=op.f("fk_service_ticket_dealer_id_dealer")
        ),
        sa.ForeignKeyConstraint(
            ["product_id"], ["product.id"], name=op.f("fk_service_ticket_product_id_product")
        ),
        sa.ForeignKeyConstraint(
            ["technician_id"],
            ["app_user.id"],
            name=op.f("fk_service_ticket_technician_id_app_user"),
        ),
        sa.ForeignKeyConstraint(
            ["opened_by"], ["app_user.id"], name=op.f("fk_service_ticket_opened_by_app_user")
        ),
        sa.ForeignKeyConstraint(
            ["rated_by"], ["app_user.id"], name=op.f("fk_service_ticket_rated_by_app_user")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_service_ticket")),
    )
    op.create_index(
        "ix_service_ticket_dealer_opened",
        "service_ticket",
        ["dealer_id", "opened_at"],
        unique=False,
    )
    op.create_index(
        "ix_service_ticket_technician_status",
        "service_ticket",
        ["technician_id", "status"],
        unique=False,
    )
    op.create_index("ix_service_ticket_status", "service_ticket", ["status"], unique=False)
    op.create_index("ix_service_ticket_customer", "service_ticket", ["customer_id"], unique=False)
    op.create_index(
        "ix_service_ticket_opened_id", "service_ticket", ["opened_at", "id"], unique=False
    )
    op.create_table(
        "ticket_event",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("from_status", sa.String(length=16), nullable=True),
        sa.Column("to_status", sa.String(length=16), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("by_user_id", sa.Integer(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["service_ticket.id"],
            name=op.f("fk_ticket_event_ticket_id_service_ticket"),
        ),
        sa.ForeignKeyConstraint(
            ["by_user_id"], ["app_user.id"], name=op.f("fk_ticket_event_by_user_id_app_user")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_event")),
        sa.UniqueConstraint("ticket_id", "seq", name=op.f("uq_ticket_event_ticket_id_seq")),
    )
    op.create_table(
        "ticket_photo",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("file_path", sa.String(length=200), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("content_type", sa.String(length=64), nullable=False),
        sa.Column("uploaded_by", sa.Integer(), nullable=False),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("size_bytes > 0", name=op.f("ck_ticket_photo_size_positive")),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["service_ticket.id"],
            name=op.f("fk_ticket_photo_ticket_id_service_ticket"),
        ),
        sa.ForeignKeyConstraint(
            ["uploaded_by"], ["app_user.id"], name=op.f("fk_ticket_photo_uploaded_by_app_user")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_photo")),
        sa.UniqueConstraint("ticket_id", "sha256", name=op.f("uq_ticket_photo_ticket_id_sha256")),
    )
    op.create_table(
        "work_order_part",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("sku", sa.String(length=40), nullable=False),
        sa.Column("lot_id", sa.Integer(), nullable=True),
        sa.Column("bin_id", sa.Integer(), nullable=False),
        sa.Column("qty", sa.Integer(), nullable=False),
        sa.Column("stock_movement_id", sa.BigInteger(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("by_user_id", sa.Integer(), nullable=False),
        sa.CheckConstraint("qty <> 0", name=op.f("ck_work_order_part_qty_nonzero")),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["service_ticket.id"],
            name=op.f("fk_work_order_part_ticket_id_service_ticket"),
        ),
        sa.ForeignKeyConstraint(
            ["product_id"], ["product.id"], name=op.f("fk_work_order_part_product_id_product")
        ),
        sa.ForeignKeyConstraint(["lot_id"], ["lot.id"], name=op.f("fk_work_order_part_lot_id_lot")),
        sa.ForeignKeyConstraint(["bin_id"], ["bin.id"], name=op.f("fk_work_order_part_bin_id_bin")),
        sa.ForeignKeyConstraint(
            ["stock_movement_id"],
            ["stock_movement.id"],
            name=op.f("fk_work_order_part_stock_movement_id_stock_movement"),
        ),
        sa.ForeignKeyConstraint(
            ["by_user_id"], ["app_user.id"], name=op.f("fk_work_order_part_by_user_id_app_user")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_work_order_part")),
        sa.UniqueConstraint("stock_movement_id", name=op.f("uq_work_order_part_stock_movement_id")),
    )
    op.create_index("ix_work_order_part_ticket_id", "work_order_part", ["ticket_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_work_order_part_ticket_id", table_name="work_order_part")
    op.drop_table("work_order_part")
    op.drop_table("ticket_photo")
    op.drop_table("ticket_event")
    op.drop_index("ix_service_ticket_opened_id", table_name="service_ticket")
    op.drop_index("ix_service_ticket_customer", table_name="service_ticket")
    op.drop_index("ix_service_ticket_status", table_name="service_ticket")
    op.drop_index("ix_service_ticket_technician_status", table_name="service_ticket")
    op.drop_index("ix_service_ticket_dealer_opened", table_name="service_ticket")
    op.drop_table("service_ticket")
