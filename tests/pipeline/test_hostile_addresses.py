"""The address we store is the address we send to: encoded words and other text a mail
library would rewrite are refused on the way in, and a stored one fails only its own message."""

from __future__ import annotations

from datetime import UTC, date, datetime
from email import message_from_string, policy
from email.message import EmailMessage
from pathlib import Path
from smtplib import quoteaddr

import pytest
from aiosmtpd.controller import Controller
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy import select
from starlette.testclient import TestClient

from digest.addresses import PLAIN_ADDRESS, is_plain_address, normalise_email, unsendable_reason
from digest.errors import InvalidEmail, Unsendable
from digest.mail.closing import Closes
from digest.mail.envelope import Envelope, envelope_for
from digest.mail.senders import Sender
from digest.pipeline.plan import send_due_now
from digest.render.message import MESSAGE_POLICY
from digest.settings import Settings
from digest.store.db import Database
from digest.store.models import Delivery, DeliveryStatus, Subscriber
from digest.store.outbox import outbox_counts
from digest.tokens import verp_subscriber_id
from digest.web import create_app
from tests.conftest import SmtpSink, free_port, run_digest
from tests.factories import make_paper, make_subscriber
from tests.render.factories import render_confirmation

DAY = date(2026, 11, 25)
NOW = datetime(2026, 11, 25, 9, tzinfo=UTC)

# Each of these passed validation once; a mail library decodes or splits them when it builds
# the envelope, so the mail would reach a mailbox the suppression list does not know.
REWRITTEN = [
    "=?utf-8?q?victim=40example.org?=@example.com",
    "=?UTF-8?Q?victim=40example.org=3E=2C=00?=@example.com",
    "=?utf-8?b?dmljdGltQGV4YW1wbGUub3Jn?=@example.com",
    "reader.=?iso-8859-1?q?x?=@example.com",
    "=?utf-8?q?a=0D=0ABcc=3A_x=40y.org?=@example.com",
]


@pytest.mark.parametrize("address", REWRITTEN)
def test_an_address_a_mail_library_would_rewrite_is_refused(address: str) -> None:
    with pytest.raises(InvalidEmail, match="encoded text"):
        normalise_email(address)


def test_an_internationalised_domain_is_stored_in_its_ascii_form() -> None:
    assert normalise_email("Grace@Exämple.org") == "grace@xn--exmple-cua.org"
    assert normalise_email("grace@xn--exmple-cua.org") == "grace@xn--exmple-cua.org"
    assert normalise_email("üser@exämple.org") == "üser@exämple.org"  # needs SMTPUTF8 anyway


def _header_shows(address: str) -> list[str]:
    """The addresses a receiving mail library reads from the To header we write."""
    message = EmailMessage(policy=MESSAGE_POLICY)
    message["To"] = address
    message.set_content("x")
    # A non-ASCII address can only travel with SMTPUTF8, whose headers are raw UTF-8.
    wire = MESSAGE_POLICY if address.isascii() else MESSAGE_POLICY.clone(utf8=True)
    received = message_from_string(message.as_bytes(policy=wire).decode(), policy=policy.default)
    return [item.addr_spec for item in received["To"].addresses]


ATEXT = "abcxyzABC0129.!#$%&'*+-/=?^_`{|}~ü"
local_parts = st.text(alphabet=ATEXT, min_size=1, max_size=24)
domains = st.sampled_from(["example.com", "Example.ORG", "exämple.net", "mail.example.co.uk"])
candidates = st.one_of(
    st.emails(),
    st.builds(lambda local, domain: f"{local}@{domain}", local_parts, domains),
    st.text(max_size=40),
)


@hypothesis_settings(max_examples=400, deadline=None)
@given(candidates)
def test_every_accepted_address_reads_the_same_in_to_and_rcpt_to(raw: str) -> None:
    try:
        address = normalise_email(raw)
    except InvalidEmail:
        return
    assert _header_shows(address) == [address]
    assert quoteaddr(address) == f"<{address}>"
    assert normalise_email(address) == address  # stable: what we store validates again


plain_shaped = st.one_of(
    st.from_regex(PLAIN_ADDRESS, fullmatch=True),
    st.builds(lambda local, domain: f"{local}@{domain}", local_parts, domains),
    st.emails(),
    st.text(alphabet=ATEXT + "@.=?", max_size=30),
)


