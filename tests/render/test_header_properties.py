"""Text in a header is text, on every interpreter: whatever a title, a name or a list name
holds (encoded words of any charset and encoding, CR, LF, NUL, very long words), the headers
we write are exactly the ones we set and each reads back as the text given.

Run by .ci/other-pythons on other interpreters too (the email package's decoding changes
between patch releases), so this module needs only the project, pytest and Hypothesis.
"""

from __future__ import annotations

import base64
import email
import re
from email import policy
from email.header import decode_header, make_header
from email.message import EmailMessage

import pytest
from hypothesis import example, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from digest.render.headers import (
    UnsafeHeader,
    header_value,
    list_id,
    mailbox,
    text_value,
)
from digest.render.message import clean_subject
from digest.render.mime import RAW_POLICY, assemble, serialise

ISSUE_TITLE = (
    "=?utf-8?q?Hi=0D=0AReply-To=3A_a=40evil.example=0D=0AX-Injected=3A_yes?= on sparse attention"
)
# What text_value refuses (documented in docs/email.md#headers): every other string is kept.
REFUSED = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")
CHARSETS = ["utf-8", "UTF-8", "iso-8859-1", "latin-1", "utf-7", "us-ascii", "koi8-r",
            "shift_jis", "utf-16", "unknown-8bit", "x-no-such-charset", "utf-8*en", ""]  # fmt: skip
ENCODINGS = ["q", "Q", "b", "B", "x", ""]
NASTY = ["Hi\r\nReply-To: a@evil.example\r\nX-Injected: yes", "\r\n\r\nTo: x@y.org", "\x00",
         "\n", "\r", "Bcc: v@example.org", "=?utf-8?q?x?=", "é注意", "a" * 80]  # fmt: skip


def _encode(payload: str, charset: str, encoding: str) -> str:
    try:
        data = payload.encode(charset or "utf-8")
    except (LookupError, UnicodeError):
        data = payload.encode("utf-8", "surrogatepass")
    if encoding in ("b", "B"):
        body = base64.b64encode(data).decode("ascii")
    elif encoding in ("q", "Q"):
        body = "".join(chr(b) if chr(b).isalnum() else f"={b:02X}" for b in data)
    else:
        body = payload
    return f"=?{charset}?{encoding}?{body}?="


encoded_words = st.builds(
    _encode,
    st.one_of(st.sampled_from(NASTY), st.text(max_size=30)),
    st.sampled_from(CHARSETS),
    st.sampled_from(ENCODINGS),
)
SHARDS = ["\r", "\n", "\r\n", "\r\n\r\n", "\x00", "\t", " ", "  ", "\u2028", "\ud800", "=?",
          "?=", "?", "=", "_", "Reply-To:", "<a@b.org>", '"', "\\", "(x)", ","]  # fmt: skip
pieces = st.one_of(
    encoded_words,
    st.sampled_from(SHARDS),
    st.text(max_size=20),
    st.text(alphabet="ab =?_", max_size=12),
    st.text(alphabet="abcdefghij", min_size=60, max_size=400),  # very long words
)
hostile = st.lists(pieces, max_size=8).map("".join)
# The same without what is refused, so the round trip is tested as often as the refusal.
allowed = hostile.map(lambda text: REFUSED.sub("", text))
texts = st.one_of(hostile, allowed)


def _wire(headers: list[tuple[str, str]]) -> bytes:
    """The message through both writers, which must agree byte for byte."""
    data = serialise(headers, "body\n", "<p>body</p>\n", "=_b")
    assert assemble(headers, "body\n", "<p>body</p>\n", "=_b").as_bytes() == data
    return data


def _parsed(data: bytes) -> EmailMessage:
    message = email.message_from_bytes(data, policy=policy.strict)  # any defect raises
    assert isinstance(message, EmailMessage)
    return message


def _raw_values(data: bytes) -> dict[str, str]:
    """Each header of the head as written, unfolded (RFC 5322 2.2.3: CRLF removed)."""
    head = data.partition(b"\r\n\r\n")[0].decode("utf-8").replace("\r\n ", " ")
    return dict(line.split(": ", 1) for line in head.split("\r\n"))


def _check_lines(data: bytes) -> None:
    head = data.partition(b"\r\n\r\n")[0]
    assert b"\n" not in head.replace(b"\r\n", b"") and b"\r" not in head.replace(b"\r\n", b"")
    assert b"\x00" not in head
    assert all(len(line) <= 998 for line in data.split(b"\r\n"))


