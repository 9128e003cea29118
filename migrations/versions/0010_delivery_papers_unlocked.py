"""delivery_papers.paper_id no longer references papers with a foreign key

Papers are never deleted, and the key-share lock the check takes on every paper of every
window's marks (the same ten rows, from every sender at once) was half the cost of
recording an outcome. The delivery_id foreign key (and its cascade) stays.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 16:00:00
"""

from __future__ import annotations

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | None = None
depends_on: str | None = None

CONSTRAINT = "fk_delivery_papers_paper_id_papers"


def upgrade() -> None:
    with op.batch_alter_table("delivery_papers", schema=None) as batch_op:
        batch_op.drop_constraint(CONSTRAINT, type_="foreignkey")


def downgrade() -> None:
    with op.batch_alter_table("delivery_papers", schema=None) as batch_op:
        batch_op.create_foreign_key(CONSTRAINT, "papers", ["paper_id"], ["id"], ondelete="CASCADE")
