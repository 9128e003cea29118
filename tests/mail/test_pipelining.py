"""Serialised messages over SMTP: MAIL, RCPT and DATA pipelined (RFC 2920), the bytes
arriving unchanged, refusals mapped as for an EmailMessage, and the connection reused."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from aiosmtpd.controller import Controller

from digest.errors import PermanentRejection, TemporaryFailure, Unsendable
from digest.mail.envelope import Envelope, envelope_for
from digest.mail.smtp import SmtpConfig, SmtpSender
from digest.settings import Settings
from tests.conftest import ScriptedSmtp, SmtpSink, free_port

MESSAGE = (
    b"From: Papers <digest@example.org>\r\nTo: reader@example.org\r\nSubject: hi\r\n\r\n"
    b".a line that starts with a dot\r\n.\r\n..two\r\nlast line\r\n"
)


class RawSink(ScriptedSmtp):
    """Keeps the bytes of each accepted message; refuses `gone*` and `busy*` recipients."""

    def __init__(self) -> None:
        super().__init__()
        self.contents: list[bytes] = []
        self.pipelined = False

    def refusal(self, address: str) -> str | None:
        if address.startswith("gone"):
            return "550 5.1.1 no such user"
        if address.startswith("busy"):
            return "451 4.3.0 try again later"
        return None

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        self.contents.append(envelope.original_content)  # type: ignore[attr-defined]
        return await super().handle_DATA(server, session, envelope)


@pytest.fixture
def raw_sink() -> Iterator[tuple[RawSink, str]]:
    handler, port = RawSink(), free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    yield handler, f"smtp://127.0.0.1:{port}"
    controller.stop()


def test_bytes_arrive_unchanged_dot_lines_included(raw_sink: tuple[RawSink, str]) -> None:
    handler, url = raw_sink
    with SmtpSender(SmtpConfig.from_url(url)) as sender:
        for _ in range(3):  # one connection, reused
            sender.send(MESSAGE, Envelope("bounces@example.org", "reader@example.org"))
    assert handler.contents == [MESSAGE] * 3
    assert handler.accepted == ["reader@example.org"] * 3


def test_refusals_map_as_for_a_message_and_the_connection_goes_on(
    raw_sink: tuple[RawSink, str],
) -> None:
    handler, url = raw_sink
    with SmtpSender(SmtpConfig.from_url(url)) as sender:
        with pytest.raises(PermanentRejection, match="550"):
            sender.send(MESSAGE, Envelope("b@example.org", "gone@example.org"))
        with pytest.raises(TemporaryFailure, match="451"):
            sender.send(MESSAGE, Envelope("b@example.org", "busy@example.org"))
        sender.send(MESSAGE, Envelope("b@example.org", "reader@example.org"))
    assert handler.accepted == ["reader@example.org"]
    assert handler.contents == [MESSAGE]


def test_a_dropped_connection_is_reopened_once(smtp_sink: SmtpSink) -> None:
    with SmtpSender(SmtpConfig.from_url(smtp_sink.url)) as sender:
        sender.send(MESSAGE, Envelope("b@example.org", "reader@example.org"))
        assert sender._smtp is not None
        sender._smtp.sock.close()  # type: ignore[union-attr]  # as a server hanging up would
        sender.send(MESSAGE, Envelope("b@example.org", "reader@example.org"))
    assert len(smtp_sink.received) == 2


def test_the_to_header_of_bytes_must_show_the_stored_address(settings: Settings) -> None:
    assert envelope_for(settings.email, MESSAGE, subscriber_id=1, address="reader@example.org")
    with pytest.raises(Unsendable, match="To header"):
        envelope_for(settings.email, MESSAGE, subscriber_id=1, address="other@example.org")
    twice = MESSAGE.replace(b"Subject:", b"To: other@example.org\r\nSubject:")
    with pytest.raises(Unsendable, match="To header"):
        envelope_for(settings.email, twice, subscriber_id=1, address="reader@example.org")
    folded = MESSAGE.replace(b"To: reader", b"To:\r\n reader")
    assert envelope_for(settings.email, folded, subscriber_id=1, address="reader@example.org")
    # A mail library would read this as the stored address, but it is not written as it.
    encoded = MESSAGE.replace(b"To: reader", b"To: =?utf-8?q?reader?=")
    with pytest.raises(Unsendable, match="To header"):
        envelope_for(settings.email, encoded, subscriber_id=1, address="reader@example.org")
