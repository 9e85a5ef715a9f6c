"""Evaluators (alarms, tracking, stocktaking) following the ingest stream: the messages each
has already evaluated, so a redelivered message is never evaluated twice.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-25
"""

from __future__ import annotations

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE eval_seen (
            agent_key   integer NOT NULL,
            seq         bigint NOT NULL,
            received_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (agent_key, seq)
        );
        CREATE INDEX eval_seen_received_idx ON eval_seen USING brin (received_at);
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE eval_seen")
