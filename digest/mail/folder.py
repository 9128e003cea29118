"""A folder of sent mail: each message kept as .eml (opens in a mail client) and .html."""

from __future__ import annotations

import re
import threading
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path


class MailFolder:
    """Numbered files named after the subject; safe to share between threads."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self.count = 0
        self._lock = threading.Lock()

    def keep(self, raw: bytes) -> Path:
        """Write one message; returns the path of its .eml file."""
        message = message_from_bytes(raw, policy=policy.default)
        with self._lock:
            self.count += 1
            stem = f"{self.count:03d}-{_slug(str(message.get('Subject', 'message')))}"
        path = self.folder / f"{stem}.eml"
        path.write_bytes(raw)
        if isinstance(message, EmailMessage):
            html = message.get_body(preferencelist=("html",))
            if html is not None:
                (self.folder / f"{stem}.html").write_text(html.get_content(), encoding="utf-8")
        return path


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60] or "message"
