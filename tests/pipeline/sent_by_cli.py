"""A sample edition sent by `digest` run as processes, for tests of what comes back."""

from __future__ import annotations

from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

from sqlalchemy import select

from digest.store.db import Database
from digest.store.models import Subscriber, SubscriberState
from tests.conftest import TEST_SECRET
from tests.conftest import run_digest as run
from tests.mail.reports import DAY, RETURN_PATH


def send_sample_edition(
    tmp_path: Path, *addresses: str
) -> tuple[dict[str, str], dict[str, EmailMessage]]:
    """A SQLite database in `tmp_path` with these confirmed subscribers, each sent the sample
    edition of DAY into a folder: the environment of the `digest` commands and what each
    address was sent."""
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
        *(["subscribers", "add", address, "--confirmed"] for address in addresses),
        ["fetch", "--source", "sample", "--date", DAY.isoformat()],
        ["send", "--day", DAY.isoformat()],
    ):
        done = run(step, env, tmp_path)
        assert done.returncode == 0, (step, done.stderr)
    sent: dict[str, EmailMessage] = {}
    for path in outbox.glob("*.eml"):
        message = message_from_bytes(path.read_bytes(), policy=policy.default)
        assert isinstance(message, EmailMessage)
        sent[str(message["To"])] = message
    assert sorted(sent) == sorted(addresses)
    return env, sent


def subscriber_states(env: dict[str, str]) -> dict[str, SubscriberState]:
    database = Database(env["DIGEST_DATABASE_URL"])
    with database.session() as session:
        rows = session.execute(select(Subscriber.email, Subscriber.state))
        states = {email: state for email, state in rows}
    database.dispose()
    return states
