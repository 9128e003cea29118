"""`digest bounces import` of messages built to cost CPU: quick, and the genuine report
among them is still applied."""

from __future__ import annotations

import resource
import time
from email import message_from_bytes, policy
from pathlib import Path

from sqlalchemy import select

from digest.store.db import Database
from digest.store.models import Subscriber, SubscriberState
from tests.conftest import TEST_SECRET
from tests.conftest import run_digest as run
from tests.mail.reports import DAY, RETURN_PATH, arf, filed, make_maildir, multipart_dsn
from tests.mail.test_bounce_cost import MIB, in_status_part

# CPU seconds of the whole import process, its start (~1 s of imports) included; the five
# messages below took 5-20 s before report parsing was bounded.
IMPORT_CPU_BUDGET = 3.0


def costly_messages() -> list[bytes]:
    """Five reports of a megabyte of continuation lines or of To: addresses each."""
    continuation = b" x\r\n" * (MIB // 4)
    return [
        in_status_part("message/feedback-report")(continuation),
        in_status_part("text/delivery-status")(continuation),
        in_status_part("message/global-delivery-status")(continuation),
        in_status_part("message/delivery-status")(continuation),
        arf(original_to="someone@example.net, " * (MIB // 21)),
    ]


def children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def test_costly_reports_are_imported_quickly_and_the_genuine_one_is_applied(
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
        ["subscribers", "add", "gone@example.com", "--confirmed"],
        ["subscribers", "add", "stays@example.com", "--confirmed"],
        ["fetch", "--source", "sample", "--date", DAY.isoformat()],
        ["send", "--day", DAY.isoformat()],
    ):
        done = run(step, env, tmp_path)
        assert done.returncode == 0, (step, done.stderr)
    (gone,) = [
        message
        for path in outbox.glob("*.eml")
        if str((message := message_from_bytes(path.read_bytes(), policy=policy.default))["To"])
        == "gone@example.com"
    ]
    costly = costly_messages()
    genuine = multipart_dsn("gone@example.com", str(gone["Message-ID"]))
    folder = make_maildir(tmp_path / "bounces", *costly[:3], genuine, *costly[3:])

    cpu_before, started = children_cpu_seconds(), time.monotonic()
    imported = run(["bounces", "import", str(folder)], env, tmp_path)
    cpu, elapsed = children_cpu_seconds() - cpu_before, time.monotonic() - started

    print(f"bounces import: {cpu:.2f} s of CPU, {elapsed:.1f} s")
    assert imported.returncode == 0, imported.stderr
    assert "Traceback" not in imported.stderr
    assert cpu < IMPORT_CPU_BUDGET, f"the import took {cpu:.2f} s of CPU ({elapsed:.1f} s)"
    assert "6 reports: 1 bounced" in imported.stdout, imported.stdout
    assert len(filed(folder)) == 6
    database = Database(env["DIGEST_DATABASE_URL"])
    with database.session() as session:
        rows = session.execute(select(Subscriber.email, Subscriber.state))
        states = {email: state for email, state in rows}
    database.dispose()
    assert states == {
        "gone@example.com": SubscriberState.BOUNCED,
        "stays@example.com": SubscriberState.ACTIVE,
    }
