"""the day's pool is called a pool in the schema too: `editions` → `pools`,
`edition_items` → `pool_items`, `edition_id` → `pool_id` (issue 25, one word per thing)

An *edition* is what one subscriber receives; the tables renamed here always held the
day's pool, which the code already called `Pool` and `PoolItem`. Every row, id and foreign
key is kept; the constraints, indexes and (on PostgreSQL) id sequences take the new names.
PostgreSQL renames in place; SQLite renames the tables, then rebuilds them to rename the
constraints written into their definitions (env.py turns foreign keys off around it).

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-08 10:00:00
"""

from __future__ import annotations

from typing import NamedTuple

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | None = None
depends_on: str | None = None

UNFINISHED = "status IN ('pending', 'deferred', 'claimed')"


class Names(NamedTuple):
    """One side of the rename: the word, and the names of the tables and column it makes."""

    word: str
    pools: str
    items: str
    column: str

    def constraints(self) -> dict[str, dict[str, str]]:
        """Table → {role: constraint name}, as the models' naming convention spells them."""
        return {
            self.pools: {"pk": f"pk_{self.pools}", "uq_date": f"uq_{self.pools}_date"},
            self.items: {
                "pk": f"pk_{self.items}",
                "uq_rank": f"uq_{self.items}_{self.word}_rank",
                "uq_paper": f"uq_{self.items}_{self.word}_paper",
                "fk_pool": f"fk_{self.items}_{self.column}_{self.pools}",
                "fk_paper": f"fk_{self.items}_paper_id_papers",
            },
            "deliveries": {
                "uq_subscriber": f"uq_deliveries_subscriber_{self.word}",
                "fk_pool": f"fk_deliveries_{self.column}_{self.pools}",
            },
        }

    @property
    def status_index(self) -> str:
        return f"ix_deliveries_{self.word}_status"


OLD = Names(word="edition", pools="editions", items="edition_items", column="edition_id")
NEW = Names(word="pool", pools="pools", items="pool_items", column="pool_id")


def upgrade() -> None:
    rename(OLD, NEW)


def downgrade() -> None:
    rename(NEW, OLD)


def rename(old: Names, new: Names) -> None:
    if op.get_bind().dialect.name == "sqlite":
        rename_on_sqlite(old, new)
    else:
        rename_on_postgresql(old, new)


def rename_on_postgresql(old: Names, new: Names) -> None:
    op.rename_table(old.pools, new.pools)
    op.rename_table(old.items, new.items)
    op.execute(f"ALTER SEQUENCE {old.pools}_id_seq RENAME TO {new.pools}_id_seq")
    op.execute(f"ALTER SEQUENCE {old.items}_id_seq RENAME TO {new.items}_id_seq")
    op.alter_column(new.items, old.column, new_column_name=new.column)
    op.alter_column("deliveries", old.column, new_column_name=new.column)
    old_names, new_names = old.constraints(), new.constraints()
    for old_table, new_table in ((old.pools, new.pools), (old.items, new.items)):
        for role, name in old_names[old_table].items():
            op.execute(
                f"ALTER TABLE {new_table} RENAME CONSTRAINT {name} TO {new_names[new_table][role]}"
            )
    for role, name in old_names["deliveries"].items():
        op.execute(
            f"ALTER TABLE deliveries RENAME CONSTRAINT {name} TO {new_names['deliveries'][role]}"
        )
    op.execute(f"ALTER INDEX {old.status_index} RENAME TO {new.status_index}")


def rename_on_sqlite(old: Names, new: Names) -> None:
    # SQLite (3.26+) rewrites the foreign keys, constraints and indexes that name a renamed
    # table or column; a rebuild then renames the constraints themselves.
    op.rename_table(old.pools, new.pools)
    op.rename_table(old.items, new.items)
    for table in (new.items, "deliveries"):
        op.execute(f"ALTER TABLE {table} RENAME COLUMN {old.column} TO {new.column}")
    # Rebuilt below from the new column; a rebuild would carry these over under old names.
    op.drop_index(old.status_index, table_name="deliveries")
    op.drop_index("ix_deliveries_unfinished", table_name="deliveries")
    old_names, new_names = old.constraints(), new.constraints()

    with op.batch_alter_table(new.pools, recreate="always") as pools:
        names, renamed = old_names[old.pools], new_names[new.pools]
        pools.drop_constraint(names["pk"], type_="primary")
        pools.create_primary_key(renamed["pk"], ["id"])
        pools.drop_constraint(names["uq_date"], type_="unique")
        pools.create_unique_constraint(renamed["uq_date"], ["date"])

    with op.batch_alter_table(new.items, recreate="always") as items:
        names, renamed = old_names[old.items], new_names[new.items]
        for role in ("uq_rank", "uq_paper"):
            items.drop_constraint(names[role], type_="unique")
        for role in ("fk_pool", "fk_paper"):
            items.drop_constraint(names[role], type_="foreignkey")
        items.drop_constraint(names["pk"], type_="primary")
        items.create_primary_key(renamed["pk"], ["id"])
        items.create_unique_constraint(renamed["uq_rank"], [new.column, "rank"])
        items.create_unique_constraint(renamed["uq_paper"], [new.column, "paper_id"])
        items.create_foreign_key(
            renamed["fk_pool"], new.pools, [new.column], ["id"], ondelete="CASCADE"
        )
        items.create_foreign_key(
            renamed["fk_paper"], "papers", ["paper_id"], ["id"], ondelete="CASCADE"
        )

    with op.batch_alter_table("deliveries", recreate="always") as deliveries:
        names, renamed = old_names["deliveries"], new_names["deliveries"]
        deliveries.drop_constraint(names["uq_subscriber"], type_="unique")
        deliveries.drop_constraint(names["fk_pool"], type_="foreignkey")
        deliveries.create_unique_constraint(renamed["uq_subscriber"], ["subscriber_id", new.column])
        deliveries.create_foreign_key(
            renamed["fk_pool"], new.pools, [new.column], ["id"], ondelete="CASCADE"
        )

    op.create_index(new.status_index, "deliveries", [new.column, "status"])
    op.create_index(
        "ix_deliveries_unfinished",
        "deliveries",
        [new.column, "id"],
        sqlite_where=sa.text(UNFINISHED),
    )
