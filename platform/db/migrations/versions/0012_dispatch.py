"""Dispatch: vehicles, delivery plans, their routes and stops.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def _tz() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "vehicle",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("plate", sa.String(length=32), nullable=False),
        sa.Column("warehouse_id", sa.Integer(), nullable=False),
        sa.Column("agent_id", sa.String(length=64), nullable=True),
        sa.Column("capacity_kg", sa.Float(), nullable=False),
        sa.Column("capacity_m3", sa.Float(), nullable=False),
        sa.Column("shift_start_s", sa.Integer(), nullable=False),
        sa.Column("shift_end_s", sa.Integer(), nullable=False),
        sa.Column("fixed_cost", sa.Float(), nullable=False),
        sa.Column("cost_per_km", sa.Float(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["warehouse_id"], ["warehouse.id"], name=op.f("fk_vehicle_warehouse_id_warehouse")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vehicle")),
        sa.UniqueConstraint("agent_id", name=op.f("uq_vehicle_agent_id")),
        sa.UniqueConstraint("code", name=op.f("uq_vehicle_code")),
    )
    op.create_index(op.f("ix_vehicle_warehouse_id"), "vehicle", ["warehouse_id"])
    op.create_table(
        "delivery_plan",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("warehouse_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("engine", sa.String(length=16), nullable=False),
        sa.Column("objective", sa.String(length=16), nullable=False),
        sa.Column("time_limit_s", sa.Float(), nullable=False),
        sa.Column("progress", sa.Float(), nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("distance_m", sa.Float(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", _tz(), server_default=sa.text("now()"), nullable=False),
        sa.Column("published_at", _tz(), nullable=True),
        sa.CheckConstraint(
            "status IN ('solving', 'ready', 'failed', 'published')",
            name=op.f("ck_delivery_plan_status_valid"),
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["app_user.id"], name=op.f("fk_delivery_plan_created_by_app_user")
        ),
        sa.ForeignKeyConstraint(
            ["warehouse_id"],
            ["warehouse.id"],
            name=op.f("fk_delivery_plan_warehouse_id_warehouse"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_delivery_plan")),
    )
    op.create_index("ix_delivery_plan_warehouse_day", "delivery_plan", ["warehouse_id", "day"])
    op.create_table(
        "plan_route",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("vehicle_id", sa.Integer(), nullable=False),
        sa.Column("driver_id", sa.Integer(), nullable=True),
        sa.Column("locked", sa.Boolean(), nullable=False),
        sa.Column("distance_m", sa.Float(), nullable=False),
        sa.Column("start_at", _tz(), nullable=True),
        sa.Column("end_at", _tz(), nullable=True),
        sa.ForeignKeyConstraint(
            ["driver_id"], ["app_user.id"], name=op.f("fk_plan_route_driver_id_app_user")
        ),
        sa.ForeignKeyConstraint(
            ["plan_id"], ["delivery_plan.id"], name=op.f("fk_plan_route_plan_id_delivery_plan")
        ),
        sa.ForeignKeyConstraint(
            ["vehicle_id"], ["vehicle.id"], name=op.f("fk_plan_route_vehicle_id_vehicle")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plan_route")),
        sa.UniqueConstraint("plan_id", "vehicle_id", name=op.f("uq_plan_route_plan_id_vehicle_id")),
    )
    op.create_table(
        "plan_stop",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("route_id", sa.Integer(), nullable=True),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("weight_kg", sa.Float(), nullable=False),
        sa.Column("volume_m3", sa.Float(), nullable=False),
        sa.Column("service_s", sa.Float(), nullable=False),
        sa.Column("window_open_s", sa.Float(), nullable=False),
        sa.Column("window_close_s", sa.Float(), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("planned_arrival", _tz(), nullable=True),
        sa.Column("planned_departure", _tz(), nullable=True),
        sa.Column("eta", _tz(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("actual_arrival", _tz(), nullable=True),
        sa.Column("actual_departure", _tz(), nullable=True),
        sa.Column("unassigned_reason", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "status IN ('planned', 'arrived', 'departed', 'delivered', 'skipped')",
            name=op.f("ck_plan_stop_status_valid"),
        ),
        sa.ForeignKeyConstraint(
            ["order_id"], ["sales_order.id"], name=op.f("fk_plan_stop_order_id_sales_order")
        ),
        sa.ForeignKeyConstraint(
            ["plan_id"], ["delivery_plan.id"], name=op.f("fk_plan_stop_plan_id_delivery_plan")
        ),
        sa.ForeignKeyConstraint(
            ["route_id"], ["plan_route.id"], name=op.f("fk_plan_stop_route_id_plan_route")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plan_stop")),
        sa.UniqueConstraint("plan_id", "order_id", name=op.f("uq_plan_stop_plan_id_order_id")),
    )
    op.create_index(op.f("ix_plan_stop_order_id"), "plan_stop", ["order_id"])
    op.create_index(op.f("ix_plan_stop_route_id"), "plan_stop", ["route_id"])


def downgrade() -> None:
    for table in ("plan_stop", "plan_route", "delivery_plan", "vehicle"):
        op.drop_table(table)
