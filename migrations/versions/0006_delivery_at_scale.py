"""delivery at scale: queue states, attempts, leases and due moments on deliveries

Revision ID: 0006
Revises: 0004
Create Date: 2026-11-25 15:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import digest.store.types

revision: str = "0006"
down_revision: str | None = "0004"
branch_labels: str | None = None
depends_on: str | None = None

MOMENT = digest.store.types.UTCDateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("due_at", MOMENT, nullable=True))
        batch_op.add_column(
            sa.Column("attempts", sa.Integer(), nullable=False, server_default=sa.text("0"))
        )
        batch_op.add_column(sa.Column("first_attempt_at", MOMENT, nullable=True))
        batch_op.add_column(sa.Column("next_attempt_at", MOMENT, nullable=True))
        batch_op.add_column(sa.Column("lease_until", MOMENT, nullable=True))
        batch_op.create_index("ix_deliveries_edition_status", ["edition_id", "status"])


def downgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_deliveries_edition_status")
        batch_op.drop_column("lease_until")
        batch_op.drop_column("next_attempt_at")
        batch_op.drop_column("first_attempt_at")
        batch_op.drop_column("attempts")
        batch_op.drop_column("due_at")
