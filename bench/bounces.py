"""CPU cost of taking one hostile message into the bounce intake.

    .venv/bin/python -m bench.bounces

For each hostile message of tests/mail/reports.py (nested 1,000 multipart and 3,000
message/rfc822 levels deep, 20,000 parts, 40 MB, a 2 MB header, binary junk): a Maildir
holding only it, then the intake's own steps without the database — read it from new/,
parse it, file it under cur/ — timed with time.process_time().
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from digest.mail.bounces import MaildirInbox, UnreadableReport, parse_report
from tests.mail.reports import HOSTILE, make_maildir


def intake(folder: Path) -> str:
    inbox = MaildirInbox(folder)
    outcome = "nothing"
    for message in inbox.new_messages():
        try:
            outcome = f"{len(parse_report(message.raw).events)} events"
        except UnreadableReport as exc:
            outcome = f"unreadable: {exc}"
        inbox.file_as_seen(message)
    left = list((folder / "new").iterdir())
    return f"{outcome}; {'left in new/' if left else 'filed'}"


def main() -> None:
    print("| message | CPU seconds | outcome |")
    print("| --- | --- | --- |")
    for name, build in HOSTILE.items():
        with tempfile.TemporaryDirectory() as tmp:
            folder = make_maildir(Path(tmp) / "bounces", build())
            started = time.process_time()
            outcome = intake(folder)
            print(f"| {name} | {time.process_time() - started:.3f} | {outcome} |", flush=True)


if __name__ == "__main__":
    main()
