"""The declaration of each email kind: its rules in one place, its templates beside it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from digest.pipeline.emails import (
    ALREADY_SUBSCRIBED_EMAIL,
    CONFIRMATION_EMAIL,
    MISSED_PAPERS_EMAIL,
)
from digest.pipeline.kinds import KINDS, UnknownKind, answer_to_request, kind_named
from digest.pipeline.notices import send_outbox  # noqa: F401  (registers every kind)
from digest.settings import Settings
from digest.store.models import SubscriberState
from workers import tasks  # noqa: F401  (registers the tasks beat names)
from workers.app import app

TEMPLATES = Path(__file__).resolve().parents[2] / "templates" / "email"
NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
ON = Settings(missed_papers_reminder=True).email
OFF = Settings().email


@pytest.mark.parametrize("name", sorted(KINDS))
def test_every_declared_kind_has_its_three_templates(name: str) -> None:
    assert sorted(path.name for path in (TEMPLATES / name).iterdir()) == [
        "body.html",
        "body.txt",
        "subject.txt",
    ]


def test_the_subscribe_form_becomes_the_kind_declared_for_the_address_state() -> None:
    answers = {state: answer_to_request(state) for state in SubscriberState}
    assert {state: kind.name for state, kind in answers.items() if kind} == {
        SubscriberState.PENDING: CONFIRMATION_EMAIL,
        SubscriberState.UNSUBSCRIBED: CONFIRMATION_EMAIL,
        SubscriberState.ACTIVE: ALREADY_SUBSCRIBED_EMAIL,
    }


def test_the_form_answers_share_one_ten_minute_clock_and_nothing_else_does() -> None:
    rated = {name for name, kind in KINDS.items() if kind.rated}
    assert rated == {CONFIRMATION_EMAIL, ALREADY_SUBSCRIBED_EMAIL}
    confirm = kind_named(CONFIRMATION_EMAIL)
    pending = SubscriberState.PENDING
    assert confirm.why_not(pending, OFF, NOW - timedelta(minutes=9), NOW) == (
        "one was sent 9 minutes ago"
    )
    assert confirm.why_not(pending, OFF, NOW - timedelta(minutes=10), NOW) == ""


def test_the_reminder_is_off_by_default_weekly_and_for_active_subscribers_only() -> None:
    reminder = kind_named(MISSED_PAPERS_EMAIL)
    active = SubscriberState.ACTIVE
    assert not Settings().missed_papers_reminder
    assert reminder.why_not(active, OFF, None, NOW) == "missed_papers emails are turned off"
    assert reminder.why_not(active, ON, None, NOW) == ""
    assert reminder.why_not(active, ON, NOW - timedelta(days=6, hours=23), NOW) == (
        "one was sent 6 days ago"
    )
    assert reminder.why_not(active, ON, NOW - timedelta(days=7), NOW) == ""
    for state in set(SubscriberState) - {active}:
        assert reminder.why_not(state, ON, None, NOW) == f"the subscriber is {state.value}"
    assert not reminder.rated and reminder.audience is not None


def test_beat_queues_each_scheduled_kind_by_its_declared_name() -> None:
    scheduled = {
        entry["args"][0]
        for entry in app.conf.beat_schedule.values()
        if entry["task"] == "workers.tasks.queue_scheduled_emails"
    }
    assert scheduled == {name for name, kind in KINDS.items() if kind.audience is not None}
    assert scheduled == {MISSED_PAPERS_EMAIL}
    assert "workers.tasks.queue_scheduled_emails" in app.tasks


def test_an_unknown_kind_names_the_declared_ones() -> None:
    with pytest.raises(UnknownKind, match=r"choose one of \[.*'confirm'"):
        kind_named("farewell")
