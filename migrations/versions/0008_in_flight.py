"""deliveries remember the message in flight, and how often one was when its sender died

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 13:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import digest.store.types

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | None = None
depends_on: str | None = None

MOMENT = digest.store.types.UTCDateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("in_flight_since", MOMENT, nullable=True))
        batch_op.add_column(
            sa.Column("uncertain", sa.Integer(), nullable=False, server_default=sa.text("0"))
        )


def downgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_column("uncertain")
        batch_op.drop_column("in_flight_since")
