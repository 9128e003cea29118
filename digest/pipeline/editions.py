"""Each subscriber's edition of a day: their profile, their picks from the pool, and why.

A paper is not sent to a subscriber who already received it, nor to one who received
another copy of the same work (another id, a new version: `digest.rank.dedupe.copies_of`),
nor one they muted (`digest.rank.mutes`): every edition, the email's, the personal feed's
and the preview's, is picked by `pick_editions`, which withholds muted papers like received
ones, whatever their trend.
Which pool papers copy which paper of the pool or of the pools of the days before (the
pool's `copy_lookback_days`, DIGEST_NEAR_DUPLICATE_LOOKBACK_DAYS) is worked out once per
pool and process; who received what is looked up per batch, in the one query that finds
the papers they received.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
from weakref import WeakKeyDictionary

from sqlalchemy.orm import Session

from digest.papers import EditionEntry
from digest.pipeline.pool import DayPool, remember_stored_vectors
from digest.rank.community import Community, Reader
from digest.rank.dedupe import copies_of
from digest.rank.features import Follows
from digest.rank.mutes import Mutes, muted_papers
from digest.rank.personalize import Pick, SubscriberProfile, personalize
from digest.rank.pool import CandidatePool
from digest.rank.why import WhyLines
from digest.settings import RankingSettings
from digest.store.models import Subscriber
from digest.store.profiles import (
    Ratings,
    follower_votes,
    papers_pooled_before,
    papers_received,
    ratings_of,
)
from digest.store.seeds import seeds_of

# Per pool (the candidates object lives as long as the process keeps the pool): for each
# paper id that may have been sent before, the pool paper ids that are copies of it.
_copies: WeakKeyDictionary[CandidatePool, dict[int, tuple[int, ...]]] = WeakKeyDictionary()
# Per pool: what the readers of each topic rated up (votes of the COMMUNITY_DAYS before the
# pool's day), read once per process; a vote cast later counts from the next pool on.
_communities: WeakKeyDictionary[CandidatePool, Community] = WeakKeyDictionary()
COMMUNITY_DAYS = 90


def follows_of(subscriber: Subscriber) -> Follows:
    return Follows(
        topics=tuple(subscriber.topics),
        categories=tuple(subscriber.categories),
        authors=tuple(subscriber.authors),
    )


NO_RATINGS = Ratings()


def mutes_of(subscriber: Subscriber) -> Mutes:
    return Mutes(phrases=tuple(subscriber.muted), authors=tuple(subscriber.muted_authors))


def profiles_of(
    session: Session, subscribers: Sequence[Subscriber], pool: DayPool
) -> list[SubscriberProfile]:
    """Profiles in the order given: follows, ratings and seed papers (their own papers, as
    "more like this"; ratings only while they let it learn), what other readers of their
    topics rated up, mutes, and which pool papers they received."""
    ids = [subscriber.id for subscriber in subscribers]
    community = community_of(session, pool)
    learning = [subscriber.id for subscriber in subscribers if subscriber.learn_from_ratings]
    ratings = ratings_of(session, learning) if learning else {}
    seeds = seeds_of(session, ids)
    copies = copies_in_pool(session, pool)
    in_pool = pool.candidates.index
    received = papers_received(session, ids, sorted({*in_pool, *copies}))
    return [
        SubscriberProfile(
            subscriber_id=subscriber.id,
            follows=follows_of(subscriber),
            size=subscriber.edition_size,
            liked=(*ratings.get(subscriber.id, NO_RATINGS).liked, *seeds.get(subscriber.id, ())),
            disliked=tuple(ratings.get(subscriber.id, NO_RATINGS).disliked),
            received=_withheld(received[subscriber.id], in_pool, copies),
            mutes=mutes_of(subscriber),
            community=tuple(community.suggested(subscriber.id, subscriber.topics)),
        )
        for subscriber in subscribers
    ]


def community_of(session: Session, pool: DayPool) -> Community:
    """What the readers of each topic rated up lately, once per pool and process."""
    found = _communities.get(pool.candidates)
    if found is None:
        since = datetime.combine(pool.day - timedelta(days=COMMUNITY_DAYS), time.min, UTC)
        voters = follower_votes(session, since)
        found = Community(
            Reader(votes.subscriber_id, votes.topics, list(votes.liked.values()))
            for votes in voters
        )
        remember_stored_vectors(
            session, pool, {i: text for votes in voters for i, text in votes.liked.items()}
        )
        _communities[pool.candidates] = found
    return found


def copies_in_pool(session: Session, pool: DayPool) -> dict[int, tuple[int, ...]]:
    """For each paper an edition may have carried, the pool's papers that are the same work.

    Papers of the pool itself count too: two copies the pool's own duplicate check let
    through (it compares differently) are never both sent to one subscriber.
    """
    found = _copies.get(pool.candidates)
    if found is not None:
        return found
    papers = pool.candidates.papers
    # New versions and second listings of a work come within weeks; each day back adds a
    # pool's papers to compare, once per process.
    earlier = papers_pooled_before(session, pool.day, pool.copy_lookback_days)
    for paper in papers:
        earlier.pop(paper.paper_id, None)
    seen_ids = [paper.paper_id for paper in papers] + list(earlier)
    seen = [paper.text for paper in papers] + list(earlier.values())
    found = {}
    matches = copies_of([p.text for p in papers], seen, resemblance=pool.copy_resemblance)
    for seen_id, indices in zip(seen_ids, matches, strict=True):
        others = tuple(papers[i].paper_id for i in indices if papers[i].paper_id != seen_id)
        if others:
            found[seen_id] = others
    _copies[pool.candidates] = found
    return found


def _withheld(
    received: set[int], in_pool: dict[int, int], copies: dict[int, tuple[int, ...]]
) -> frozenset[int]:
    """The pool papers a subscriber must not get: those they received and copies of those."""
    withheld = {paper_id for paper_id in received if paper_id in in_pool}
    for paper_id in received:
        withheld.update(copies.get(paper_id, ()))
    return frozenset(withheld)


def pick_editions(
    pool: DayPool, profiles: Sequence[SubscriberProfile], ranking: RankingSettings
) -> list[list[EditionEntry]]:
    """Each profile's edition: its papers ranked, each with its "why it's here" line.

    Without `skip_empty_days`, a follower with no match that day gets the trending papers.
    Papers a profile mutes are withheld from it, the trending ones too.
    """
    profiles = [_without_muted(pool.candidates, profile) for profile in profiles]
    all_picks = personalize(pool.candidates, profiles, ranking.blend)
    if not ranking.skip_empty_days:
        fallback = [i for i, picks in enumerate(all_picks) if not picks and profiles[i].personal]
        trending_only = [
            replace(profiles[i], follows=Follows(), liked=(), disliked=(), community=())
            for i in fallback
        ]
        for i, picks in zip(
            fallback, personalize(pool.candidates, trending_only, ranking.blend), strict=True
        ):
            all_picks[i] = picks
    why = WhyLines(
        pool.candidates,
        ranking.trend.window_hours,
        shown=pool.entries,
        rated=[text for profile in profiles for text in profile.liked],
    )
    return [
        _entries(pool, picks, why.lines(picks, profile))
        for picks, profile in zip(all_picks, profiles, strict=True)
    ]


def _without_muted(candidates: CandidatePool, profile: SubscriberProfile) -> SubscriberProfile:
    """The profile with the pool papers it mutes withheld, as if received."""
    muted = muted_papers(candidates, profile.mutes)
    return replace(profile, received=profile.received | muted) if muted else profile


def _entries(pool: DayPool, picks: list[Pick], whys: list[str]) -> list[EditionEntry]:
    return [
        replace(pool.entries[pick.pool_index], rank=rank, score=pick.score, why=why)
        for rank, (pick, why) in enumerate(zip(picks, whys, strict=True), start=1)
    ]
