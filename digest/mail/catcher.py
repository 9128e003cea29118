"""A local SMTP catcher for the demo: keeps every message as .eml (and .html) in a folder."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any, Self

from aiosmtpd.controller import Controller

from digest.mail.closing import Closes
from digest.mail.folder import MailFolder


class _SaveToFolder:
    def __init__(self, folder: Path) -> None:
        self.mail = MailFolder(folder)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.mail.keep(envelope.original_content)
        return "250 Message accepted for delivery"


def _free_port(host: str) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class MailCatcher(Closes):
    """Runs an SMTP server on a free local port while the `with` block lasts."""

    def __init__(self, folder: Path, host: str = "127.0.0.1") -> None:
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
        return self._handler.mail.count

    def __enter__(self) -> Self:
        self._controller.start()
        return self

    def close(self) -> None:
        self._controller.stop()
