"""Durable ingest worker sessions, re-armed on the broker after it restarts.

Mosquitto 2.0.11 restores persistent sessions but not their shared subscriptions: until a
worker reconnects and subscribes again, what agents publish has no subscriber and is dropped.
The broker start re-creates the shared subscriptions of the sessions listed here first.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE ingest_session (
            worker_id    text PRIMARY KEY,
            created_at   timestamptz NOT NULL DEFAULT now(),
            last_start   timestamptz NOT NULL DEFAULT now()
        )
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE ingest_session")
