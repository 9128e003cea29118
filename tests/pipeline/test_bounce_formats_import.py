"""Bounces in every format flufl.bounce reads, imported from a Maildir after a real send: each
suppresses the address it names when it is about the digest we sent there, and only then.

The samples of tests/payloads/bounces/ quote or attach a digest; each test sends a real
edition over SMTP first and puts the Message-ID that copy really had in the sample's place.
"""

from __future__ import annotations

import time
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from sqlalchemy import select

from digest.pipeline.bounces import import_maildir
from digest.settings import Settings
from digest.store.db import Database
from digest.store.models import Delivery, DeliveryStatus, Subscriber, SubscriberState
from tests.conftest import TEST_SECRET, SmtpSink
from tests.conftest import run_digest as run
from tests.mail.reports import (
    DAY,
    NOW,
    PERMANENT_SAMPLES,
    RETURN_PATH,
    TEMPORARY_SAMPLES,
    SentCopy,
    exim_text_bounce,
    filed,
    make_maildir,
    qmail_bounce,
    sample,
    send_edition,
)
from tests.mail.test_bounce_cost import MIB, TEXT_BOUNCE_PLACES
from tests.pipeline.test_bounces_import_cost import IMPORT_CPU_BUDGET, children_cpu_seconds

VICTIM = "victim@example.com"
ATTACKER = "mallory@example.net"
NO_SUCH_USER = "Sorry, no mailbox here by that name. (#5.1.1)"
# Yale's bounces name a user; the detector guesses both of its domains, and we have a
# subscriber on one of them.
GUESSED = "eli@cs.yale.edu"


@pytest.fixture
def mail_settings(settings: Settings, database_url: str) -> Settings:
    return settings.model_copy(update={"database_url": database_url, "return_path": RETURN_PATH})


def states(db: Database) -> dict[str, SubscriberState]:
    with db.session() as session:
        rows = session.execute(select(Subscriber.email, Subscriber.state))
        return {email: state for email, state in rows}


def delivery_statuses(db: Database) -> dict[str, DeliveryStatus]:
    with db.session() as session:
        rows = session.execute(select(Subscriber.email, Delivery.status).join(Delivery))
        return {email: status for email, status in rows}


