"""`digest subscribers import` and `export`, run as an operator runs them, on SQLite and
PostgreSQL: the report names each bad line, nothing known is revived, a second run changes
nothing, and consent travels to both exports."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from sqlalchemy import select

from digest.store.db import Database
from digest.store.models import OutboxEmail, Subscriber, SubscriberState
from digest.store.subscribers import export_subscriber
from digest.store.suppression import suppress
from digest.tokens import Purpose, TokenSubject, email_fingerprint
from tests.cli.command import digest

SECRET = "import-test-secret-key-0123456789abcdef"

MIXED_CSV = """\
email,topics,categories,timezone,send_hour,frequency,papers
ada@example.com,"diffusion, llm",cs.CL,Europe/Paris,8,daily,5
ADA@Example.com,,,UTC,7,daily,10
grace@example.com,,,Mars/Olympus_Mons,7,daily,10
not-an-address,,,UTC,7,daily,10
"evil@example.com
Bcc: victim@example.org",,,UTC,7,daily,10
=?utf-8?q?x?=@example.com,,,UTC,7,daily,10
linus@example.com,,,UTC,24,daily,10
ken@example.com,,,UTC,7,monthly,10
dennis@example.com,,,UTC,7,weekly,500
bounced@example.com,,,UTC,7,daily,10
deleted@example.com,,,UTC,7,daily,10
active@example.com,,,UTC,7,daily,10
barbara@example.com
"""

EXPECTED_REJECTIONS = {
    "line 3: the address repeats line 2",
    "line 4: unknown timezone 'Mars/Olympus_Mons'",
    "line 5: An email address must have an @-sign.",
    "line 6: an email address cannot contain line breaks",  # the row spans lines 6 and 7
    "line 8: an email address cannot contain encoded text (=?…?=)",
    "line 9: the send hour must be between 0 and 23",
    "line 10: choose daily or weekly",
    "line 11: the number of papers must be between 1 and 50",
    "line 12: the address is bounced and stays suppressed",
    "line 13: the address was deleted at its owner's request and is never mailed again",
}


def environment(database_url: str) -> dict[str, str]:
    return {"DIGEST_DATABASE_URL": database_url, "DIGEST_SECRET_KEY": SECRET}


def seed_known_addresses(db: Database) -> None:
    with db.session() as session:
        session.add(Subscriber(email="bounced@example.com", state=SubscriberState.BOUNCED))
        session.add(Subscriber(email="active@example.com", state=SubscriberState.ACTIVE))
        suppress(session, "deleted@example.com")


def snapshot(db: Database) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    with db.session() as session:
        subscribers = [
            tuple(row)
            for row in session.execute(
                select(
                    Subscriber.email,
                    Subscriber.state,
                    Subscriber.topics,
                    Subscriber.timezone,
                    Subscriber.updated_at,
                    Subscriber.consent,
                ).order_by(Subscriber.email)
            )
        ]
        outbox = [
            tuple(row)
            for row in session.execute(
                select(OutboxEmail.kind, OutboxEmail.subscriber_id, OutboxEmail.status).order_by(
                    OutboxEmail.id
                )
            )
        ]
    return subscribers, outbox


def rejection_lines(stderr: str) -> set[str]:
    return {line for line in stderr.splitlines() if line.startswith("line ")}


def test_mixed_file_reports_each_bad_line_and_a_second_run_changes_nothing(
    db: Database, tmp_path: Path
) -> None:
    seed_known_addresses(db)
    source = tmp_path / "subscribers.csv"
    source.write_text(MIXED_CSV, encoding="utf-8")
    env = environment(db.url)

    first = digest(["subscribers", "import", str(source)], env, tmp_path)

    assert first.returncode == 0, first.stderr
    assert rejection_lines(first.stderr) == EXPECTED_REJECTIONS
    assert len(first.stderr.splitlines()) == len(EXPECTED_REJECTIONS)  # each bad line once
    assert "added 2 · already there 1 · suppressed 2 · invalid 7 · duplicates 1" in first.stdout
    subscribers, outbox = snapshot(db)
    states = {email: state for email, state, *_ in subscribers}
    assert states == {
        "active@example.com": SubscriberState.ACTIVE,
        "bounced@example.com": SubscriberState.BOUNCED,
        "ada@example.com": SubscriberState.PENDING,
        "barbara@example.com": SubscriberState.PENDING,
    }
    ada = next(row for row in subscribers if row[0] == "ada@example.com")
    assert ada[2] == ["diffusion", "llm"] and ada[3] == "Europe/Paris"
    assert [kind for kind, _, _ in outbox] == ["confirm", "confirm"]  # the double opt-in

    second = digest(["subscribers", "import", str(source)], env, tmp_path)

    assert second.returncode == 0, second.stderr
    assert "added 0 · already there 3" in second.stdout
    assert snapshot(db) == (subscribers, outbox)


def test_json_lines_with_hostile_rows_goes_on_past_them(db: Database, tmp_path: Path) -> None:
    source = tmp_path / "subscribers.jsonl"
    source.write_text(
        "\n".join(
            [
                json.dumps({"email": "ok@example.com", "topics": ["rl"], "send_hour": 6}),
                "{not json",
                json.dumps(["a", "list"]),
                json.dumps({"email": "x@example.com", "send_hour": "seven"}),
                json.dumps({"email": "y@example.com", "timezone": "../../etc/passwd"}),
                json.dumps({"email": 42}),
                json.dumps({"email": "z@example.com", "is_admin": True}),
                json.dumps({"email": "a" * 300 + "@example.com"}),
                "",
                json.dumps({"email": "last@example.com", "frequency": "weekly"}),
            ]
        ),
        encoding="utf-8",
    )
    report = tmp_path / "rejected.txt"

    result = digest(
        ["subscribers", "import", str(source), "--report", str(report)],
        environment(db.url),
        tmp_path,
    )

    assert result.returncode == 0, result.stderr
    lines = report.read_text(encoding="utf-8").splitlines()
    assert [line.split(":")[0] for line in lines] == [f"line {n}" for n in range(2, 9)]
    assert "line 4: the send hour must be a whole number" in lines
    assert "line 5: unknown timezone '../../etc/passwd'" in lines
    assert lines[5].startswith("line 7: unknown column 'is_admin'")
    assert "added 2" in result.stdout
    with db.session() as session:
        emails = set(session.scalars(select(Subscriber.email)))
    assert emails == {"ok@example.com", "last@example.com"}


def test_confirmed_import_keeps_the_consent_and_both_exports_show_it(
    db: Database, tmp_path: Path
) -> None:
    source = tmp_path / "list.csv"
    source.write_text("email\nhedy@example.com\n", encoding="utf-8")
    consent = "signed up on the paper form at NeurIPS, 2026-12-01"
    env = environment(db.url)

    result = digest(
        ["subscribers", "import", str(source), "--confirmed", "--consent", consent], env, tmp_path
    )

    assert result.returncode == 0, result.stderr
    assert "confirmation emails queued 0" in result.stdout
    exported = digest(
        ["subscribers", "export", "--format", "jsonl", "--state", "active"], env, tmp_path
    )
    assert exported.returncode == 0, exported.stderr
    (row,) = [json.loads(line) for line in exported.stdout.splitlines()]
    assert row["email"] == "hedy@example.com" and row["state"] == "active"
    assert row["consent"] == consent and row["consent_at"]
    with db.session() as session:
        hedy = session.scalars(select(Subscriber)).one()
        assert session.scalar(select(OutboxEmail.id)) is None  # no opt-in email
        subject = TokenSubject(
            hedy.id, email_fingerprint(SECRET, hedy.email), SECRET, Purpose.PREFERENCES
        )
        data = export_subscriber(session, subject)
    assert data["consent"] == {"statement": consent, "at": row["consent_at"]}


def test_confirmed_without_consent_is_a_usage_error(db: Database, tmp_path: Path) -> None:
    source = tmp_path / "list.csv"
    source.write_text("email\nhedy@example.com\n", encoding="utf-8")

    result = digest(
        ["subscribers", "import", str(source), "--confirmed"], environment(db.url), tmp_path
    )

    assert result.returncode == 2
    assert "--consent" in result.stderr
    with db.session() as session:
        assert session.scalar(select(Subscriber.id)) is None


def test_a_file_that_cannot_be_read_exits_1(db: Database, tmp_path: Path) -> None:
    env = environment(db.url)
    missing = digest(["subscribers", "import", str(tmp_path / "nope.csv")], env, tmp_path)
    no_email = tmp_path / "no-email.csv"
    no_email.write_text("name,topics\nAda,llm\n", encoding="utf-8")
    headerless = digest(["subscribers", "import", str(no_email)], env, tmp_path)

    assert missing.returncode == 1 and "cannot read" in missing.stderr
    assert headerless.returncode == 1 and "unknown column 'name'" in headerless.stderr
    assert "Traceback" not in missing.stderr + headerless.stderr


def test_export_to_csv_reads_back_as_the_same_subscribers(db: Database, tmp_path: Path) -> None:
    source = tmp_path / "list.csv"
    source.write_text(
        "email,topics,categories,authors,timezone,send_hour,frequency,papers\n"
        'ada@example.com,"diffusion,llm","cs.CL,cs.LG",Yann LeCun,Asia/Tokyo,6,weekly,3\n'
        "grace@example.com,,,,UTC,9,daily,10\n",
        encoding="utf-8",
    )
    env = environment(db.url)
    assert digest(["subscribers", "import", str(source)], env, tmp_path).returncode == 0
    out = tmp_path / "export.csv"

    exported = digest(["subscribers", "export", "--out", str(out)], env, tmp_path)

    assert exported.returncode == 0, exported.stderr
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert [(r["email"], r["state"]) for r in rows] == [
        ("ada@example.com", "pending"),
        ("grace@example.com", "pending"),
    ]
    assert rows[0]["categories"] == "cs.CL,cs.LG" and rows[0]["edition_size"] == "3"
    with db.session() as session:
        for subscriber in session.scalars(select(Subscriber)):
            session.delete(subscriber)
    again = digest(["subscribers", "import", str(out)], env, tmp_path)
    assert again.returncode == 0, again.stderr
    assert "added 2" in again.stdout
    reexported = digest(["subscribers", "export"], env, tmp_path)
    columns = ["email", "topics", "categories", "authors", "timezone", "send_hour", "frequency"]
    again_rows = list(csv.DictReader(io.StringIO(reexported.stdout)))
    assert [[r[c] for c in columns] for r in again_rows] == [[r[c] for c in columns] for r in rows]


def test_export_is_read_only_and_creates_no_database(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "digest.db"

    result = digest(["subscribers", "export"], environment(f"sqlite:///{missing}"), tmp_path)

    assert result.returncode == 1 and "no database" in result.stderr
    assert not missing.parent.exists()
    assert not (tmp_path / "digest.secret").exists()
