"""SMTP from DIGEST_MAIL_URL: one connection reused for a batch, reopened if it drops."""

from __future__ import annotations

import contextlib
import enum
import re
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from urllib.parse import parse_qs, unquote, urlsplit

from digest.addresses import is_plain_address
from digest.errors import (
    ConfigError,
    MessageRefused,
    PermanentRejection,
    RelayRefused,
    SendError,
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
                f"DIGEST_MAIL_URL must be smtp://host:port or smtps://host:port: {url!r}"
            )
        try:
            port = parts.port or (465 if parts.scheme == "smtps" else 25)
        except ValueError:
            raise ConfigError(f"DIGEST_MAIL_URL has an invalid port: {url!r}") from None
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

    def send(self, message: EmailMessage | bytes, envelope: Envelope) -> None:
        """Send one message (or its serialised bytes) to the envelope's one recipient;
        reconnect once if the reused connection has dropped."""
        for attempt in (1, 2):
            if self._smtp is None:
                self._smtp = self._connect()
            try:
                if isinstance(message, bytes):
                    self._send_bytes(self._smtp, message, envelope)
                else:
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
                raise refusal(code, reply, Stage.RCPT) from None
            except smtplib.SMTPSenderRefused as exc:
                raise refusal(exc.smtp_code, exc.smtp_error, Stage.MAIL) from None
            except smtplib.SMTPDataError as exc:
                raise refusal(exc.smtp_code, exc.smtp_error, Stage.DATA) from None
            except smtplib.SMTPResponseException as exc:
                raise refusal(exc.smtp_code, exc.smtp_error, Stage.SESSION) from None
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
    def _send_bytes(smtp: smtplib.SMTP, data: bytes, envelope: Envelope) -> None:
        """MAIL, RCPT and DATA in one round trip (RFC 2920), then the message in another.

        `data` is the whole message with CRLF line endings, as `sendmail` would be given it.
        """
        smtp.ehlo_or_helo_if_needed()
        international = not (envelope.mail_from + envelope.rcpt_to).isascii()
        if international or not smtp.has_extn("pipelining"):
            options = ["SMTPUTF8", "BODY=8BITMIME"] if international else []
            if international and not smtp.has_extn("smtputf8"):
                raise smtplib.SMTPNotSupportedError(
                    "the address needs SMTPUTF8, which the server does not advertise"
                )
            smtp.sendmail(envelope.mail_from, [envelope.rcpt_to], data, mail_options=options)
            return
        smtp.send(
            f"MAIL FROM:{_quoted(envelope.mail_from)}\r\n"
            f"RCPT TO:{_quoted(envelope.rcpt_to)}\r\nDATA\r\n"
        )
        # Every reply is read before acting on one, so the connection stays in step.
        mail, rcpt, start = smtp.getreply(), smtp.getreply(), smtp.getreply()
        if start[0] == 354 and (mail[0] != 250 or rcpt[0] not in (250, 251)):
            # A server that opened DATA regardless: end the empty message at once.
            smtp.send(b".\r\n")
            smtp.getreply()
        if mail[0] != 250:
            _reset(smtp, mail[0])
            raise smtplib.SMTPSenderRefused(mail[0], mail[1], envelope.mail_from)
        if rcpt[0] not in (250, 251):
            _reset(smtp, rcpt[0])
            raise smtplib.SMTPRecipientsRefused({envelope.rcpt_to: rcpt})
        if start[0] != 354:
            _reset(smtp, start[0])
            raise smtplib.SMTPDataError(start[0], start[1])
        body = dot_stuffed(data)
        if not body.endswith(b"\r\n"):
            body += b"\r\n"
        smtp.send(body + b".\r\n")
        code, reply = smtp.getreply()
        if code != 250:
            _reset(smtp, code)
            raise smtplib.SMTPDataError(code, reply)

    def close(self) -> None:
        if self._smtp is not None:
            with contextlib.suppress(OSError, smtplib.SMTPException):
                self._smtp.quit()
            self._smtp = None


class Stage(enum.Enum):
    """Where in the SMTP transaction the server answered."""

    SESSION = "session"  # greeting, EHLO, STARTTLS, AUTH
    MAIL = "mail"
    RCPT = "rcpt"
    DATA = "data"


# RFC 3463 enhanced status codes: X.1.x is about the address (no such mailbox, bad domain),
# X.2.1 a mailbox that is disabled; X.2.2 (full), X.7.x (policy, spam, blocked sender) and
# the rest are not the recipient's fault.
ENHANCED_STATUS = re.compile(r"\s*([245])\.(\d{1,3})\.(\d{1,3})(?!\S)")


def refusal(code: int, reply: bytes | str, stage: Stage) -> SendError:
    """What a refusal means: a bounce only for a permanent refusal of the recipient's address
    (at RCPT, or at DATA with an address status), never for a refusal of our sender, of the
    session or of the message itself, which no subscriber is to blame for."""
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply
    message = f"{code} {text}"
    if not 500 <= code < 600:
        return TemporaryFailure(message)
    if stage in (Stage.SESSION, Stage.MAIL):
        return RelayRefused(f"the SMTP server refused to take mail from us: {message}")
    status = ENHANCED_STATUS.match(text)
    about_address = status is not None and (
        status[2] == "1" or (status[2] == "2" and status[3] == "1")
    )
    if about_address or (stage is Stage.RCPT and status is None):
        return PermanentRejection(message)
    return MessageRefused(f"the SMTP server refused this message: {message}")


def dot_stuffed(data: bytes) -> bytes:
    """`data` with a dot doubled at the start of each line (RFC 5321 4.5.2)."""
    stuffed = data.replace(b"\n.", b"\n..")
    return b"." + stuffed if stuffed[:1] == b"." else stuffed


def _quoted(address: str) -> str:
    # An address that reads back unchanged needs only the brackets (smtplib parses it).
    return f"<{address}>" if is_plain_address(address) else smtplib.quoteaddr(address)


def _reset(smtp: smtplib.SMTP, code: int) -> None:
    """After a refusal, as `sendmail` does: 421 means the server is closing the connection."""
    if code == 421:
        smtp.close()
        return
    with contextlib.suppress(smtplib.SMTPServerDisconnected):
        smtp.rset()
