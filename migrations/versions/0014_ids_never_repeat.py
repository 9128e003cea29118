"""subscriber ids never repeat on SQLite (AUTOINCREMENT), and the outbox keeps the
Message-ID of each email the server accepted (a report about a notice must name one)

An id is in every signed link, return path and Message-ID. SQLite without AUTOINCREMENT
gives the highest deleted id to the next row, so the first person's return path verified
for the second. PostgreSQL's sequences never repeat: there the table is left as it is.

Ids deleted before this upgrade above the highest one kept cannot be known any more (their
rows are gone); from here on none is given twice.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06 10:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        # Rebuilt with its rows (ids kept); env.py turns foreign keys off around it.
        with op.batch_alter_table(
            "subscribers", recreate="always", table_kwargs={"sqlite_autoincrement": True}
        ):
            pass
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("message_id", sa.String(length=255), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_column("message_id")
    if op.get_bind().dialect.name == "sqlite":
        with op.batch_alter_table(
            "subscribers", recreate="always", table_kwargs={"sqlite_autoincrement": False}
        ):
            pass
