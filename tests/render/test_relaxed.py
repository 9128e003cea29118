from __future__ import annotations

import pytest
from dkim import rfc822_parse, select_headers
from dkim.canonicalization import Relaxed
from hypothesis import given
from hypothesis import strategies as st

from digest.render.relaxed import (
    UnparsableMessage,
    relaxed_body,
    relaxed_header,
    select_fields,
    split_message,
)

# Lines made of the characters canonicalisation cares about, and a few it must leave alone.
LINE = st.text(alphabet=st.sampled_from(" \t\tab\r.é"), max_size=12).map(
    lambda text: text.replace("\r", "")
)
LINES = st.lists(LINE, max_size=8)


@pytest.mark.parametrize(
    ("body", "canonical"),
    [
        (b"", b""),
        (b"\r\n", b""),
        (b"\r\n\r\n \t\r\n", b""),
        (b"a  b\t\tc \t\r\n", b"a b c\r\n"),
        (b"a\r\n\r\n\r\n", b"a\r\n"),
        (b"a\r\n\r\nb\r\n", b"a\r\n\r\nb\r\n"),
        (b" leading\r\n", b" leading\r\n"),
        (b"no final line end", b"no final line end\r\n"),
        # The CRLF SMTP adds is there when a receiver verifies, so the space goes too.
        (b"no final line end \t", b"no final line end\r\n"),
    ],
)
def test_relaxed_body(body: bytes, canonical: bytes) -> None:
    assert relaxed_body(body) == canonical


@given(LINES)
def test_relaxed_body_agrees_with_dkimpy(lines: list[str]) -> None:
    body = "".join(f"{line}\r\n" for line in lines).encode()
    assert relaxed_body(body) == Relaxed.canonicalize_body(body)


@given(st.text(alphabet=st.sampled_from(" \tab:é"), max_size=20), LINES)
def test_relaxed_header_agrees_with_dkimpy(first: str, folds: list[str]) -> None:
    value = (first + "".join(f"\r\n {fold}" for fold in folds)).encode()
    [(name, expected)] = Relaxed.canonicalize_headers([(b"Subject", value + b"\r\n")])
    assert relaxed_header(b"Subject", value) == name + b":" + expected.removesuffix(b"\r\n")


def test_split_keeps_folds_and_reads_lf_as_crlf() -> None:
    raw = b"From: a\nSubject: one\n two\nX-Empty:\n\nbody\nline\n"
    fields, body = split_message(raw)
    assert fields == [(b"From", b" a"), (b"Subject", b" one\r\n two"), (b"X-Empty", b"")]
    assert body == b"body\r\nline\r\n"
    dkimpy_fields, dkimpy_body = rfc822_parse(raw)
    assert [(name, value.removesuffix(b"\r\n")) for name, value in dkimpy_fields] == fields
    assert dkimpy_body == body
    assert split_message(b"From: a\r\n") == ([(b"From", b" a")], b"")
    assert split_message(b"\r\nonly a body") == ([], b"only a body")


def test_a_line_that_is_no_field_is_refused() -> None:
    with pytest.raises(UnparsableMessage):
        split_message(b" folded first\r\nFrom: a\r\n\r\n")
    with pytest.raises(UnparsableMessage):
        split_message(b"From: a\r\nno colon here\r\n\r\n")


def test_select_takes_the_last_instance_first_and_nothing_for_missing_ones() -> None:
    fields = [(b"From", b"1"), (b"To", b"2"), (b"from", b"3"), (b"Subject", b"4")]
    names = ["From", "Subject", "From", "From", "List-Id", "Subject"]
    chosen = select_fields(fields, names)
    assert chosen == [(b"from", b"3"), (b"Subject", b"4"), (b"From", b"1")]
    lowered = [name.lower().encode() for name in names]
    assert chosen == select_headers(fields, lowered)
