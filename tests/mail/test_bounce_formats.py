"""Bounces in the formats servers send besides RFC 3464: a sample of each format Mailman 3's
detectors (flufl.bounce) read, each about a digest of ours, and what is no bounce."""

from __future__ import annotations

import logging

import pytest

from digest.mail.bounces import EventKind, UnreadableReport, parse_report
from tests.mail.reports import (
    PERMANENT_SAMPLES,
    SAMPLE_ID,
    TEMPORARY_SAMPLES,
    exim_text_bounce,
    qmail_bounce,
    sample,
)

VICTIM = "victim@example.com"
OTHER = "other@example.net"
ID = "<digest.2026-11-25.7.0123456789abcdef@example.org>"


@pytest.mark.parametrize("name", sorted(PERMANENT_SAMPLES))
def test_each_format_reports_its_address_and_the_digest_it_returns(name: str) -> None:
    report = parse_report(sample(name))

    assert sorted(event.email for event in report.events) == PERMANENT_SAMPLES[name]
    assert {event.kind for event in report.events} == {EventKind.BOUNCE}
    # The Message-ID that ties the report to the digest we sent, wherever the format puts
    # the original: attached, its headers attached, or quoted in the text.
    assert {event.message_id for event in report.events} == {SAMPLE_ID}
    assert report.ignored == 0


def test_the_qmail_bounce_of_the_issue_is_read() -> None:
    raw = sample("qmail_no_mailbox.eml")
    assert b"Hi. This is the qmail-send program" in raw
    assert b"Sorry, no mailbox here by that name. (#5.1.1)" in raw

    (event,) = parse_report(raw).events

    assert (event.email, event.message_id, event.detail) == (
        "nobody@qmail.example",
        SAMPLE_ID,
        "status 5.1.1",
    )


@pytest.mark.parametrize("name", sorted(TEMPORARY_SAMPLES))
def test_a_temporary_failure_or_an_automatic_reply_is_no_bounce(
    name: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="digest"):
        report = parse_report(sample(name))

    assert report.events == []
    assert report.ignored == 1
    local, _, domain = TEMPORARY_SAMPLES[name].partition("@")
    assert f"ignoring {local[0]}***@{domain}: no permanent failure reported" in caplog.text


def test_each_address_is_judged_by_the_status_written_next_to_it() -> None:
    raw = exim_text_bounce(
        {
            VICTIM: "550 5.1.1 <victim@example.com>: Recipient address rejected",
            OTHER: "452 4.2.2 Mailbox full, try again later",
        },
        ID,
    )

    report = parse_report(raw)

    assert [(event.email, event.detail) for event in report.events] == [(VICTIM, "status 5.1.1")]
    assert report.ignored == 1


@pytest.mark.parametrize(
    ("reason", "bounced"),
    [
        ("Sorry, no mailbox here by that name. (#5.1.1)", True),
        ("Remote host said: 550 Requested action not taken: mailbox unavailable", True),
        # No code: qmail's own words say it failed for good.
        ("This address no longer accepts mail.", True),
        ("Sorry, I couldn't find a mail exchanger or IP address. (#5.4.4)", True),
        ("Remote host said: 421 Too many connections, try again later", False),
        ("Connected to 203.0.113.9 but connection died. (#4.4.2)", False),
    ],
)
def test_a_code_decides_and_without_one_words_of_failure(reason: str, bounced: bool) -> None:
    report = parse_report(qmail_bounce({VICTIM: reason}, ID))

    assert [event.email for event in report.events] == ([VICTIM] if bounced else [])
    assert report.ignored == (0 if bounced else 1)


def test_words_of_the_returned_digest_decide_nothing() -> None:
    # A paper title in the quoted original that reads like a delay warning.
    title = "Delivery attempts will continue: retry policies for robust agents"

    report = parse_report(qmail_bounce({VICTIM: "No such user (#5.1.1)"}, ID, subject=title))

    assert [(event.email, event.message_id) for event in report.events] == [(VICTIM, ID)]


def test_the_subject_a_notice_repeats_decides_nothing() -> None:
    raw = sample("exchange_ndr.eml").replace(
        b"Subject: Trending Papers, Wed 25 Nov\n",
        b"Subject: Trending Papers, Wed 25 Nov: Delivery attempts will continue\n",
    )
    assert raw.count(b"Delivery attempts will continue") == 1  # in the notice's "Subject:"

    report = parse_report(raw)

    assert [event.email for event in report.events] == ["gone@exchange.example"]


def test_a_text_bounce_naming_more_addresses_than_any_of_ours_is_refused() -> None:
    recipients = {f"user{i}@example.com": "No such user (#5.1.1)" for i in range(51)}

    with pytest.raises(UnreadableReport, match="more than 50 addresses"):
        parse_report(qmail_bounce(recipients, ID))


def test_a_message_without_from_still_reaches_every_detector() -> None:
    # flufl.bounce 6.0's Yale detector raises on a message without From:, before qmail's.
    raw = qmail_bounce({VICTIM: "No such user (#5.1.1)"}, ID).replace(
        b"From: MAILER-DAEMON@mx.qmail.example\r\n", b""
    )

    assert [event.email for event in parse_report(raw).events] == [VICTIM]