def test_every_format_suppresses_the_address_it_bounced_and_no_temporary_failure_does(
    db: Database, mail_settings: Settings, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    owners = {
        name: next(a for a in addresses if a != GUESSED)
        for name, addresses in PERMANENT_SAMPLES.items()
    }
    bounced, kept = sorted(owners.values()), sorted(TEMPORARY_SAMPLES.values())
    sent = send_edition(db, mail_settings, smtp_sink, bounced + kept)
    reports = {**owners, **TEMPORARY_SAMPLES}
    folder = make_maildir(
        tmp_path / "bounces",
        *(sample(name, sent[email].message_id) for name, email in sorted(reports.items())),
    )

    report = import_maildir(db, mail_settings.email, folder, now=NOW)

    assert report.counts() == {
        "messages": len(reports),
        "bounced": len(bounced),
        "complained": 0,
        "already": 0,
        "unknown": 1,  # GUESSED
        "unmatched": 0,
        "invalid": 0,
        "ignored": len(kept),
        "unreadable": 0,
    }
    assert states(db) == {
        **{email: SubscriberState.BOUNCED for email in bounced},
        **{email: SubscriberState.ACTIVE for email in kept},
    }
    # The copy that came back is recorded as bounced; the delayed ones are still sent.
    assert delivery_statuses(db) == {
        **{email: DeliveryStatus.BOUNCED for email in bounced},
        **{email: DeliveryStatus.SENT for email in kept},
    }
    assert len(filed(folder)) == len(reports)


@pytest.fixture
def sent(db: Database, mail_settings: Settings, smtp_sink: SmtpSink) -> dict[str, SentCopy]:
    return send_edition(db, mail_settings, smtp_sink, [VICTIM, ATTACKER])


FORGERIES = {
    "the attacker's own Message-ID": lambda sent: qmail_bounce(
        {VICTIM: NO_SUCH_USER}, sent[ATTACKER].message_id
    ),
    "no Message-ID, to the plain bounce address": lambda sent: qmail_bounce({VICTIM: NO_SUCH_USER}),
    "no Message-ID, to the attacker's own return path": lambda sent: qmail_bounce(
        {VICTIM: NO_SUCH_USER}, delivered_to=sent[ATTACKER].mail_from
    ),
    "a made-up Message-ID": lambda sent: qmail_bounce(
        {VICTIM: NO_SUCH_USER}, "<digest.2026-11-25.1.ffffffffffffffff@example.org>"
    ),
    "a sample with the attacker's Message-ID": lambda sent: sample(
        "exim_plain.eml", sent[ATTACKER].message_id
    ).replace(b"gone@exim.example", VICTIM.encode()),
}


@pytest.mark.parametrize("form", sorted(FORGERIES))
def test_a_text_bounce_not_tied_to_mail_we_sent_there_suppresses_nobody(
    form: str, db: Database, mail_settings: Settings, sent: dict[str, SentCopy], tmp_path: Path
) -> None:
    folder = make_maildir(tmp_path / "bounces", FORGERIES[form](sent))

    report = import_maildir(db, mail_settings.email, folder, now=NOW)

    assert (report.unmatched, report.bounced) == (1, 0)
    assert states(db) == {VICTIM: SubscriberState.ACTIVE, ATTACKER: SubscriberState.ACTIVE}


def test_a_detected_address_that_is_not_the_recipient_of_the_returned_digest_is_not_applied(
    db: Database, mail_settings: Settings, sent: dict[str, SentCopy], tmp_path: Path
) -> None:
    # Exim's header names both; the returned digest went to the victim only.
    both = {VICTIM: "550 5.1.1 User unknown", ATTACKER: "550 5.1.1 User unknown"}
    folder = make_maildir(tmp_path / "b", exim_text_bounce(both, sent[VICTIM].message_id))

    report = import_maildir(db, mail_settings.email, folder, now=NOW)

    assert (report.bounced, report.unmatched) == (1, 1)
    assert states(db) == {VICTIM: SubscriberState.BOUNCED, ATTACKER: SubscriberState.ACTIVE}


def test_a_text_bounce_to_the_signed_return_path_is_tied_without_the_original(
    db: Database, mail_settings: Settings, sent: dict[str, SentCopy], tmp_path: Path
) -> None:
    verp = sent[VICTIM].mail_from
    folder = make_maildir(
        tmp_path / "b",
        qmail_bounce({VICTIM: NO_SUCH_USER}, delivered_to=verp),
        # The victim's return path does not lend itself to another address.
        qmail_bounce({ATTACKER: NO_SUCH_USER}, delivered_to=verp),
    )

    report = import_maildir(db, mail_settings.email, folder, now=NOW)

    assert (report.bounced, report.unmatched) == (1, 1)
    assert states(db) == {VICTIM: SubscriberState.BOUNCED, ATTACKER: SubscriberState.ACTIVE}


def test_an_automatic_reply_to_the_return_path_is_no_bounce(
    db: Database, mail_settings: Settings, sent: dict[str, SentCopy], tmp_path: Path
) -> None:
    # Tied by both the return path and In-Reply-To, and naming the address in its signature.
    reply = sample("out_of_office.eml", sent[VICTIM].message_id, sent[VICTIM].mail_from)
    reply = reply.replace(b"away@office.example", VICTIM.encode())

    report = import_maildir(db, mail_settings.email, make_maildir(tmp_path / "b", reply), now=NOW)

    assert (report.bounced, report.ignored, report.unreadable) == (0, 1, 0)
    assert states(db)[VICTIM] is SubscriberState.ACTIVE


def test_digest_bounces_import_applies_a_qmail_bounce_among_costly_text_bounces(
    tmp_path: Path,
) -> None:
    outbox = tmp_path / "sent"
    env = {
        "DIGEST_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
        "DIGEST_SECRET_KEY": TEST_SECRET,
        "DIGEST_MAIL_URL": f"file://{outbox}",
        "DIGEST_FROM": "Trending Papers <digest@example.org>",
        "DIGEST_RETURN_PATH": RETURN_PATH,
    }
    for step in (
        ["db", "upgrade"],
        ["subscribers", "add", "nobody@qmail.example", "--confirmed"],
        ["subscribers", "add", "slow@qmail.example", "--confirmed"],
        ["fetch", "--source", "sample", "--date", DAY.isoformat()],
        ["send", "--day", DAY.isoformat()],
    ):
        done = run(step, env, tmp_path)
        assert done.returncode == 0, (step, done.stderr)
    ids = {}
    for path in outbox.glob("*.eml"):
        message = message_from_bytes(path.read_bytes(), policy=policy.default)
        ids[str(message["To"])] = str(message["Message-ID"])
    line = b"a" * 150 + b"@" + b"b" * 149 + b"\r\n"
    costly = [build(line * (MIB // len(line))) for build in TEXT_BOUNCE_PLACES.values()]
    folder = make_maildir(
        tmp_path / "bounces",
        *costly[:3],
        sample("qmail_no_mailbox.eml", ids["nobody@qmail.example"]),
        sample("qmail_gave_up_4xx.eml", ids["slow@qmail.example"]),
        *costly[3:],
    )

    cpu_before, started = children_cpu_seconds(), time.monotonic()
    imported = run(["bounces", "import", str(folder)], env, tmp_path)
    cpu, elapsed = children_cpu_seconds() - cpu_before, time.monotonic() - started

    print(f"bounces import of {len(costly) + 2} text bounces: {cpu:.2f} s of CPU, {elapsed:.1f} s")
    assert imported.returncode == 0, imported.stderr
    assert "Traceback" not in imported.stderr
    assert cpu < IMPORT_CPU_BUDGET, f"the import took {cpu:.2f} s of CPU ({elapsed:.1f} s)"
    assert f"{len(costly) + 2} reports: 1 bounced" in imported.stdout, imported.stdout
    database = Database(env["DIGEST_DATABASE_URL"])
    with database.session() as session:
        rows = session.execute(select(Subscriber.email, Subscriber.state))
        found = {email: state for email, state in rows}
    database.dispose()
    assert found == {
        "nobody@qmail.example": SubscriberState.BOUNCED,
        "slow@qmail.example": SubscriberState.ACTIVE,
    }
    assert len(filed(folder)) == len(costly) + 2
