from datetime import UTC, datetime, timedelta

from digest.rank.trend import TrendInput, rank_by_trend, trend_score

NOW = datetime(2026, 11, 25, 12, tzinfo=UTC)


def test_a_fast_climber_beats_an_old_total() -> None:
    climber = TrendInput(1, upvotes=40, comments=2, stars=None, listed_at=NOW - timedelta(hours=6))
    veteran = TrendInput(2, upvotes=400, comments=20, stars=None, listed_at=NOW - timedelta(days=7))
    assert trend_score(climber, NOW) > trend_score(veteran, NOW)
    assert [item.paper_id for item, _ in rank_by_trend([veteran, climber], NOW)] == [1, 2]


def test_comments_and_stars_add_to_the_score() -> None:
    listed = NOW - timedelta(hours=10)
    plain = TrendInput(1, upvotes=10, comments=0, stars=None, listed_at=listed)
    discussed = TrendInput(2, upvotes=10, comments=5, stars=None, listed_at=listed)
    starred = TrendInput(3, upvotes=10, comments=0, stars=400, listed_at=listed)
    assert trend_score(discussed, NOW) > trend_score(plain, NOW)
    assert trend_score(starred, NOW) > trend_score(plain, NOW)


def test_ties_are_stable() -> None:
    listed = NOW - timedelta(hours=3)
    items = [TrendInput(i, upvotes=5, comments=0, stars=None, listed_at=listed) for i in (9, 3, 7)]
    first = [item.paper_id for item, _ in rank_by_trend(items, NOW)]
    second = [item.paper_id for item, _ in rank_by_trend(list(reversed(items)), NOW)]
    assert first == second == [3, 7, 9]


def test_a_paper_listed_in_the_future_is_not_boosted() -> None:
    ahead = TrendInput(1, upvotes=5, comments=0, stars=None, listed_at=NOW + timedelta(hours=5))
    now = TrendInput(2, upvotes=5, comments=0, stars=None, listed_at=NOW)
    assert trend_score(ahead, NOW) == trend_score(now, NOW)
