from datetime import UTC, date, datetime, timedelta

from digest.pipeline.pool import build_pool
from digest.settings import RankingSettings, Settings
from digest.store.db import Database
from digest.store.pools import find_pool, pool_entries
from tests.factories import make_paper

DAY = date(2026, 11, 25)
NOW = datetime(2026, 11, 25, 9, tzinfo=UTC)


def ranking(size: int) -> RankingSettings:
    return Settings(pool_size=size, pool_days=7).ranking


def test_edition_ranks_and_freezes_the_top_papers(db: Database) -> None:
    with db.session() as session:
        low = make_paper(session, listed_on=DAY, upvotes=3)
        high = make_paper(session, listed_on=DAY, upvotes=90)
        mid = make_paper(session, listed_on=DAY, upvotes=20)
        make_paper(session, listed_on=DAY - timedelta(days=30), upvotes=999)  # outside the window
    with db.session() as session:
        edition = build_pool(session, DAY, ranking(2), NOW)
        assert edition is not None
        assert [e.arxiv_id for e in pool_entries(session, edition)] == [
            high.arxiv_id,
            mid.arxiv_id,
        ]
    with db.session() as session:
        make_paper(session, listed_on=DAY, upvotes=5000)  # arrives after the edition was built
    with db.session() as session:
        again = build_pool(session, DAY, ranking(2), NOW + timedelta(hours=3))
        assert again is not None and again.id == edition.id
        entries = pool_entries(session, again)
        assert [e.arxiv_id for e in entries] == [high.arxiv_id, mid.arxiv_id]
        assert entries[0].upvotes == 90
    assert low.arxiv_id not in {e.arxiv_id for e in entries}


def test_no_papers_means_no_edition(db: Database) -> None:
    with db.session() as session:
        assert build_pool(session, DAY, ranking(10), NOW) is None
        assert find_pool(session, DAY) is None


def test_papers_only_arxiv_announced_compete_from_their_announcement_day(db: Database) -> None:
    with db.session() as session:
        featured = make_paper(session, listed_on=DAY, upvotes=5)
        arxiv_only = make_paper(session, listed_on=DAY, upvotes=0)
        arxiv_only.listed_on = None
        arxiv_only.announced_on = DAY
        stale = make_paper(session, listed_on=DAY, upvotes=0)
        stale.listed_on = None
        stale.announced_on = DAY - timedelta(days=30)
    with db.session() as session:
        edition = build_pool(session, DAY, ranking(10), NOW)
        assert edition is not None
        ids = {e.arxiv_id for e in pool_entries(session, edition)}
    assert ids == {featured.arxiv_id, arxiv_only.arxiv_id}
