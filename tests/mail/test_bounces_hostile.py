"""No message, however deep, wide, large or broken, costs more than a bounded parse."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from digest.mail.bounces import (
    MAX_DEPTH,
    MAX_REPORT_BYTES,
    InboxMessage,
    MaildirInbox,
    ParsedReport,
    UnreadableReport,
    parse_report,
)
from tests.mail.reports import HOSTILE, make_maildir, multipart_dsn, nested_multipart

# CPU seconds any one message may take to read; the worst measured is well under 0.1 s.
CPU_BUDGET = 1.0


def timed_parse(raw: bytes) -> tuple[ParsedReport | UnreadableReport, float]:
    started = time.process_time()
    try:
        outcome: ParsedReport | UnreadableReport = parse_report(raw)
    except UnreadableReport as exc:
        outcome = exc
    return outcome, time.process_time() - started


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_a_hostile_message_is_refused_quickly(name: str) -> None:
    raw = HOSTILE[name]()

    outcome, cpu = timed_parse(raw)

    assert cpu < CPU_BUDGET, f"{name}: {cpu:.2f} s of CPU"
    if name == "a 40 MB message":
        # Only the first megabyte is read; the report at its start still counts.
        assert isinstance(outcome, ParsedReport)
        assert [event.email for event in outcome.events] == ["victim@example.com"]
    else:
        assert isinstance(outcome, UnreadableReport)


def test_a_report_nested_within_the_limits_is_read() -> None:
    within = parse_report(nested_multipart(MAX_DEPTH - 2))
    assert [event.email for event in within.events] == ["victim@example.com"]
    with pytest.raises(UnreadableReport, match="levels deep"):
        parse_report(nested_multipart(MAX_DEPTH + 2))


def test_the_envelope_recipients_of_a_report_are_read() -> None:
    parsed = parse_report(
        multipart_dsn("who@example.com", delivered_to="bounces+s7.abc@example.org")
    )
    assert parsed.delivered_to == ("bounces+s7.abc@example.org",)


MIME_PIECES = st.sampled_from(
    [
        b"Content-Type: multipart/report; report-type=delivery-status; boundary=b\r\n",
        b'Content-Type: multipart/mixed; boundary="b"\r\n',
        b"Content-Type: message/rfc822\r\n",
        b"Content-Type: message/delivery-status\r\n",
        b"Content-Type: message/global-delivery-status\r\n",
        b"Content-Type: message/feedback-report\r\n",
        b"Content-Type: text/rfc822-headers\r\n",
        b"Content-Transfer-Encoding: base64\r\n",
        b"Content-Transfer-Encoding: quoted-printable\r\n",
        b"Final-Recipient: rfc822; victim@example.com\r\n",
        b"Original-Recipient: rfc822;<\x00@\xff>\r\n",
        b"Original-Rcpt-To: <victim@example.com>, =?utf-8?b?wq==?=\r\n",
        b"Feedback-Type: abuse\r\n",
        b"Action: failed\r\nStatus: 5.1.1\r\n",
        b"Message-ID: <digest.2026-11-25.1.0123456789abcdef@example.org>\r\n",
        b"To: ((((((a@b\r\n",
        b"Delivered-To: bounces+s1.000000000000@example.org\r\n",
        b"--b\r\n",
        b"--b--\r\n",
        b"\r\n",
        b" folded continuation\r\n",
        b"=?utf-8?q?=C3=A9?= \xc3\x28 \xed\xa0\x80\r\n",
    ]
)
HOSTILE_BYTES = st.one_of(
    st.binary(max_size=4096),
    st.lists(st.one_of(MIME_PIECES, st.binary(max_size=64)), max_size=120).map(b"".join),
    st.tuples(MIME_PIECES, st.integers(1, 3000)).map(lambda piece: piece[0] * piece[1]),
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw=HOSTILE_BYTES)
def test_any_bytes_give_a_report_or_unreadable_within_the_budget(raw: bytes) -> None:
    outcome, cpu = timed_parse(raw)

    assert isinstance(outcome, ParsedReport | UnreadableReport)
    assert cpu < CPU_BUDGET
    if isinstance(outcome, ParsedReport):
        for event in outcome.events:
            # Whatever the bytes, what comes out can be logged and stored.
            event.email.encode("utf-8")
            assert event.message_id is None or event.message_id.encode("utf-8")


# --- the Maildir ----------------------------------------------------------------------------


def test_filing_moves_the_file_untouched_and_keeps_its_flags(tmp_path: Path) -> None:
    big = b"Subject: x\r\n\r\n" + b"y" * (MAX_REPORT_BYTES + 10)
    folder = make_maildir(tmp_path / "box", big)
    (folder / "new" / "000999.flagged:2,F").write_bytes(b"Subject: flagged\r\n\r\n")
    (folder / "new" / ".hidden").write_bytes(b"not a message")
    (folder / "new" / "a-folder").mkdir()
    inbox = MaildirInbox(folder)

    messages = list(inbox.new_messages())
    for message in messages:
        inbox.file_as_seen(message)

    first, second = messages
    assert first.truncated and len(first.raw) == MAX_REPORT_BYTES
    assert not second.truncated
    cur = sorted(path.name for path in (folder / "cur").iterdir())
    assert cur == [f"{first.name}:2,S", "000999.flagged:2,FS"]
    # A rename, not a rewrite: the bytes in cur/ are the bytes that arrived.
    assert (folder / "cur" / f"{first.name}:2,S").read_bytes() == big
    assert sorted(path.name for path in (folder / "new").iterdir()) == [".hidden", "a-folder"]


def test_a_message_taken_by_another_import_is_skipped(tmp_path: Path) -> None:
    folder = make_maildir(tmp_path / "box", b"Subject: one\r\n\r\n", b"Subject: two\r\n\r\n")
    inbox = MaildirInbox(folder)
    names = sorted(path.name for path in (folder / "new").iterdir())

    seen: list[InboxMessage] = []
    for message in inbox.new_messages():
        if not seen:
            # Another import files the second message while this one handles the first.
            (folder / "new" / names[1]).rename(folder / "cur" / f"{names[1]}:2,S")
        seen.append(message)
        inbox.file_as_seen(message)
    inbox.file_as_seen(InboxMessage(names[1], b""))  # already gone: nothing happens

    assert [message.name for message in seen] == [names[0]]
    assert sorted(path.name for path in (folder / "cur").iterdir()) == [
        f"{name}:2,S" for name in names
    ]