@hypothesis_settings(max_examples=600, deadline=None)
@given(plain_shaped)
def test_an_address_sent_without_a_parse_reads_back_unchanged(address: str) -> None:
    """The send path skips the header parse for plain addresses: each of them must pass
    the full check and read the same in To: and RCPT TO."""
    if not is_plain_address(address):
        return
    assert unsendable_reason(address) is None
    assert _header_shows(address) == [address]
    assert quoteaddr(address) == f"<{address}>"


def test_plain_addresses_are_the_usual_ones() -> None:
    assert is_plain_address("ada.lovelace+digest@cs.example.ac.uk")
    for odd in [
        "a..b@example.org",
        ".a@example.org",
        "a@-x.org",
        "a@x",
        'a"b@example.org',
        "a@exa_mple.org",
        "ü@example.org",
        *REWRITTEN,
    ]:
        assert not is_plain_address(odd), odd


def test_the_wire_check_refuses_bytes_whose_to_header_differs(settings: Settings) -> None:
    message = render_confirmation(settings.email, subscriber_id=3, email="reader@example.com")
    wire = message.as_bytes(policy=MESSAGE_POLICY)
    envelope = envelope_for(settings.email, wire, subscriber_id=3, address="reader@example.com")
    assert envelope.rcpt_to == "reader@example.com"
    with pytest.raises(Unsendable, match="To header"):
        envelope_for(settings.email, wire, subscriber_id=3, address="other@example.com")


def test_a_message_whose_to_header_differs_from_the_stored_address_is_unsendable(
    settings: Settings,
) -> None:
    message = render_confirmation(settings.email, subscriber_id=3, email="reader@example.com")
    with pytest.raises(Unsendable, match="To header"):
        envelope_for(settings.email, message, subscriber_id=3, address="other@example.com")
    with pytest.raises(Unsendable, match="encoded text"):
        envelope_for(settings.email, message, subscriber_id=3, address=REWRITTEN[0])


@pytest.fixture
def store_settings(settings: Settings, database_url: str) -> Settings:
    return settings.model_copy(
        update={"database_url": database_url, "return_path": "bounces@example.org"}
    )


def _stored(db: Database, addresses: list[str]) -> dict[str, int]:
    with db.session() as session:
        for upvotes in (5, 50):
            make_paper(session, listed_on=DAY, upvotes=upvotes)
        return {address: make_subscriber(session, address).id for address in addresses}


def test_a_stored_hostile_address_fails_alone_and_the_rest_are_sent_exactly_to_their_address(
    db: Database, store_settings: Settings, smtp_sink: SmtpSink
) -> None:
    # Rows written by an older version that accepted them, first in the batch.
    hostile = [REWRITTEN[1], "a>b@example.com", "x,y@example.com"]
    good = ["ada@example.org", "grace@xn--exmple-cua.org", "üser@example.org"]
    ids = _stored(db, [*hostile, *good])

    counts = send_due_now(db, store_settings, NOW, edition=DAY)

    assert (counts.sent, counts.failed) == (3, 3)
    recipients = [rcpts for _, rcpts in smtp_sink.envelopes]
    assert sorted(recipients) == [[address] for address in sorted(good)]
    for (mail_from, [rcpt]), message in zip(smtp_sink.envelopes, smtp_sink.received, strict=True):
        # SMTPUTF8 headers are raw UTF-8, which the email package reads as surrogate escapes.
        shown = [a.addr_spec.encode("utf-8", "surrogateescape") for a in message["To"].addresses]
        assert [address.decode("utf-8") for address in shown] == [rcpt]
        secret, base = store_settings.secret_key, "bounces@example.org"
        assert verp_subscriber_id(secret, base, mail_from) == ids[rcpt]
    statuses = _statuses(db)
    assert {address: statuses[address][0] for address in hostile} == dict.fromkeys(
        hostile, DeliveryStatus.FAILED
    )
    assert "cannot be sent to" in str(statuses[hostile[0]][1])
    assert {statuses[address][0] for address in good} == {DeliveryStatus.SENT}


