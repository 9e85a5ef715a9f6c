"""Alarms and stocktaking: alarms with every transition, the evaluator's saved state,
people's acknowledge/clear commands, editable thresholds, webhooks and their delivery log,
the latest sensed count per bin, stocktake sessions and lines.

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alarm",
        sa.Column("id", sa.String(length=20), nullable=False),
        sa.Column("type", sa.String(length=32), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("evidence", JSONB(), nullable=False),
        sa.Column("occurrences", sa.Integer(), nullable=False),
        sa.Column("steps", sa.Integer(), nullable=False),
        sa.Column("raised_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_by", sa.String(length=64), nullable=True),
        sa.Column("cleared_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cleared_by", sa.String(length=64), nullable=True),
        sa.Column("clear_reason", sa.Text(), nullable=True),
        sa.Column("site", sa.String(length=64), nullable=True),
        sa.Column("warehouse_id", sa.Integer(), nullable=True),
        sa.Column("org_unit_id", sa.Integer(), nullable=True),
        sa.Column("product_class", sa.String(length=40), nullable=True),
        sa.Column("device", sa.String(length=64), nullable=True),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "severity IN ('info', 'warning', 'critical')", name=op.f("ck_alarm_severity_valid")
        ),
        sa.CheckConstraint(
            "state IN ('active', 'acknowledged', 'cleared')", name=op.f("ck_alarm_state_valid")
        ),
        sa.CheckConstraint(
            "type IN ('temperature_out_of_range', 'humidity_out_of_range', 'weight_loss_unexplained', 'weight_gain_unexpected', 'stock_discrepancy', 'below_reorder_point', 'lot_expiring', 'document_expiring', 'device_offline', 'sensor_stuck', 'sensor_jump', 'sensor_out_of_range', 'geofence_enter', 'geofence_exit', 'off_route', 'stopped_too_long', 'predicted_late')",
            name=op.f("ck_alarm_type_valid"),
        ),
        sa.ForeignKeyConstraint(
            ["org_unit_id"], ["org_unit.id"], name=op.f("fk_alarm_org_unit_id_org_unit")
        ),
        sa.ForeignKeyConstraint(
            ["warehouse_id"], ["warehouse.id"], name=op.f("fk_alarm_warehouse_id_warehouse")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alarm")),
    )
    op.create_index(op.f("ix_alarm_org_unit_id"), "alarm", ["org_unit_id"], unique=False)
    op.create_index("ix_alarm_raised_at", "alarm", ["raised_at"], unique=False)
    op.create_index("ix_alarm_state_raised_at", "alarm", ["state", "raised_at"], unique=False)
    op.create_index(op.f("ix_alarm_warehouse_id"), "alarm", ["warehouse_id"], unique=False)
    op.create_index(
        "ux_alarm_open_type_subject",
        "alarm",
        ["type", "subject"],
        unique=True,
        postgresql_where=sa.text("state <> 'cleared'"),
    )
    op.create_table(
        "alarm_transition",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("alarm_id", sa.String(length=20), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("from_state", sa.String(length=16), nullable=True),
        sa.Column("to_state", sa.String(length=16), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("by", sa.String(length=64), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("evidence", JSONB(), nullable=True),
        sa.Column("occurrences", sa.Integer(), nullable=False),
        sa.Column(
            "recorded_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "action IN ('raise', 'acknowledge', 'clear', 'repeat')",
            name=op.f("ck_alarm_transition_action_valid"),
        ),
        sa.ForeignKeyConstraint(
            ["alarm_id"], ["alarm.id"], name=op.f("fk_alarm_transition_alarm_id_alarm")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alarm_transition")),
        sa.UniqueConstraint("alarm_id", "seq", name=op.f("uq_alarm_transition_alarm_id_seq")),
    )
    op.create_table(
        "alarm_state",
        sa.Column("key", sa.String(length=300), nullable=False),
        sa.Column("state", JSONB(), nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_alarm_state")),
    )
    op.create_table(
        "alarm_command",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("alarm_id", sa.String(length=20), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("force", sa.Boolean(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("by", sa.String(length=64), nullable=False),
        sa.Column(
            "requested_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "action IN ('acknowledge', 'clear')", name=op.f("ck_alarm_command_action_valid")
        ),
        sa.CheckConstraint(
            "outcome IN ('applied', 'refused')", name=op.f("ck_alarm_command_outcome_valid")
        ),
        sa.ForeignKeyConstraint(
            ["alarm_id"], ["alarm.id"], name=op.f("fk_alarm_command_alarm_id_alarm")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["app_user.id"], name=op.f("fk_alarm_command_user_id_app_user")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alarm_command")),
    )
    op.create_index(op.f("ix_alarm_command_alarm_id"), "alarm_command", ["alarm_id"], unique=False)
    op.create_index(
        "ix_alarm_command_pending",
        "alarm_command",
        ["id"],
        unique=False,
        postgresql_where=sa.text("applied_at IS NULL"),
    )
    op.create_table(
        "alarm_rule_config",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("scope", sa.String(length=16), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("values", JSONB(), nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("updated_by", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "scope IN ('default', 'site', 'product_class', 'device')",
            name=op.f("ck_alarm_rule_config_scope_valid"),
        ),
        sa.ForeignKeyConstraint(
            ["updated_by"], ["app_user.id"], name=op.f("fk_alarm_rule_config_updated_by_app_user")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alarm_rule_config")),
        sa.UniqueConstraint("scope", "key", name=op.f("uq_alarm_rule_config_scope_key")),
    )
    op.create_table(
        "webhook",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("url", sa.String(length=500), nullable=False),
        sa.Column("secret", sa.String(length=128), nullable=False),
        sa.Column("event_filter", JSONB(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("org_unit_id", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["app_user.id"], name=op.f("fk_webhook_created_by_app_user")
        ),
        sa.ForeignKeyConstraint(
            ["org_unit_id"], ["org_unit.id"], name=op.f("fk_webhook_org_unit_id_org_unit")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook")),
    )
    op.create_table(
        "webhook_delivery",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("webhook_id", sa.Integer(), nullable=False),
        sa.Column("transition_id", sa.BigInteger(), nullable=False),
        sa.Column("event", sa.String(length=32), nullable=False),
        sa.Column("payload", JSONB(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_try_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("response_code", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'delivered', 'failed')",
            name=op.f("ck_webhook_delivery_status_valid"),
        ),
        sa.ForeignKeyConstraint(
            ["transition_id"],
            ["alarm_transition.id"],
            name=op.f("fk_webhook_delivery_transition_id_alarm_transition"),
        ),
        sa.ForeignKeyConstraint(
            ["webhook_id"], ["webhook.id"], name=op.f("fk_webhook_delivery_webhook_id_webhook")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_delivery")),
        sa.UniqueConstraint(
            "webhook_id", "transition_id", name=op.f("uq_webhook_delivery_webhook_id_transition_id")
        ),
    )
    op.create_index(
        "ix_webhook_delivery_due",
        "webhook_delivery",
        ["next_try_at"],
        unique=False,
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.create_table(
        "bin_sensed",
        sa.Column("bin_id", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=True),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("confident", sa.Boolean(), nullable=False),
        sa.Column("settled", sa.Boolean(), nullable=False),
        sa.Column("mean_g", sa.Float(), nullable=False),
        sa.Column("readings", sa.Integer(), nullable=False),
        sa.Column("book", sa.Integer(), nullable=True),
        sa.Column("scanned", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["bin_id"], ["bin.id"], name=op.f("fk_bin_sensed_bin_id_bin")),
        sa.ForeignKeyConstraint(
            ["product_id"], ["product.id"], name=op.f("fk_bin_sensed_product_id_product")
        ),
        sa.PrimaryKeyConstraint("bin_id", name=op.f("pk_bin_sensed")),
    )
    op.create_table(
        "stocktake_session",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("warehouse_id", sa.Integer(), nullable=False),
        sa.Column("zone_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("history", JSONB(), nullable=False),
        sa.CheckConstraint(
            "status IN ('counting', 'review', 'approval', 'posted', 'cancelled')",
            name=op.f("ck_stocktake_session_status_valid"),
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["app_user.id"], name=op.f("fk_stocktake_session_created_by_app_user")
        ),
        sa.ForeignKeyConstraint(
            ["warehouse_id"],
            ["warehouse.id"],
            name=op.f("fk_stocktake_session_warehouse_id_warehouse"),
        ),
        sa.ForeignKeyConstraint(
            ["zone_id"], ["zone.id"], name=op.f("fk_stocktake_session_zone_id_zone")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stocktake_session")),
    )
    op.create_index(
        op.f("ix_stocktake_session_warehouse_id"),
        "stocktake_session",
        ["warehouse_id"],
        unique=False,
    )
    op.create_table(
        "stocktake_line",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("bin_id", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("lot_id", sa.Integer(), nullable=True),
        sa.Column("book", sa.Integer(), nullable=False),
        sa.Column("sensed", sa.Integer(), nullable=True),
        sa.Column("sensed_confidence", sa.Float(), nullable=False),
        sa.Column("scanned", sa.Integer(), nullable=True),
        sa.Column("manual", sa.Integer(), nullable=True),
        sa.Column("counted_by", sa.String(length=64), nullable=True),
        sa.Column("unit_value", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("delta", sa.Integer(), nullable=True),
        sa.Column("adj_source", sa.String(length=16), nullable=True),
        sa.Column("adj_value", sa.Numeric(precision=14, scale=2), nullable=True),
        sa.Column("adj_status", sa.String(length=16), nullable=True),
        sa.Column("adj_reason", sa.Text(), nullable=True),
        sa.Column("proposed_by", sa.String(length=64), nullable=True),
        sa.Column("decided_by", sa.String(length=64), nullable=True),
        sa.Column("adj_note", sa.Text(), nullable=True),
        sa.Column("movement_id", sa.BigInteger(), nullable=True),
        sa.CheckConstraint(
            "adj_source IN ('manual', 'scanned', 'sensed')",
            name=op.f("ck_stocktake_line_adj_source_valid"),
        ),
        sa.CheckConstraint(
            "adj_status IN ('proposed', 'approved', 'rejected')",
            name=op.f("ck_stocktake_line_adj_status_valid"),
        ),
        sa.ForeignKeyConstraint(["bin_id"], ["bin.id"], name=op.f("fk_stocktake_line_bin_id_bin")),
        sa.ForeignKeyConstraint(["lot_id"], ["lot.id"], name=op.f("fk_stocktake_line_lot_id_lot")),
        sa.ForeignKeyConstraint(
            ["movement_id"],
            ["stock_movement.id"],
            name=op.f("fk_stocktake_line_movement_id_stock_movement"),
        ),
        sa.ForeignKeyConstraint(
            ["product_id"], ["product.id"], name=op.f("fk_stocktake_line_product_id_product")
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["stocktake_session.id"],
            name=op.f("fk_stocktake_line_session_id_stocktake_session"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stocktake_line")),
    )
    op.create_index(
        op.f("ix_stocktake_line_session_id"), "stocktake_line", ["session_id"], unique=False
    )


def downgrade() -> None:
    # Dropping a table drops its indexes and constraints.
    op.drop_table("stocktake_line")
    op.drop_table("stocktake_session")
    op.drop_table("bin_sensed")
    op.drop_table("webhook_delivery")
    op.drop_table("webhook")
    op.drop_table("alarm_rule_config")
    op.drop_table("alarm_command")
    op.drop_table("alarm_state")
    op.drop_table("alarm_transition")
    op.drop_table("alarm")
