"""deliveries remember the message in flight, how often one was when its sender died, and
index their unfinished rows for claiming

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
UNFINISHED = "status IN ('pending', 'deferred', 'claimed')"


def upgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("in_flight_since", MOMENT, nullable=True))
        batch_op.add_column(
            sa.Column("uncertain", sa.Integer(), nullable=False, server_default=sa.text("0"))
        )
    op.create_index(
        "ix_deliveries_unfinished",
        "deliveries",
        ["edition_id", "id"],
        postgresql_where=sa.text(UNFINISHED),
        sqlite_where=sa.text(UNFINISHED),
    )


def downgrade() -> None:
    op.drop_index("ix_deliveries_unfinished", table_name="deliveries")
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_column("uncertain")
        batch_op.drop_column("in_flight_since")
