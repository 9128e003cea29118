"""seed papers, mutes and the learning switch (issue 26)

- `seed_papers`: papers a subscriber gave as ones they like (pasted ids, DOIs, titles or a
  BibTeX / RIS / CSL-JSON file), with their text; they count as "more like this".
- `arxiv_lookups`: arXiv's answer for each id looked up for them, so none is asked twice.
- `papers.doi`: the journal DOI arXiv lists for a paper, so a pasted DOI finds it.
- `subscribers.muted`, `muted_authors`: what a subscriber never wants to see;
  `learn_from_ratings`: off, their votes no longer shape the ranking.

Existing subscribers mute nothing and keep learning from their ratings: their editions do
not change.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06 14:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import digest.store.types

revision: str = "0016"
# 0015 may be another branch's; the merge sets this to the head it follows.
down_revision: str | None = "0015"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "seed_papers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subscriber_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=300), nullable=False),
        sa.Column("arxiv_id", sa.String(length=32), nullable=True),
        sa.Column("doi", sa.String(length=200), nullable=True),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("abstract", sa.Text(), nullable=False),
        sa.Column("authors", sa.JSON(), nullable=False),
        sa.Column("categories", sa.JSON(), nullable=False),
        sa.Column("origin", sa.String(length=20), nullable=False),
        sa.Column("created_at", digest.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["subscriber_id"],
            ["subscribers.id"],
            name=op.f("fk_seed_papers_subscriber_id_subscribers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_seed_papers")),
        sa.UniqueConstraint("subscriber_id", "key", name="uq_seed_papers_subscriber_key"),
    )
    with op.batch_alter_table("seed_papers", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_seed_papers_subscriber_id"), ["subscriber_id"], unique=False
        )
    with op.batch_alter_table("papers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("doi", sa.String(length=200), nullable=True))
        batch_op.create_index(batch_op.f("ix_papers_doi"), ["doi"], unique=False)
    op.create_table(
        "arxiv_lookups",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("arxiv_id", sa.String(length=32), nullable=False),
        sa.Column("doi", sa.String(length=200), nullable=True),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("abstract", sa.Text(), nullable=False),
        sa.Column("authors", sa.JSON(), nullable=False),
        sa.Column("categories", sa.JSON(), nullable=False),
        sa.Column("looked_up_at", digest.store.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_arxiv_lookups")),
        sa.UniqueConstraint("arxiv_id", name=op.f("uq_arxiv_lookups_arxiv_id")),
    )
    with op.batch_alter_table("arxiv_lookups", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_arxiv_lookups_doi"), ["doi"], unique=False)
    # Plain ADD COLUMN (SQLite takes it with a constant default): a batch rebuild would
    # lose the table's AUTOINCREMENT (migration 0014).
    op.add_column(
        "subscribers",
        sa.Column("muted", sa.JSON(), nullable=False, server_default=sa.text("'[]'")),
    )
    op.add_column(
        "subscribers",
        sa.Column("muted_authors", sa.JSON(), nullable=False, server_default=sa.text("'[]'")),
    )
    op.add_column(
        "subscribers",
        sa.Column("learn_from_ratings", sa.Boolean(), nullable=False, server_default=sa.true()),
    )


def downgrade() -> None:
    with op.batch_alter_table(
        "subscribers", schema=None, table_kwargs={"sqlite_autoincrement": True}
    ) as batch_op:
        batch_op.drop_column("learn_from_ratings")
        batch_op.drop_column("muted_authors")
        batch_op.drop_column("muted")
    with op.batch_alter_table("arxiv_lookups", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_arxiv_lookups_doi"))
    op.drop_table("arxiv_lookups")
    with op.batch_alter_table("papers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_papers_doi"))
        batch_op.drop_column("doi")
    with op.batch_alter_table("seed_papers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_seed_papers_subscriber_id"))
    op.drop_table("seed_papers")
