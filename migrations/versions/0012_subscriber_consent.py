"""subscribers.consent and consent_at: how and when an imported subscriber opted in, as
the operator stated it (`digest subscribers import --confirmed --consent …`)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01 22:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import digest.store.types

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("subscribers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("consent", sa.Text(), nullable=True))
        batch_op.add_column(
            sa.Column("consent_at", digest.store.types.UTCDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("subscribers", schema=None) as batch_op:
        batch_op.drop_column("consent_at")
        batch_op.drop_column("consent")
