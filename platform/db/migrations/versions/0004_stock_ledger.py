"""Catalogue, warehouses > zones > bins, lots, the stock ledger (movements) and reservations.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 15:50:47.250224
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "product",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sku", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("product_class", sa.String(length=40), nullable=False),
        sa.Column("unit", sa.String(length=16), nullable=False),
        sa.Column("unit_weight_g", sa.Float(), nullable=False),
        sa.Column("unit_volume_l", sa.Float(), nullable=False),
        sa.Column("shelf_life_days", sa.Integer(), nullable=True),
        sa.Column("list_price", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_product")),
        sa.UniqueConstraint("sku", name=op.f("uq_product_sku")),
    )
    op.create_table(
        "lot",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("expires_on", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(
            ["product_id"], ["product.id"], name=op.f("fk_lot_product_id_product")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lot")),
        sa.UniqueConstraint("product_id", "code", name=op.f("uq_lot_product_id_code")),
    )
    op.create_index(op.f("ix_lot_product_id"), "lot", ["product_id"], unique=False)
    op.create_table(
        "warehouse",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("org_unit_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["org_unit_id"], ["org_unit.id"], name=op.f("fk_warehouse_org_unit_id_org_unit")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_warehouse")),
        sa.UniqueConstraint("code", name=op.f("uq_warehouse_code")),
    )
    op.create_index(op.f("ix_warehouse_org_unit_id"), "warehouse", ["org_unit_id"], unique=False)
    op.create_table(
        "zone",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("warehouse_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["warehouse_id"], ["warehouse.id"], name=op.f("fk_zone_warehouse_id_warehouse")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_zone")),
        sa.UniqueConstraint("warehouse_id", "code", name=op.f("uq_zone_warehouse_id_code")),
    )
    op.create_table(
        "bin",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("warehouse_id", sa.Integer(), nullable=False),
        sa.Column("zone_id", sa.Integer(), nullable=True),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("scale_sensor_id", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["warehouse_id"], ["warehouse.id"], name=op.f("fk_bin_warehouse_id_warehouse")
        ),
        sa.ForeignKeyConstraint(["zone_id"], ["zone.id"], name=op.f("fk_bin_zone_id_zone")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bin")),
        sa.UniqueConstraint("scale_sensor_id", name=op.f("uq_bin_scale_sensor_id")),
        sa.UniqueConstraint("warehouse_id", "code", name=op.f("uq_bin_warehouse_id_code")),
    )
    op.create_index(op.f("ix_bin_warehouse_id"), "bin", ["warehouse_id"], unique=False)
    op.create_table(
        "stock_movement",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column(
            "at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("lot_id", sa.Integer(), nullable=True),
        sa.Column("bin_id", sa.Integer(), nullable=False),
        sa.Column("qty", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("transfer_ref", sa.String(length=40), nullable=True),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.CheckConstraint(
            "kind IN ('receive', 'putaway', 'pick', 'ship', 'adjust', 'transfer', 'return')",
            name=op.f("ck_stock_movement_kind_valid"),
        ),
        sa.CheckConstraint("qty <> 0", name=op.f("ck_stock_movement_qty_nonzero")),
        sa.ForeignKeyConstraint(["bin_id"], ["bin.id"], name=op.f("fk_stock_movement_bin_id_bin")),
        sa.ForeignKeyConstraint(["lot_id"], ["lot.id"], name=op.f("fk_stock_movement_lot_id_lot")),
        sa.ForeignKeyConstraint(
            ["product_id"], ["product.id"], name=op.f("fk_stock_movement_product_id_product")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["app_user.id"], name=op.f("fk_stock_movement_user_id_app_user")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stock_movement")),
    )
    op.create_index(
        "ix_stock_movement_product_bin_lot",
        "stock_movement",
        ["product_id", "bin_id", "lot_id"],
        unique=False,
    )
    op.create_table(
        "stock_reservation",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column(
            "at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("lot_id", sa.Integer(), nullable=True),
        sa.Column("bin_id", sa.Integer(), nullable=False),
        sa.Column("qty", sa.Integer(), nullable=False),
        sa.Column("order_ref", sa.String(length=40), nullable=False),
        sa.Column("released_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("qty > 0", name=op.f("ck_stock_reservation_qty_positive")),
        sa.ForeignKeyConstraint(
            ["bin_id"], ["bin.id"], name=op.f("fk_stock_reservation_bin_id_bin")
        ),
        sa.ForeignKeyConstraint(
            ["lot_id"], ["lot.id"], name=op.f("fk_stock_reservation_lot_id_lot")
        ),
        sa.ForeignKeyConstraint(
            ["product_id"], ["product.id"], name=op.f("fk_stock_reservation_product_id_product")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stock_reservation")),
    )
    op.create_index(
        op.f("ix_stock_reservation_order_ref"), "stock_reservation", ["order_ref"], unique=False
    )
    op.create_index(
        op.f("ix_stock_reservation_product_id"), "stock_reservation", ["product_id"], unique=False
    )


def downgrade() -> None:

    op.drop_index(op.f("ix_stock_reservation_product_id"), table_name="stock_reservation")
    op.drop_index(op.f("ix_stock_reservation_order_ref"), table_name="stock_reservation")
    op.drop_table("stock_reservation")
    op.drop_index("ix_stock_movement_product_bin_lot", table_name="stock_movement")
    op.drop_table("stock_movement")
    op.drop_index(op.f("ix_bin_warehouse_id"), table_name="bin")
    op.drop_table("bin")
    op.drop_table("zone")
    op.drop_index(op.f("ix_warehouse_org_unit_id"), table_name="warehouse")
    op.drop_table("warehouse")
    op.drop_index(op.f("ix_lot_product_id"), table_name="lot")
    op.drop_table("lot")
    op.drop_table("product")
