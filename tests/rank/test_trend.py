from datetime import UTC, datetime, timedelta

from digest.papers import PaperSignals as Signals
from digest.rank.trend import rank_by_trend, score_trend
from digest.settings import TrendWeights
from tests.factories import DEFAULT_RANKING

NOW = datetime(2026, 11, 25, 12, tzinfo=UTC)


def _score(item: Signals, weights: TrendWeights | None = None) -> float:
    """The score the pool is ranked by (`rank_by_trend`), for one paper."""
    return score_trend(item, NOW, weights or DEFAULT_RANKING.trend).score


def test_a_fast_climber_beats_an_old_total() -> None:
    climber = Signals(1, upvotes=40, comments=2, stars=None, listed_at=NOW - timedelta(hours=6))
    veteran = Signals(2, upvotes=400, comments=20, stars=None, listed_at=NOW - timedelta(days=7))
    assert _score(climber) > _score(veteran)
    assert [
        item.paper_id for item, _ in rank_by_trend([veteran, climber], NOW, DEFAULT_RANKING.trend)
    ] == [1, 2]


def test_comments_and_stars_add_to_the_score() -> None:
    listed = NOW - timedelta(hours=10)
    plain = Signals(1, upvotes=10, comments=0, stars=None, listed_at=listed)
    discussed = Signals(2, upvotes=10, comments=5, stars=None, listed_at=listed)
    starred = Signals(3, upvotes=10, comments=0, stars=400, listed_at=listed)
    assert _score(discussed) > _score(plain)
    assert _score(starred) > _score(plain)


def test_ties_are_stable() -> None:
    listed = NOW - timedelta(hours=3)
    items = [Signals(i, upvotes=5, comments=0, stars=None, listed_at=listed) for i in (9, 3, 7)]
    first = [item.paper_id for item, _ in rank_by_trend(items, NOW, DEFAULT_RANKING.trend)]
    second = [
        item.paper_id
        for item, _ in rank_by_trend(list(reversed(items)), NOW, DEFAULT_RANKING.trend)
    ]
    assert first == second == [3, 7, 9]


def test_a_paper_listed_in_the_future_is_not_boosted() -> None:
    ahead = Signals(1, upvotes=5, comments=0, stars=None, listed_at=NOW + timedelta(hours=5))
    now = Signals(2, upvotes=5, comments=0, stars=None, listed_at=NOW)
    assert _score(ahead) == _score(now)


def test_velocity_counts_only_what_was_gained_in_the_window() -> None:
    old = NOW - timedelta(days=3)
    # Both have 300 upvotes now; one gained 250 of them in the last day, the other 5.
    climbing = Signals(1, upvotes=300, comments=0, stars=None, listed_at=old, upvotes_before=50)
    flat = Signals(2, upvotes=300, comments=0, stars=None, listed_at=old, upvotes_before=295)
    ranked = rank_by_trend([flat, climbing], NOW, DEFAULT_RANKING.trend)
    assert [item.paper_id for item, _ in ranked] == [1, 2]
    assert [trend.upvote_gain for _, trend in ranked] == [250, 5]


def test_a_paper_listed_within_the_window_gained_all_its_votes_in_it() -> None:
    fresh = Signals(1, upvotes=40, comments=0, stars=10, listed_at=NOW - timedelta(hours=5))
    [(_, trend)] = rank_by_trend([fresh], NOW, DEFAULT_RANKING.trend)
    assert (trend.upvote_gain, trend.star_gain) == (40, 10)


def test_weights_come_from_settings() -> None:
    from digest.settings import Settings

    settings = Settings(trend_window_hours=12, trend_gravity=1.5, trend_weight_comments=0)
    weights = settings.ranking.trend
    assert (weights.window_hours, weights.gravity, weights.comments) == (12, 1.5, 0)
    talked_about = Signals(1, upvotes=1, comments=50, stars=None, listed_at=NOW)
    quiet = Signals(2, upvotes=1, comments=0, stars=None, listed_at=NOW)
    assert _score(talked_about, weights) == _score(quiet, weights)
