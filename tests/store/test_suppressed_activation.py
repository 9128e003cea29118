"""No path makes a suppressed address active: confirming, coming back after leaving and the
operator's add all go through `activate`, which asks the suppression list (both stores)."""

from __future__ import annotations

import pytest

from digest.store.db import Database
from digest.store.models import Subscriber, SubscriberState
from digest.store.subscribers import add_subscriber, confirm_subscription, resubscribe
from digest.store.suppression import SuppressedAddress, suppress
from digest.tokens import Purpose, TokenSubject, email_fingerprint
from tests.factories import make_subscriber

SECRET = "suppression-test-secret-0123456789abcdef"
EMAIL = "revived@example.com"


def subject(row: Subscriber, purpose: Purpose) -> TokenSubject:
    return TokenSubject(row.id, email_fingerprint(SECRET, row.email), SECRET, purpose)


def suppressed_row(db: Database, state: SubscriberState) -> Subscriber:
    """A row whose address is on the suppression list (as one revived before every path
    asked it would be)."""
    with db.session() as session:
        row = make_subscriber(session, EMAIL, state=state)
        suppress(session, EMAIL)
    return row


def stored_state(db: Database, row: Subscriber) -> SubscriberState:
    with db.session() as session:
        return session.get_one(Subscriber, row.id).state


def test_a_confirmation_link_does_not_activate_a_suppressed_address(db: Database) -> None:
    row = suppressed_row(db, SubscriberState.PENDING)

    with db.session() as session:
        confirm_subscription(session, subject(row, Purpose.CONFIRM))

    assert stored_state(db, row) is SubscriberState.PENDING


def test_coming_back_does_not_activate_a_suppressed_address(db: Database) -> None:
    row = suppressed_row(db, SubscriberState.UNSUBSCRIBED)

    with db.session() as session:
        resubscribe(session, subject(row, Purpose.UNSUBSCRIBE))

    assert stored_state(db, row) is SubscriberState.UNSUBSCRIBED


@pytest.mark.parametrize("confirmed", [True, False])
def test_the_operator_cannot_add_a_suppressed_address(db: Database, confirmed: bool) -> None:
    with db.session() as session:
        suppress(session, EMAIL)

    with db.session() as session, pytest.raises(SuppressedAddress, match="owner's request on"):
        add_subscriber(session, EMAIL.upper(), confirmed=confirmed)

    with db.session() as session:
        assert session.query(Subscriber).count() == 0
