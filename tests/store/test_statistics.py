"""Plans fit the edition's size: a table filled in one go gets its statistics at once."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import text

from digest.pipeline.plan import plan_deliveries
from digest.settings import Settings
from digest.store.db import Database, keep_statistics
from tests.factories import make_paper, make_subscriber

NOW = datetime(2026, 11, 25, 9, tzinfo=UTC)


def _believed(db: Database, table: str) -> float:
    with db.session() as session:
        return float(
            session.execute(
                text("SELECT reltuples FROM pg_class WHERE relname = :name"), {"name": table}
            ).scalar_one()
        )


def test_a_table_believed_empty_is_analyzed_once_it_holds_rows(pg_db: Database) -> None:
    with pg_db.session() as session:
        for i in range(40):
            make_subscriber(session, f"reader{i}@example.org")
    assert _believed(pg_db, "subscribers") < 40  # autovacuum has not been round

    with pg_db.session() as session:
        assert keep_statistics(session, {"subscribers": 40}) == ["subscribers"]
    assert _believed(pg_db, "subscribers") == 40
    with pg_db.session() as session:
        assert keep_statistics(session, {"subscribers": 60}) == []  # 40 is over half of 60


def test_the_planner_leaves_the_deliveries_it_queued_analyzed(
    pg_db: Database, settings: Settings
) -> None:
    with pg_db.session() as session:
        make_paper(session, listed_on=NOW.date(), upvotes=10)
        for i in range(30):
            make_subscriber(session, f"reader{i}@example.org")
    plan_deliveries(pg_db, settings.model_copy(update={"database_url": pg_db.url}), NOW)
    assert _believed(pg_db, "deliveries") == 30
    assert _believed(pg_db, "subscribers") == 30


def test_sqlite_has_nothing_to_analyze(sqlite_db: Database) -> None:
    with sqlite_db.session() as session:
        assert keep_statistics(session, {"subscribers": 10}) == []