def _statuses(db: Database) -> dict[str, tuple[DeliveryStatus, str | None]]:
    with db.session() as session:
        rows = session.execute(
            select(Subscriber.email, Delivery.status, Delivery.error).join(
                Subscriber, Subscriber.id == Delivery.subscriber_id
            )
        ).all()
    return {email: (status, error) for email, status, error in rows}


def test_a_relay_without_smtputf8_fails_only_the_internationalised_address(
    sqlite_db: Database, settings: Settings
) -> None:
    sink = SmtpSink("127.0.0.1", free_port())
    controller = Controller(sink, hostname=sink.host, port=sink.port, enable_SMTPUTF8=False)
    controller.start()
    try:
        _stored(sqlite_db, ["üser@example.org", "ada@example.org"])
        counts = send_due_now(
            sqlite_db, settings.model_copy(update={"mail_url": sink.url}), NOW, edition=DAY
        )
    finally:
        controller.stop()

    assert (counts.sent, counts.failed) == (1, 1)
    assert [rcpts for _, rcpts in sink.envelopes] == [["ada@example.org"]]
    status, error = _statuses(sqlite_db)["üser@example.org"]
    assert status is DeliveryStatus.FAILED
    assert error is not None and "SMTPUTF8" in error


class FailsFor(Closes):
    """A sender that fails with an unexpected error for one recipient (a library bug, say)."""

    def __init__(self, inner: Sender, address: str) -> None:
        self.inner, self.address = inner, address

    def send(self, message: EmailMessage, envelope: Envelope) -> None:
        if envelope.rcpt_to == self.address:
            raise RuntimeError("unexpected")
        self.inner.send(message, envelope)


def test_an_unexpected_error_in_one_message_fails_only_that_message(
    sqlite_db: Database, settings: Settings, smtp_sink: SmtpSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    from digest.mail import senders
    from digest.pipeline import engine

    _stored(sqlite_db, ["first@example.org", "second@example.org"])
    real_open = senders.open_sender
    monkeypatch.setattr(
        engine, "open_sender", lambda url: FailsFor(real_open(url), "first@example.org")
    )

    counts = send_due_now(sqlite_db, settings, NOW, edition=DAY)

    assert (counts.sent, counts.failed) == (1, 1)
    assert [rcpts for _, rcpts in smtp_sink.envelopes] == [["second@example.org"]]


def test_digest_send_exits_cleanly_and_leaves_nothing_claimed_with_a_hostile_row(
    database_url: str, db: Database, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    _stored(db, [REWRITTEN[0], "reader@example.org"])
    env = {
        "DIGEST_DATABASE_URL": database_url,
        "DIGEST_MAIL_URL": smtp_sink.url,
        "DIGEST_SECRET_KEY": "test-secret-key-that-is-long-enough-0123456789",
        "DIGEST_BASE_URL": "https://digest.example.org",
        "DIGEST_FROM": "Trending Papers <digest@example.org>",
    }

    first = run_digest(["send", "--day", DAY.isoformat()], env, tmp_path)
    again = run_digest(["send", "--day", DAY.isoformat()], env, tmp_path)

    assert first.returncode == 0, first.stderr
    assert "Traceback" not in first.stderr
    assert again.returncode == 0, again.stderr
    assert [rcpts for _, rcpts in smtp_sink.envelopes] == [["reader@example.org"]]
    with db.session() as session:
        statuses = sorted(s.value for s in session.scalars(select(Delivery.status)))
    assert statuses == ["failed", "sent"]


def test_the_operator_cannot_add_one(tmp_path: Path, database_url: str) -> None:
    env = {"DIGEST_DATABASE_URL": database_url}
    added = run_digest(["subscribers", "add", REWRITTEN[0], "--confirmed"], env, tmp_path)
    assert added.returncode != 0
    assert "encoded text" in added.stderr
    assert "Traceback" not in added.stderr


@pytest.mark.parametrize("address", REWRITTEN[:3])
def test_the_subscribe_form_refuses_one_and_queues_nothing(
    db: Database, settings: Settings, address: str
) -> None:
    with TestClient(create_app(settings, db, lambda: None)) as client:
        response = client.post("/subscribe", data={"email": address})
    assert response.status_code == 422
    assert "encoded text" in response.text
    with db.session() as session:
        assert sum(outbox_counts(session).values()) == 0
