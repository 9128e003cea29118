"""CPU cost of taking one hostile message into the bounce intake.

    .venv/bin/python -m bench.bounces

For each hostile message of tests/mail/reports.py (nested 1,000 multipart and 3,000
message/rfc822 levels deep, 20,000 parts, 40 MB, a 2 MB header, binary junk), and for a
megabyte of lines built for the bounce detectors' costliest patterns after the line that
starts each of them (tests/mail/test_bounce_cost.py): a Maildir holding only it, then the
intake's own steps without the database — read it from new/, parse it, file it under cur/ —
timed with time.process_time().
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from digest.mail.bounces import MaildirInbox, UnreadableReport, parse_report
from tests.mail.reports import HOSTILE, make_maildir
from tests.mail.test_bounce_cost import MIB, TEXT_BOUNCE_PLACES

# An address with no " on " after it, for Exchange's "(addr) on " pattern (the costliest).
DETECTOR_LINE = b"a" * 150 + b"@" + b"b" * 149 + b"\r\n"


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


def flooded(build: Callable[[bytes], bytes]) -> Callable[[], bytes]:
    return lambda: build(DETECTOR_LINE * (MIB // len(DETECTOR_LINE)))


def main() -> None:
    print("| message | CPU seconds | outcome |")
    print("| --- | --- | --- |")
    messages = {
        **HOSTILE,
        **{
            f"1 MiB of detector-costly lines {place}": flooded(build)
            for place, build in TEXT_BOUNCE_PLACES.items()
        },
    }
    for name, build in messages.items():
        with tempfile.TemporaryDirectory() as tmp:
            folder = make_maildir(Path(tmp) / "bounces", build())
            started = time.process_time()
            outcome = intake(folder)
            print(f"| {name} | {time.process_time() - started:.3f} | {outcome} |", flush=True)


if __name__ == "__main__":
    main()
