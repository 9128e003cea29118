"""A folder of sent mail: each message kept as .eml (opens in a mail client) and .html.

Several senders may share one folder (two `digest send` runs, a worker and the web
process), so a file is never replaced: each message gets a name of its own, Maildir-like
(the time, the process id, a per-process count and a random part), and is written to a
hidden temporary file first, then linked under that name, which fails rather than replace
a file that exists. Names begin with the UTC time, so they sort in the order mail was kept.
"""

from __future__ import annotations

import itertools
import os
import re
import secrets
import threading
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

ATTEMPTS = 5  # a name collides only if the clock, the pid, the count and 32 random bits do


class MailFolder:
    """Files named `<UTC time>-<pid>-<count>-<random>-<subject>.eml`; never overwrites;
    safe to share between threads and processes."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self.count = 0
        self._lock = threading.Lock()
        self._serial = itertools.count(1)

    def keep(self, raw: bytes) -> Path:
        """Write one message; returns the path of its .eml file."""
        message = message_from_bytes(raw, policy=policy.default)
        with self._lock:
            self.count += 1
        slug = _slug(str(message.get("Subject", "message")))
        path = self._create(slug, raw)
        if isinstance(message, EmailMessage):
            html = message.get_body(preferencelist=("html",))
            if html is not None:
                _write_new(path.with_suffix(".html"), html.get_content().encode("utf-8"))
        return path

    def _create(self, slug: str, raw: bytes) -> Path:
        for _ in range(ATTEMPTS):
            path = self.folder / f"{self._unique_stem()}-{slug}.eml"
            try:
                _write_new(path, raw)
            except FileExistsError:
                continue
            return path
        raise FileExistsError(f"no free file name for a message in {self.folder}")

    def _unique_stem(self) -> str:
        now = datetime.now(UTC)
        return (
            f"{now:%Y%m%dT%H%M%S}.{now:%f}-{os.getpid()}-{next(self._serial):06d}"
            f"-{secrets.token_hex(4)}"
        )


def _write_new(path: Path, data: bytes) -> None:
    """`data` as the new file `path`, whole or not at all; FileExistsError if it exists."""
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    with open(temporary, "xb") as file:
        file.write(data)
    try:
        os.link(temporary, path)  # unlike a rename, never replaces what is there
    except FileExistsError:
        raise
    except OSError:
        # A file system without hard links: create the name exclusively and write it.
        with open(path, "xb") as file:
            file.write(data)
    finally:
        temporary.unlink()


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60] or "message"
