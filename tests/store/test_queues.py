"""Both queues the send engine drives keep one contract: a claim carries a lease and a token;
a live sender's renewal keeps its rows; a sender whose claim another sender took over after
its lease ran out may send nothing more and record nothing but the sent mark of a message
the server had already accepted. Deliveries and outbox alike, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from digest.pipeline.plan import plan_deliveries
from digest.settings import Settings
from digest.store.db import Database
from digest.store.deliveries import DeliveryQueue, pools_with_work
from digest.store.journal import SendJournal, SentMark
from digest.store.models import Delivery, OutboxEmail
from digest.store.outbox import OutboxQueue, SentNotice
from digest.store.subscribers import request_subscription
from tests.factories import make_paper, make_subscriber

DAY = date(2026, 11, 25)
NOW = datetime(2026, 11, 25, 9, tzinfo=UTC)
LEASE = 600


@dataclass
class Fixture:
    queue: Any  # DeliveryQueue | OutboxQueue: the engine's `Queue`
    table: Any
    sent_mark: Callable[[Any, datetime], object]


def _deliveries(db: Database, settings: Settings) -> Fixture:
    with db.session() as session:
        make_paper(session, listed_on=DAY, upvotes=10)
        make_subscriber(session)
    plan_deliveries(db, settings, NOW, edition=DAY)
    [(pool_id, _)] = pools_with_work(db, NOW)
    journal = SendJournal(settings.delivery.journal_path)
    return Fixture(
        DeliveryQueue(db, pool_id, journal),
        Delivery,
        lambda claim, at: SentMark(claim.row_id, "<d@x>", at.isoformat(), []),
    )


def _outbox(db: Database, settings: Settings) -> Fixture:
    with db.session() as session:
        request_subscription(session, "new@example.org", now=NOW)
    return Fixture(
        OutboxQueue(db),
        OutboxEmail,
        lambda claim, at: SentNotice(claim, "confirm", "<n@x>", rated=False, finished_at=at),
    )


@pytest.fixture(params=["deliveries", "outbox"])
def queued(
    request: pytest.FixtureRequest, db: Database, settings: Settings, tmp_path: Path
) -> Fixture:
    local = settings.model_copy(update={"send_journal": tmp_path / "journal.jsonl"})
    return {"deliveries": _deliveries, "outbox": _outbox}[request.param](db, local)


def _status(db: Database, fixture: Fixture) -> str:
    with db.session() as session:
        return str(session.scalars(select(fixture.table.status)).one().value)


def test_a_renewed_lease_keeps_the_row_and_a_lapsed_one_loses_it(
    db: Database, queued: Fixture
) -> None:
    [first] = queued.queue.claim(NOW, 10, LEASE)
    with queued.queue.recorder() as recorder:
        recorder.renew(first.token, NOW + timedelta(seconds=500), LEASE)
    # Past the first lease, within the renewed one: nobody else may claim it.
    assert queued.queue.claim(NOW + timedelta(seconds=700), 10, LEASE) == []
    [second] = queued.queue.claim(NOW + timedelta(seconds=1200), 10, LEASE)

    assert second.row_id == first.row_id and second.token != first.token
    with queued.queue.recorder() as stale:
        later = NOW + timedelta(seconds=1210)
        assert stale.settle_and_begin([], [first], later) == set()
        assert not stale.skipped(first, "left", later)
        assert not stale.failed(first, "broken", later)
        assert not stale.deferred(first, "451", later, later + timedelta(minutes=5))
    assert _status(db, queued) == "claimed"
    with queued.queue.recorder() as owner:
        assert owner.settle_and_begin([], [second], later) == {second.row_id}


def test_a_sent_mark_is_written_whoever_holds_the_row_and_stops_the_new_holder(
    db: Database, queued: Fixture
) -> None:
    [first] = queued.queue.claim(NOW, 10, LEASE)
    [second] = queued.queue.claim(NOW + timedelta(seconds=LEASE + 1), 10, LEASE)
    at = NOW + timedelta(seconds=LEASE + 2)

    with queued.queue.recorder() as stale:
        # The server accepted the first sender's message just before its lease ran out.
        stale.settle_and_begin([queued.sent_mark(first, at)], [], at)
        stale.settle_and_begin([queued.sent_mark(first, at)], [], at)  # a retried commit

    assert _status(db, queued) == "sent"
    with queued.queue.recorder() as owner:
        assert owner.settle_and_begin([], [second], at) == set()
        assert not owner.skipped(second, "left", at)
    assert _status(db, queued) == "sent"
