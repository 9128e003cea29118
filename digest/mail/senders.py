"""Senders: what the pipeline hands finished messages to, chosen by DIGEST_MAIL_URL's scheme.

`smtp://` and `smtps://` send over SMTP; `file:///path/to/folder` keeps each message as a
.eml file there (and its HTML part as .html); `console:` prints each message to stdout.
The last two are for trying digest out and for development: nothing leaves the machine.
"""

from __future__ import annotations

import sys
from email.message import EmailMessage
from email.policy import EmailPolicy
from pathlib import Path
from types import TracebackType
from typing import Protocol, Self, TextIO
from urllib.parse import unquote, urlsplit

from digest.addresses import is_plain_address, unsendable_reason
from digest.errors import ConfigError, Unsendable
from digest.mail.closing import Closes
from digest.mail.envelope import Envelope
from digest.mail.folder import MailFolder
from digest.mail.smtp import SmtpConfig, SmtpSender
from digest.settings import sender_url_problem


class Sender(Protocol):
    """Takes finished messages, or their serialised bytes (CRLF line endings, as sent over
    SMTP); raises the errors of digest.mail.smtp when one fails."""

    def send(self, message: EmailMessage | bytes, envelope: Envelope) -> None: ...

    def close(self) -> None: ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


class FolderSender(Closes):
    """Keeps every message in a folder instead of sending it."""

    def __init__(self, folder: Path) -> None:
        self.mail = MailFolder(folder)

    def send(self, message: EmailMessage | bytes, envelope: Envelope) -> None:
        # As a delivering server would, record the envelope sender in Return-Path; a
        # non-ASCII address travels with SMTPUTF8, whose headers are raw UTF-8.
        return_path = f"Return-Path: {_return_path(envelope)}\r\n".encode()
        if isinstance(message, bytes):
            self.mail.keep(return_path + message)
            return
        wire = message.policy
        if not envelope.rcpt_to.isascii() and isinstance(wire, EmailPolicy):
            wire = wire.clone(utf8=True)
        self.mail.keep(return_path + message.as_bytes(policy=wire))


class ConsoleSender(Closes):
    """Prints every message, headers and all, to a stream (stdout by default)."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stdout

    def send(self, message: EmailMessage | bytes, envelope: Envelope) -> None:
        self.stream.write(f"Return-Path: {_return_path(envelope)}\n")
        if isinstance(message, bytes):
            self.stream.write(message.decode("utf-8", "replace").replace("\r\n", "\n"))
        else:
            self.stream.write(message.as_string())
        self.stream.write("\n")
        self.stream.flush()


def _return_path(envelope: Envelope) -> str:
    """The Return-Path value a delivering server would add: an address that reads the same
    in a header, so it cannot end the line."""
    address = envelope.mail_from
    problem = None if is_plain_address(address) else unsendable_reason(address)
    if problem is not None:
        raise Unsendable(f"the return path cannot be written: {problem}")
    return f"<{address}>"


def open_sender(url: str) -> Sender:
    """The sender DIGEST_MAIL_URL names (digest.settings.SENDER_SCHEMES lists them);
    ConfigError for a URL none of them can use."""
    problem = sender_url_problem(url)
    if problem is not None:
        raise ConfigError(f"DIGEST_MAIL_URL {problem}")
    parts = urlsplit(url)
    if parts.scheme == "file":
        return FolderSender(Path(unquote(parts.path)))
    if parts.scheme == "console":
        return ConsoleSender()
    return SmtpSender(SmtpConfig.from_url(url))
