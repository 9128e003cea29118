"""Bounce and complaint intake: real-looking reports in a Maildir, the webhook, the command."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from starlette.applications import Starlette
from starlette.testclient import TestClient

from digest.errors import DigestError
from digest.mail.bounces import EventKind, UnreadableReport, parse_report
from digest.pipeline.bounces import import_maildir
from digest.pipeline.plan import send_due_now
from digest.render.message import digest_message_id
from digest.settings import Settings
from digest.store.db import Database
from digest.store.models import Delivery, DeliveryStatus, Pool, Subscriber, SubscriberState
from digest.web.webhooks import webhook_routes
from tests.conftest import TEST_SECRET, SmtpSink, free_port, serve_in_thread
from tests.conftest import run_digest as run
from tests.factories import make_paper, make_subscriber
from tests.mail.reports import filed, make_maildir

REPORTS = Path(__file__).parent.parent / "payloads" / "bounces"
DAY = date(2026, 11, 25)
NOW = datetime(2026, 11, 26, 9, tzinfo=UTC)
SECRET = "webhook-secret-0123456789abcdef"
# The Message-IDs the stored reports came back with; a test that wants a report applied
# records a sent copy for the address and puts that copy's signed id in their place.
PAYLOAD_IDS = {
    "postfix_user_unknown.eml": "<digest.2026-11-25.1.0123456789abcdef@example.org>",
    "exim_several_recipients.eml": "<digest.2026-11-25.2.1111111111111111@example.org>",
    "arf_abuse.eml": "<digest.2026-11-25.4.fedcba9876543210@example.org>",
    "arf_redacted_rcpt.eml": "<digest.2026-11-25.5.aaaaaaaaaaaaaaaa@example.org>",
}


def report_bytes(name: str) -> bytes:
    return (REPORTS / name).read_bytes()


def sent_report(
    db: Database, settings: Settings, name: str, email: str, pool_id: int, day: date = DAY
) -> bytes:
    """The stored report `name`, about a copy really sent to `email` (recorded here)."""
    with db.session() as session:
        subscriber_id = session.scalars(
            select(Subscriber.id).where(Subscriber.email == email)
        ).one()
    message_id = digest_message_id(settings.email, subscriber_id, day)
    add_delivery(db, email, pool_id, DeliveryStatus.SENT, message_id)
    return report_bytes(name).replace(PAYLOAD_IDS[name].encode(), message_id.encode())


def states(db: Database) -> dict[str, SubscriberState]:
    with db.session() as session:
        return {s.email: s.state for s in session.scalars(select(Subscriber))}


def statuses(db: Database, pool_id: int) -> dict[str, DeliveryStatus]:
    with db.session() as session:
        rows = session.execute(
            select(Subscriber.email, Delivery.status)
            .join(Delivery, Delivery.subscriber_id == Subscriber.id)
            .where(Delivery.pool_id == pool_id)
        )
        return {email: status for email, status in rows}


def add_edition(db: Database, day: date) -> int:
    with db.session() as session:
        edition = Pool(date=day)
        session.add(edition)
        session.flush()
        return edition.id


def add_delivery(
    db: Database, email: str, pool_id: int, status: DeliveryStatus, message_id: str | None = None
) -> None:
    with db.session() as session:
        subscriber = session.scalars(select(Subscriber).where(Subscriber.email == email)).one()
        session.add(
            Delivery(
                subscriber_id=subscriber.id,
                pool_id=pool_id,
                status=status,
                message_id=message_id,
                due_at=NOW,
                claimed_at=NOW,
            )
        )


EVERY_REPORT = (
    "postfix_user_unknown.eml",
    "exim_several_recipients.eml",
    "postfix_delayed.eml",
    "arf_abuse.eml",
    "arf_redacted_rcpt.eml",
    "arf_not_spam.eml",
    "not_a_report.eml",
    "garbage.eml",
)


def test_maildir_import_suppresses_bounced_and_complained_addresses(
    db: Database, settings: Settings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    people = [
        "gone@example.com",
        "first@example.net",
        "second@example.net",
        "angry@example.com",
        "annoyed@example.com",
        "slow@example.com",
        "full@example.com",
        "happy@example.com",
        "reader@example.com",
    ]
    with db.session() as session:
        for email in people:
            make_subscriber(session, email)
    sent_day = add_edition(db, DAY)
    next_day = add_edition(db, DAY + timedelta(days=1))
    reports = {
        name: sent_report(db, settings, name, email, sent_day)
        for name, email in (
            ("postfix_user_unknown.eml", "gone@example.com"),
            ("exim_several_recipients.eml", "first@example.net"),
            ("arf_abuse.eml", "angry@example.com"),
            ("arf_redacted_rcpt.eml", "annoyed@example.com"),
        )
    }
    add_delivery(db, "reader@example.com", sent_day, DeliveryStatus.SENT, "<other@example.org>")
    for email in ("gone@example.com", "angry@example.com", "reader@example.com"):
        add_delivery(db, email, next_day, DeliveryStatus.PENDING)
    add_delivery(db, "second@example.net", next_day, DeliveryStatus.DEFERRED)
    add_delivery(db, "slow@example.com", next_day, DeliveryStatus.PENDING)
    folder = make_maildir(
        tmp_path / "bounces", *(reports.get(name) or report_bytes(name) for name in EVERY_REPORT)
    )

    with caplog.at_level(logging.INFO, logger="digest"):
        report = import_maildir(db, settings.email, folder, now=NOW)

    assert report.counts() == {
        "messages": 8,
        "bounced": 2,  # gone, first
        "complained": 2,  # angry, annoyed
        "already": 0,
        "unknown": 1,  # stranger@example.net was never a subscriber
        # second@example.net is named in first's report: that copy was not sent to it.
        "unmatched": 1,
        "invalid": 0,
        "ignored": 3,  # delayed, 4.x.x failure, not-spam feedback
        "unreadable": 2,  # an out-of-office reply and binary junk
    }
    assert states(db) == {
        "gone@example.com": SubscriberState.BOUNCED,
        "first@example.net": SubscriberState.BOUNCED,
        "second@example.net": SubscriberState.ACTIVE,
        "angry@example.com": SubscriberState.COMPLAINED,
        "annoyed@example.com": SubscriberState.COMPLAINED,
        "slow@example.com": SubscriberState.ACTIVE,
        "full@example.com": SubscriberState.ACTIVE,
        "happy@example.com": SubscriberState.ACTIVE,
        "reader@example.com": SubscriberState.ACTIVE,
    }
    assert statuses(db, sent_day) == {
        "gone@example.com": DeliveryStatus.BOUNCED,  # its Message-ID came back
        "first@example.net": DeliveryStatus.BOUNCED,
        "angry@example.com": DeliveryStatus.SENT,  # a complaint: it was delivered
        "annoyed@example.com": DeliveryStatus.SENT,
        "reader@example.com": DeliveryStatus.SENT,
    }
    assert statuses(db, next_day) == {
        "gone@example.com": DeliveryStatus.SKIPPED,
        "angry@example.com": DeliveryStatus.SKIPPED,
        "second@example.net": DeliveryStatus.DEFERRED,
        "reader@example.com": DeliveryStatus.PENDING,
        "slow@example.com": DeliveryStatus.PENDING,
    }
    # Every message is filed as seen, the unreadable ones too, with the reason logged.
    assert len(filed(folder)) == len(EVERY_REPORT)
    assert "neither a delivery status notification nor a feedback report" in caplog.text
    for email in people:
        assert email not in caplog.text.lower()

    again = import_maildir(db, settings.email, folder, now=NOW)
    assert again.messages == 0
    assert states(db)["reader@example.com"] is SubscriberState.ACTIVE


def test_a_repeated_report_is_counted_once(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    with db.session() as session:
        make_subscriber(session, "gone@example.com")
        make_subscriber(session, "angry@example.com", state=SubscriberState.BOUNCED)
    pool_id = add_edition(db, DAY)
    bounce = sent_report(db, settings, "postfix_user_unknown.eml", "gone@example.com", pool_id)
    complaint = sent_report(db, settings, "arf_abuse.eml", "angry@example.com", pool_id)
    folder = make_maildir(tmp_path / "bounces", bounce, bounce, complaint)

    report = import_maildir(db, settings.email, folder, now=NOW)

    assert (report.bounced, report.already, report.complained) == (1, 1, 1)
    # A complaint outranks an earlier bounce; both are suppressed.
    assert states(db) == {
        "gone@example.com": SubscriberState.BOUNCED,
        "angry@example.com": SubscriberState.COMPLAINED,
    }


def test_a_bounce_after_a_complaint_keeps_the_complaint(
    sqlite_db: Database, settings: Settings, tmp_path: Path
) -> None:
    with sqlite_db.session() as session:
        make_subscriber(session, "gone@example.com", state=SubscriberState.COMPLAINED)
    pool_id = add_edition(sqlite_db, DAY)
    bounce = sent_report(
        sqlite_db, settings, "postfix_user_unknown.eml", "gone@example.com", pool_id
    )

    report = import_maildir(
        sqlite_db, settings.email, make_maildir(tmp_path / "b", bounce), now=NOW
    )

    assert report.already == 1
    assert states(sqlite_db) == {"gone@example.com": SubscriberState.COMPLAINED}


def test_bounced_and_complained_addresses_get_no_digest(
    db: Database, database_url: str, settings: Settings, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    with db.session() as session:
        make_paper(session, listed_on=DAY, upvotes=10)
        for email in ("gone@example.com", "angry@example.com", "reader@example.com"):
            make_subscriber(session, email, send_hour=0)
    day_before = DAY - timedelta(days=1)
    pool_id = add_edition(db, day_before)
    folder = make_maildir(
        tmp_path / "bounces",
        sent_report(
            db, settings, "postfix_user_unknown.eml", "gone@example.com", pool_id, day_before
        ),
        sent_report(db, settings, "arf_abuse.eml", "angry@example.com", pool_id, day_before),
    )
    assert import_maildir(db, settings.email, folder, now=NOW).unmatched == 0

    counts = send_due_now(
        db, settings.model_copy(update={"database_url": database_url}), NOW, edition=DAY
    )

    assert counts.sent == 1
    assert [rcpts for _, rcpts in smtp_sink.envelopes] == [["reader@example.com"]]


def test_a_missing_maildir_is_a_clear_error(
    sqlite_db: Database, settings: Settings, tmp_path: Path
) -> None:
    with pytest.raises(DigestError, match="is not a Maildir"):
        import_maildir(sqlite_db, settings.email, tmp_path / "nowhere")


def dsn(recipient_fields: str, *, content_type: str = "message/delivery-status") -> bytes:
    return (
        "From: MAILER-DAEMON@mx.example\r\n"
        "To: bounces@example.org\r\n"
        "Subject: failure notice\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="zz"\r\n'
        "\r\n--zz\r\nContent-Type: text/plain\r\n\r\nSorry.\r\n"
        f"\r\n--zz\r\nContent-Type: {content_type}\r\n\r\n"
        "Reporting-MTA: dns; mx.example\r\n\r\n"
        f"{recipient_fields}\r\n"
        "\r\n--zz--\r\n"
    ).encode()


@pytest.mark.parametrize(
    ("fields", "content_type", "expected"),
    [
        (
            "Final-Recipient: who@example.com\nAction: failed\nStatus: 5.1.1",
            None,
            ["who@example.com"],
        ),
        (
            "Final-Recipient: RFC822; <Who@Example.com>\nAction: FAILED\nStatus: 5.7.1",
            None,
            ["Who@Example.com"],
        ),
        (
            "Final-Recipient: rfc822; who@example.com\nAction: failed\n"
            "Diagnostic-Code: smtp; 550 no such user",
            None,
            ["who@example.com"],
        ),
        (
            "Final-Recipient: rfc822; who@example.com\nAction: failed\nStatus: 5.1.1",
            "text/delivery-status",
            ["who@example.com"],
        ),
        (
            "Final-Recipient: utf-8; who@example.com\nAction: failed\nStatus: 5.1.1",
            "message/global-delivery-status",
            ["who@example.com"],
        ),
        ("Final-Recipient: rfc822; who@example.com\nAction: failed\nStatus: 4.4.7", None, []),
        ("Final-Recipient: rfc822; who@example.com\nAction: delivered\nStatus: 2.0.0", None, []),
        ("Final-Recipient: rfc822; who@example.com\nAction: relayed\nStatus: 5.0.0", None, []),
    ],
)
def test_delivery_reports_are_read_tolerantly(
    fields: str, content_type: str | None, expected: list[str]
) -> None:
    parsed = parse_report(
        dsn(fields.replace("\n", "\r\n"), content_type=content_type or "message/delivery-status")
    )

    assert [event.email for event in parsed.events] == expected
    assert all(event.kind is EventKind.BOUNCE for event in parsed.events)
    assert parsed.ignored == (0 if expected else 1)


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\xff\xfe\x00garbage",
        dsn("Reporting-MTA: dns; only.example"),  # no recipient block
        dsn("Final-Recipient: rfc822; who@example.com\r\nAction: failed\r\nStatus: 5.1.1")[:180],
        b"Content-Type: multipart/report; report-type=feedback-report; boundary=x\r\n\r\n--x\r\n"
        b"Content-Type: message/feedback-report\r\n\r\nFeedback-Type: abuse\r\n--x--\r\n",
    ],
)
def test_malformed_messages_are_refused_with_a_reason(raw: bytes) -> None:
    with pytest.raises(UnreadableReport):
        parse_report(raw)


# --- the webhook ----------------------------------------------------------------------------


@pytest.fixture
def hook_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"webhook_secret": SECRET})


def client(settings: Settings, db: Database) -> TestClient:
    return TestClient(Starlette(routes=webhook_routes(settings, db)))


AUTH = {"Authorization": f"Bearer {SECRET}"}


def test_webhook_marks_bounces_and_complaints(
    db: Database, hook_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    with db.session() as session:
        for email in ("gone@example.com", "angry@example.com", "reader@example.com"):
            make_subscriber(session, email)
    body = {
        "events": [
            {"type": "bounce", "email": "Gone@Example.com"},
            {"type": "Complaint", "email": "angry@example.com"},
            {"type": "bounce", "email": "nobody-we-know@example.com"},
            {"type": "bounce", "email": "not an address"},
            {"type": "opened", "email": "reader@example.com"},
            "junk",
        ]
    }

    with caplog.at_level(logging.DEBUG), client(hook_settings, db) as http:
        answer = http.post("/webhooks/bounces", json=body, headers=AUTH)
        repeat = http.post(
            "/webhooks/bounces", json={"type": "bounce", "email": "gone@example.com"}, headers=AUTH
        )

    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "messages": 0,
        "bounced": 1,
        "complained": 1,
        "already": 0,
        "unknown": 1,
        "unmatched": 0,
        "invalid": 3,
        "ignored": 0,
        "unreadable": 0,
    }
    assert repeat.status_code == 200 and repeat.json()["already"] == 1
    assert states(db) == {
        "gone@example.com": SubscriberState.BOUNCED,
        "angry@example.com": SubscriberState.COMPLAINED,
        "reader@example.com": SubscriberState.ACTIVE,
    }
    for email in ("gone@example.com", "angry@example.com", "nobody-we-know@example.com"):
        assert email not in caplog.text.lower()


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong-secret-0123456789abcdef"},
        {"Authorization": f"Basic {SECRET}"},
        {"Authorization": f"Bearer {SECRET}x"},
    ],
)
def test_webhook_refuses_a_wrong_token(
    sqlite_db: Database, hook_settings: Settings, headers: dict[str, str]
) -> None:
    with sqlite_db.session() as session:
        make_subscriber(session, "gone@example.com")
    with client(hook_settings, sqlite_db) as http:
        answer = http.post(
            "/webhooks/bounces",
            json={"type": "bounce", "email": "gone@example.com"},
            headers=headers,
        )

    assert answer.status_code == 401
    assert answer.headers["www-authenticate"] == "Bearer"
    assert states(sqlite_db) == {"gone@example.com": SubscriberState.ACTIVE}


def test_webhook_is_absent_without_a_secret(sqlite_db: Database, settings: Settings) -> None:
    assert settings.webhook_secret is None
    with client(settings, sqlite_db) as http:
        answer = http.post("/webhooks/bounces", json={"events": []}, headers=AUTH)
    assert answer.status_code == 404


def test_webhook_explains_bad_bodies(sqlite_db: Database, hook_settings: Settings) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(300):
            yield b" " * 1024

    with client(hook_settings, sqlite_db) as http:
        not_json = http.post("/webhooks/bounces", content=b"{events: [", headers=AUTH)
        wrong_shape = http.post(
            "/webhooks/bounces", json={"events": "gone@example.com"}, headers=AUTH
        )
        nothing_known = http.post("/webhooks/bounces", json={"hello": 1}, headers=AUTH)
        too_big = http.post("/webhooks/bounces", content=b"[" + b" " * 300_000 + b"]", headers=AUTH)
        streamed = http.post("/webhooks/bounces", content=chunks(), headers=AUTH)
        deep = http.post("/webhooks/bounces", content=b"[" * 100_000, headers=AUTH)

    assert not_json.status_code == 400
    assert "not valid JSON" in not_json.json()["error"]
    assert wrong_shape.status_code == 400 and "must be a list" in wrong_shape.json()["error"]
    assert nothing_known.status_code == 400 and '"events"' in nothing_known.json()["error"]
    assert too_big.status_code == 413
    assert streamed.status_code == 413
    assert deep.status_code == 400


@pytest.fixture
def live_webhook(sqlite_db: Database, hook_settings: Settings) -> Iterator[str]:
    with serve_in_thread(Starlette(routes=webhook_routes(hook_settings, sqlite_db))) as url:
        yield url


def test_webhook_over_real_http(live_webhook: str, sqlite_db: Database) -> None:
    with sqlite_db.session() as session:
        make_subscriber(session, "gone@example.com")
        make_subscriber(session, "angry@example.com")

    with httpx.Client(base_url=live_webhook, timeout=10) as http:
        refused = http.post("/webhooks/bounces", json={"events": []})
        accepted = http.post(
            "/webhooks/bounces",
            json={
                "events": [
                    {"type": "bounce", "email": "gone@example.com"},
                    {"type": "complaint", "email": "angry@example.com"},
                ]
            },
            headers=AUTH,
        )

    assert refused.status_code == 401
    assert accepted.status_code == 200
    assert (accepted.json()["bounced"], accepted.json()["complained"]) == (1, 1)
    assert states(sqlite_db) == {
        "gone@example.com": SubscriberState.BOUNCED,
        "angry@example.com": SubscriberState.COMPLAINED,
    }


# --- the command ----------------------------------------------------------------------------


def test_bounces_import_command(tmp_path: Path, settings: Settings) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    env = {
        "DIGEST_DATABASE_URL": url,
        "DIGEST_SECRET_KEY": TEST_SECRET,
        "DIGEST_MAIL_URL": f"smtp://127.0.0.1:{free_port()}",
    }
    assert run(["db", "upgrade"], env, tmp_path).returncode == 0
    for email in ("gone@example.com", "angry@example.com"):
        added = run(["subscribers", "add", email, "--confirmed"], env, tmp_path)
        assert added.returncode == 0, added.stderr
    db = Database(url)
    pool_id = add_edition(db, DAY)
    folder = make_maildir(
        tmp_path / "bounces",
        sent_report(db, settings, "postfix_user_unknown.eml", "gone@example.com", pool_id),
        sent_report(db, settings, "arf_abuse.eml", "angry@example.com", pool_id),
        report_bytes("exim_several_recipients.eml"),  # copies we never sent
        report_bytes("garbage.eml"),
    )
    db.dispose()

    unset = run(["bounces", "import"], env, tmp_path)
    by_argument = run(["bounces", "import", str(folder)], env, tmp_path)
    from_settings = run(
        ["bounces", "import"], {**env, "DIGEST_BOUNCE_MAILDIR": str(folder)}, tmp_path
    )
    listed = run(["subscribers", "list"], env, tmp_path)

    assert unset.returncode == 1
    assert "DIGEST_BOUNCE_MAILDIR" in unset.stderr and "Traceback" not in unset.stderr
    assert by_argument.returncode == 0, by_argument.stderr
    assert "4 reports: 1 bounced, 1 complained" in by_argument.stdout
    assert "3 unknown, 0 unmatched" in by_argument.stdout
    assert "1 unreadable" in by_argument.stdout
    assert from_settings.returncode == 0 and "0 reports" in from_settings.stdout
    assert "bounced" in listed.stdout and "complained" in listed.stdout
    missing = run(["bounces", "import", str(tmp_path / "nowhere")], env, tmp_path)
    assert missing.returncode == 1 and "is not a Maildir" in missing.stderr
