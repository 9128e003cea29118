"""A local SMTP catcher for the demo: keeps every message as .eml (and .html) in a folder."""

from __future__ import annotations

import re
import socket
import threading
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from types import TracebackType
from typing import Any

from aiosmtpd.controller import Controller


class _SaveToFolder:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.count = 0
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw: bytes = envelope.original_content
        message = message_from_bytes(raw, policy=policy.default)
        with self.lock:
            self.count += 1
            stem = f"{self.count:03d}-{_slug(str(message.get('Subject', 'message')))}"
        (self.folder / f"{stem}.eml").write_bytes(raw)
        if isinstance(message, EmailMessage):
            html = message.get_body(preferencelist=("html",))
            if html is not None:
                (self.folder / f"{stem}.html").write_text(html.get_content(), encoding="utf-8")
        return "250 Message accepted for delivery"


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60] or "message"


def _free_port(host: str) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class MailCatcher:
    """Runs an SMTP server on a free local port while the `with` block lasts."""

    def __init__(self, folder: Path, host: str = "127.0.0.1") -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self.host = host
        self.port = _free_port(host)
        self._handler = _SaveToFolder(folder)
        self._controller = Controller(self._handler, hostname=host, port=self.port)

    @property
    def url(self) -> str:
        return f"smtp://{self.host}:{self.port}"

    @property
    def received(self) -> int:
        return self._handler.count

    def __enter__(self) -> MailCatcher:
        self._controller.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._controller.stop()