@hypothesis_settings(max_examples=500, deadline=None)
@given(texts)
@example(ISSUE_TITLE)
@example("Trending Papers, Wed 25 Nov: " + ISSUE_TITLE)
@example("a  b ")
@example("x" * 2000)
def test_a_subject_is_one_header_that_reads_back_as_exactly_the_text(text: str) -> None:
    if REFUSED.search(text):
        with pytest.raises(UnsafeHeader, match="control characters"):
            text_value("Subject", text)
        return
    subject = text_value("Subject", text)
    data = _wire([("To", "reader@example.org"), ("Subject", subject)])

    message = _parsed(data)
    assert list(message.keys()) == ["To", "Subject", "MIME-Version", "Content-Type"]
    assert str(message["Subject"]) == text
    assert str(message["To"]) == "reader@example.org"
    # The lenient decoder of older mail code, which finds encoded words anywhere, agrees.
    assert str(make_header(decode_header(_raw_values(data)["Subject"]))) == text
    _check_lines(data)
    assert all(len(line) <= 78 for line in f"Subject: {subject}".split("\r\n"))


@hypothesis_settings(max_examples=300, deadline=None)
@given(texts, texts)
@example("Trending Papers", "Trending Papers")
@example(ISSUE_TITLE, ISSUE_TITLE)
def test_display_and_list_names_are_text_and_the_addresses_stay_exact(
    display: str, description: str
) -> None:
    if REFUSED.search(display) or REFUSED.search(description):
        with pytest.raises(UnsafeHeader):
            mailbox("From", "digest@example.org", display)
            list_id(description, "digest.example.org")
        return
    headers = [
        ("From", mailbox("From", "digest@example.org", display)),
        ("To", mailbox("To", "o'neil+digest@example.com")),
        ("List-Id", list_id(description, "digest.example.org")),
    ]
    data = _wire(headers)

    message = _parsed(data)
    assert list(message.keys()) == ["From", "To", "List-Id", "MIME-Version", "Content-Type"]
    [sender] = message["From"].addresses
    assert sender.addr_spec == "digest@example.org"
    raw_from = _raw_values(data)["From"]
    phrase = raw_from.removesuffix(" <digest@example.org>") if display else ""
    assert str(make_header(decode_header(phrase))) == display
    # Python's reader joins a phrase's words with one space, whatever separated them.
    assert sender.display_name.split() == display.split() or (
        "".join(sender.display_name.split()) == "".join(display.split())
    )
    assert [a.addr_spec for a in message["To"].addresses] == ["o'neil+digest@example.com"]
    shown = str(make_header(decode_header(_raw_values(data)["List-Id"])))
    assert shown == (
        f"{description} <digest.example.org>" if description else "<digest.example.org>"
    )
    _check_lines(data)


HEADER_NAMES = ["Subject", "From", "To", "List-Id", "List-Unsubscribe", "Message-ID", "X-Note"]


@hypothesis_settings(max_examples=400, deadline=None)
@given(st.sampled_from(HEADER_NAMES), texts)
def test_any_value_is_refused_or_written_as_exactly_one_header(name: str, value: str) -> None:
    try:
        folded = header_value(name, value)
    except UnsafeHeader:
        return
    if folded.isascii():
        data = _wire([(name, folded)])
    else:  # an SMTPUTF8 address: only the SMTP client's UTF-8 serialisation can carry it
        message = assemble([(name, folded)], "body\n", "<p>body</p>\n", "=_b")
        data = message.as_bytes(policy=RAW_POLICY.clone(utf8=True))
    assert [key.lower() for key in _parsed(data)] == [
        name.lower(),
        "mime-version",
        "content-type",
    ]
    _check_lines(data)


@pytest.mark.parametrize(
    "name",
    ["Subject\r\nBcc", "Subject:", "", "Sub ject", "Subjéct"],
)
def test_a_header_name_that_is_not_one_is_refused(name: str) -> None:
    with pytest.raises(UnsafeHeader, match="not a header name"):
        _wire([(name, "x")])


NOT_ONE_HEADER = ["x\r\nBcc: v@example.org", "x\nBcc: v@example.org", "x\r\n\r\nbody", "x\r\n",
                  "x\x00", "x\r\n \r\n y", "é", "x" * 1000]  # fmt: skip


@pytest.mark.parametrize("value", NOT_ONE_HEADER)
def test_the_writers_refuse_a_value_that_would_not_be_one_header(value: str) -> None:
    with pytest.raises(UnsafeHeader):
        serialise([("Subject", value)], "b\n", "<p>b</p>\n", "=_b")
    with pytest.raises(UnsafeHeader):
        assemble([("Subject", value)], "b\n", "<p>b</p>\n", "=_b")


@hypothesis_settings(max_examples=300, deadline=None)
@given(hostile)
@example("Title\ud800 with\u2028separators\x85and\ttabs\r\n\x00")
def test_a_title_never_stops_a_digest_its_subject_is_the_cleaned_title(title: str) -> None:
    subject = clean_subject(title)
    data = _wire([("Subject", text_value("Subject", subject))])
    assert str(_parsed(data)["Subject"]) == subject
    assert not REFUSED.search(subject)
