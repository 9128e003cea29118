"""The `mailto:` of List-Unsubscribe: mail to the unsubscribe mailbox, read from a Maildir."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pytest
from sqlalchemy import select

from digest.pipeline.unsubscribes import import_unsubscribes, read_unsubscribe_token
from digest.settings import Settings
from digest.store.db import Database
from digest.store.models import Subscriber, SubscriberState
from digest.tokens import Purpose, make_token
from tests.conftest import TEST_SECRET, SmtpSink
from tests.conftest import run_digest as run
from tests.mail.reports import HOSTILE, NOW, filed, make_maildir, send_edition

MAILBOX = "unsubscribe@example.org"
READERS = ["ada@example.com", "bob@example.com", "cyd@example.com", "dan@example.com"]


def reply(subject: str | None, sender: str = "someone@example.com") -> bytes:
    lines = [f"From: {sender}", f"To: {MAILBOX}"]
    if subject is not None:
        lines.append(f"Subject: {subject}")
    return ("\r\n".join(lines) + "\r\n\r\nPlease take me off the list.\r\n").encode()


def mailto_token(headers: dict[str, str]) -> str:
    """The token a mail client puts into the subject when it follows the mailto: link."""
    found = re.search(
        r"<mailto:([^?>]+)\?subject=unsubscribe%20([^>]+)>", headers["List-Unsubscribe"]
    )
    assert found is not None and found.group(1) == MAILBOX
    return found.group(2)


def states(db: Database) -> dict[str, SubscriberState]:
    with db.session() as session:
        return {
            email: state
            for email, state in session.execute(select(Subscriber.email, Subscriber.state))
        }


@pytest.fixture
def tokens(
    db: Database, settings: Settings, database_url: str, smtp_sink: SmtpSink
) -> dict[str, str]:
    """The unsubscribe token of each reader, as their digest's List-Unsubscribe carries it."""
    sending = settings.model_copy(
        update={"database_url": database_url, "unsubscribe_mailbox": MAILBOX}
    )
    copies = send_edition(db, sending, smtp_sink, READERS)
    return {email: mailto_token(copy.headers) for email, copy in copies.items()}


def test_a_signed_token_in_the_subject_unsubscribes_and_anything_else_does_nothing(
    db: Database, settings: Settings, tokens: dict[str, str], tmp_path: Path
) -> None:
    ada, bob, cyd, dan = (tokens[email] for email in READERS)
    with db.session() as session:
        dan_id = session.scalars(select(Subscriber.id).where(Subscriber.email == READERS[3])).one()
    folder = make_maildir(
        tmp_path / "unsubscribe",
        reply(f"unsubscribe {ada}"),
        # A reply, folded by the client, with the keyword in capitals.
        reply(f"Re: UNSUBSCRIBE\r\n {bob}"),
        # Sent as an encoded word by a client that encodes every subject.
        reply(f"=?utf-8?b?{base64.b64encode(f'unsubscribe {cyd}'.encode()).decode()}?="),
        reply(f"unsubscribe {ada}"),  # again: already unsubscribed
        # What an attacker can write: altered, unsigned, for another purpose, none at all.
        reply(f"unsubscribe {dan[:-2]}{'A' if dan[-2] != 'A' else 'B'}{dan[-1]}"),
        reply(f"unsubscribe {dan.split('.')[0]}"),
        reply(f"unsubscribe {make_token(TEST_SECRET, Purpose.CONFIRM, dan_id, READERS[3])}"),
        reply(f"unsubscribe {make_token('x' * 40, Purpose.UNSUBSCRIBE, dan_id, READERS[3])}"),
        reply("unsubscribe"),
        reply(f"please unsubscribe {dan} now"),
        reply(None),
        HOSTILE["binary junk"](),
        HOSTILE["1000 nested multiparts"](),
    )

    report = import_unsubscribes(db, settings.email, folder, now=NOW)

    assert report.counts() == {
        "messages": 13,
        "unsubscribed": 3,
        "already": 1,
        "invalid": 4,
        "no_token": 5,
    }
    assert states(db) == {
        "ada@example.com": SubscriberState.UNSUBSCRIBED,
        "bob@example.com": SubscriberState.UNSUBSCRIBED,
        "cyd@example.com": SubscriberState.UNSUBSCRIBED,
        "dan@example.com": SubscriberState.ACTIVE,
    }
    assert len(filed(folder)) == 13
    assert import_unsubscribes(db, settings.email, folder, now=NOW).messages == 0


def test_a_suppressed_address_stays_suppressed(
    db: Database, settings: Settings, tokens: dict[str, str], tmp_path: Path
) -> None:
    with db.session() as session:
        bounced = session.scalars(select(Subscriber).where(Subscriber.email == READERS[0])).one()
        bounced.state = SubscriberState.BOUNCED
    folder = make_maildir(tmp_path / "u", reply(f"unsubscribe {tokens[READERS[0]]}"))

    report = import_unsubscribes(db, settings.email, folder, now=NOW)

    assert (report.unsubscribed, report.already) == (0, 1)
    assert states(db)[READERS[0]] is SubscriberState.BOUNCED


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("unsubscribe abc.DEF-_9", "abc.DEF-_9"),
        ("  Re: Fwd: unsubscribe   abc  ", "abc"),
        ("RE[2]: unsubscribe abc", "abc"),
        ("unsubscribe%20abc", "abc"),
        ("Unsubscribe\r\n\tabc", "abc"),
        ("unsubscribe", None),
        ("unsubscribe abc def", None),
        ("subscribe abc", None),
        ("unsubscribe <abc>", None),
    ],
)
def test_the_subject_is_read_tolerantly(subject: str, expected: str | None) -> None:
    assert read_unsubscribe_token(reply(subject)) == expected


def test_unsubscribes_import_command(tmp_path: Path) -> None:
    env = {
        "DIGEST_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
        "DIGEST_SECRET_KEY": TEST_SECRET,
        "DIGEST_MAIL_URL": f"file://{tmp_path / 'sent'}",
    }
    assert run(["db", "upgrade"], env, tmp_path).returncode == 0
    for email in ("leaving@example.com", "staying@example.com"):
        added = run(["subscribers", "add", email, "--confirmed"], env, tmp_path)
        assert added.returncode == 0, added.stderr
    good = make_token(TEST_SECRET, Purpose.UNSUBSCRIBE, 1, "leaving@example.com")
    forged = make_token("not-our-secret-" * 4, Purpose.UNSUBSCRIBE, 2, "staying@example.com")
    folder = make_maildir(
        tmp_path / "unsubscribe",
        reply(f"Re: unsubscribe {good}"),
        reply(f"unsubscribe {forged}"),
        reply("hello"),
    )

    unset = run(["unsubscribes", "import"], env, tmp_path)
    imported = run(
        ["unsubscribes", "import"], {**env, "DIGEST_UNSUBSCRIBE_MAILDIR": str(folder)}, tmp_path
    )
    again = run(["unsubscribes", "import", str(folder)], env, tmp_path)
    listed = run(["subscribers", "list", "--state", "unsubscribed"], env, tmp_path)

    assert unset.returncode == 1 and "DIGEST_UNSUBSCRIBE_MAILDIR" in unset.stderr
    assert "Traceback" not in unset.stderr
    assert imported.returncode == 0, imported.stderr
    assert (
        "3 messages: 1 unsubscribed, 0 already unsubscribed, 1 invalid token, 1 without a token"
        in imported.stdout
    )
    assert again.returncode == 0 and "0 messages" in again.stdout
    assert "leaving@example.com" in listed.stdout and "staying@example.com" not in listed.stdout
    assert len(filed(folder)) == 3
