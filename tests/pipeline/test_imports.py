"""The import pipeline across batch boundaries, on SQLite and PostgreSQL: a repeated address
is caught whichever batch it falls in, each new pending subscriber has one confirmation
queued, and a consented import stores its statement."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from digest.pipeline.imports import Consent, import_subscribers
from digest.settings import Settings
from digest.store.db import Database
from digest.store.models import OutboxEmail, Subscriber, SubscriberState


def write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_repeats_are_caught_in_the_same_batch_and_in_a_later_one(
    db: Database, tmp_path: Path, settings: Settings
) -> None:
    source = write(
        tmp_path / "list.csv",
        ["email"] + [f"reader{i}@example.com" for i in range(7)] + ["READER1@example.com"],
    )
    rejected: list[tuple[int, str]] = []

    report = import_subscribers(
        db,
        source,
        None,
        Consent(False, None),
        settings.web,
        lambda line, reason: rejected.append((line, reason)),
        batch_size=3,
    )

    assert (report.added, report.duplicates, report.confirmations_queued) == (7, 1, 7)
    assert rejected == [(9, "the address repeats an earlier line")]
    with db.session() as session:
        queued = session.scalars(select(OutboxEmail.subscriber_id).order_by(OutboxEmail.id))
        ids = session.scalars(select(Subscriber.id).order_by(Subscriber.id))
        assert list(queued) == list(ids)


def test_a_consented_import_is_active_with_its_statement_and_no_email(
    db: Database, tmp_path: Path, settings: Settings
) -> None:
    source = write(
        tmp_path / "list.jsonl",
        ['{"email": "ada@example.com", "categories": ["cs.LG"], "papers": 3}'],
    )

    report = import_subscribers(
        db, source, None, Consent(True, "paper sign-up sheet, 2026-11-30"), settings.web
    )

    assert report.added == 1 and report.confirmations_queued == 0
    with db.session() as session:
        ada = session.scalars(select(Subscriber)).one()
        assert ada.state is SubscriberState.ACTIVE and ada.confirmed_at is not None
        assert ada.consent == "paper sign-up sheet, 2026-11-30" and ada.consent_at is not None
        assert ada.categories == ["cs.LG"] and ada.edition_size == 3
        assert ada.timezone == settings.default_timezone
        assert session.scalar(select(func.count()).select_from(OutboxEmail)) == 0


def test_a_stored_address_is_left_as_it_is_even_by_a_consented_import(
    db: Database, tmp_path: Path, settings: Settings
) -> None:
    source = write(tmp_path / "list.csv", ["email", "ada@example.com", "grace@example.com"])
    with db.session() as session:
        session.add(Subscriber(email="grace@example.com", state=SubscriberState.UNSUBSCRIBED))

    report = import_subscribers(db, source, None, Consent(True, "stated"), settings.web)

    assert (report.added, report.already_there) == (1, 1)
    with db.session() as session:
        grace = session.scalars(select(Subscriber).where(Subscriber.email.like("grace%"))).one()
        assert grace.state is SubscriberState.UNSUBSCRIBED and grace.consent is None
