"""An address deleted at its owner's request stays deleted, run as an operator runs `digest`
on SQLite and PostgreSQL: the web's delete and `digest subscribers remove` put it on the
suppression list, `add` and `import` then refuse it with the reason, and `digest send`
mails nothing to it even when a row with it got past every other check."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import httpx

from digest.pipeline.emails import ALREADY_SUBSCRIBED_EMAIL
from digest.settings import Settings
from digest.store.db import Database
from digest.store.outbox import queue_email
from digest.store.suppression import suppress
from digest.store.types import utcnow
from digest.tokens import Purpose, make_token
from digest.web import create_app
from tests.cli.command import digest
from tests.conftest import SmtpSink, serve_in_thread
from tests.factories import make_subscriber

DAY = date(2026, 11, 25)
VICTIM = "victim@example.com"
OTHER = "other@example.com"
REASON = "was deleted at its owner's request on "


def environment(database: Database, settings: Settings, smtp: SmtpSink) -> dict[str, str]:
    return {
        "DIGEST_DATABASE_URL": database.url,
        "DIGEST_SECRET_KEY": settings.secret_key,
        "DIGEST_MAIL_URL": smtp.url,
    }


def send_the_edition(env: dict[str, str], cwd: Path) -> None:
    for step in (
        ["fetch", "--source", "sample", "--date", DAY.isoformat()],
        ["send", "--day", DAY.isoformat()],
    ):
        done = digest(step, env, cwd)
        assert done.returncode == 0, (step, done.stderr)


def test_deleted_on_the_web_then_added_by_the_operator_is_refused_and_never_mailed(
    db: Database, settings: Settings, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    env = environment(db, settings, smtp_sink)
    with db.session() as session:
        victim = make_subscriber(session, VICTIM, send_hour=0)
        make_subscriber(session, OTHER, send_hour=0)
        link = make_token(settings.secret_key, Purpose.PREFERENCES, victim.id, victim.email)
    app = create_app(settings.model_copy(update={"database_url": db.url}), db, lambda: None)
    with serve_in_thread(app) as url, httpx.Client(base_url=url, timeout=10) as http:
        deleted = http.post(
            "/preferences/delete", params={"token": link}, data={"confirm_delete": "yes"}
        )
    assert deleted.status_code == 200 and "Your data is deleted" in deleted.text

    added = digest(["subscribers", "add", VICTIM, "--confirmed"], env, tmp_path)

    assert added.returncode == 1
    (line,) = added.stderr.splitlines()
    assert line.startswith(f"digest: {VICTIM} {REASON}") and "Traceback" not in added.stderr
    assert VICTIM not in digest(["subscribers", "list"], env, tmp_path).stdout
    send_the_edition(env, tmp_path)
    assert smtp_sink.messages_to(VICTIM) == []
    assert len(smtp_sink.messages_to(OTHER)) == 1


def test_remove_forgets_an_address_for_good_and_typo_deletes_the_row_only(
    db: Database, settings: Settings, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    env = environment(db, settings, smtp_sink)
    for email in (VICTIM, "typo@example.com"):
        done = digest(["subscribers", "add", email, "--confirmed"], env, tmp_path)
        assert done.returncode == 0, done.stderr

    removed = digest(["subscribers", "remove", "Victim@Example.com"], env, tmp_path)
    added = digest(["subscribers", "add", VICTIM], env, tmp_path)
    source = tmp_path / "subscribers.csv"
    source.write_text(f"email\n{OTHER}\n{VICTIM}\n", encoding="utf-8")
    imported = digest(["subscribers", "import", str(source)], env, tmp_path)

    assert removed.returncode == 0, removed.stderr
    assert f"removed {'Victim@Example.com'}; suppressed" in removed.stdout
    assert added.returncode == 1
    assert added.stderr.startswith(f"digest: {VICTIM} {REASON}")
    assert imported.returncode == 0, imported.stderr
    # The import names no address in its report (one line per refused row, its number).
    assert "line 3: the address was deleted at its owner's request" in imported.stderr
    assert VICTIM not in imported.stderr
    assert "added 1 · already there 0 · suppressed 1" in imported.stdout

    # An operator's own mistake: the row goes, the address may come back.
    typo = digest(["subscribers", "remove", "typo@example.com", "--typo"], env, tmp_path)
    back = digest(["subscribers", "add", "typo@example.com", "--confirmed"], env, tmp_path)
    missing = digest(["subscribers", "remove", "nobody@example.com", "--typo"], env, tmp_path)

    assert typo.returncode == 0 and "not suppressed" in typo.stdout
    assert back.returncode == 0 and "typo@example.com: active" in back.stdout
    assert missing.returncode == 1
    assert missing.stderr.splitlines() == ["digest: no subscriber nobody@example.com"]


def test_send_mails_no_suppressed_address_even_with_an_active_row(
    db: Database, settings: Settings, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    # A row revived before every path asked the suppression list (or by a path that does
    # not ask yet): the sender itself refuses it, digests and notices alike.
    with db.session() as session:
        revived = make_subscriber(session, VICTIM, send_hour=0)
        make_subscriber(session, OTHER, send_hour=0)
        suppress(session, VICTIM)
        queue_email(session, ALREADY_SUBSCRIBED_EMAIL, utcnow(), subscriber_id=revived.id)

    send_the_edition(environment(db, settings, smtp_sink), tmp_path)

    assert smtp_sink.messages_to(VICTIM) == []
    assert len(smtp_sink.messages_to(OTHER)) == 1
