"""personal editions: trend gains per edition item, the papers of each delivery

Revision ID: 0004
Revises: 0002
Create Date: 2026-11-25 15:45:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("edition_items", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("upvote_gain", sa.Integer(), nullable=False, server_default=sa.text("0"))
        )
        batch_op.add_column(
            sa.Column("star_gain", sa.Integer(), nullable=False, server_default=sa.text("0"))
        )
    op.create_table(
        "delivery_papers",
        sa.Column("delivery_id", sa.Integer(), nullable=False),
        sa.Column("paper_id", sa.Integer(), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("why", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["delivery_id"],
            ["deliveries.id"],
            name=op.f("fk_delivery_papers_delivery_id_deliveries"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["paper_id"],
            ["papers.id"],
            name=op.f("fk_delivery_papers_paper_id_papers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("delivery_id", "paper_id", name=op.f("pk_delivery_papers")),
    )
    with op.batch_alter_table("delivery_papers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_delivery_papers_paper_id"), ["paper_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("delivery_papers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_delivery_papers_paper_id"))
    op.drop_table("delivery_papers")
    with op.batch_alter_table("edition_items", schema=None) as batch_op:
        batch_op.drop_column("star_gain")
        batch_op.drop_column("upvote_gain")
