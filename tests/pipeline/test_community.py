"""What other readers of a topic rated up, read from the store on SQLite and PostgreSQL:
only active readers who let their ratings be learned from, only "more like this" of the
last 90 days, pooled from two readers or more, and it reaches a follower's edition."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import numpy as np

from digest.pipeline.editions import pick_editions, profiles_of
from digest.pipeline.pool import day_pool
from digest.rank.embed import Vectors, paper_text_for_embedding
from digest.rank.pool import CandidatePool
from digest.settings import Settings
from digest.store.db import Database
from digest.store.feedback import Vote, record_feedback
from digest.store.models import Subscriber, SubscriberState
from tests.factories import make_paper, make_subscriber
from tests.rank.support_embed import WordHashEmbedder

DAY = date(2026, 11, 25)
NOW = datetime(2026, 11, 25, 9, tzinfo=UTC)


def test_a_follower_gets_what_other_readers_of_their_topic_rated_up(
    db: Database, settings: Settings
) -> None:
    with db.session() as session:
        # Rated on earlier days, older than the pool's days.
        grasp = make_paper(
            session, listed_on=DAY - timedelta(days=20), upvotes=1,
            title="Dexterous grasping with tactile fingers",
            abstract="Soft fingers pick up fragile objects without breaking them.",
        )  # fmt: skip
        old = make_paper(
            session, listed_on=DAY - timedelta(days=200), upvotes=1,
            title="Protein folding with attention", abstract="Sequences to structures.",
        )  # fmt: skip
        make_paper(session, listed_on=DAY, upvotes=90, title="Scaling laws", abstract="Tokens.")
        make_paper(
            session, listed_on=DAY, upvotes=1, title="Tactile fingers that grasp eggs",
            abstract="Soft fingers pick up fragile objects.",
        )  # fmt: skip
        make_paper(
            session, listed_on=DAY, upvotes=3, title="Protein structures from sequences",
            abstract="Folding with attention.",
        )  # fmt: skip
        for _ in range(5):
            make_paper(session, listed_on=DAY, upvotes=2)
        raters = [
            make_subscriber(session, f"rater{i}@example.org", topics=["Embodied AI"])
            for i in range(2)
        ]
        quiet = make_subscriber(session, "quiet@example.org", topics=["embodied AI"])
        learning_off = make_subscriber(session, "off@example.org", topics=["embodied ai"])
        learning_off.learn_from_ratings = False
        gone = make_subscriber(
            session, "gone@example.org", topics=["embodied AI"], state=SubscriberState.UNSUBSCRIBED
        )
        newcomer = make_subscriber(session, "new@example.org", topics=["embodied AI"])
        lone = make_subscriber(session, "lone@example.org", topics=["embodied AI"])
        ids = {s.email: s.id for s in [*raters, quiet, learning_off, gone, newcomer, lone]}
        grasp_id, old_id = grasp.arxiv_id, old.arxiv_id
    with db.session() as session:
        for rater in raters:
            record_feedback(session, rater.id, grasp_id, Vote.MORE, now=NOW - timedelta(days=3))
        # None of these counts: learning off, unsubscribed, a "less like this", too old.
        record_feedback(session, ids["off@example.org"], old_id, Vote.MORE, now=NOW)
        record_feedback(session, ids["gone@example.org"], old_id, Vote.MORE, now=NOW)
        record_feedback(session, ids["quiet@example.org"], old_id, Vote.LESS, now=NOW)
        record_feedback(
            session, ids["lone@example.org"], old_id, Vote.MORE, now=NOW - timedelta(days=91)
        )
    pool = day_pool(db, settings.ranking, DAY, NOW)
    assert pool is not None
    with db.session() as session:
        readers = [
            session.get_one(Subscriber, ids[e]) for e in ("new@example.org", "rater0@example.org")
        ]
        newcomer_profile, rater_profile = profiles_of(session, readers, pool)
    # The newcomer gets what the two raters liked; a rater has one other rater: nothing.
    assert [(t.title, n) for t, n in newcomer_profile.community] == [
        ("Dexterous grasping with tactile fingers", 2)
    ]
    assert rater_profile.community == ()
    [entries] = pick_editions(pool, [newcomer_profile], settings.ranking)
    assert entries[0].title == "Tactile fingers that grasp eggs"
    # Turned off, the follower's words alone match nothing: the day's three trending papers,
    # which the least upvoted paper of the day is not.
    ranking = settings.ranking
    off = replace(ranking, blend=replace(ranking.blend, community_weight=0.0))
    [entries] = pick_editions(pool, [newcomer_profile], off)
    assert [e.title for e in entries][:2] == ["Scaling laws", "Protein structures from sequences"]
    assert len(entries) == 3
    assert "Tactile fingers that grasp eggs" not in [e.title for e in entries]


class RecordingEmbedder(WordHashEmbedder):
    def __init__(self) -> None:
        super().__init__()
        self.texts: list[str] = []

    def encode(self, texts: Sequence[str]) -> Vectors:
        self.texts += texts
        return super().encode(texts)


def test_what_others_liked_is_read_with_its_stored_vector_not_embedded_again(
    db: Database, settings: Settings
) -> None:
    stored = np.arange(1, 17, dtype=np.float32)
    with db.session() as session:
        liked = make_paper(
            session, listed_on=DAY - timedelta(days=20), upvotes=1,
            title="Dexterous grasping with tactile fingers", abstract="Soft fingers.",
        )  # fmt: skip
        liked.embedding = stored.astype("<f4").tobytes()
        liked.embedding_model = "word-hash@16"
        unstored = make_paper(
            session, listed_on=DAY - timedelta(days=20), upvotes=1,
            title="Legged robots on ice", abstract="Quadrupeds keep their balance.",
        )  # fmt: skip
        for i in range(4):
            make_paper(session, listed_on=DAY, upvotes=10 - i)
        raters = [make_subscriber(session, topics=["embodied AI"]) for _ in range(2)]
        newcomer = make_subscriber(session, topics=["embodied AI"])
        ids = ([r.id for r in raters], newcomer.id, liked.arxiv_id, unstored.arxiv_id)
    rater_ids, newcomer_id, liked_id, unstored_id = ids
    with db.session() as session:
        for rater_id in rater_ids:
            record_feedback(session, rater_id, liked_id, Vote.MORE, now=NOW)
            record_feedback(session, rater_id, unstored_id, Vote.MORE, now=NOW)
    plain = day_pool(db, settings.ranking, DAY, NOW)
    assert plain is not None
    embedder = RecordingEmbedder()
    pool = replace(
        plain,
        candidates=CandidatePool(plain.candidates.papers, embedder=embedder),
        embedding_model="word-hash@16",
    )
    with db.session() as session:
        [profile] = profiles_of(session, [session.get_one(Subscriber, newcomer_id)], pool)
        texts = {t.title: t for t, _ in profile.community}
    embedder.texts.clear()
    [entries] = pick_editions(pool, [profile], settings.ranking)
    assert entries
    embedded = " ".join(embedder.texts)
    # The paper with a stored vector of the pool's model is not embedded; the other one is.
    assert "Dexterous grasping" not in embedded and "Legged robots on ice" in embedded
    passage = paper_text_for_embedding(texts["Dexterous grasping with tactile fingers"])
    [row] = pool.candidates.encode([passage])
    assert np.allclose(row, stored / np.linalg.norm(stored))
