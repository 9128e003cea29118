"""One commit a message: the last message's mark and the next one's start, written together,
safe to write twice, and an unsubscribe landing between two messages still counts."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import func, select

from digest.papers import EditionEntry
from digest.pipeline.plan import plan_deliveries
from digest.settings import Settings
from digest.store.db import Database
from digest.store.deliveries import DeliveryRecorder, claim_batch, pools_with_work
from digest.store.models import Delivery, DeliveryPaper, DeliveryStatus, Subscriber
from digest.store.models import SubscriberState as State
from tests.factories import begin_sending, make_paper, make_subscriber, sent_mark

DAY = date(2026, 11, 25)
NOW = datetime(2026, 11, 25, 9, tzinfo=UTC)


def test_a_mark_and_the_next_start_are_one_idempotent_write(
    db: Database, settings: Settings
) -> None:
    with db.session() as session:
        papers = [make_paper(session, listed_on=DAY, upvotes=u).id for u in (5, 50)]
        for _ in range(3):
            make_subscriber(session)
    plan_deliveries(db, settings, NOW, edition=DAY)
    [(pool_id, _)] = pools_with_work(db, NOW)
    first, second, third = claim_batch(db, pool_id, NOW, 10, 600)
    entries = [
        EditionEntry(rank=rank, score=1.0, arxiv_id=f"x{rank}", title="t", abstract="a", url="u",
                     paper_id=paper_id, why="because")
        for rank, paper_id in enumerate(papers, start=1)
    ]  # fmt: skip
    with db.session() as session:
        session.get_one(Subscriber, third.subscriber_id).state = State.UNSUBSCRIBED

    with DeliveryRecorder.open(db) as recorder:
        assert begin_sending(recorder, first, NOW)
        for _ in range(2):  # a commit whose answer was lost is written again
            assert second.row_id in recorder.settle_and_begin(
                [sent_mark(first.row_id, "<m1>", entries, NOW)], [second], NOW
            )
        assert third.row_id not in recorder.settle_and_begin(
            [sent_mark(second.row_id, "<m2>", [], NOW)], [third], NOW
        )

    with db.session() as session:
        rows = {d.id: d for d in session.scalars(select(Delivery))}
        assert rows[first.row_id].status is DeliveryStatus.SENT
        assert rows[first.row_id].message_id == "<m1>"
        assert rows[first.row_id].in_flight_since is None
        assert rows[second.row_id].status is DeliveryStatus.SENT
        assert rows[third.row_id].status is DeliveryStatus.CLAIMED
        assert rows[third.row_id].in_flight_since is None  # never started: it left
        carried = session.execute(
            select(DeliveryPaper.delivery_id, func.count()).group_by(DeliveryPaper.delivery_id)
        ).all()
        assert carried == [(first.row_id, 2)]
