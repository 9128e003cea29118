"""Reading a report costs CPU linear in a bounded input: any message, under 0.1 s.

Hostile reports are built from a floor plan (where the flood goes), a repeated unit (what
the flood is made of) and a size up to a few MiB, so every super-linear path of the parser
that an attacker can reach gets tried: continuation-line floods in status and feedback
parts, huge To: headers in the report and in its attached original, many parts, deep
nesting, long lines without a newline, thousands of Final-Recipient fields and blocks.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from digest.mail.bounces import EventKind, ParsedReport, UnreadableReport, parse_report
from tests.mail.reports import arf, bare_dsn

# CPU seconds any one message may take (docs/delivery.md); the worst measured is ~0.04 s.
CPU_BUDGET = 0.1
MIB = 1024 * 1024
VICTIM = "victim@example.com"


def cpu_seconds(raw: bytes) -> float:
    """The least CPU time of three parses (a shared machine only ever adds to it)."""
    timings = []
    for _ in range(3):
        started = time.process_time()
        with contextlib.suppress(UnreadableReport):
            parse_report(raw)
        timings.append(time.process_time() - started)
    return min(timings)


def multipart_report(part_type: str, part_body: bytes, tail: bytes = b"") -> bytes:
    """A multipart/report whose second part is `part_type` holding `part_body`."""
    return (
        b"From: MAILER-DAEMON@mx.example\r\nTo: bounces@example.org\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n\r\n'
        b"--B\r\nContent-Type: text/plain\r\n\r\nUndeliverable.\r\n"
        b"--B\r\nContent-Type: " + part_type.encode() + b"\r\n\r\n" + part_body + b"\r\n"
        b"--B\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        b"From: digest@example.org\r\nTo: " + VICTIM.encode() + b"\r\n"
        b"Message-ID: <digest.1@example.org>\r\n" + tail + b"\r\n--B--\r\n"
    )


STATUS_FIELDS = (
    b"Reporting-MTA: dns; mx.example\r\n\r\n"
    b"Final-Recipient: rfc822; " + VICTIM.encode() + b"\r\nAction: failed\r\nStatus: 5.1.1\r\n"
)
FEEDBACK_FIELDS = (
    b"Feedback-Type: abuse\r\nVersion: 1\r\nOriginal-Rcpt-To: <" + VICTIM.encode() + b">\r\n"
)


def in_status_part(part_type: str) -> Callable[[bytes], bytes]:
    fields = FEEDBACK_FIELDS if part_type == "message/feedback-report" else STATUS_FIELDS
    return lambda flood: multipart_report(part_type, fields + b"X-Flood: a\r\n" + flood)


def nested(flood: bytes, depth: int) -> bytes:
    opening = b"".join(
        b'Content-Type: multipart/mixed; boundary="n%d"\r\n\r\n--n%d\r\n' % (i, i)
        for i in range(depth)
    )
    return b"From: x@example.net\r\nMIME-Version: 1.0\r\n" + opening + STATUS_FIELDS + flood


TEXT_BOUNCE_HEAD = (
    b"From: MAILER-DAEMON@mx.example\r\nTo: bounces@example.org\r\nSubject: failure notice\r\n\r\n"
)


def text_bounce(start: bytes) -> Callable[[bytes], bytes]:
    """A plain-text bounce whose notice begins with `start`, the flood after it."""
    return lambda flood: TEXT_BOUNCE_HEAD + start + b"\r\n" + flood


def notice_part(
    headers: bytes, start: bytes, tail: bytes = b"", part_headers: bytes = b""
) -> Callable[[bytes], bytes]:
    """A multipart bounce whose first part is a notice beginning with `start`."""
    return lambda flood: (
        b"From: postmaster@mx.example\r\n" + headers + b"MIME-Version: 1.0\r\n"
        b'Content-Type: multipart/mixed; boundary="N"\r\n\r\n'
        b"--N\r\nContent-Type: text/plain\r\n"
        + part_headers
        + b"\r\n"
        + start
        + b"\r\n"
        + flood
        + b"\r\n"
        + tail
        + b"--N--\r\n"
    )


# Floods where a detector of flufl.bounce reads them, after the line that starts it.
TEXT_BOUNCE_PLACES: dict[str, Callable[[bytes], bytes]] = {
    "in a qmail bounce's recipient paragraph": text_bounce(
        b"Hi. This is the qmail-send program at mx.example.\r\n\r\n<" + VICTIM.encode() + b">:"
    ),
    "after an Exchange notice's start line": text_bounce(
        b"did not reach the following recipient(s):"
    ),
    "after a sendmail notice's list of addresses": text_bounce(
        b"----- The following addresses had permanent fatal errors -----"
    ),
    "after Yahoo's notice start": lambda flood: text_bounce(
        b"Message from yahoo.com.\r\nUnable to deliver message to the following address(es)."
    )(flood).replace(b"MAILER-DAEMON@mx.example", b"MAILER-DAEMON@yahoo.com"),
    "in a GroupWise notice": notice_part(b"X-Mailer: Novell GroupWise\r\n", b"undeliverable:"),
    "in a Netscape notice before a status without recipients": notice_part(
        b"",
        b"This Message was undeliverable due to the following reason:",
        b"--N\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; x\r\n",
    ),
    # Decoding makes lines: each "=0A" is one.
    "in a quoted-printable notice": notice_part(
        b"",
        b"Hi. This is the qmail-send program at mx.example.=0A=0A<" + VICTIM.encode() + b">:",
        part_headers=b"Content-Transfer-Encoding: quoted-printable\r\n",
    ),
    "in Exim's X-Failed-Recipients": lambda flood: (
        b"X-Failed-Recipients: " + flood + b"\r\n" + text_bounce(b"failed:")(b"")
    ),
}

# Where the flood goes: each builds a whole message around it.
PLACES: dict[str, Callable[[bytes], bytes]] = {
    **TEXT_BOUNCE_PLACES,
    **{
        f"inside a {kind} part": in_status_part(kind)
        for kind in (
            "message/delivery-status",
            "message/global-delivery-status",
            "text/delivery-status",
            "message/feedback-report",
        )
    },
    "in the To: of the attached original": lambda flood: multipart_report(
        "message/delivery-status", STATUS_FIELDS, b"To: " + flood + b"\r\n"
    ),
    "in the report's own To:": lambda flood: b"To: " + flood + b"\r\n" + bare_dsn(VICTIM),
    "in the abuse report's original headers": lambda flood: arf(
        original_to=VICTIM + ", " + flood.decode("latin-1")
    ),
    "after the report": lambda flood: bare_dsn(VICTIM) + flood,
    "under 18 multipart levels": lambda flood: nested(flood, 18),
    "under 40 multipart levels": lambda flood: nested(flood, 40),
    "under 99 multipart levels": lambda flood: nested(flood, 99),
    "under 99 attached messages": lambda flood: (
        b"From: x@example.net\r\n" + b"Content-Type: message/rfc822\r\n\r\n" * 99 + flood
    ),
    "as the header block": lambda flood: flood + b"\r\n" + bare_dsn(VICTIM),
}
# What the flood is made of, repeated to the size drawn.
UNITS = (
    b" x\r\n",  # continuation lines
    b"\t" + b"y" * 70 + b"\r\n",
    b"\r\n",  # blank lines: in a status part, each is a block
    b"\n",
    b"\r",
    b"z",  # one long line without a newline
    b" ",
    b"Final-Recipient: rfc822; someone@example.net\r\n",
    b"\r\nFinal-Recipient: rfc822; someone@example.net\r\nAction: failed\r\nStatus: 5.1.1\r\n",
    b"Original-Rcpt-To: <a@example.net>, <b@example.net>\r\n",
    b"Original-Rcpt-To: <someone@example.net>\r\n",
    b"someone@example.net, ",  # a huge To:
    b"@",  # the costliest character for getaddresses
    b"<",
    b'"(',
    b"To: a@example.net\r\n",
    b"Delivered-To: bounces+s1.0123@example.org\r\n",
    b"X-Header: value\r\n",
    b"--B\r\nContent-Type: text/plain\r\n\r\npart\r\n",  # many parts
    b"--n17\r\n",
    b"Content-Type: message/delivery-status\r\n\r\n",
    b"=\r\n",
    b"\xff\xfe\x00",  # not ASCII: headers with undecodable bytes
    # For the detectors' patterns, some of which cost the square of a line's length:
    b"a" * 150 + b"@" + b"b" * 149 + b"\r\n",  # an address without " on " after it
    b"x" * 298 + b"\r\n",  # no "<" for ".*<(addr)>"
    b"," + b"a@b" * 99 + b"\r\n",  # no closing comma for ",addr,"
    b"<someone@example.net>:\r\n",  # a recipient line, again and again
    b"    someone@example.net\r\n",
    b"a@",
    b"=0A" * 25 + b"=\r\n",  # quoted-printable line breaks
    b"a@b.example=0A" * 5 + b"=\r\n",
)


@pytest.mark.parametrize(
    "part_type", ["message/delivery-status", "message/feedback-report", "text/delivery-status"]
)
def test_a_megabyte_of_continuation_lines_in_a_report_part_costs_little(part_type: str) -> None:
    raw = in_status_part(part_type)(b" x\r\n" * (MIB // 4))

    cpu = cpu_seconds(raw)

    assert cpu < CPU_BUDGET, f"{cpu:.3f} s of CPU"
    # The fields before the flood are still read.
    report = parse_report(raw)
    assert [event.email for event in report.events] == [VICTIM]


def test_a_megabyte_to_header_in_the_attached_original_costs_little() -> None:
    raw = arf(original_to=VICTIM + ", " + "someone@example.net, " * (1_000_000 // 21))

    cpu = cpu_seconds(raw)

    assert cpu < CPU_BUDGET, f"{cpu:.3f} s of CPU"
    report = parse_report(raw)
    assert report.events[0].kind is EventKind.COMPLAINT
    assert report.events[0].email == VICTIM


@pytest.mark.parametrize("place", sorted(TEXT_BOUNCE_PLACES))
# An address without " on " after it, a line without "<", and one line of a megabyte: alone,
# the detectors take 1.2 s, 0.3 s and (quadratic in that line) about 25 minutes.
@pytest.mark.parametrize(
    "unit", [b"a" * 150 + b"@" + b"b" * 149 + b"\r\n", b"x" * 298 + b"\r\n", b"a"]
)
def test_a_megabyte_of_costly_lines_for_the_bounce_detectors_costs_little(
    place: str, unit: bytes
) -> None:
    raw = TEXT_BOUNCE_PLACES[place](unit * (MIB // len(unit)))

    cpu = cpu_seconds(raw)

    assert cpu < CPU_BUDGET, f"{place}: {cpu:.3f} s of CPU"


def test_a_megabyte_of_recipients_in_a_text_bounce_costs_little() -> None:
    raw = TEXT_BOUNCE_PLACES["after a sendmail notice's list of addresses"](
        b"".join(b"<user%d@example.com>\r\n" % i for i in range(50_000))
    )

    cpu = cpu_seconds(raw)

    assert cpu < CPU_BUDGET, f"{cpu:.3f} s of CPU"
    with pytest.raises(UnreadableReport, match="more than 50 addresses"):
        parse_report(raw)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    place=st.sampled_from(sorted(PLACES)),
    unit=st.sampled_from(UNITS),
    size=st.integers(min_value=1, max_value=3 * MIB),
)
def test_no_report_costs_more_than_the_budget(place: str, unit: bytes, size: int) -> None:
    raw = PLACES[place](unit * max(1, size // len(unit)))

    cpu = cpu_seconds(raw)

    assert cpu < CPU_BUDGET, f"{place}, {len(raw)} bytes of {unit!r}: {cpu:.3f} s of CPU"
    try:
        report = parse_report(raw)
    except UnreadableReport:
        return
    assert isinstance(report, ParsedReport)
    assert len(report.events) <= 50
