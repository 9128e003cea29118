"""`digest subscribers mute`, run as an operator runs it, on SQLite and PostgreSQL: it
replaces what a subscriber mutes, names each follow a mute overrides, and refuses bad lists
without changing anything."""

from __future__ import annotations

from pathlib import Path

from digest.store.db import Database
from digest.store.models import Subscriber
from tests.cli.command import digest
from tests.factories import make_subscriber

SECRET = "mute-test-secret-key-0123456789abcdef"


def environment(database_url: str) -> dict[str, str]:
    return {"DIGEST_DATABASE_URL": database_url, "DIGEST_SECRET_KEY": SECRET}


def stored(db: Database, email: str) -> Subscriber:
    with db.session() as session:
        row = session.query(Subscriber).filter_by(email=email).one()
        session.expunge(row)
        return row


def test_mute_replaces_the_lists_and_names_what_it_overrides(
    db: Database, database_url: str, tmp_path: Path
) -> None:
    with db.session() as session:
        reader = make_subscriber(session, "ada@example.com", topics=["web agents", "diffusion"])
        reader.authors = ["Grace Hopper"]

    done = digest(
        ["subscribers", "mute", "ADA@example.com", "--words", "agents, benchmark",
         "--authors", "grace hopper"],
        environment(database_url),
        tmp_path,
    )  # fmt: skip

    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "ada@example.com: muted [agents, benchmark] · muted authors [grace hopper]"
    assert lines[1].startswith("You follow 'web agents' and mute 'agents': muted wins")
    assert lines[2] == (
        "You follow and mute the author Grace Hopper: muted wins, so you never get their papers."
    )
    row = stored(db, "ada@example.com")
    assert (row.muted, row.muted_authors) == (["agents", "benchmark"], ["grace hopper"])

    only_words = digest(
        ["subscribers", "mute", "ada@example.com", "--words", ""],
        environment(database_url),
        tmp_path,
    )
    assert only_words.returncode == 0, only_words.stderr
    row = stored(db, "ada@example.com")
    assert (row.muted, row.muted_authors) == ([], ["grace hopper"])


def test_a_bad_list_is_one_line_and_changes_nothing(
    db: Database, database_url: str, tmp_path: Path
) -> None:
    with db.session() as session:
        make_subscriber(session, "ada@example.com").muted = ["quantum"]
    too_long = "x" * 101

    refused = digest(
        ["subscribers", "mute", "ada@example.com", "--words", f"fine, {too_long}"],
        environment(database_url),
        tmp_path,
    )
    unknown = digest(
        ["subscribers", "mute", "nobody@example.com", "--words", "x"],
        environment(database_url),
        tmp_path,
    )

    assert refused.returncode == 1
    assert refused.stderr == "digest: a muted word or phrase can be at most 100 characters\n"
    assert (
        unknown.returncode == 1 and unknown.stderr == "digest: no subscriber nobody@example.com\n"
    )
    assert stored(db, "ada@example.com").muted == ["quantum"]
