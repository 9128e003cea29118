"""SMTP from DIGEST_SMTP_URL: one connection reused for a batch, reopened if it drops."""

from __future__ import annotations

import contextlib
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from urllib.parse import parse_qs, unquote, urlsplit

from digest.errors import (
    ConfigError,
    PermanentRejection,
    TemporaryFailure,
    Unreachable,
    Unsendable,
)
from digest.mail.closing import Closes
from digest.mail.envelope import Envelope

TRUE_WORDS = {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    use_ssl: bool
    starttls: bool
    username: str | None
    password: str | None
    timeout: float = 30.0

    @classmethod
    def from_url(cls, url: str, timeout: float = 30.0) -> SmtpConfig:
        """Parse `smtp://[user:pass@]host:port[?starttls=1]` or `smtps://…`."""
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ConfigError(
                f"DIGEST_SMTP_URL must be smtp://host:port or smtps://host:port: {url!r}"
            )
        try:
            port = parts.port or (465 if parts.scheme == "smtps" else 25)
        except ValueError:
            raise ConfigError(f"DIGEST_SMTP_URL has an invalid port: {url!r}") from None
        query = parse_qs(parts.query)
        starttls = query.get("starttls", ["0"])[0].lower() in TRUE_WORDS
        return cls(
            host=parts.hostname,
            port=port,
            use_ssl=parts.scheme == "smtps",
            starttls=starttls,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            timeout=timeout,
        )


class SmtpSender(Closes):
    """A reusable SMTP connection; use as a context manager around a batch of sends."""

    def __init__(self, config: SmtpConfig) -> None:
        self.config = config
        self._smtp: smtplib.SMTP | None = None

    def _connect(self) -> smtplib.SMTP:
        config = self.config
        try:
            smtp: smtplib.SMTP
            if config.use_ssl:
                smtp = smtplib.SMTP_SSL(
                    config.host,
                    config.port,
                    timeout=config.timeout,
                    context=ssl.create_default_context(),
                )
            else:
                smtp = smtplib.SMTP(config.host, config.port, timeout=config.timeout)
                if config.starttls:
                    smtp.starttls(context=ssl.create_default_context())
            if config.username and config.password:
                smtp.login(config.username, config.password)
        except smtplib.SMTPAuthenticationError as exc:
            raise ConfigError(f"SMTP login refused by {config.host}: {exc.smtp_code}") from None
        except (OSError, smtplib.SMTPException) as exc:
            raise Unreachable(
                f"cannot reach the SMTP server {config.host}:{config.port}: {exc}"
            ) from None
        return smtp

    def send(self, message: EmailMessage, envelope: Envelope) -> None:
        """Send one message to the envelope's one recipient; reconnect once if the reused
        connection has dropped."""
        for attempt in (1, 2):
            if self._smtp is None:
                self._smtp = self._connect()
            try:
                self._smtp.send_message(
                    message, from_addr=envelope.mail_from, to_addrs=[envelope.rcpt_to]
                )
                return
            except smtplib.SMTPServerDisconnected:
                self._smtp = None
                if attempt == 2:
                    raise TemporaryFailure("the SMTP server closed the connection") from None
            except smtplib.SMTPRecipientsRefused as exc:
                code, reply = next(iter(exc.recipients.values()))
                self._raise_for_code(code, reply)
            except smtplib.SMTPResponseException as exc:
                self._raise_for_code(exc.smtp_code, exc.smtp_error)
            except smtplib.SMTPNotSupportedError as exc:
                raise Unsendable(f"the SMTP server cannot take this message: {exc}") from None
            except OSError as exc:
                self.close()
                raise TemporaryFailure(f"SMTP connection failed: {exc}") from None
            except Exception:
                # Whatever went wrong mid-transaction, the next message starts on a fresh
                # connection rather than in a half-finished one.
                self.close()
                raise

    @staticmethod
    def _raise_for_code(code: int, reply: bytes | str) -> None:
        text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply
        if 500 <= code < 600:
            raise PermanentRejection(f"{code} {text}")
        raise TemporaryFailure(f"{code} {text}")

    def close(self) -> None:
        if self._smtp is not None:
            with contextlib.suppress(OSError, smtplib.SMTPException):
                self._smtp.quit()
            self._smtp = None
