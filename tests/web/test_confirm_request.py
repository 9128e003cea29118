"""A confirmation link applies the preferences of the request it was sent for, over HTTP on a
real uvicorn server with the real SMTP sink, on SQLite and PostgreSQL: the owner subscribes,
eleven minutes later someone else submits the same address with other topics and timezone,
and each mailed link activates what its own request asked for."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from freezegun import freeze_time
from sqlalchemy import select

from digest.settings import Settings
from digest.store.db import Database
from digest.store.models import OutboxEmail, SubscriberState
from digest.store.outbox import SUBSCRIBE_REQUEST
from digest.store.types import utcnow
from digest.tokens import Purpose, make_token
from digest.web import create_app
from tests.conftest import SmtpSink, serve_in_thread
from tests.web.conftest import Recorder
from tests.web.support import csrf_from, mailed_confirm_tokens, set_fields, subscriber

OWNER = "owner@example.com"
OWNERS_REQUEST = {"topics": "sparse attention, retrieval", "timezone": "Europe/Paris"}
STRANGERS_REQUEST = {"topics": "crypto scams", "timezone": "Pacific/Kiritimati"}


@pytest.fixture
def live_url(db: Database, settings: Settings, enqueued: Recorder) -> Iterator[str]:
    with serve_in_thread(create_app(settings, db, enqueued.kick_for(db, settings))) as url:
        yield url


def two_requests(http: httpx.Client, db: Database, sink: SmtpSink) -> tuple[str, str]:
    """The owner's request, then eleven minutes later a stranger's for the same address;
    returns the two mailed links' tokens."""
    assert http.post("/subscribe", data={"email": OWNER, **OWNERS_REQUEST}).status_code == 200
    pending = subscriber(db, OWNER)
    assert pending.confirmation_sent_at is not None
    # Eleven minutes pass: past the ten-minute rule, so the second request is mailed too.
    set_fields(db, pending.id, confirmation_sent_at=utcnow() - timedelta(minutes=11))
    assert http.post("/subscribe", data={"email": OWNER, **STRANGERS_REQUEST}).status_code == 200
    tokens = mailed_confirm_tokens(sink, OWNER)
    assert len(tokens) == 2, "each request should have mailed its own link"
    return tokens[0], tokens[1]


def press_confirm(http: httpx.Client, token: str) -> httpx.Response:
    """Open the mailed link, then press its Confirm button as a browser does."""
    page = http.get("/confirm", params={"token": token})
    assert page.status_code == 200, page.text
    return http.post(
        "/confirm",
        params={"token": token},
        data={"csrf_token": csrf_from(page.text)},
        headers={"Origin": str(http.base_url).rstrip("/"), "Sec-Fetch-Site": "same-origin"},
    )


def test_the_first_link_applies_the_owners_request_not_a_later_one(
    live_url: str, db: Database, smtp_sink: SmtpSink
) -> None:
    with httpx.Client(base_url=live_url, timeout=10) as http:
        first, second = two_requests(http, db, smtp_sink)
        confirmed = press_confirm(http, first)
        again = http.get("/confirm", params={"token": second})  # already active: no change

    assert confirmed.status_code == 200, confirmed.text
    assert again.status_code == 200
    row = subscriber(db, OWNER)
    assert row.state is SubscriberState.ACTIVE
    assert (row.topics, row.timezone) == (["sparse attention", "retrieval"], "Europe/Paris")


def test_the_second_link_applies_the_second_request(
    live_url: str, db: Database, smtp_sink: SmtpSink
) -> None:
    with httpx.Client(base_url=live_url, timeout=10) as http:
        _, second = two_requests(http, db, smtp_sink)
        confirmed = press_confirm(http, second)

    assert confirmed.status_code == 200, confirmed.text
    row = subscriber(db, OWNER)
    assert row.state is SubscriberState.ACTIVE
    assert (row.topics, row.timezone) == (["crypto scams"], "Pacific/Kiritimati")


def test_a_stranger_first_cannot_choose_for_the_owner_who_asked_for_no_topics(
    live_url: str, db: Database, smtp_sink: SmtpSink
) -> None:
    with httpx.Client(base_url=live_url, timeout=10) as http:
        stranger = {"email": OWNER, **STRANGERS_REQUEST}
        assert http.post("/subscribe", data=stranger).status_code == 200
        set_fields(
            db, subscriber(db, OWNER).id, confirmation_sent_at=utcnow() - timedelta(minutes=11)
        )
        assert http.post("/subscribe", data={"email": OWNER}).status_code == 200
        owners_link = mailed_confirm_tokens(smtp_sink, OWNER)[1]
        confirmed = press_confirm(http, owners_link)

    assert confirmed.status_code == 200, confirmed.text
    row = subscriber(db, OWNER)
    assert (row.topics, row.timezone) == ([], "UTC")  # the owner's request: no topics, default


def test_a_link_resent_from_an_expired_one_still_applies_the_owners_request(
    live_url: str, db: Database, settings: Settings, smtp_sink: SmtpSink
) -> None:
    with httpx.Client(base_url=live_url, timeout=10) as http:
        two_requests(http, db, smtp_sink)
        with db.session() as session:
            owners_request = session.scalars(
                select(OutboxEmail.id)
                .where(OutboxEmail.kind == SUBSCRIBE_REQUEST)
                .order_by(OutboxEmail.id)
            ).first()
        assert owners_request is not None
        pending = subscriber(db, OWNER)
        with freeze_time(datetime.now(UTC) - timedelta(hours=49)):  # the owner's link, expired
            old = make_token(
                settings.secret_key, Purpose.CONFIRM, pending.id, OWNER, request_id=owners_request
            )
        set_fields(db, pending.id, confirmation_sent_at=utcnow() - timedelta(minutes=11))
        expired = http.get("/confirm", params={"token": old})
        resent = http.post(
            "/confirm/resend",
            params={"token": old},
            data={"csrf_token": csrf_from(expired.text)},
            headers={"Origin": str(http.base_url).rstrip("/"), "Sec-Fetch-Site": "same-origin"},
        )
        tokens = mailed_confirm_tokens(smtp_sink, OWNER)
        confirmed = press_confirm(http, tokens[-1])

    assert expired.status_code == 400 and resent.status_code == 200
    assert len(tokens) == 3, "the resend should have mailed a third link"
    assert confirmed.status_code == 200, confirmed.text
    row = subscriber(db, OWNER)
    assert (row.topics, row.timezone) == (["sparse attention", "retrieval"], "Europe/Paris")
