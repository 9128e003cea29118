"""The file:// sender never overwrites mail (issue 22): senders in one process or in
several, each message with the same subject, and every message is a file of its own."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import pytest

from digest.mail.envelope import Envelope
from digest.mail.folder import MailFolder
from digest.mail.senders import open_sender

ENVELOPE = Envelope("bounces@example.org", "reader@example.org")


def _message(number: int, subject: str = "Your digest") -> EmailMessage:
    message = EmailMessage(policy=policy.SMTP)
    message["From"] = "digest@example.org"
    message["To"] = "reader@example.org"
    message["Subject"] = subject
    message["Message-ID"] = f"<m{number}@example.org>"
    message.set_content(f"message {number}\n")
    message.add_alternative(f"<p>message {number}</p>\n", subtype="html")
    return message


def _kept_ids(folder: Path) -> list[str]:
    return sorted(
        str(message_from_bytes(path.read_bytes(), policy=policy.default)["Message-ID"])
        for path in folder.glob("*.eml")
    )


def test_two_senders_on_one_folder_keep_every_message(tmp_path: Path) -> None:
    first = open_sender(f"file://{tmp_path}/mail")
    second = open_sender(f"file://{tmp_path}/mail")
    with first, second:
        for number in range(20):
            (first if number % 2 else second).send(_message(number), ENVELOPE)

    assert _kept_ids(tmp_path / "mail") == sorted(f"<m{n}@example.org>" for n in range(20))
    assert len(list((tmp_path / "mail").glob("*.html"))) == 20
    assert not list((tmp_path / "mail").glob(".*"))  # no temporary file left behind


SEND_FROM_A_PROCESS = textwrap.dedent(
    """
    import sys
    from email import policy
    from email.message import EmailMessage
    from digest.mail.envelope import Envelope
    from digest.mail.senders import open_sender

    folder, first = sys.argv[1], int(sys.argv[2])
    with open_sender("file://" + folder) as sender:
        for number in range(first, first + 40):
            message = EmailMessage(policy=policy.SMTP)
            message["To"] = "reader@example.org"
            message["Subject"] = "Your digest"
            message["Message-ID"] = f"<m{number}@example.org>"
            message.set_content("same subject, same second")
            sender.send(message, Envelope("bounces@example.org", "reader@example.org"))
    """
)


def test_two_processes_on_one_folder_keep_every_message(tmp_path: Path) -> None:
    mail = tmp_path / "mail"
    processes = [
        subprocess.Popen([sys.executable, "-c", SEND_FROM_A_PROCESS, str(mail), str(first)])
        for first in (0, 1000)
    ]
    assert [process.wait(timeout=120) for process in processes] == [0, 0]

    expected = [f"<m{n}@example.org>" for first in (0, 1000) for n in range(first, first + 40)]
    assert _kept_ids(mail) == sorted(expected)


def test_mail_already_in_the_folder_is_never_replaced(tmp_path: Path) -> None:
    mail = tmp_path / "mail"
    mail.mkdir()
    # What an earlier run of an older version left: numbered from 001, named by subject.
    earlier = {mail / f"{n:03d}-your-digest.eml": f"earlier {n}".encode() for n in range(1, 6)}
    for path, data in earlier.items():
        path.write_bytes(data)

    with open_sender(f"file://{mail}") as sender:
        for number in range(5):
            sender.send(_message(number), ENVELOPE)

    assert {path: path.read_bytes() for path in earlier} == earlier
    assert len(list(mail.glob("*.eml"))) == 10


def test_a_name_that_is_taken_is_skipped_not_overwritten(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mail = MailFolder(tmp_path / "mail")
    stems = iter(["taken", "taken", "free"])
    monkeypatch.setattr(MailFolder, "_unique_stem", lambda self: next(stems))
    (tmp_path / "mail" / "taken-your-digest.eml").write_bytes(b"kept as it was")
    (tmp_path / "mail" / "taken-your-digest.html").write_bytes(b"kept as it was")

    path = mail.keep(_message(1).as_bytes())

    assert path.name == "free-your-digest.eml"
    assert (tmp_path / "mail" / "taken-your-digest.eml").read_bytes() == b"kept as it was"
    assert (tmp_path / "mail" / "taken-your-digest.html").read_bytes() == b"kept as it was"
    assert "<m1@example.org>" in path.read_text()


def test_names_sort_in_the_order_mail_was_kept(tmp_path: Path) -> None:
    mail = MailFolder(tmp_path / "mail")
    kept = [mail.keep(_message(n, subject=f"Subject {9 - n}").as_bytes()) for n in range(10)]
    assert sorted(kept) == kept
    assert all(path.name.endswith(f"-subject-{9 - n}.eml") for n, path in enumerate(kept))
