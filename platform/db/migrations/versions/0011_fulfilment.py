"""Order fulfilment: staging bins, picks, shipments with proof of delivery, returns, credit
notes, and the record of scanner reads posted to the ledger.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def _tz() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.add_column(
        "bin", sa.Column("role", sa.String(length=16), server_default="storage", nullable=False)
    )
    op.create_check_constraint(op.f("ck_bin_role_valid"), "bin", "role IN ('storage', 'staging')")
    op.add_column(
        "order_line",
        sa.Column("closed_short", sa.Integer(), server_default="0", nullable=False),
    )
    op.add_column(
        "payment",
        sa.Column("kind", sa.String(length=16), server_default="payment", nullable=False),
    )
    op.create_check_constraint(
        op.f("ck_payment_kind_valid"), "payment", "kind IN ('payment', 'credit_note')"
    )
    op.create_table(
        "order_pick",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("lot_id", sa.Integer(), nullable=True),
        sa.Column("from_bin_id", sa.Integer(), nullable=False),
        sa.Column("staging_bin_id", sa.Integer(), nullable=False),
        sa.Column("qty", sa.Integer(), nullable=False),
        sa.Column("movement_id", sa.BigInteger(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("at", _tz(), server_default=sa.text("now()"), nullable=False),
        sa.Column("by", sa.Integer(), nullable=True),
        sa.CheckConstraint("qty > 0", name=op.f("ck_order_pick_qty_positive")),
        sa.ForeignKeyConstraint(["by"], ["app_user.id"], name=op.f("fk_order_pick_by_app_user")),
        sa.ForeignKeyConstraint(
            ["from_bin_id"], ["bin.id"], name=op.f("fk_order_pick_from_bin_id_bin")
        ),
        sa.ForeignKeyConstraint(["lot_id"], ["lot.id"], name=op.f("fk_order_pick_lot_id_lot")),
        sa.ForeignKeyConstraint(
            ["movement_id"],
            ["stock_movement.id"],
            name=op.f("fk_order_pick_movement_id_stock_movement"),
        ),
        sa.ForeignKeyConstraint(
            ["order_id"], ["sales_order.id"], name=op.f("fk_order_pick_order_id_sales_order")
        ),
        sa.ForeignKeyConstraint(
            ["product_id"], ["product.id"], name=op.f("fk_order_pick_product_id_product")
        ),
        sa.ForeignKeyConstraint(
            ["staging_bin_id"], ["bin.id"], name=op.f("fk_order_pick_staging_bin_id_bin")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_pick")),
    )
    op.create_index(op.f("ix_order_pick_order_id"), "order_pick", ["order_id"])
    op.create_table(
        "shipment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("warehouse_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("shipped_at", _tz(), nullable=False),
        sa.Column("shipped_by", sa.Integer(), nullable=True),
        sa.Column("delivered_at", _tz(), nullable=True),
        sa.Column("delivered_by", sa.Integer(), nullable=True),
        sa.Column("pod_kind", sa.String(length=16), nullable=True),
        sa.Column("pod_reference", sa.String(length=200), nullable=True),
        sa.Column("pod_received_by", sa.String(length=100), nullable=True),
        sa.CheckConstraint(
            "status = 'shipped' OR (pod_kind IS NOT NULL AND pod_reference IS NOT NULL)",
            name=op.f("ck_shipment_delivered_has_proof"),
        ),
        sa.CheckConstraint(
            "status IN ('shipped', 'delivered')", name=op.f("ck_shipment_status_valid")
        ),
        sa.ForeignKeyConstraint(
            ["delivered_by"], ["app_user.id"], name=op.f("fk_shipment_delivered_by_app_user")
        ),
        sa.ForeignKeyConstraint(
            ["order_id"], ["sales_order.id"], name=op.f("fk_shipment_order_id_sales_order")
        ),
        sa.ForeignKeyConstraint(
            ["shipped_by"], ["app_user.id"], name=op.f("fk_shipment_shipped_by_app_user")
        ),
        sa.ForeignKeyConstraint(
            ["warehouse_id"], ["warehouse.id"], name=op.f("fk_shipment_warehouse_id_warehouse")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shipment")),
    )
    op.create_index(op.f("ix_shipment_order_id"), "shipment", ["order_id"])
    op.create_table(
        "shipment_line",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("shipment_id", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("sku", sa.String(length=40), nullable=False),
        sa.Column("lot_id", sa.Integer(), nullable=True),
        sa.Column("qty", sa.Integer(), nullable=False),
        sa.Column("movement_id", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("qty > 0", name=op.f("ck_shipment_line_qty_positive")),
        sa.ForeignKeyConstraint(["lot_id"], ["lot.id"], name=op.f("fk_shipment_line_lot_id_lot")),
        sa.ForeignKeyConstraint(
            ["movement_id"],
            ["stock_movement.id"],
            name=op.f("fk_shipment_line_movement_id_stock_movement"),
        ),
        sa.ForeignKeyConstraint(
            ["product_id"], ["product.id"], name=op.f("fk_shipment_line_product_id_product")
        ),
        sa.ForeignKeyConstraint(
            ["shipment_id"], ["shipment.id"], name=op.f("fk_shipment_line_shipment_id_shipment")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shipment_line")),
    )
    op.create_index(op.f("ix_shipment_line_shipment_id"), "shipment_line", ["shipment_id"])
    op.create_table(
        "order_return",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("at", _tz(), nullable=False),
        sa.Column("by", sa.Integer(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("credit_payment_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["by"], ["app_user.id"], name=op.f("fk_order_return_by_app_user")),
        sa.ForeignKeyConstraint(
            ["credit_payment_id"],
            ["payment.id"],
            name=op.f("fk_order_return_credit_payment_id_payment"),
        ),
        sa.ForeignKeyConstraint(
            ["order_id"], ["sales_order.id"], name=op.f("fk_order_return_order_id_sales_order")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_return")),
    )
    op.create_index(op.f("ix_order_return_order_id"), "order_return", ["order_id"])
    op.create_table(
        "order_return_line",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("return_id", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("sku", sa.String(length=40), nullable=False),
        sa.Column("lot_id", sa.Integer(), nullable=True),
        sa.Column("bin_id", sa.Integer(), nullable=False),
        sa.Column("qty", sa.Integer(), nullable=False),
        sa.Column("movement_id", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("qty > 0", name=op.f("ck_order_return_line_qty_positive")),
        sa.ForeignKeyConstraint(
            ["bin_id"], ["bin.id"], name=op.f("fk_order_return_line_bin_id_bin")
        ),
        sa.ForeignKeyConstraint(
            ["lot_id"], ["lot.id"], name=op.f("fk_order_return_line_lot_id_lot")
        ),
        sa.ForeignKeyConstraint(
            ["movement_id"],
            ["stock_movement.id"],
            name=op.f("fk_order_return_line_movement_id_stock_movement"),
        ),
        sa.ForeignKeyConstraint(
            ["product_id"], ["product.id"], name=op.f("fk_order_return_line_product_id_product")
        ),
        sa.ForeignKeyConstraint(
            ["return_id"],
            ["order_return.id"],
            name=op.f("fk_order_return_line_return_id_order_return"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_return_line")),
    )
    op.create_index(op.f("ix_order_return_line_return_id"), "order_return_line", ["return_id"])
    op.create_table(
        "scan_posting",
        sa.Column("agent_key", sa.Integer(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("idx", sa.Integer(), nullable=False),
        sa.Column("ts", _tz(), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("code", sa.String(length=128), nullable=False),
        sa.Column("bin_code", sa.String(length=64), nullable=True),
        sa.Column("qty", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("order_id", sa.Integer(), nullable=True),
        sa.Column("movement_id", sa.BigInteger(), nullable=True),
        sa.Column("posted_at", _tz(), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(
            "outcome IN ('posted', 'ignored', 'rejected')",
            name=op.f("ck_scan_posting_outcome_valid"),
        ),
        sa.ForeignKeyConstraint(
            ["movement_id"],
            ["stock_movement.id"],
            name=op.f("fk_scan_posting_movement_id_stock_movement"),
        ),
        sa.ForeignKeyConstraint(
            ["order_id"], ["sales_order.id"], name=op.f("fk_scan_posting_order_id_sales_order")
        ),
        sa.PrimaryKeyConstraint("agent_key", "seq", "idx", name=op.f("pk_scan_posting")),
    )
    op.create_index("ix_scan_posting_outcome_ts", "scan_posting", ["outcome", "ts"])


def downgrade() -> None:
    for table in (
        "scan_posting",
        "order_return_line",
        "order_return",
        "shipment_line",
        "shipment",
        "order_pick",
    ):
        op.drop_table(table)
    op.drop_constraint(op.f("ck_payment_kind_valid"), "payment", type_="check")
    op.drop_column("payment", "kind")
    op.drop_column("order_line", "closed_short")
    op.drop_constraint(op.f("ck_bin_role_valid"), "bin", type_="check")
    op.drop_column("bin", "role")
